"""Helpers for the file-connector tests (CSV, XLSX, Parquet): a config around one file, reading it, and an
.xlsx writer that takes raw sheet XML (for the shapes other generators write: prefixes, rich text, no `r=`)."""
from __future__ import annotations

import zipfile
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

from connectors import SourceError, read_batches
from schemas.config import Config, EntityConfig, SourceConfig

PERSON_COLUMNS = {"name": "姓名", "id_number": "身份证号", "phone": "联系电话", "birth_date": "出生日期"}


def make_config(tmp_path: Path, connector: str, file: str | None = None, *, key: str = "编号",
                columns: dict | None = None, path: str | None = None, entity: str = "person",
                **ent) -> Config:
    """A config whose `grid` source has one entity reading `file` (relative to tmp_path)."""
    e = EntityConfig(file=file, key=key, columns=columns or {"name": "姓名"}, **ent)
    src = SourceConfig(connector=connector, path=path, entities={entity: e})
    return Config(sources={"grid": src}, base_dir=str(tmp_path))


def read_all(config: Config, entity: str = "person", batch_rows: int = 50_000, since=None) -> list[pa.RecordBatch]:
    return list(read_batches(config, "grid", entity, batch_rows=batch_rows, since=since))


def read_table(config: Config, entity: str = "person", **kw) -> pa.Table:
    batches = read_all(config, entity, **kw)
    for b in batches:
        assert all(f.type == pa.string() for f in b.schema), b.schema
    return pa.Table.from_batches(batches)


def read_frame(config: Config, entity: str = "person", **kw) -> pd.DataFrame:
    return read_table(config, entity, **kw).to_pandas()


def read_error(config: Config, entity: str = "person") -> str:
    """The SourceError message reading the entity raises; it must be one line."""
    with pytest.raises(SourceError) as info:
        read_all(config, entity)
    msg = str(info.value)
    assert "\n" not in msg and msg.startswith(f"grid.{entity}: "), msg
    return msg


# --- a hand-written .xlsx ----------------------------------------------------------------------------------
_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_R = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_STYLES = (f'<styleSheet xmlns="{_NS}"><numFmts count="1"><numFmt numFmtId="176" '
           'formatCode="yyyy&quot;年&quot;m&quot;月&quot;d&quot;日&quot;"/></numFmts>'
           '<cellXfs count="4"><xf numFmtId="0"/><xf numFmtId="14"/><xf numFmtId="176"/><xf numFmtId="22"/></cellXfs>'
           '</styleSheet>')  # style 1: built-in date, 2: custom Chinese date, 3: date-time


def write_xlsx(path: Path, sheets: dict[str, str], shared: str | None = None, prefix: str = "",
               date1904: bool = False) -> Path:
    """An .xlsx whose worksheets have the given `<sheetData>` contents (written with namespace `prefix`,
    e.g. "x:") and whose sharedStrings part holds the raw `<si>` items `shared`."""
    p = f"{prefix}:" if prefix else ""
    xmlns = f'xmlns:{prefix}="{_NS}"' if prefix else f'xmlns="{_NS}"'
    wb_sheets = "".join(f'<{p}sheet name="{n}" sheetId="{i + 1}" r:id="rId{i + 1}"/>' for i, n in enumerate(sheets))
    pr = f'<{p}workbookPr date1904="1"/>' if date1904 else ""
    rels = "".join(f'<Relationship Id="rId{i + 1}" Type="{_R}/worksheet" Target="worksheets/sheet{i + 1}.xml"/>'
                   for i in range(len(sheets)))
    rels += f'<Relationship Id="rIdS" Type="{_R}/styles" Target="styles.xml"/>'
    if shared is not None:
        rels += f'<Relationship Id="rIdT" Type="{_R}/sharedStrings" Target="sharedStrings.xml"/>'
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("_rels/.rels", '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
                   f'<Relationship Id="rId1" Type="{_R}/officeDocument" Target="xl/workbook.xml"/></Relationships>')
        z.writestr("xl/workbook.xml", f'<{p}workbook {xmlns} xmlns:r="{_R}">{pr}<{p}sheets>{wb_sheets}</{p}sheets>'
                   f'</{p}workbook>')
        z.writestr("xl/_rels/workbook.xml.rels",
                   f'<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">{rels}'
                   '</Relationships>')
        z.writestr("xl/styles.xml", _STYLES)
        for i, body in enumerate(sheets.values()):
            z.writestr(f"xl/worksheets/sheet{i + 1}.xml",
                       f'<?xml version="1.0" encoding="UTF-8"?>\n<{p}worksheet {xmlns}><{p}sheetData>{body}'
                       f'</{p}sheetData></{p}worksheet>')
        if shared is not None:
            z.writestr("xl/sharedStrings.xml", f'<sst xmlns="{_NS}">{shared}</sst>')
    return path
