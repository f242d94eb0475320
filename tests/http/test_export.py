"""`GET /forms/{form_id}/export`: the columns of a form with three versions (a rename, an
addition, a removal) in CSV, XLSX and JSONL; values, formula neutralising, the BOM, the labels
sheet, `since` and `area`, and the errors."""

from __future__ import annotations

import csv
import errno
import io
import json
import threading
import time
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from typing import Any

import anyio
import msgspec
import openpyxl
import pytest
import xlsxwriter

from tests.conftest import Api
from tests.support import asgi_scope, assert_problem, submission

URL = "/api/v1/forms/khao_sat/export"
HOAN_KIEM = "Phường Hoàn Kiếm, Thành phố Hà Nội"


def _field(name: str, type_: str, vi: str, en: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "type": type_, "label": {"vi": vi, "en": en}, **extra}


HOBBIES = _field(
    "so_thich",
    "select_multiple",
    "Sở thích",
    "Hobbies",
    choices=[
        {"value": "a", "label": {"vi": "Đọc sách", "en": "Reading"}},
        {"value": "b", "label": {"vi": "Bóng đá", "en": "Football"}},
        {"value": "c", "label": {"vi": "Cầu lông", "en": "Badminton"}},
    ],
)
MEMBERS = _field(
    "thanh_vien",
    "repeat",
    "Thành viên",
    "Members",
    fields=[_field("ho_ten", "text", "Họ tên", "Name")],
)
AGE = _field("tuoi", "integer", "Tuổi", "Age")
PLACE = _field("vi_tri", "geopoint", "Vị trí", "Location")
TEMPERATURE = _field("nhiet_do", "decimal", "Nhiệt độ", "Temperature")
NOTE = _field("ghi_chu", "text", "Ghi chú", "Note")
PHONE = _field("dien_thoai", "text", "Điện thoại", "Phone")


def version(fields: list[dict[str, Any]]) -> dict[str, Any]:
    return {"form_id": "khao_sat", "title": {"vi": "Khảo sát", "en": "Survey"}, "fields": fields}


V1 = version(
    [
        _field("ten", "text", "Tên", "Name", required=True),
        AGE,
        PLACE,
        HOBBIES,
        NOTE,
        MEMBERS,
        TEMPERATURE,
    ]
)
# v2 renames `ten` and adds `dien_thoai`
V2 = version(
    [
        _field(
            "ho_va_ten", "text", "Họ và tên", "Full name", required=True, previous_names=["ten"]
        ),
        AGE,
        PLACE,
        HOBBIES,
        NOTE,
        MEMBERS,
        TEMPERATURE,
        PHONE,
    ]
)
# v3 removes `ghi_chu` and moves `dien_thoai` up
V3 = version(
    [
        _field(
            "ho_va_ten", "text", "Họ và tên", "Full name", required=True, previous_names=["ten"]
        ),
        PHONE,
        AGE,
        PLACE,
        HOBBIES,
        MEMBERS,
        TEMPERATURE,
    ]
)
COLUMNS = [
    "record_id",
    "area",
    "area_name",
    "ho_va_ten",
    "dien_thoai",
    "tuoi",
    "vi_tri_lat",
    "vi_tri_lon",
    "vi_tri_alt",
    "vi_tri_accuracy",
    "so_thich",
    "thanh_vien",
    "nhiet_do",
    "ghi_chu",
    "revision",
    "conflicts",
    "updated_at",
]


def publish(api: Api, definition: dict[str, Any]) -> None:
    r = api.client.post("/api/v1/forms", json=definition, headers=api.auth("admin"))
    assert r.status_code == 201, r.text


def push(api: Api, who: str, item: dict[str, Any]) -> str:
    (result,) = api.push(who, [item])
    assert result["status"] in ("accepted", "conflict"), result
    return result["record_id"]  # type: ignore[no-any-return]


