"""Which text encoding a CSV file is in: detect it, or verify the one the config declares.

Samples of the file (head, middle, tail) decide; a declared encoding that would produce mojibake is an error:
- no `encoding:` → a UTF-8 BOM means UTF-8 (the BOM is dropped), a UTF-16 BOM UTF-16, valid UTF-8 means UTF-8,
  anything else GB18030 (a superset of GBK and GB2312) if it decodes, else an error.
- a GB encoding declared for a file that is valid UTF-8 with non-ASCII text (or has a UTF-8 BOM): every UTF-8
  byte pair also decodes in GB18030, silently, to mojibake — so this is an error that says to use UTF-8.
- UTF-8 declared for a file that is not valid UTF-8: an error that suggests gb18030 when that decodes.
"""
from __future__ import annotations

import codecs
from pathlib import Path

HEAD_BYTES = 1 << 20
PART_BYTES = 1 << 18
MIN_NON_ASCII = 4  # fewer UTF-8-valid non-ASCII characters than this is no evidence either way (联通 in GBK)

_UTF8 = {"utf-8", "utf-8-sig"}
_GB = {"gb18030", "gbk", "gb2312", "hz"}


def samples(path: Path, size: int) -> list[tuple[int, bytes]]:
    """(offset, bytes) of the head and, for big files, a middle and a tail piece."""
    with open(path, "rb") as fh:
        out = [(0, fh.read(HEAD_BYTES))]
        for offset in (size // 2, size - PART_BYTES):
            if offset > HEAD_BYTES:
                fh.seek(offset)
                out.append((offset, fh.read(PART_BYTES)))
    return out


def _whole_lines(offset: int, data: bytes, end: bool) -> bytes:
    """The complete lines of a piece: a newline byte never occurs inside a UTF-8 or GB18030 character, so
    cutting at newlines puts the decoder on a character boundary (a piece from the middle starts anywhere)."""
    start = data.find(b"\n") + 1 if offset else 0
    stop = len(data) if end else data.rfind(b"\n") + 1
    return data[start:stop] if stop > start else b""


def first_error(pieces: list[tuple[int, bytes]], encoding: str, size: int) -> int | None:
    """Byte offset of the first undecodable byte in the pieces, or None if they all decode."""
    for offset, data in pieces:
        end = offset + len(data) >= size
        lines = _whole_lines(offset, data, end)
        try:
            lines.decode(encoding)
        except UnicodeDecodeError as e:
            return offset + (data.find(b"\n") + 1 if offset else 0) + e.start
    return None


def _non_ascii_utf8(pieces) -> int:
    texts = [_whole_lines(o, d, True).decode("utf-8", "replace") for o, d in pieces]
    return sum(len(t) - len(t.encode("ascii", "ignore")) for t in texts)


def canonical(name: str) -> str | None:
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def resolve(path: Path, declared: str | None, fail) -> str:
    """The Python codec to read `path` with (`utf-8-sig` when there is a UTF-8 BOM). `fail(msg)` raises."""
    size = path.stat().st_size
    pieces = samples(path, size)
    head = pieces[0][1]
    bom8 = head.startswith(codecs.BOM_UTF8)
    bom16 = head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))
    utf8_at = first_error(pieces, "utf-8", size)
    if declared is None:
        if bom16:
            return "utf-16"
        if bom8 or utf8_at is None:
            return "utf-8-sig" if bom8 else "utf-8"
        gb_at = first_error(pieces, "gb18030", size)
        if gb_at is not None:
            fail(f"neither UTF-8 (bad byte at offset {utf8_at}) nor GB18030 (bad byte at offset {gb_at}); "
                 "set encoding: in the config")
        return "gb18030"
    enc = canonical(declared)
    if enc is None:
        fail(f"unknown encoding {declared!r} (use utf-8 or gb18030)")
    if enc in _GB:
        if bom8 or (utf8_at is None and _non_ascii_utf8(pieces) >= MIN_NON_ASCII):
            fail(f"looks like UTF-8, not {declared}: set encoding: utf-8 (or remove encoding:)")
    if enc in _UTF8 or enc.startswith("utf-16"):
        if enc in _UTF8 and bom8:
            return "utf-8-sig"
        if enc in _UTF8 and utf8_at is not None:
            hint = "; looks like GBK/GB18030: set encoding: gb18030" if first_error(pieces, "gb18030", size) is None \
                else ""
            fail(f"not valid UTF-8 (bad byte at offset {utf8_at}){hint}")
        return enc
    bad = first_error(pieces, enc, size)
    if bad is not None:
        fail(f"not valid {declared} (bad byte at offset {bad})")
    return enc
