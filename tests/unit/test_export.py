"""server/export.py on its own (columns from versions, cell values, the three encoders,
streaming and flat memory), and `coso export` on a real database file."""

from __future__ import annotations

import csv
import io
import itertools
import json
import os
import random
import subprocess
import sys
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import openpyxl
import pytest
from click.testing import CliRunner

from server import export, sync
from server.app import ROOT
from server.auth import add_user
from server.catalog import Catalog, publish_files, schema_files
from server.cli import main
from server.export import neutralise
from server.export_table import columns
from server.forms import FIELD_TYPES, FormDef, parse_definition
from server.store import Store
from tests.support import hoa_giai, submission


def form(*fields: dict[str, Any]) -> FormDef:
    return parse_definition(
        {"form_id": "thu", "title": {"vi": "Thử", "en": "Test"}, "fields": list(fields)}
    )


def field(name: str, type_: str = "text", **extra: Any) -> dict[str, Any]:
    return {"name": name, "type": type_, "label": {"vi": name.upper(), "en": name}, **extra}


def names(versions: list[FormDef]) -> list[str]:
    return [c.name for c in columns(versions)][3:-3]


def doc(data: dict[str, Any], rid: str = "r1", area: str = "01.00070", **extra: Any) -> bytes:
    record = {
        "record_id": rid,
        "form_id": "thu",
        "form_version": 1,
        "area": area,
        "data": data,
        "heads": [rid],
        "revision": 1,
        "conflicts": [],
        "updated_at": "2026-01-02T03:04:05.000Z",
        **extra,
    }
    return msgspec.json.encode(record)


# --- columns -------------------------------------------------------------------------------


def test_the_latest_versions_fields_come_first_then_removed_ones_newest_first() -> None:
    v1 = form(field("a"), field("old1"), field("b"))
    v2 = form(field("b"), field("a"), field("old2"), field("c"))
    v3 = form(field("c"), field("a"), field("b"))
    assert names([v1, v2, v3]) == ["c", "a", "b", "old2", "old1"]
    notes = {c.name: c.note for c in columns([v1, v2, v3])}
    assert notes["old2"] == "không còn sau phiên bản 2 / removed after version 2"
    assert notes["old1"] == "không còn sau phiên bản 1 / removed after version 1"


def test_record_columns_go_around_the_fields() -> None:
    cols = [c.name for c in columns([form(field("x"))])]
    assert cols == ["record_id", "area", "area_name", "x", "revision", "conflicts", "updated_at"]


def test_a_field_renamed_twice_is_one_column_under_its_newest_name() -> None:
    v1 = form(field("ten"))
    v2 = form(field("ho_ten", previous_names=["ten"]))
    v3 = form(field("ho_va_ten", previous_names=["ho_ten"]))
    (col,) = columns([v1, v2, v3])[3:-3]
    assert col.name == "ho_va_ten"
    assert col.keys == ("ho_va_ten", "ho_ten", "ten")  # data under any name is found
    assert col.note == "đổi tên từ ho_ten, ten / renamed from ho_ten, ten"


def test_a_renamed_and_removed_field_has_both_notes() -> None:
    v1 = form(field("x"), field("a"))
    v2 = form(field("x"), field("b", previous_names=["a"]))
    v3 = form(field("x"))
    assert columns([v1, v2, v3])[4].note.splitlines() == [
        "đổi tên từ a / renamed from a",
        "không còn sau phiên bản 2 / removed after version 2",
    ]


def test_a_renamed_then_removed_field_keeps_its_last_name() -> None:
    v1 = form(field("x"), field("a"))
    v2 = form(field("x"), field("b", previous_names=["a"]))
    v3 = form(field("x"))
    cols = columns([v1, v2, v3])[3:-3]
    assert [(c.name, c.keys) for c in cols] == [("x", ("x",)), ("b", ("b", "a"))]


def test_a_field_renamed_back_is_one_column_under_the_name_it_has_now() -> None:
    """The columns follow the renames records are merged under (server/evolution.py): a name
    given up by a rename is never another field's (publishing refuses that)."""
    v1 = form(field("x"), field("a"))
    v2 = form(field("x"), field("b", previous_names=["a"]))
    v3 = form(field("x"), field("a", previous_names=["b"]))
    cols = columns([v1, v2, v3])[3:-3]
    assert [(c.name, c.keys) for c in cols] == [("x", ("x",)), ("a", ("a", "b"))]
    v4 = form(field("x"))  # and removed: its last name, still one column
    cols = columns([v1, v2, v3, v4])[3:-3]
    assert [(c.name, c.keys) for c in cols] == [("x", ("x",)), ("a", ("a", "b"))]


def test_a_renamed_field_inside_a_renamed_group_is_one_subfield() -> None:
    v1 = form(field("ben", "repeat", fields=[field("ten")]))
    v2 = form(
        field(
            "cac_ben",
            "repeat",
            previous_names=["ben"],
            fields=[field("ho_ten", previous_names=["ten"])],
        )
    )
    (col,) = columns([v1, v2])[3:-3]
    assert (col.name, col.keys) == ("cac_ben", ("cac_ben", "ben"))
    assert [(sub.path, sub.note) for sub in col.subfields] == [
        ("ho_ten", "đổi tên từ ten / renamed from ten")
    ]


