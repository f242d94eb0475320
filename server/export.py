"""Exports: stored record documents -> CSV, XLSX or JSONL chunks, one column set per form.

The columns come from every published version of the form: the latest version's fields
first and in its order, renamed fields under their newest name, then fields since removed
(newest version first), so removing a field never hides data already collected. Geopoints
split into `<name>_lat`/`<name>_lon`, select_multiple values are space-separated, repeat
groups are JSON text in CSV and XLSX and nested in JSONL. Record columns go around them:
`record_id`, `area`, `area_name` first; `revision`, `conflicts`, `updated_at` last.

No SQL and no HTTP: `export()` takes an iterable of record documents and the form's versions
and yields encoded chunks, holding one buffer of rows at a time, never the whole export.
XLSX needs its zip directory at the end, so it is written to a temporary file with
XlsxWriter's `constant_memory` mode and that file is then read out in chunks.

No value may stop an export once its response has started: what a spreadsheet cannot hold
(a number past 2**53, text past 32,767 characters, control characters) is adapted in XLSX
only, visibly, and CSV and JSONL keep every value whole.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
import tempfile
from collections.abc import Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import msgspec
import xlsxwriter

from server import areas
from server.evolution import evolve
from server.forms import Choice, Field, FormDef, walk
from server.protocol import Label
from server.validate import MAX_SAFE_INT

Format = Literal["csv", "xlsx", "jsonl"]
MEDIA_TYPES: dict[str, str] = {
    "csv": "text/csv",  # UTF-8: the HTTP layer adds the charset to text/ types
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "jsonl": "application/x-ndjson; charset=utf-8",
}
CHUNK = 64 * 1024
XLSX_ROWS = 1_048_576  # rows per worksheet, the header included
XLSX_TEXT = 32_767  # characters (UTF-16 units) per cell
TRUNCATED = "… [cắt bớt, xem CSV/JSONL / truncated, see CSV/JSONL]"
CHOICES_CONTINUED = "các lựa chọn tiếp theo / choices continued"
# What a reader sees of an XLSX beside the data is in Vietnamese, then English
RECORDS_SHEET = "bản ghi - records"  # when the form's own name cannot be a sheet's
COLUMNS_SHEET = "cột - columns"
_COLUMNS_HEADER = (
    "cột / column",
    "kiểu / type",
    "nhãn tiếng Việt / Vietnamese label",
    "nhãn tiếng Anh / English label",
    "lựa chọn / choices",
    "ghi chú / note",
)
TYPE_VI = {  # the field types (forms.FIELD_TYPES) in Vietnamese
    "text": "văn bản",
    "integer": "số nguyên",
    "decimal": "số thập phân",
    "boolean": "có hoặc không",
    "date": "ngày",
    "datetime": "ngày giờ",
    "select_one": "chọn một",
    "select_multiple": "chọn nhiều",
    "geopoint": "tọa độ",
    "repeat": "nhóm lặp lại",
}
BOM = "\ufeff"

# A cell starting with one of these is read as a formula by spreadsheet programs (OWASP
# "CSV injection"), or as a number that drops the sign (`+84912345678`); a quote in front
# makes it text. Only a negative whole number a spreadsheet reads back unchanged is left
# alone: no leading zero (`-007` would lose them), at most 15 digits (Excel's precision),
# no decimal point (its meaning depends on the reader's locale) and no exponent.
_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
_NEGATIVE = re.compile(r"-[1-9][0-9]{0,14}")


def neutralise(text: str) -> str:
    """`text` as a spreadsheet will show it and never evaluate or reinterpret it."""
    if text.startswith(_TRIGGERS) and not _NEGATIVE.fullmatch(text):
        return "'" + text
    return text


# --- columns -------------------------------------------------------------------------------

Kind = Literal["value", "lat", "lon", "multiple", "repeat"]


@dataclass(frozen=True, slots=True)
class Column:
    """One export column. Field columns read `keys` from `data`, the newest name first."""

    name: str
    label: Label
    type: str = ""
    kind: Kind = "value"
    keys: tuple[str, ...] = ()
    choices: tuple[Choice, ...] = ()
    note: str = ""
    subfields: tuple[tuple[str, Field], ...] = ()  # a repeat's fields, by dotted path
    # choices only earlier versions had, with the last version that had each, for the
    # column ("") and for its subfields (by their dotted path)
    earlier_choices: tuple[tuple[str, tuple[tuple[Choice, int], ...]], ...] = ()


_HEAD = (
    Column("record_id", Label("Mã bản ghi", "Record id"), "text"),
    Column("area", Label("Mã địa bàn", "Area code"), "text"),
    Column("area_name", Label("Tên địa bàn", "Area name"), "text"),
)
_TAIL = (
    Column("revision", Label("Số lần gửi đã hợp nhất", "Revision (submissions merged)"), "integer"),
    Column(
        "conflicts",
        Label("Trường đang xung đột", "Fields in conflict"),
        "text",
        note="tên các trường, cách nhau bằng dấu cách (danh sách trong JSONL) / "
        "field names, space-separated (a list in JSONL)",
    ),
    Column("updated_at", Label("Cập nhật lúc", "Last updated"), "datetime"),
)


def columns(versions: Sequence[FormDef]) -> list[Column]:
    """The export's columns for a form with these versions (oldest first)."""
    evolution = evolve(versions)
    fields: dict[str, tuple[Field, int]] = {}  # newest name -> (newest definition, its version)
    # newest dotted name -> value -> (choice, the last version that had it), newest first
    offered: dict[str, dict[str, tuple[Choice, int]]] = {}
    for place in sorted(evolution.places, key=lambda p: -p.version):
        if "." not in place.latest:
            fields.setdefault(place.latest, (place.field, place.version))
        for c in place.field.choices or ():
            offered.setdefault(place.latest, {}).setdefault(c.value, (c, place.version))
    olds: dict[str, list[str]] = {}
    for old, name in evolution.renames.items():
        if "." not in old:  # fields inside repeat groups are inside the group's column
            olds.setdefault(name, []).append(old)

    def earlier(dotted: str, f: Field) -> tuple[tuple[Choice, int], ...]:
        now = {c.value for c in f.choices or ()}
        return tuple(v for value, v in offered.get(dotted, {}).items() if value not in now)

    taken = {c.name for c in (*_HEAD, *_TAIL)}
    out = list(_HEAD)
    for name, (f, version) in fields.items():
        keys = (name, *sorted(olds.get(name, [])))
        notes = []
        if len(keys) > 1:
            olds_text = ", ".join(keys[1:])
            notes.append(f"đổi tên từ {olds_text} / renamed from {olds_text}")
        if version < len(versions):
            notes.append(f"không còn sau phiên bản {version} / removed after version {version}")
        subfields = tuple(walk(f.fields or [], ""))
        extra = ((path, earlier(f"{name}.{path}", sub)) for path, sub in subfields)
        base = Column(
            name=name,
            label=f.label,
            type=f.type,
            keys=keys,
            choices=tuple(f.choices or ()),
            note="\n".join(notes),
            earlier_choices=tuple(
                (path, cs) for path, cs in (("", earlier(name, f)), *extra) if cs
            ),
        )
        if f.type == "geopoint":
            parts = [
                _part(base, f"{name}_lat", "lat", "vĩ độ", "latitude"),
                _part(base, f"{name}_lon", "lon", "kinh độ", "longitude"),
            ]
        elif f.type == "select_multiple":
            parts = [replace(base, kind="multiple")]
        elif f.type == "repeat":
            parts = [replace(base, kind="repeat", subfields=subfields)]
        else:
            parts = [base]
        for col in parts:
            unique, n = col.name, 2
            while unique in taken:  # a field named like a record column, or `x_lat` beside `x`
                unique, n = f"{col.name}_{n}", n + 1
            taken.add(unique)
            out.append(replace(col, name=unique))
    out.extend(_TAIL)
    return out