@pytest.fixture
def survey(api: Api) -> dict[str, str]:
    """Four records across the three versions (one with a conflict, one elsewhere);
    name -> record_id. Each version is published after the records of the one before, so
    the rename in v2 rebuilds stored records."""
    ids = {}
    publish(api, V1)
    ids["v1"] = push(
        api,
        "officer",
        submission(
            "khao_sat",
            {
                "ten": "Nguyễn Văn A",
                "tuoi": 30,
                "vi_tri": {"lat": -33.8568, "lon": 151.2153},
                "so_thich": ["a", "c"],
                "ghi_chu": "ghi chú cũ",
                "thanh_vien": [{"ho_ten": "Lê Thị B"}, {"ho_ten": "Trần C"}],
                "nhiet_do": -5.5,
            },
            version=1,
        ),
    )
    publish(api, V2)
    v2 = submission(
        "khao_sat",
        {"ho_va_ten": "Phạm D", "dien_thoai": "+84 912 345 678", "ghi_chu": "=1+2"},
        version=2,
    )
    ids["v2"] = push(api, "officer", v2)
    for name in ("Phạm Đ", "Phạm Dũng"):  # two edits from one head: a conflict
        push(
            api,
            "officer2",
            submission(
                "khao_sat",
                {"ho_va_ten": name},
                version=2,
                record_id=v2["id"],
                parents=[v2["id"]],
            ),
        )
    publish(api, V3)
    ids["v3"] = push(
        api,
        "officer",
        submission(
            "khao_sat",
            {
                "ho_va_ten": '=HYPERLINK("http://example.com","bấm")',
                "dien_thoai": "@SUM(A1)",
                "tuoi": -1,
                "nhiet_do": -0.25,
                "so_thich": [],
            },
            version=3,
        ),
    )
    ids["other"] = push(
        api,
        "other_officer",
        submission("khao_sat", {"ho_va_ten": "-2+3", "dien_thoai": "-12"}, version=3),
    )
    return ids


def get(api: Api, fmt: str, who: str = "supervisor", **params: str) -> Any:
    r = api.client.get(URL, params={"format": fmt, **params}, headers=api.auth(who))
    assert r.status_code == 200, r.text
    return r


def read_csv(content: bytes) -> tuple[list[str], dict[str, dict[str, str]]]:
    assert content.startswith(b"\xef\xbb\xbf"), "UTF-8 with BOM"
    reader = csv.reader(io.StringIO(content[3:].decode("utf-8"), newline=""))
    header, *rows = list(reader)
    return header, {row[0]: dict(zip(header, row, strict=True)) for row in rows}


def read_xlsx(content: bytes) -> tuple[list[str], dict[str, dict[str, Any]], Any]:
    book = openpyxl.load_workbook(io.BytesIO(content), read_only=True)
    sheet = book.worksheets[0]
    header, *rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    return header, {row[0]: dict(zip(header, row, strict=True)) for row in rows}, book


def read_jsonl(content: bytes) -> tuple[list[str], dict[str, dict[str, Any]]]:
    lines = [json.loads(line) for line in content.decode("utf-8").splitlines()]
    assert all(list(line) == list(lines[0]) for line in lines)
    return list(lines[0]), {line["record_id"]: line for line in lines}


def test_the_columns_span_every_version_in_all_three_formats(api: Api, survey: Any) -> None:
    csv_header, _ = read_csv(get(api, "csv").content)
    xlsx_header, _, _ = read_xlsx(get(api, "xlsx").content)
    jsonl_header, _ = read_jsonl(get(api, "jsonl").content)
    assert csv_header == xlsx_header == jsonl_header == COLUMNS


def test_values_sit_under_the_right_columns_in_csv(api: Api, survey: Any) -> None:
    _, rows = read_csv(get(api, "csv").content)
    assert set(rows) == set(survey.values())
    one = rows[survey["v1"]]
    assert one["ho_va_ten"] == "Nguyễn Văn A"  # collected as `ten` under v1
    assert one["ghi_chu"] == "ghi chú cũ"  # removed in v3, still exported
    assert (one["vi_tri_lat"], one["vi_tri_lon"]) == ("-33.8568", "151.2153")
    assert one["so_thich"] == "a c"
    assert json.loads(one["thanh_vien"]) == [{"ho_ten": "Lê Thị B"}, {"ho_ten": "Trần C"}]
    assert (one["tuoi"], one["nhiet_do"], one["dien_thoai"]) == ("30", "-5.5", "")
    assert (one["area"], one["area_name"]) == ("01.00070", HOAN_KIEM)
    assert (one["revision"], one["conflicts"]) == ("1", "")
    two = rows[survey["v2"]]
    assert two["ho_va_ten"] in ("Phạm Đ", "Phạm Dũng")
    assert (two["revision"], two["conflicts"]) == ("3", "ho_va_ten")
    three = rows[survey["v3"]]
    assert (three["tuoi"], three["nhiet_do"]) == ("-1", "-0.25")  # numbers stay numbers
    assert three["so_thich"] == "" and three["vi_tri_lat"] == three["ghi_chu"] == ""
    assert rows[survey["other"]]["area_name"] == "Phường Ba Đình, Thành phố Hà Nội"