def test_geopoints_split_and_names_never_collide() -> None:
    v1 = form(field("vi_tri", "geopoint"), field("vi_tri_lat", "decimal"), field("area"))
    # a field keeps its name; a geopoint's part and a record column's namesake get `_2`
    assert names([v1]) == [
        "vi_tri_lat_2",
        "vi_tri_lon",
        "vi_tri_alt",
        "vi_tri_accuracy",
        "vi_tri_lat",
        "area_2",
    ]


def test_a_header_holds_the_same_field_whatever_the_order_of_the_fields() -> None:
    """A geopoint `x` and a text field `x_lat`: which one `x_lat` held depended on which came
    first, so reordering the fields in a new version swapped what the header held."""
    v1 = form(field("x", "geopoint"), field("x_lat"))
    v2 = form(field("x_lat"), field("x", "geopoint"))
    for versions in ([v1], [v1, v2], [v2]):
        by_name = {c.name: c for c in columns(versions)}
        assert (by_name["x_lat"].kind, by_name["x_lat"].keys) == ("value", ("x_lat",))
        assert (by_name["x_lat_2"].kind, by_name["x_lat_2"].keys) == ("lat", ("x",))


def test_a_field_named_like_a_record_column_or_its_namesake_keeps_apart() -> None:
    """`area` (a record column) makes the field `area` `area_3` when a field has `area_2`,
    whichever comes first: the field `area_2` keeps its name."""
    for fields in (["area", "area_2"], ["area_2", "area"]):
        by_name = {c.name: c.keys for c in columns([form(*map(field, fields))])}
        assert by_name["area"] == () and by_name["area_2"] == ("area_2",)
        assert by_name["area_3"] == ("area",)


def test_a_geopoints_altitude_and_accuracy_columns_never_take_a_fields_name() -> None:
    """`_alt` and `_accuracy` came after `_lat`/`_lon`: a field already exported as `vt_alt`
    keeps its column, and the geopoint's altitude goes to `vt_alt_2`."""
    v1 = form(field("vt", "geopoint"), field("vt_alt", "decimal"), field("vt_accuracy"))
    assert names([v1]) == [
        "vt_lat",
        "vt_lon",
        "vt_alt_2",
        "vt_accuracy_2",
        "vt_alt",
        "vt_accuracy",
    ]


# --- values --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("=1+2", "'=1+2"),
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("+1+2", "'+1+2"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tcmd", "'\tcmd"),
        ("\rcmd", "'\rcmd"),
        ("-", "'-"),
        ("+84 912 345 678", "'+84 912 345 678"),
        ("+84912345678", "'+84912345678"),  # a spreadsheet would drop the +
        ("+3.5", "'+3.5"),
        ("+0", "'+0"),
        ("-12", "-12"),  # a negative whole number is read back unchanged: left alone
        ("-123456789012345", "-123456789012345"),
        ("-1234567890123456", "'-1234567890123456"),  # 16 digits: Excel rounds the last
        ("-007", "'-007"),  # leading zeros would go
        ("-0", "'-0"),
        ("-0.5", "'-0.5"),  # a decimal point depends on the locale (1.500 is 1500 in vi-VN)
        ("-1e5", "'-1e5"),
        ("-12 ", "'-12 "),
        ("-12\n", "'-12\n"),
        (" =1+2", "' =1+2"),  # trimmed on import, it is a formula again (found by a probe)
        ("\n=1+2", "'\n=1+2"),
        ("\u00a0\u3000@SUM(A1)", "'\u00a0\u3000@SUM(A1)"),
        (" -12", "' -12"),
        ("  Nguyễn Văn An", "  Nguyễn Văn An"),
        ("Nguyễn Văn An", "Nguyễn Văn An"),
        ("a=b", "a=b"),
        ("", ""),
    ],
)
def test_neutralise(text: str, shown: str) -> None:
    assert neutralise(text) == shown


def sample_versions() -> list[FormDef]:
    return [
        form(
            field("ten"),
            field("so", "integer"),
            field("thap", "decimal"),
            field("co", "boolean"),
            field("vi_tri", "geopoint"),
            field(
                "chon",
                "select_multiple",
                choices=[{"value": v, "label": {"vi": v, "en": v}} for v in ("x", "y")],
            ),
            field("nhom", "repeat", fields=[field("ho_ten")]),
        )
    ]


SAMPLE = {
    "ten": 'Lê Thị Hà, "Hà"\nxuống dòng',
    "so": -3,
    "thap": -0.5,
    "co": True,
    "vi_tri": {"lat": 21.0285, "lon": 105.8542, "accuracy": 5},
    "chon": ["x", "y"],
    "nhom": [{"ho_ten": "An"}],
}


