"""Exports: stored record documents -> CSV, XLSX or JSONL chunks, one column set per form
(its columns and rows: server/export_table.py).

No SQL and no HTTP: `export()` takes an iterable of record documents and the form's versions
and yields encoded chunks, holding one buffer of rows at a time, never the whole export.
XLSX needs its zip directory at the end, so it is written to a temporary file with
XlsxWriter's `constant_memory` mode and that file is then read out in chunks.

No value may stop an export once its response has started: what a spreadsheet cannot hold
(a whole number of over 15 digits, text past 32,767 characters, control characters) is
adapted in XLSX only, visibly, and CSV and JSONL keep every value whole.
"""

from __future__ import annotations

import csv
import io
import math
import re
import tempfile
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import msgspec
import xlsxwriter
import xlsxwriter.worksheet

from server.export_table import Column, columns, rows
from server.forms import Choice, FormDef
from server.protocol import Label

Format = Literal["csv", "xlsx", "jsonl"]
MEDIA_TYPES: dict[str, str] = {
    "csv": "text/csv",  # UTF-8: the HTTP layer adds the charset to text/ types
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "jsonl": "application/x-ndjson; charset=utf-8",
}
CHUNK = 64 * 1024
XLSX_ROWS = 1_048_576  # rows per worksheet, the header included
XLSX_TEXT = 32_767  # characters (UTF-16 units) per cell
# Excel keeps 15 significant digits: a whole number of 16 or more it shows, and saves again,
# with its last digits 0, so one from 10**15 up (2**53 - 1 too) is a text cell
XLSX_INT = 10**15
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


def guarded(text: str) -> bool:
    """Whether a spreadsheet could evaluate `text` or read it as another value: a trigger
    after leading spaces or line ends counts too (a spreadsheet told to trim spaces on import
    reads ` =1+2` as `=1+2`)."""
    return (
        text.startswith(_TRIGGERS) or text.lstrip().startswith(_TRIGGERS)
    ) and not _NEGATIVE.fullmatch(text)


def neutralise(text: str) -> str:
    """`text` as a CSV cell holds it: a spreadsheet will show it and never evaluate or
    reinterpret it (a CSV has no other way to say "text" than a quote in front)."""
    return "'" + text if guarded(text) else text


# --- encoders ------------------------------------------------------------------------------


def export(
    fmt: Format,
    docs: Iterable[str | bytes],
    versions: Sequence[FormDef],
    *,
    sheet: str = "",
    tmpdir: str | Path | None = None,
    later: Callable[[], Mapping[str, str]] | None = None,
) -> Generator[bytes, None, None]:
    """The export of `docs` (stored record JSON, in order) in `fmt`, as chunks of bytes.
    `later()`: the form's renames of now, for records a version published while the export
    streams has renamed fields of (export_table.rows)."""
    cols = columns(versions)
    cells = rows(docs, cols, nested=fmt == "jsonl", known=len(versions), later=later)
    if fmt == "csv":
        return _csv(cells, cols)
    if fmt == "jsonl":
        return _jsonl(cells, cols)
    if fmt == "xlsx":
        return _xlsx(cells, cols, sheet, tmpdir)
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


def _xlsx_text(ws: Any, r: int, c: int, text: str, quoted: Any) -> None:
    """`text` in a text cell (never a formula), controls shown, fitted; one a spreadsheet
    could read as a formula or another value with the cell's quote prefix, which keeps it
    text when edited and, unlike the CSV's quote, is not part of the value."""
    shown = _fit(_UNHELD.sub(_picture, text))
    if guarded(text):
        ws.write_string(r, c, shown, quoted)
    else:
        ws.write_string(r, c, shown)


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


class _ExactSheet(xlsxwriter.worksheet.Worksheet):  # type: ignore[misc]
    """A worksheet whose number cells read back as the very double stored: XlsxWriter writes
    16 significant digits, where a double may need 17 (0.30000000000000004, a phone's
    longitude 105.85428765432108), and rounds the largest ones past the largest (read back:
    infinity). Python's repr is the shortest spelling that reads back the same."""

    def _xml_number_element(self, number: float, attributes: Any = ()) -> None:
        attr = "".join(f' {k}="{self._escape_attributes(v)}"' for k, v in attributes)
        digits = repr(number) if isinstance(number, float) else str(number)
        self.fh.write(f"<c{attr}><v>{digits}</v></c>")


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
        quoted = book.add_format({"quote_prefix": True})
        title = re.sub(r"[\[\]:*?/\\']", "_", sheet)[:28]
        title = RECORDS_SHEET if title.lower() in ("", COLUMNS_SHEET.lower()) else title
        ws, r, part = None, XLSX_ROWS, 1
        for row in cells:
            if r == XLSX_ROWS:  # the first sheet, or the last one is full: start another
                name = title if part == 1 else f"{title} {part}"
                ws = book.add_worksheet(name, worksheet_class=_ExactSheet)
                ws.freeze_panes(1, 0)
                ws.write_row(0, 0, [c.name for c in cols], bold)
                r, part = 1, part + 1
            for c, value in enumerate(row):
                if isinstance(value, str):
                    if value:  # an empty string stays a blank cell, as in CSV
                        _xlsx_text(ws, r, c, value, quoted)
                elif isinstance(value, bool):
                    ws.write_boolean(r, c, value)  # type: ignore[union-attr]
                elif (type(value) is int and -XLSX_INT < value < XLSX_INT) or (
                    type(value) is float and math.isfinite(value)
                ):
                    ws.write_number(r, c, value)  # type: ignore[union-attr]
                elif value is not None:
                    # a double would round it (or cannot hold it): its exact digits as text
                    ws.write_string(r, c, _fit(str(value)))  # type: ignore[union-attr]
            r += 1
        if ws is None:  # no records: still the header
            ws = book.add_worksheet(title, worksheet_class=_ExactSheet)
            ws.write_row(0, 0, [c.name for c in cols], bold)
        _columns_sheet(book.add_worksheet(COLUMNS_SHEET), cols, bold, quoted)
        book.close()
        with path.open("rb") as f:
            while chunk := f.read(CHUNK * 4):
                yield chunk


def _columns_sheet(ws: Any, cols: Sequence[Column], bold: Any, quoted: Any) -> None:
    """Each column with its labels in Vietnamese and English, its type and its choices;
    a repeat group's own fields follow it (they are inside its JSON), those of every version
    at every depth (`nhom[].sub[].y`), with their notes (renamed, removed)."""
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
        for sub in col.subfields:
            f = sub.field
            choices = _choices(tuple(f.choices or ()), earlier.get(sub.path, ()))
            note = f"nằm trong {col.name} (JSON) / inside {col.name} (JSON)"
            name = col.name + "".join(f"[].{part}" for part in sub.path.split("."))
            line(name, _type(f.type), f.label, choices, "\n".join(filter(None, (note, sub.note))))
    for r, row in enumerate(lines, start=1):
        for c, text in enumerate(row):
            if text:
                _xlsx_text(ws, r, c, text, quoted)


def _cells(lines: str) -> list[str]:
    """Lines of text in as few cells as hold them whole, each within an XLSX cell's limit
    (a line longer than that alone is cut by `_fit` in its own cell)."""
    cells: list[str] = []
    size = XLSX_TEXT + 1
    for text in lines.split("\n"):
        units = len(text.encode("utf-16-le")) // 2
        if cells and size + 1 + units < XLSX_TEXT:
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