def _part(col: Column, name: str, kind: Kind, vi: str, en: str) -> Column:
    label = Label(f"{col.label.vi} ({vi})", f"{col.label.en} ({en})")
    return replace(col, name=name, kind=kind, label=label)


# --- rows ----------------------------------------------------------------------------------


class _Named(msgspec.Struct):
    field: str


class _Doc(msgspec.Struct):
    """What an export reads of a stored record (protocol.Record); other keys are skipped."""

    record_id: str
    area: str
    data: dict[str, Any]
    revision: int
    conflicts: list[_Named]
    updated_at: str


_decode_doc = msgspec.json.Decoder(_Doc).decode
_SCALAR = (str, int, float, Decimal)


def _decode(doc: str | bytes) -> _Doc:
    try:
        return _decode_doc(doc)
    except msgspec.DecodeError:
        # Numbers msgspec refuses but an older database may hold (1e400, NaN, Infinity, an
        # integer of over 4,300 digits): kept exactly, as a Decimal or as the word itself.
        obj = json.loads(doc, parse_float=_float, parse_int=_int, parse_constant=str)
        return msgspec.convert(obj, _Doc)


def _float(text: str) -> float | Decimal:
    number = float(text)
    return number if math.isfinite(number) else Decimal(text)


def _int(text: str) -> int | Decimal:
    try:
        return int(text)
    except ValueError:  # past sys.get_int_max_str_digits()
        return Decimal(text)