def test_csv_cells() -> None:
    conflicts = [{"field": "ten", "values": []}, {"field": "so", "values": []}]
    data = b"".join(export.export("csv", [doc(SAMPLE, conflicts=conflicts)], sample_versions()))
    assert data.startswith(b"\xef\xbb\xbf")
    header, row = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    cells = dict(zip(header, row, strict=True))
    assert cells == {
        "record_id": "r1",
        "area": "01.00070",
        "area_name": "Phường Hoàn Kiếm, Thành phố Hà Nội",
        "ten": 'Lê Thị Hà, "Hà"\nxuống dòng',
        "so": "-3",
        "thap": "-0.5",
        "co": "true",
        "vi_tri_lat": "21.0285",
        "vi_tri_lon": "105.8542",
        "vi_tri_alt": "",
        "vi_tri_accuracy": "5",
        "chon": "x y",
        "nhom": '[{"ho_ten":"An"}]',
        "revision": "1",
        "conflicts": "ten so",
        "updated_at": "2026-01-02T03:04:05.000Z",
    }
    assert b"\n-3," in data.replace(b"\r\n", b"\n") or b",-3," in data  # unquoted number


def test_jsonl_keeps_types_and_nests_repeats() -> None:
    docs = [doc(SAMPLE), doc({"so": 1}, rid="r2", area="PILOT.X")]
    lines = b"".join(export.export("jsonl", docs, sample_versions())).decode().splitlines()
    first, second = (json.loads(line) for line in lines)
    assert first["nhom"] == [{"ho_ten": "An"}]
    assert (first["so"], first["thap"], first["co"]) == (-3, -0.5, True)
    assert first["chon"] == "x y" and first["conflicts"] == []
    assert second["ten"] is None and second["vi_tri_lat"] is None
    assert second["area_name"] is None  # a path outside the official registry


def test_xlsx_cells_have_types() -> None:
    data = b"".join(export.export("xlsx", [doc(SAMPLE)], sample_versions(), sheet="thu"))
    sheet = openpyxl.load_workbook(io.BytesIO(data), read_only=True)["thu"]
    header, row = [list(r) for r in sheet.iter_rows(values_only=True)]
    cells = dict(zip(header, row, strict=True))
    assert (cells["so"], cells["thap"], cells["co"]) == (-3, -0.5, True)
    assert cells["vi_tri_lat"] == 21.0285
    assert cells["ten"] == 'Lê Thị Hà, "Hà"\nxuống dòng'


def read(fmt: str, docs: list[bytes]) -> list[dict[str, Any]]:
    """The rows of an export of `docs` in `fmt`, as dicts; JSONL numbers as their text."""
    data = b"".join(export.export(fmt, docs, sample_versions(), sheet="thu"))  # type: ignore[arg-type]
    if fmt == "csv":
        return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    if fmt == "jsonl":
        lines = data.decode().splitlines()
        return [json.loads(line, parse_int=str, parse_float=str) for line in lines]
    book = openpyxl.load_workbook(io.BytesIO(data), read_only=True)
    header, *lines = [list(r) for r in book["thu"].iter_rows(values_only=True)]
    return [dict(zip(header, line, strict=True)) for line in lines]


def test_a_number_a_spreadsheet_cannot_hold_exactly_is_text_in_xlsx() -> None:
    data = {"so": 10**400, "thap": -(2**53), "vi_tri": {"lat": 2**53 - 1, "lon": -(10**400)}}
    docs = [doc(data), doc({"so": 1}, rid="r2")]
    (xlsx, after) = read("xlsx", docs)
    assert (xlsx["so"], xlsx["thap"]) == (str(10**400), str(-(2**53)))
    assert (xlsx["vi_tri_lat"], xlsx["vi_tri_lon"]) == (str(2**53 - 1), str(-(10**400)))
    assert after["so"] == 1  # the export went on past it
    for fmt in ("csv", "jsonl"):  # exact digits, numbers as ever
        row, _ = read(fmt, docs)
        assert (row["so"], row["thap"]) == (str(10**400), str(-(2**53))), fmt
        assert (row["vi_tri_lat"], row["vi_tri_lon"]) == (str(2**53 - 1), str(-(10**400)))
    jsonl = b"".join(export.export("jsonl", docs, sample_versions()))
    assert b'"so":1' + b"0" * 400 + b"," in jsonl  # a JSON number, not a string


@pytest.mark.parametrize(
    ("number", "cell"),
    [
        (10**15 - 1, 10**15 - 1),
        (-(10**15) + 1, -(10**15) + 1),
        (10**15, str(10**15)),
        (-(10**15), str(-(10**15))),
        (1234567890123456, "1234567890123456"),
        (-(2**53) + 1, str(-(2**53) + 1)),
    ],
)
def test_a_whole_number_of_over_15_digits_is_text_in_xlsx(number: int, cell: Any) -> None:
    """Excel keeps 15 significant digits: 1234567890123456 in a number cell showed, and was
    saved again, as 1234567890123450. Up to 15 digits it is a number cell."""
    (row,) = read("xlsx", [doc({"so": number})])
    assert type(row["so"]) is type(cell) and row["so"] == cell