def test_values_sit_under_the_right_columns_in_jsonl(api: Api, survey: Any) -> None:
    r = get(api, "jsonl")
    _, rows = read_jsonl(r.content)
    one = rows[survey["v1"]]
    assert one["ho_va_ten"] == "Nguyễn Văn A"
    assert one["ghi_chu"] == "ghi chú cũ"
    assert (one["vi_tri_lat"], one["vi_tri_lon"]) == (-33.8568, 151.2153)
    assert one["so_thich"] == "a c"
    assert one["thanh_vien"] == [{"ho_ten": "Lê Thị B"}, {"ho_ten": "Trần C"}]  # nested
    assert (one["tuoi"], one["nhiet_do"], one["dien_thoai"]) == (30, -5.5, None)
    assert (one["revision"], one["conflicts"]) == (1, [])
    assert rows[survey["v2"]]["conflicts"] == ["ho_va_ten"]
    three = rows[survey["v3"]]
    assert three["ho_va_ten"] == '=HYPERLINK("http://example.com","bấm")'  # data, not a sheet
    assert (three["tuoi"], three["nhiet_do"]) == (-1, -0.25)


def test_values_sit_under_the_right_columns_in_xlsx(api: Api, survey: Any) -> None:
    r = get(api, "xlsx")
    _, rows, book = read_xlsx(r.content)
    assert book.sheetnames == ["khao_sat", "cột - columns"]
    assert set(rows) == set(survey.values())
    one = rows[survey["v1"]]
    assert one["ho_va_ten"] == "Nguyễn Văn A"
    assert one["ghi_chu"] == "ghi chú cũ"
    assert (one["vi_tri_lat"], one["vi_tri_lon"]) == (-33.8568, 151.2153)
    assert one["so_thich"] == "a c"
    assert json.loads(one["thanh_vien"]) == [{"ho_ten": "Lê Thị B"}, {"ho_ten": "Trần C"}]
    assert (one["tuoi"], one["nhiet_do"], one["dien_thoai"]) == (30, -5.5, None)
    assert (one["area_name"], one["revision"], one["conflicts"]) == (HOAN_KIEM, 1, None)
    assert rows[survey["v2"]]["conflicts"] == "ho_va_ten"
    three = rows[survey["v3"]]
    assert (three["tuoi"], three["nhiet_do"]) == (-1, -0.25)


def test_the_xlsx_labels_sheet_lists_each_column(api: Api, survey: Any) -> None:
    _, _, book = read_xlsx(get(api, "xlsx").content)
    header, *lines = [list(r) for r in book["cột - columns"].iter_rows(values_only=True)]
    assert [h.split(" / ")[1] for h in header] == [
        "column",
        "type",
        "Vietnamese label",
        "English label",
        "choices",
        "note",
    ]
    keys = ["column", "type", "label_vi", "label_en", "choices", "note"]
    by_name = {line[0]: dict(zip(keys, line, strict=True)) for line in lines}
    assert [line[0] for line in lines if "[]." not in line[0]] == COLUMNS
    assert by_name["ho_va_ten"]["label_vi"] == "Họ và tên"
    assert by_name["ho_va_ten"]["label_en"] == "Full name"
    assert by_name["ho_va_ten"]["note"] == "đổi tên từ ten / renamed from ten"
    assert by_name["ghi_chu"]["note"] == "không còn sau phiên bản 2 / removed after version 2"
    assert by_name["tuoi"]["type"] == "số nguyên / integer"
    assert by_name["so_thich"]["choices"].splitlines() == [
        "a: Đọc sách / Reading",
        "b: Bóng đá / Football",
        "c: Cầu lông / Badminton",
    ]
    assert by_name["vi_tri_lat"]["label_en"] == "Location (latitude)"
    assert by_name["thanh_vien[].ho_ten"]["label_vi"] == "Họ tên"


