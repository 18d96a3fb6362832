"""An .xlsx workbook opened for streaming: its sheets, which cell styles are dates, its shared-string table.

An .xlsx file is a zip archive of XML parts. The small parts (workbook, relationships, styles) are parsed with
ElementTree; the shared-string table, which can hold millions of strings, is scanned in chunks and kept as one
Arrow string array (compact: the bytes plus an offset per string) so cells can look strings up vectorised.
"""
from __future__ import annotations

import html
import posixpath
import re
import xml.etree.ElementTree as ET
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from openpyxl.styles.numbers import is_date_format

CHUNK_BYTES = 1 << 22
DAMAGE = (zipfile.BadZipFile, zlib.error, EOFError, ET.ParseError, KeyError, ValueError)
_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
# Built-in number formats that are dates/times (ECMA-376 18.8.30, with the zh-CN ids 27–36 and 50–58).
_BUILTIN_DATE = {14, 15, 16, 17, 22, 27, 28, 29, 30, 31, 36, 50, 51, 52, 53, 54, 57, 58}
_BUILTIN_TIME = {18, 19, 20, 21, 22, 32, 33, 34, 35, 45, 46, 47, 55, 56}
_QUOTED = re.compile(r'"[^"]*"|\[[^\]]*\]|\\.|_.|\*.')
_RICH = re.compile(r"<(?:\w+:)?(?:rPh|phoneticPr)\b.*?(?:</(?:\w+:)?rPh>|/>)", re.S)
_T = re.compile(r"<(?:\w+:)?t(?:\s[^>]*)?(?:/>|>(.*?)</(?:\w+:)?t>)", re.S)
_PLAIN_T = r"^\s*<(?:\w+:)?t(?:\s[^>]*)?>(?P<t>[^<]*)</(?:\w+:)?t>\s*$"
_XESC = re.compile(r"_x([0-9A-Fa-f]{4})_")


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _attr(el: ET.Element, name: str) -> str | None:
    for k, v in el.attrib.items():
        if _local(k) == name:
            return v
    return None


def _unescape_one(s: str) -> str:
    return _XESC.sub(lambda m: chr(int(m.group(1), 16)), html.unescape(s))


def unescape(arr: pa.Array) -> pa.Array:
    """XML entities (`&amp;`, `&#20013;`) and OOXML `_xHHHH_` escapes → characters (per distinct value)."""
    mask = pc.fill_null(pc.or_(pc.match_substring(arr, "&"), pc.match_substring_regex(arr, r"_x[0-9A-Fa-f]{4}_")),
                        False)
    if not pc.any(mask).as_py():
        return arr
    part = pc.filter(arr, mask)
    uniq = pc.unique(part)
    fixed = pa.array([_unescape_one(v) for v in uniq.to_pylist()], pa.string())
    return pc.replace_with_mask(arr, mask, pc.take(fixed, pc.index_in(part, value_set=uniq)))


def _rich_text(body: str | None) -> str:
    return "".join(m.group(1) or "" for m in _T.finditer(_RICH.sub("", body or "")))


def string_items(bodies: pa.Array) -> pa.Array:
    """The text of `<si>`/`<is>` bodies: plain `<t>` vectorised, rich text runs (and phonetic guides, dropped)
    per value."""
    plain = pc.struct_field(pc.extract_regex(bodies, _PLAIN_T), [0])
    todo = pc.fill_null(pc.and_(pc.is_null(plain), pc.is_valid(bodies)), False)
    if pc.any(todo).as_py():
        rich = pa.array([_rich_text(b) for b in pc.filter(bodies, todo).to_pylist()], pa.string())
        plain = pc.replace_with_mask(plain, todo, rich)
    return unescape(plain)


def iter_chunks(fh, element: str):
    """(prefix, bytes) pieces of a zip member that each end just before a `<element` start tag, so every piece
    holds whole elements (a start tag never occurs inside a UTF-8 character or inside text, where `<` is
    escaped). `prefix` is the element's namespace prefix (`x:` in some generators, usually empty)."""
    find = re.compile(rb"<(\w+:)?" + element.encode() + rb"[\s>/]")
    prefix, tag, tail = None, b"", b""
    while True:
        raw = fh.read(CHUNK_BYTES)
        data = tail + raw
        if not raw:
            if data:
                yield (prefix or b"").decode(), data
            return
        if prefix is None:
            m = find.search(data)
            if m is None:
                tail = data
                continue
            prefix = m.group(1) or b""
            tag = b"<" + prefix + element.encode()
        cut = data.rfind(tag)
        if cut <= 0:
            tail = data
            continue
        yield prefix.decode(), data[:cut]
        tail = data[cut:]