def test_numbers_json_decoders_refuse_are_exported_as_stored() -> None:
    """1e400, NaN, -Infinity and a 5,000-digit integer (an older database, another tool):
    the export reads them all the same and keeps every digit."""
    raw = doc({"so": "@so", "thap": "@thap", "vi_tri": {"lat": "@lat", "lon": "@lon"}})
    for key, number in (("so", "1" + "0" * 5000), ("thap", "1e400"), ("lat", "NaN")):
        raw = raw.replace(f'"@{key}"'.encode(), number.encode())
    raw = raw.replace(b'"@lon"', b"-Infinity")
    docs = [raw, doc({"so": 1}, rid="r2")]
    for fmt in ("csv", "jsonl", "xlsx"):
        row, after = read(fmt, docs)
        assert row["so"] == "1" + "0" * 5000, fmt
        assert row["thap"] == "1E+400", fmt
        assert row["vi_tri_lat"] == "NaN", fmt  # JSON has no NaN: the word, as text
        lon = row["vi_tri_lon"]
        # text; in CSV with a quote in front (XLSX: the cell's quote prefix)
        assert lon == ("'-Infinity" if fmt == "csv" else "-Infinity"), fmt
        assert after["so"] in ("1", 1), fmt
    jsonl = b"".join(export.export("jsonl", docs, sample_versions()))
    assert b'"thap":1E+400,' in jsonl and b'"so":1' + b"0" * 5000 + b"," in jsonl  # numbers


def utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def test_xlsx_cuts_text_past_excels_limit_with_a_marker_and_csv_jsonl_keep_it() -> None:
    texts = {
        "long": "Nguyễn Văn An " * 3000,  # 42,000 characters
        "emoji": "😀" * 20_000,  # 40,000 UTF-16 units, as Excel counts
        "exact": "x" * export.XLSX_TEXT,
        # at the limit too: its quote prefix is the cell's, not a character of the value
        "formula": "=" + "x" * (export.XLSX_TEXT - 1),
    }
    docs = [doc({"ten": text}, rid=rid) for rid, text in texts.items()]
    cells = {row["record_id"]: row["ten"] for row in read("xlsx", docs)}
    for rid in ("exact", "formula"):
        assert cells[rid] == texts[rid], rid  # whole, no marker
    for rid in ("long", "emoji"):
        cell = cells[rid]
        assert cell.endswith(export.TRUNCATED), rid
        assert export.XLSX_TEXT - 1 <= utf16(cell) <= export.XLSX_TEXT, rid
        kept = cell.removesuffix(export.TRUNCATED)
        assert texts[rid].startswith(kept), rid
    assert set(cells["emoji"].removesuffix(export.TRUNCATED)) == {"😀"}  # no half character
    assert export.TRUNCATED.startswith("… [cắt bớt") and "truncated" in export.TRUNCATED
    for fmt in ("csv", "jsonl"):
        kept = {row["record_id"]: row["ten"] for row in read(fmt, docs)}
        assert kept["long"] == texts["long"] and kept["emoji"] == texts["emoji"], fmt


def test_xlsx_shows_control_characters_it_cannot_hold_and_csv_jsonl_keep_them() -> None:
    text = "chuông\x07 reo\x1b[0m\x00 tab\tLF\nCRLF\r\nCR\rend\ufffe"
    (xlsx,) = read("xlsx", [doc({"ten": text})])
    assert xlsx["ten"] == "chuông␇ reo␛[0m␀ tab\tLF\nCRLF\nCR\nend\ufffd"  # no _x0007_
    assert read("xlsx", [doc({"ten": "\x07=1"})])[0]["ten"] == "␇=1"
    for fmt in ("csv", "jsonl"):
        (row,) = read(fmt, [doc({"ten": text})])
        assert row["ten"] == text, fmt


def test_xlsx_goes_on_to_another_sheet_when_one_is_full(monkeypatch: Any) -> None:
    monkeypatch.setattr(export, "XLSX_ROWS", 3)  # a header and two rows per sheet
    docs = [doc({"so": i}, rid=f"r{i}") for i in range(5)]
    data = b"".join(export.export("xlsx", docs, sample_versions(), sheet="thu"))
    book = openpyxl.load_workbook(io.BytesIO(data), read_only=True)
    assert book.sheetnames == ["thu", "thu 2", "thu 3", "cột - columns"]
    ids = []
    for name in book.sheetnames[:3]:
        header, *rows = [list(r) for r in book[name].iter_rows(values_only=True)]
        assert header[0] == "record_id"
        ids += [r[0] for r in rows]
    assert ids == [f"r{i}" for i in range(5)]


@pytest.mark.parametrize("sheet", ["", "CỘT - columns", "[]"])
def test_an_unusable_sheet_name_is_replaced(sheet: str) -> None:
    data = b"".join(export.export("xlsx", [], sample_versions(), sheet=sheet))
    names = openpyxl.load_workbook(io.BytesIO(data)).sheetnames
    assert names == (
        ["__", "cột - columns"] if sheet == "[]" else ["bản ghi - records", "cột - columns"]
    )