def test_formula_like_text_is_neutralised_in_csv_and_xlsx(api: Api, survey: Any) -> None:
    phone = push(
        api,
        "officer",
        submission("khao_sat", {"ho_va_ten": "-007", "dien_thoai": "+84912345678"}, version=3),
    )
    guarded = {
        (survey["v3"], "ho_va_ten"): '=HYPERLINK("http://example.com","bấm")',
        (survey["v3"], "dien_thoai"): "@SUM(A1)",
        (survey["v2"], "ghi_chu"): "=1+2",
        (survey["v2"], "dien_thoai"): "+84 912 345 678",
        (survey["other"], "ho_va_ten"): "-2+3",
        (phone, "dien_thoai"): "+84912345678",  # not the number 84912345678
        (phone, "ho_va_ten"): "-007",  # not the number -7
    }
    # CSV: a quote in front, the only way a CSV says "text"
    _, rows = read_csv(get(api, "csv").content)
    for (rid, name), text in guarded.items():
        assert rows[rid][name] == "'" + text
    assert rows[survey["other"]]["dien_thoai"] == "-12"  # read back as it is: left alone
    # XLSX: text cells holding the value as it is, with the cell's quote prefix (which keeps it
    # text when edited): a quote in the value was shown to the supervisor as part of it
    book = openpyxl.load_workbook(io.BytesIO(get(api, "xlsx").content))
    sheet = book.worksheets[0]
    header = [c.value for c in sheet[1]]
    cells = {
        (row[0].value, header[i]): cell
        for row in sheet.iter_rows(min_row=2)
        for i, cell in enumerate(row)
    }
    for key, text in guarded.items():
        assert (cells[key].value, cells[key].data_type, cells[key].quotePrefix) == (text, "s", True)
    left = cells[(survey["other"], "dien_thoai")]
    assert (left.value, left.quotePrefix) == ("-12", False)
    _, lines = read_jsonl(get(api, "jsonl").content)
    assert (lines[phone]["ho_va_ten"], lines[phone]["dien_thoai"]) == ("-007", "+84912345678")


def test_a_stored_number_too_large_for_a_spreadsheet_never_breaks_an_export(
    api: Api, survey: Any
) -> None:
    """The validator refuses such integers now; an older database may still hold them."""
    row = api.store.record(survey["v1"])
    assert row is not None
    doc = msgspec.json.decode(row.doc)
    doc["data"] |= {"tuoi": 10**400, "nhiet_do": -(2**53)}
    with api.store.write() as w:
        w.upsert_records([replace(row, doc=msgspec.json.encode(doc).decode())])
    _, cells, _ = read_xlsx(get(api, "xlsx").content)
    assert len(cells) == 4  # every record, not a body cut short
    assert (cells[survey["v1"]]["tuoi"], cells[survey["v1"]]["nhiet_do"]) == (
        str(10**400),  # as text: a spreadsheet's number would round it
        str(-(2**53)),
    )
    _, rows = read_csv(get(api, "csv").content)
    assert (rows[survey["v1"]]["tuoi"], rows[survey["v1"]]["nhiet_do"]) == (
        str(10**400),
        str(-(2**53)),
    )
    _, lines = read_jsonl(get(api, "jsonl").content)
    assert (lines[survey["v1"]]["tuoi"], lines[survey["v1"]]["nhiet_do"]) == (10**400, -(2**53))


def test_text_past_excels_cell_limit_is_cut_visibly_in_xlsx_only(api: Api, survey: Any) -> None:
    long = "Biên bản hòa giải. " * 2500  # 47,500 characters
    rid = push(api, "officer", submission("khao_sat", {"ho_va_ten": long}, version=3))
    _, cells, _ = read_xlsx(get(api, "xlsx").content)
    cell = cells[rid]["ho_va_ten"]
    assert len(cell) == 32_767  # Excel's limit, the marker included
    assert cell.endswith("… [cắt bớt, xem CSV/JSONL / truncated, see CSV/JSONL]")
    assert long.startswith(cell.split("…")[0])
    _, rows = read_csv(get(api, "csv").content)
    _, lines = read_jsonl(get(api, "jsonl").content)
    assert rows[rid]["ho_va_ten"] == lines[rid]["ho_va_ten"] == long


def test_control_characters_are_shown_in_xlsx_and_kept_in_csv_and_jsonl(
    api: Api, survey: Any
) -> None:
    text = "chuông\x07 reo\x1b[0m\tdòng\r\nhai"
    rid = push(api, "officer", submission("khao_sat", {"ho_va_ten": text}, version=3))
    _, cells, _ = read_xlsx(get(api, "xlsx").content)
    assert cells[rid]["ho_va_ten"] == "chuông␇ reo␛[0m\tdòng\nhai"
    _, rows = read_csv(get(api, "csv").content)
    _, lines = read_jsonl(get(api, "jsonl").content)
    assert rows[rid]["ho_va_ten"] == lines[rid]["ho_va_ten"] == text