def rows(
    docs: Iterable[str | bytes], cols: Sequence[Column], *, nested: bool
) -> Iterator[list[Any]]:
    """One list of cell values per record: str, int, float, Decimal, bool or None, and with
    `nested` (JSONL) lists for repeat groups and conflicts, which are otherwise text."""
    fields = cols[len(_HEAD) : len(cols) - len(_TAIL)]
    names: dict[str, str | None] = {}
    encode = msgspec.json.Encoder(decimal_format="number").encode

    def text(value: Any) -> Any:
        """A scalar as it is, anything else (a list, an object) as JSON text."""
        return value if isinstance(value, _SCALAR) else encode(value).decode()

    for doc in docs:
        rec = _decode(doc)
        if rec.area not in names:
            names[rec.area] = areas.name(rec.area)
        row: list[Any] = [rec.record_id, rec.area, names[rec.area]]
        data = rec.data
        for col in fields:
            value = None
            for key in col.keys:
                if key in data:
                    value = data[key]
                    break
            if value is None:
                row.append(None)
            elif col.kind == "value":
                row.append(text(value))
            elif col.kind in ("lat", "lon"):
                part = value.get(col.kind) if isinstance(value, dict) else None
                row.append(None if part is None else text(part))
            elif col.kind == "multiple":
                row.append(" ".join(map(str, value)) if isinstance(value, list) else text(value))
            else:  # repeat
                row.append(value if nested else text(value))
        conflicts = [c.field for c in rec.conflicts]
        row += [rec.revision, conflicts if nested else " ".join(conflicts), rec.updated_at]
        yield row


# --- encoders ------------------------------------------------------------------------------


def export(
    fmt: Format,
    docs: Iterable[str | bytes],
    versions: Sequence[FormDef],
    *,
    sheet: str = "",
    tmpdir: str | Path | None = None,
) -> Generator[bytes, None, None]:
    """The export of `docs` (stored record JSON, in order) in `fmt`, as chunks of bytes."""
    cols = columns(versions)
    if fmt == "csv":
        return _csv(rows(docs, cols, nested=False), cols)
    if fmt == "jsonl":
        return _jsonl(rows(docs, cols, nested=True), cols)
    if fmt == "xlsx":
        return _xlsx(rows(docs, cols, nested=False), cols, sheet, tmpdir)
    raise ValueError(f"unknown export format {fmt!r}")