def test_every_text_beside_the_data_in_xlsx_is_vietnamese_then_english() -> None:
    """The sheet names, the columns sheet's header, types and notes ("vi / en"); the
    column names are identifiers and the labels come in their own vi and en columns."""
    assert set(export.TYPE_VI) == set(FIELD_TYPES)
    v1 = form(field("ten"), field("cu"))
    v2 = form(field("ho_ten", previous_names=["ten"]), field("nhom", "repeat", fields=[field("a")]))
    data = b"".join(export.export("xlsx", [], [v1, v2], sheet=""))
    book = openpyxl.load_workbook(io.BytesIO(data), read_only=True)
    assert book.sheetnames == ["bản ghi - records", "cột - columns"]
    header, *lines = [list(r) for r in book["cột - columns"].iter_rows(values_only=True)]
    assert header == [
        "cột / column",
        "kiểu / type",
        "nhãn tiếng Việt / Vietnamese label",
        "nhãn tiếng Anh / English label",
        "lựa chọn / choices",
        "ghi chú / note",
    ]
    by_name = {line[0]: line for line in lines}
    assert by_name["revision"][1] == "số nguyên / integer"
    assert by_name["nhom"][1] == "nhóm lặp lại / repeat"
    notes = {name: line[5] for name, line in by_name.items() if line[5]}
    assert notes == {
        "ho_ten": "đổi tên từ ten / renamed from ten",
        "cu": "không còn sau phiên bản 1 / removed after version 1",
        "nhom[].a": "nằm trong nhom (JSON) / inside nhom (JSON)",
        "conflicts": "tên các trường, cách nhau bằng dấu cách (danh sách trong JSONL) / "
        "field names, space-separated (a list in JSONL)",
    }
    for line in lines:
        assert " / " in line[1], line  # every type has its Vietnamese name


def legend(versions: list[FormDef]) -> dict[str, list[str]]:
    """The choices each line of the columns sheet lists, one per entry."""
    data = b"".join(export.export("xlsx", [], versions, sheet=""))
    book = openpyxl.load_workbook(io.BytesIO(data), read_only=True)
    _, *lines = [list(r) for r in book["cột - columns"].iter_rows(values_only=True)]
    return {line[0]: (line[4] or "").splitlines() for line in lines}


def choice(value: str, vi: str, en: str) -> dict[str, Any]:
    return {"value": value, "label": {"vi": vi, "en": en}}


def test_a_long_choice_list_goes_on_in_the_columns_sheet_whole() -> None:
    """2,000 communes as choices: the one cell cut them at about 1,000 with "truncated, see
    CSV/JSONL", which list no choices; now they go on in lines below, none lost."""
    communes = [choice(f"x{i:04d}", f"Xã Đông Hòa {i}", f"Commune {i}") for i in range(2000)]
    v1 = form(field("xa", "select_one", choices=communes), field("ghi_chu"))
    data = b"".join(export.export("xlsx", [], [v1], sheet=""))
    book = openpyxl.load_workbook(io.BytesIO(data), read_only=True)
    _, *lines = [list(r) for r in book["cột - columns"].iter_rows(values_only=True)]
    mine = [line for line in lines if line[0] == "xa"]
    assert len(mine) > 1
    assert mine[0][1] == "chọn một / select_one" and mine[0][2] == "XA"
    assert all(line[5] == export.CHOICES_CONTINUED for line in mine[1:])
    listed = [entry for line in mine for entry in line[4].splitlines()]
    assert listed == [f"x{i:04d}: Xã Đông Hòa {i} / Commune {i}" for i in range(2000)]
    assert all(len(line[4]) <= export.XLSX_TEXT for line in mine)
    assert [line[0] for line in lines].index("ghi_chu") == [line[0] for line in lines].index(
        "xa"
    ) + len(mine)


def test_the_columns_sheet_explains_choices_only_earlier_versions_had() -> None:
    """Records collected under v1 still hold `no_nan` after v2 dropped it: the legend lists
    it after the latest version's choices, saying until which version it was offered."""
    land, debts, family = (
        choice("dat_dai", "Đất đai", "Land"),
        choice("no_nan", "Nợ nần", "Debts"),
        choice("gia_dinh", "Gia đình", "Family"),
    )
    v1 = form(
        field("loai", "select_one", choices=[land, debts, family]),
        field("ben", "repeat", fields=[field("vai_tro", "select_multiple", choices=[land, debts])]),
        field("cu", "select_one", choices=[land, debts]),
    )
    v2 = form(
        field("loai_vu_viec", "select_one", previous_names=["loai"], choices=[land, family]),
        field("ben", "repeat", fields=[field("vai_tro", "select_multiple", choices=[land])]),
        field("cu", "select_one", choices=[debts]),
    )
    v3 = form(
        field(
            "loai_vu_viec",
            "select_one",
            choices=[choice("dat_dai", "Đất đai, ranh giới", "Land, boundaries")],
        ),
        field("ben", "repeat", fields=[field("vai_tro", "select_multiple", choices=[land])]),
    )
    lines = legend([v1, v2, v3])
    assert lines["loai_vu_viec"] == [
        "dat_dai: Đất đai, ranh giới / Land, boundaries",
        "gia_dinh: Gia đình / Family (không còn sau phiên bản 2 / removed after version 2)",
        "no_nan: Nợ nần / Debts (không còn sau phiên bản 1 / removed after version 1)",
    ]
    assert lines["ben[].vai_tro"] == [
        "dat_dai: Đất đai / Land",
        "no_nan: Nợ nần / Debts (không còn sau phiên bản 1 / removed after version 1)",
    ]
    assert lines["cu"] == [  # removed after v2: its choices then, and v1's before them
        "no_nan: Nợ nần / Debts",
        "dat_dai: Đất đai / Land (không còn sau phiên bản 1 / removed after version 1)",
    ]
    assert legend([v1])["loai"] == [
        "dat_dai: Đất đai / Land",
        "no_nan: Nợ nần / Debts",
        "gia_dinh: Gia đình / Family",
    ]