class Workbook:
    """Open with `Workbook(path, fail)`; `fail(message)` raises the connector's one-line error."""

    def __init__(self, path: Path, fail):
        self.path, self.fail = path, fail
        with open(path, "rb") as fh:
            head = fh.read(8)
        if head.startswith(_OLE):
            fail("an Excel 97-2003 .xls file or a password-protected workbook: save it as .xlsx without a password")
        if not head.startswith(b"PK"):
            fail("not an .xlsx workbook (not a zip archive)" + self._text_hint(path))
        try:
            self.zip = zipfile.ZipFile(path)
            root = self._rels("_rels/.rels", "")
            book = next((t for typ, t in root.values() if typ.endswith("/officeDocument")), None)
            if book is None or book not in self.zip.NameToInfo:
                fail("not an .xlsx workbook (no workbook part inside the zip archive)")
            rels = self._rels(posixpath.join(posixpath.dirname(book), "_rels", posixpath.basename(book) + ".rels"),
                              posixpath.dirname(book))
            wb = ET.fromstring(self.zip.read(book))
            self.date1904 = any(_attr(e, "date1904") in ("1", "true") for e in wb.iter() if _local(e.tag) == "workbookPr")
            self.sheets: dict[str, tuple[str, str]] = {}
            for e in wb.iter():
                if _local(e.tag) == "sheet":
                    self.sheets[_attr(e, "name")] = rels.get(_attr(e, "id"), ("", ""))
            by_type = {typ.rsplit("/", 1)[-1]: t for typ, t in rels.values()}
            self._sst_part = by_type.get("sharedStrings")
            self.date_styles, self.time_styles = self._styles(by_type.get("styles"))
        except DAMAGE as e:
            fail(f"damaged or truncated .xlsx ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else 'unreadable'})")
        self._sst: pa.Array | None = None

    @staticmethod
    def _text_hint(path: Path) -> str:
        with open(path, "rb") as fh:
            head = fh.read(4096)
        for enc in ("utf-8", "gb18030"):
            try:
                text = head.decode(enc)
            except UnicodeDecodeError:
                continue
            if "," in text or "\t" in text:
                return "; it looks like a CSV/text file renamed .xlsx: use connector: csv"
        return ""

    def _rels(self, part: str, base: str) -> dict[str, tuple[str, str]]:
        if part not in self.zip.NameToInfo:
            return {}
        out = {}
        for e in ET.fromstring(self.zip.read(part)):
            target = e.get("Target", "")
            target = target.lstrip("/") if target.startswith("/") else posixpath.normpath(posixpath.join(base, target))
            out[e.get("Id")] = (e.get("Type", ""), target)
        return out

    def _styles(self, part: str | None) -> tuple[np.ndarray, np.ndarray]:
        """Per cell style index (`s=`): is it a date format, does the format show a time."""
        if not part or part not in self.zip.NameToInfo:
            return np.zeros(1, bool), np.zeros(1, bool)
        root = ET.fromstring(self.zip.read(part))
        codes = {int(e.get("numFmtId")): e.get("formatCode", "") for e in root.iter() if _local(e.tag) == "numFmt"}
        xfs = next((e for e in root if _local(e.tag) == "cellXfs"), None)
        dates, times = [], []
        for xf in (xfs if xfs is not None else []):
            fid = int(xf.get("numFmtId", "0"))
            if fid in codes:
                code = codes[fid]
                is_date = is_date_format(code)
                shown = _QUOTED.sub("", code.split(";")[0]).lower()
                has_time = is_date and bool(re.search(r"[hs]", shown))
            else:
                is_date, has_time = fid in _BUILTIN_DATE | _BUILTIN_TIME, fid in _BUILTIN_TIME
            dates.append(is_date)
            times.append(has_time)
        return np.array(dates or [False], bool), np.array(times or [False], bool)

    def sheet_part(self, sheet: str | None) -> tuple[str, str]:
        """(sheet name, zip member) of the chosen worksheet; errors list the sheets present."""
        present = ", ".join(repr(n) for n in self.sheets) or "none"
        if sheet is None:
            if len(self.sheets) != 1:
                self.fail(f"the workbook has {len(self.sheets)} sheets ({present}): set sheet: on the entity")
            sheet = next(iter(self.sheets))
        if sheet not in self.sheets:
            self.fail(f"sheet {sheet!r} not found (sheets: {present})")
        typ, part = self.sheets[sheet]
        if not typ.endswith("/worksheet"):
            self.fail(f"sheet {sheet!r} is a {typ.rsplit('/', 1)[-1] or 'missing part'}, not a worksheet")
        if part not in self.zip.NameToInfo:
            self.fail(f"damaged .xlsx: the part of sheet {sheet!r} ({part}) is missing")
        return sheet, part

    def shared_strings(self) -> pa.Array:
        if self._sst is None:
            self._sst = self._read_shared_strings()
        return self._sst

    def _read_shared_strings(self) -> pa.Array:
        if not self._sst_part or self._sst_part not in self.zip.NameToInfo:
            return pa.array([], pa.large_string())
        parts = []
        with self.zip.open(self._sst_part) as fh:
            for prefix, data in iter_chunks(fh, "si"):
                parts.append(_string_items_of(prefix, data).cast(pa.large_string()))
        return pa.concat_arrays(parts) if parts else pa.array([], pa.large_string())


def _string_items_of(prefix: str, data: bytes) -> pa.Array:
    """The strings of the `<si>` items in a piece of sharedStrings.xml, in order."""
    p = re.escape(prefix)
    if re.search(rf"<{p}si[\s/]".encode(), data):  # attributes or <si/>: the general expression
        text = data.decode("utf-8")
        bodies = re.findall(rf"<{p}si\b[^>]*?(?:/>|>(.*?)</{p}si>)", text, re.S)
        return string_items(pa.array(bodies, pa.string())) if bodies else pa.array([], pa.string())
    frags = pc.list_flatten(pc.split_pattern(pa.array([data], pa.binary()).cast(pa.string()), f"<{prefix}si>"))[1:]
    if len(frags) == 0:
        return pa.array([], pa.string())
    return string_items(_field_of(pc.extract_regex(frags, rf"(?s)^(?P<b>.*?)</{p}si>"), "b"))


def _field_of(struct: pa.Array, name: str) -> pa.Array:
    return pc.struct_field(struct, [struct.type.get_field_index(name)])