def _csv(cells: Iterator[list[Any]], cols: Sequence[Column]) -> Generator[bytes, None, None]:
    buf = io.StringIO()
    buf.write(BOM)  # so that Excel reads UTF-8 (Vietnamese diacritics) instead of ANSI
    out = csv.writer(buf)
    out.writerow([c.name for c in cols])
    for row in cells:
        # None is written empty and numbers as repr(): a negative number stays a number
        out.writerow(
            [
                neutralise(v)
                if type(v) is str
                else ("true" if v else "false")
                if type(v) is bool
                else v
                for v in row
            ]
        )
        if buf.tell() >= CHUNK:
            yield buf.getvalue().encode("utf-8")
            buf.seek(0)
            buf.truncate()
    yield buf.getvalue().encode("utf-8")


def _jsonl(cells: Iterator[list[Any]], cols: Sequence[Column]) -> Generator[bytes, None, None]:
    names = [c.name for c in cols]
    encode = msgspec.json.Encoder(decimal_format="number").encode
    buf = bytearray()
    for row in cells:
        buf += encode(dict(zip(names, row, strict=True)))
        buf += b"\n"
        if len(buf) >= CHUNK:
            yield bytes(buf)
            buf.clear()
    if buf:
        yield bytes(buf)


# What an XLSX cell cannot hold as it is (XML 1.0 has no C0 controls but tab, LF and CR):
# XlsxWriter writes it as `_x0007_`, which readers other than Excel show as it is, and CR
# too (`_x000D_`). Controls are shown as their Unicode pictures (U+0007 as ␇), U+FFFE and
# U+FFFF as �, and a CRLF or CR line break becomes LF, Excel's own line break in a cell.
_UNHELD = re.compile("\r\n?|[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _picture(match: re.Match[str]) -> str:
    char = match.group()[0]
    if char == "\r":
        return "\n"
    return chr(0x2400 + ord(char)) if char < " " else "\ufffd"


def _xlsx_text(text: str) -> str:
    """`text` as an XLSX cell holds it: neutralised, controls shown, fitted."""
    return _fit(_UNHELD.sub(_picture, neutralise(text)))


def _fit(text: str) -> str:
    """`text` cut at Excel's limit with a marker that says so (XlsxWriter would cut it
    silently), the total within the limit and no character split."""
    if len(text) <= XLSX_TEXT // 2:  # fits, however many UTF-16 units each character takes
        return text
    units = text.encode("utf-16-le")
    if len(units) <= 2 * XLSX_TEXT:
        return text
    kept = units[: 2 * (XLSX_TEXT - len(TRUNCATED))]
    if 0xD8 <= kept[-1] <= 0xDB:  # the first half of a surrogate pair: drop the character
        kept = kept[:-2]
    return kept.decode("utf-16-le") + TRUNCATED


def _xlsx(
    cells: Iterator[list[Any]], cols: Sequence[Column], sheet: str, tmpdir: str | Path | None
) -> Generator[bytes, None, None]:
    with tempfile.TemporaryDirectory(prefix="coso-export-", dir=tmpdir) as tmp:
        path = Path(tmp) / "export.xlsx"
        book = xlsxwriter.Workbook(
            str(path),
            {
                "constant_memory": True,  # rows go to a temp file as they are written
                "tmpdir": tmp,
                "strings_to_formulas": False,
                "strings_to_urls": False,
                "strings_to_numbers": False,
            },
        )
        bold = book.add_format({"bold": True})
        title = re.sub(r"[\[\]:*?/\\']", "_", sheet)[:28]
        title = RECORDS_SHEET if title.lower() in ("", COLUMNS_SHEET.lower()) else title
        ws, r, part = None, XLSX_ROWS, 1
        for row in cells:
            if r == XLSX_ROWS:  # the first sheet, or the last one is full: start another
                ws = book.add_worksheet(title if part == 1 else f"{title} {part}")
                ws.freeze_panes(1, 0)
                ws.write_row(0, 0, [c.name for c in cols], bold)
                r, part = 1, part + 1
            for c, value in enumerate(row):
                if isinstance(value, str):
                    if value:  # an empty string stays a blank cell, as in CSV
                        ws.write_string(r, c, _xlsx_text(value))  # type: ignore[union-attr]
                elif isinstance(value, bool):
                    ws.write_boolean(r, c, value)  # type: ignore[union-attr]
                elif (type(value) is int and -MAX_SAFE_INT <= value <= MAX_SAFE_INT) or (
                    type(value) is float and math.isfinite(value)
                ):
                    ws.write_number(r, c, value)  # type: ignore[union-attr]
                elif value is not None:
                    # a double would round it (or cannot hold it): its exact digits as text
                    ws.write_string(r, c, _fit(str(value)))  # type: ignore[union-attr]
            r += 1
        if ws is None:  # no records: still the header
            ws = book.add_worksheet(title)
            ws.write_row(0, 0, [c.name for c in cols], bold)
        _columns_sheet(book.add_worksheet(COLUMNS_SHEET), cols, bold)
        book.close()
        with path.open("rb") as f:
            while chunk := f.read(CHUNK * 4):
                yield chunk


def _columns_sheet(ws: Any, cols: Sequence[Column], bold: Any) -> None:
    """Each column with its labels in Vietnamese and English, its type and its choices;
    a repeat group's own fields follow it (they are inside its JSON)."""
    ws.write_row(0, 0, _COLUMNS_HEADER, bold)
    lines: list[list[str]] = []

    def line(name: str, kind: str, label: Label, choices: str, note: str) -> None:
        # A long choice list (2,000 communes) goes on as many lines as it needs: one cell
        # would cut it, and no other file of the export lists the choices.
        first, *more = _cells(choices)
        lines.append([name, kind, label.vi, label.en, first, note])
        lines.extend([name, "", "", "", part, CHOICES_CONTINUED] for part in more)

    for col in cols:
        earlier = dict(col.earlier_choices)
        line(
            col.name,
            _type(col.type),
            col.label,
            _choices(col.choices, earlier.get("", ())),
            col.note,
        )
        for path, f in col.subfields:
            choices = _choices(tuple(f.choices or ()), earlier.get(path, ()))
            note = f"nằm trong {col.name} (JSON) / inside {col.name} (JSON)"
            line(f"{col.name}[].{path}", _type(f.type), f.label, choices, note)
    for r, row in enumerate(lines, start=1):
        for c, text in enumerate(row):
            if text:
                ws.write_string(r, c, _xlsx_text(text))


def _cells(lines: str) -> list[str]:
    """Lines of text in as few cells as hold them whole, each within an XLSX cell's limit
    (a line longer than that alone is cut by `_fit` in its own cell)."""
    cells: list[str] = []
    size = XLSX_TEXT + 1
    for text in lines.split("\n"):
        units = len(text.encode("utf-16-le")) // 2
        if cells and size + 1 + units < XLSX_TEXT:  # one to spare for neutralise's '"
            cells[-1] += "\n" + text
            size += 1 + units
        else:
            cells.append(text)
            size = units
    return cells or [""]


def _type(name: str) -> str:
    return f"{TYPE_VI[name]} / {name}" if name in TYPE_VI else name


def _choices(choices: tuple[Choice, ...], earlier: tuple[tuple[Choice, int], ...] = ()) -> str:
    """One line per choice; after the column's own, those only earlier versions had (their
    values are still in the records collected then)."""
    lines = [f"{c.value}: {c.label.vi} / {c.label.en}" for c in choices]
    lines += [
        f"{c.value}: {c.label.vi} / {c.label.en} "
        f"(không còn sau phiên bản {v} / removed after version {v})"
        for c, v in earlier
    ]
    return "\n".join(lines)