def sheet_notes(versions: list[FormDef]) -> dict[str, list[str]]:
    """The columns sheet's lines in order, each column's name with its notes, one a line."""
    data = b"".join(export.export("xlsx", [], versions, sheet=""))
    book = openpyxl.load_workbook(io.BytesIO(data), read_only=True)
    _, *lines = [list(r) for r in book["cột - columns"].iter_rows(values_only=True)]
    return {line[0]: (line[5] or "").splitlines() for line in lines}


INSIDE = "nằm trong nhom2 (JSON) / inside nhom2 (JSON)"


def test_a_field_renamed_inside_a_group_has_its_older_name_in_the_columns_sheet() -> None:
    """`nhom2[].ten2`, formerly `ten`, said only that it is inside nhom2, while a renamed
    field of the form says which name it had."""
    v1 = form(field("nhom2", "repeat", fields=[field("ten")]))
    v2 = form(field("nhom2", "repeat", fields=[field("ten2", previous_names=["ten"])]))
    v3 = form(field("nhom2", "repeat", fields=[field("ho_ten", previous_names=["ten2"])]))
    assert sheet_notes([v1, v2])["nhom2[].ten2"] == [INSIDE, "đổi tên từ ten / renamed from ten"]
    assert sheet_notes([v1, v2, v3])["nhom2[].ho_ten"] == [
        INSIDE,
        "đổi tên từ ten, ten2 / renamed from ten, ten2",
    ]


def test_a_group_inside_a_group_is_written_with_brackets_at_every_level() -> None:
    """`nhom2[].sub.y` read as if `sub` were one object; it is a list of items too."""
    inner = field("sub", "repeat", fields=[field("y"), field("c", "repeat", fields=[field("d")])])
    v1 = form(field("nhom2", "repeat", fields=[field("x"), inner]))
    names = list(sheet_notes([v1]))[3:-3]
    assert names == [
        "nhom2",
        "nhom2[].x",
        "nhom2[].sub",
        "nhom2[].sub[].y",
        "nhom2[].sub[].c",
        "nhom2[].sub[].c[].d",
    ]


def test_fields_removed_from_a_group_are_described_as_removed() -> None:
    """A record keeps what a removed field collected, inside a group's items too (the JSON
    holds it): the sheet lists such fields after the current ones of their group, newest
    version first, as it does the form's, and a renamed group's under its new name."""
    sub = field("sub", "repeat", fields=[field("y"), field("z")])
    v1 = form(field("nhom", "repeat", fields=[field("a"), field("bo"), sub]), field("k"))
    sub = field("sub", "repeat", fields=[field("y")])
    v2 = form(
        field("nhom2", "repeat", previous_names=["nhom"], fields=[field("a"), field("e"), sub]),
        field("k"),
    )
    v3 = form(field("nhom2", "repeat", fields=[field("a"), sub]), field("k"))
    notes = sheet_notes([v1, v2, v3])
    assert list(notes)[3:-3] == [
        "nhom2",
        "nhom2[].a",
        "nhom2[].sub",
        "nhom2[].sub[].y",
        "nhom2[].sub[].z",  # the sub-fields of a group follow it
        "nhom2[].e",
        "nhom2[].bo",
        "k",
    ]
    assert notes["nhom2"] == ["đổi tên từ nhom / renamed from nhom"]
    assert notes["nhom2[].a"] == [INSIDE]
    assert notes["nhom2[].sub[].z"] == [
        INSIDE,
        "không còn sau phiên bản 1 / removed after version 1",
    ]
    assert notes["nhom2[].e"] == [INSIDE, "không còn sau phiên bản 2 / removed after version 2"]
    assert notes["nhom2[].bo"] == [INSIDE, "không còn sau phiên bản 1 / removed after version 1"]
    # the whole group removed: its fields are removed with it, each after its last version
    v4 = form(field("k"))
    notes = sheet_notes([v1, v2, v3, v4])
    assert notes["nhom2"][-1] == "không còn sau phiên bản 3 / removed after version 3"
    assert notes["nhom2[].sub[].y"][-1] == "không còn sau phiên bản 3 / removed after version 3"
    assert notes["nhom2[].sub[].z"][-1] == "không còn sau phiên bản 1 / removed after version 1"


# --- streaming and memory ------------------------------------------------------------------


def endless() -> Iterator[bytes]:
    for i in itertools.count():
        yield doc(SAMPLE, rid=f"r{i}")


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_text_formats_stream_before_the_last_record_is_read(fmt: str) -> None:
    chunks = export.export(fmt, endless(), sample_versions())  # type: ignore[arg-type]
    first = next(chunks)  # there is no last record: this returns only if it streams
    assert len(first) >= export.CHUNK
    chunks.close()