def test_an_export_is_an_attachment_of_the_right_type(api: Api, survey: Any) -> None:
    for fmt, media in (
        ("csv", "text/csv"),
        ("xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        ("jsonl", "application/x-ndjson"),
    ):
        # the day in Vietnam (UTC+7), where the file is read: not UTC's, a day behind until 07:00
        # (taken before and after: an export at midnight there is named by either day)
        vietnam = timezone(timedelta(hours=7))
        before = datetime.now(vietnam).strftime("%Y%m%d")
        r = get(api, fmt)
        after = datetime.now(vietnam).strftime("%Y%m%d")
        assert r.headers["content-type"].startswith(media)
        disposition = r.headers["content-disposition"]
        assert disposition in {
            f'attachment; filename="khao_sat_01_{day}.{fmt}"' for day in (before, after)
        }
        assert r.headers["cache-control"] == "no-store"


def test_since_exports_only_what_changed_after_the_cursor(api: Api, survey: Any) -> None:
    page = api.client.get("/api/v1/records", headers=api.auth("supervisor")).json()
    assert not page["more"]
    rec = api.client.get(f"/api/v1/records/{survey['v1']}", headers=api.auth("supervisor"))
    heads = rec.json()["heads"]
    edit = submission(
        "khao_sat", {"ghi_chu": "sửa"}, version=1, record_id=survey["v1"], parents=heads
    )
    push(api, "officer", edit)
    _, rows = read_jsonl(get(api, "jsonl", since=page["next"]).content)
    assert list(rows) == [survey["v1"]]
    assert rows[survey["v1"]]["ghi_chu"] == "sửa"
    assert get(api, "csv", since=page["next"]).text.count("\n") == 2


def test_each_export_says_where_the_next_one_of_what_changed_since_starts(
    api: Api, survey: Any
) -> None:
    """A supervisor exporting each week what changed had no cursor to keep but by paging
    `/records` to its end first: every export names the `since` of the next."""
    first = get(api, "jsonl")
    _, rows = read_jsonl(first.content)
    assert set(rows) == {survey["v1"], survey["v2"], survey["v3"], survey["other"]}
    since = first.headers["coso-next-since"]
    assert get(api, "jsonl", since=since).content == b""  # nothing new
    rec = api.client.get(f"/api/v1/records/{survey['v2']}", headers=api.auth("supervisor"))
    edit = submission(
        "khao_sat", {"ghi_chu": "tuần sau"}, version=3, record_id=survey["v2"],
        parents=rec.json()["heads"],
    )  # fmt: skip
    push(api, "officer", edit)
    later = get(api, "csv", since=since)
    assert list(read_csv(later.content)[1]) == [survey["v2"]]
    # and the cursor of that one: nothing after it
    assert get(api, "jsonl", since=later.headers["coso-next-since"]).content == b""


def test_an_xlsx_export_with_no_room_for_its_file_is_a_503_not_a_200_cut_short(
    api: Api, survey: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An XLSX is built whole in a temporary file before it is sent: with the server's
    temporary folder full, the answer was 200 and an empty body cut short (curl: transfer
    closed), which a script saves as a file. It is 503 `disk_full`, nothing sent."""

    close = xlsxwriter.Workbook.close

    def full(self: Any) -> None:  # the last write of the file finds no room
        close(self)
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(xlsxwriter.Workbook, "close", full)
    api.client.event_hooks["response"] = []  # a 503 on purpose
    r = api.client.get(URL, params={"format": "xlsx"}, headers=api.auth("supervisor"))
    problem = assert_problem(r, 503)
    assert problem["code"] == "disk_full"
    assert problem["detail"].startswith("Ổ đĩa máy chủ đã đầy: hãy thử lại sau / ")
    monkeypatch.undo()
    assert get(api, "xlsx").content.startswith(b"PK")  # room again: the file


def test_area_narrows_the_export_within_the_callers_area(api: Api, survey: Any) -> None:
    _, rows = read_jsonl(get(api, "jsonl", area="01.00004").content)
    assert list(rows) == [survey["other"]]
    _, rows = read_jsonl(get(api, "jsonl", who="admin", area="01").content)
    assert len(rows) == 4
    assert get(api, "jsonl", who="other_supervisor").content == b""
    r = api.client.get(URL, params={"area": "01"}, headers=api.auth("other_supervisor"))
    assert_problem(r, 403)
    r = api.client.get(URL, params={"area": "01..x"}, headers=api.auth("supervisor"))
    problem = assert_problem(r, 400)
    assert problem["code"] == "bad_area" and [e["path"] for e in problem["errors"]] == ["area"]


def test_an_empty_export_still_has_its_header(api: Api) -> None:
    publish(api, V1)
    assert get(api, "csv").content.decode("utf-8-sig").splitlines() == [
        "record_id,area,area_name,ten,tuoi,vi_tri_lat,vi_tri_lon,vi_tri_alt,vi_tri_accuracy,"
        "so_thich,ghi_chu,thanh_vien,nhiet_do,revision,conflicts,updated_at"
    ]
    header, rows, _ = read_xlsx(get(api, "xlsx").content)
    assert header[3] == "ten" and rows == {}
    assert get(api, "jsonl").content == b""


def test_export_errors(api: Api, survey: Any) -> None:
    r = api.client.get(URL, params={"format": "pdf"}, headers=api.auth("supervisor"))
    problem = assert_problem(r, 400)
    assert problem["code"] == "bad_format" and [e["path"] for e in problem["errors"]] == ["format"]
    r = api.client.get("/api/v1/forms/khong_co/export", headers=api.auth("supervisor"))
    assert assert_problem(r, 404)["code"] == "unknown_form"
    r = api.client.get(URL, headers=api.auth("officer"))
    assert_problem(r, 403)
    r = api.client.get(URL)
    assert_problem(r, 401)
    assert get(api, "csv").content.startswith(b"\xef\xbb\xbf")  # csv is the default
    r = api.client.get(URL, headers=api.auth("supervisor"))
    assert r.headers["content-type"].startswith("text/csv")


def test_xlsx_exports_are_made_two_at_a_time_and_a_third_is_503_busy(api: Api, survey: Any) -> None:
    """An XLSX is built whole on a worker thread before its first byte: ten at once held
    phones' pushes for 20 s, forty every request for two minutes (found by a probe). Two are
    made at once; a third is 503 `busy` at once (one waiting for a turn held a worker thread:
    a regression probe), with Retry-After, a HEAD too, and its turn comes when one of the two
    ends. CSV and JSONL are not held."""
    reading = threading.Event()  # the two clients read no further until it is set
    started: list[str] = []

    async def export_read_slowly() -> None:
        scope = asgi_scope(
            "GET",
            "/api/v1/forms/khao_sat/export",
            [(b"authorization", api.auth("supervisor")["Authorization"].encode())],
            query=b"format=xlsx",
        )

        async def receive() -> dict[str, Any]:
            await anyio.to_thread.run_sync(reading.wait)
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                started.append(str(message["status"]))
            elif message.get("body"):  # the first bytes came: read no more for now
                await anyio.to_thread.run_sync(reading.wait)

        await api.client.app(scope, receive, send)

    portal = api.client.blocking_portal
    held = [portal.start_task_soon(export_read_slowly) for _ in range(2)]
    try:
        deadline = time.monotonic() + 30
        while len(started) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert started == ["200", "200"]
        api.client.event_hooks["response"] = []  # a 503 on purpose
        r = api.client.get(URL, params={"format": "xlsx"}, headers=api.auth("supervisor"))
        problem = assert_problem(r, 503)
        assert problem["code"] == "busy" and r.headers["retry-after"] == "30"
        assert problem["detail"].startswith("Máy chủ đang làm 2 tệp xlsx khác")
        assert "hãy thử lại sau 30 giây" in problem["detail"]
        r = api.client.head(URL, params={"format": "xlsx"}, headers=api.auth("supervisor"))
        assert r.status_code == 503  # as a GET now (it was 200)
        assert get(api, "csv").status_code == 200  # the others are not held
        assert get(api, "jsonl").status_code == 200
    finally:
        reading.set()  # the two read on, or hang up: each gives its turn back
        for future in held:
            future.result(timeout=30)
    assert get(api, "xlsx").content.startswith(b"PK")
    assert get(api, "xlsx").content.startswith(b"PK")  # one after the other: turns came back