def test_xlsx_removes_its_temporary_file_even_when_stopped_early(tmp_path: Path) -> None:
    chunks = export.export("xlsx", [doc(SAMPLE)] * 50, sample_versions(), tmpdir=tmp_path)
    assert next(chunks).startswith(b"PK")
    assert list(tmp_path.iterdir())  # the workbook is there while it is read out
    chunks.close()
    assert list(tmp_path.iterdir()) == []


def peak_memory(fmt: str, n: int) -> int:
    docs = (doc(SAMPLE, rid=f"r{i}") for i in range(n))
    tracemalloc.start()
    try:
        for _ in export.export(fmt, docs, sample_versions()):  # type: ignore[arg-type]
            pass
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "xlsx"])
def test_memory_does_not_grow_with_the_number_of_records(fmt: str, monkeypatch: Any) -> None:
    monkeypatch.setattr(export, "CHUNK", 4096)  # so that 300 records already fill buffers
    for _ in export.export(fmt, [doc(SAMPLE)], sample_versions()):  # type: ignore[arg-type]
        pass  # untraced: loads the area registry and the like, once per process
    small, large = peak_memory(fmt, 300), peak_memory(fmt, 3000)
    assert large < small * 1.25 + 50_000, (small, large)


# --- coso export ---------------------------------------------------------------------------


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """A database file with the real forms and 30 mediation cases in two communes."""
    path = tmp_path / "coso.db"
    store = Store(path)
    catalog = Catalog(store)
    publish_files(catalog, schema_files(ROOT / "schemas"))
    rng = random.Random(4)
    for area in ("01.00070", "01.00004"):
        user, _ = add_user(store, f"can-bo-{area}", "officer", area)
        items = [
            msgspec.json.encode(submission("hoa_giai", hoa_giai(rng), version=2)) for _ in range(15)
        ]
        sync.push(store, catalog, user, "phone", items)
    store.close()
    return path


def run(*args: str) -> Any:
    return CliRunner().invoke(main, list(args))


def test_coso_export_writes_a_file(db: Path, tmp_path: Path) -> None:
    out = tmp_path / "hoa_giai.csv"
    result = run("export", "hoa_giai", "--format", "csv", "--out", str(out), "--db", str(db))
    assert result.exit_code == 0, result.output
    assert result.stdout == "" and result.stderr == ""  # quiet when not on a terminal
    rows = list(csv.DictReader(io.StringIO(out.read_text("utf-8-sig"), newline="")))
    assert len(rows) == 30
    assert {r["area"] for r in rows} == {"01.00070", "01.00004"}
    assert list(tmp_path.glob("*.part")) == []


def test_coso_export_writes_into_a_fifo_as_it_is(db: Path, tmp_path: Path) -> None:
    """A FIFO (or a device, /dev/stdout) at --out is written, not replaced by a file that its
    reader never sees (as root, `--out /dev/full` replaced the device)."""
    import threading

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()), daemon=True)
    reader.start()
    result = run("export", "hoa_giai", "--format", "jsonl", "--out", str(fifo), "--db", str(db))
    reader.join(timeout=30)
    assert result.exit_code == 0, result.output
    assert fifo.is_fifo()
    assert len(got) == 1 and len(got[0].splitlines()) == 30
    assert sorted(p.name for p in tmp_path.iterdir()) == ["coso.db", "pipe"]


@pytest.mark.parametrize("dangling", [False, True], ids=["to-a-file", "dangling"])
def test_coso_export_follows_a_link(db: Path, tmp_path: Path, dangling: bool) -> None:
    """A link at --out stays a link: its target gets the export (written beside it, then
    renamed over it)."""
    (tmp_path / "real").mkdir()
    target = tmp_path / "real" / "hoa_giai.jsonl"
    if not dangling:
        target.write_text("old\n")
    link = tmp_path / "latest.jsonl"
    link.symlink_to(target)
    result = run("export", "hoa_giai", "--format", "jsonl", "--out", str(link), "--db", str(db))
    assert result.exit_code == 0, result.output
    assert link.is_symlink() and link.resolve() == target
    assert len(target.read_text().splitlines()) == 30
    assert list(tmp_path.rglob("*.part")) == []


def test_coso_export_keeps_the_permissions_of_the_file_it_replaces(
    db: Path, tmp_path: Path
) -> None:
    """An export written over a file kept 0640 (personal data) stays 0640: the file put in
    its place was made with the default mode, readable by everyone."""
    out = tmp_path / "hoa_giai.csv"
    out.write_text("old\n")
    out.chmod(0o640)
    result = run("export", "hoa_giai", "--format", "csv", "--out", str(out), "--db", str(db))
    assert result.exit_code == 0, result.output
    assert out.stat().st_mode & 0o777 == 0o640
    assert len(out.read_text("utf-8-sig").splitlines()) == 31


def test_coso_export_refuses_a_loop_of_links_in_one_line(db: Path, tmp_path: Path) -> None:
    one, two = tmp_path / "a.csv", tmp_path / "b.csv"
    one.symlink_to(two)
    two.symlink_to(one)
    result = run("export", "hoa_giai", "--format", "csv", "--out", str(one), "--db", str(db))
    assert result.exit_code == 1
    assert "liên kết không dẫn tới tệp nào" in result.output
    assert "Traceback" not in result.output


def test_coso_export_xlsx_and_jsonl_and_an_area(db: Path, tmp_path: Path) -> None:
    out = tmp_path / "x.xlsx"
    result = run("export", "hoa_giai", "--format", "xlsx", "--out", str(out), "--db", str(db))
    assert result.exit_code == 0, result.output
    book = openpyxl.load_workbook(out, read_only=True)  # holds the file open until closed
    try:
        assert len(list(book["hoa_giai"].iter_rows())) == 31
    finally:
        book.close()
    result = run("export", "hoa_giai", "--format", "jsonl", "--area", "01.00004", "--db", str(db))
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(lines) == 15 and {x["area"] for x in lines} == {"01.00004"}


def test_coso_export_refuses_an_unknown_form_or_a_bad_area(db: Path) -> None:
    result = run("export", "khong_co", "--db", str(db))
    assert result.exit_code == 1 and "no form 'khong_co'" in result.stderr
    result = run("export", "hoa_giai", "--area", "01..x", "--db", str(db))
    assert result.exit_code == 2 and "empty segment" in result.stderr


@pytest.mark.slow
def test_coso_export_draws_progress_on_a_terminal_only(db: Path, tmp_path: Path) -> None:
    import pty

    coso = [sys.executable, "-c", "from server.cli import main; main()"]
    args = ["export", "hoa_giai", "--out", str(tmp_path / "a.csv"), "--db", str(db)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    leader, follower = pty.openpty()
    with os.fdopen(leader, "rb", buffering=0) as terminal:
        done = subprocess.run(
            coso + args, stderr=follower, stdout=subprocess.PIPE, env=env, check=True, timeout=60
        )
        os.close(follower)
        drawn = b""
        try:
            while chunk := terminal.read(4096):
                drawn += chunk
        except OSError:  # the terminal is closed once its last writer has gone
            pass
    assert done.stdout == b""
    assert "hoa_giai: 30 / 30 dòng / rows (100%)".encode() in drawn and b"rows/s" in drawn
    piped = subprocess.run(coso + args, capture_output=True, env=env, check=True, timeout=60)
    assert piped.stderr == b""


@pytest.mark.parametrize(
    "number",
    [0.30000000000000004, 105.85428765432108, 1.7976931348623157e308, 5e-324, 1e-07, 1e16, -0.5],
)
def test_an_xlsx_number_reads_back_as_the_very_double_stored(number: float) -> None:
    """XlsxWriter writes 16 significant digits: 0.30000000000000004 came back 0.3, and the
    largest double came back as infinity (found by a probe of data round trips)."""
    (row,) = read("xlsx", [doc({"thap": number, "vi_tri": {"lat": 21.0, "lon": number}})])
    assert type(row["thap"]) is float and row["thap"] == number
    assert row["vi_tri_lon"] == number


@pytest.mark.slow
@pytest.mark.parametrize("sig", ["SIGTERM", "SIGINT", "SIGHUP"])
def test_an_export_stopped_half_way_leaves_no_file(tmp_path: Path, sig: str) -> None:
    """A service manager's timeout (SIGTERM) or Ctrl-C (SIGINT) during `coso export --out`:
    neither the file nor its `.part` is left, and the operator reads why, in both languages."""
    import signal
    import time

    path = tmp_path / "coso.db"
    store = Store(path)
    catalog = Catalog(store)
    publish_files(catalog, schema_files(ROOT / "schemas"))
    user, _ = add_user(store, "can-bo", "officer", "01.00070")
    data = hoa_giai(random.Random(1))
    for _ in range(8):
        batch = [msgspec.json.encode(submission("hoa_giai", data, version=2)) for _ in range(1000)]
        sync.push(store, catalog, user, "phone", batch)
    store.close()
    out = tmp_path / "hoa_giai.xlsx"
    part = out.with_name(out.name + ".part")
    cmd = [sys.executable, "-c", "from server.cli import main; main()"]
    args = ["export", "hoa_giai", "--format", "xlsx", "--out", str(out), "--db", str(path)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}

    def as_in_a_terminal() -> None:
        """Ctrl-C as an operator's terminal has it: the process running the tests may ignore
        SIGINT by then, and a child inherits that (CI saw this export end whole, status 0)."""
        signal.signal(signal.SIGINT, signal.SIG_DFL)

    proc = subprocess.Popen(
        cmd + args, env=env, stderr=subprocess.PIPE, preexec_fn=as_in_a_terminal
    )
    deadline = time.monotonic() + 30
    while not part.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    assert proc.poll() is None, "the export ended before it could be stopped"
    proc.send_signal(getattr(signal, sig))
    _, err = proc.communicate(timeout=30)
    # 128 + the signal's number, as a shell reports it (SIGTERM gave Ctrl-C's 130: a probe)
    assert proc.returncode == 128 + getattr(signal, sig), err
    assert "đã dừng xuất" in err.decode() and "not written" in err.decode()
    assert list(tmp_path.glob("hoa_giai*")) == []
