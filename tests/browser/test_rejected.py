"""A submission the server rejects stays in the outbox, marked, with the server's errors shown
at their fields; once the officer fixes it, it goes out again (same id: it was never stored).
Refusals of a whole submission read in the phone's words, or in the server's own."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import expect_sent

SESSION = {
    "ngay_tuyen_truyen": "2025-09-02",
    "loai_dia_diem": "truong_hoc",
    "ten_dia_diem": "Trường THCS Trưng Vương",
    "chu_de": ["an_toan_giao_thong"],
    "hinh_thuc": "hoi_nghi",
    "so_nguoi_tham_du": "40",
}


@pytest.mark.browser
def test_rejected_item_is_fixed_and_resent(phones, server) -> None:
    phone = phones("can-bo-b")
    page = phone.page
    phone.offline()
    phone.new("tuyen_truyen")
    phone.fill(SESSION)
    phone.save()
    [item] = phone.outbox()
    # Written behind the form's back, so only the server can catch them.
    phone.js(
        "await db.put('outbox', {...arg, data: {...arg.data, so_nguoi_tham_du: -5,"
        " ten_dia_diem: 'Trường THCS\\u0000Trưng Vương'}})",
        item,
    )

    phone.offline(False)
    expect(page.locator("#st-rejected")).to_have_text("Bị từ chối / Rejected: 1", timeout=20_000)
    [kept] = phone.outbox()
    assert kept["id"] == item["id"]
    assert kept["status"] == "rejected"
    assert sorted(e["path"] for e in kept["errors"]) == ["so_nguoi_tham_du", "ten_dia_diem"]

    page.goto(f"{server.url}/app/#/outbox")
    row = page.locator(f'#outbox-list li[data-id="{item["id"]}"]')
    expect(row).to_have_class("item rejected")
    phone.shot("03-hop-thu-di-bi-tu-choi")
    # Nothing is trapped in the browser: the outbox saves to a file that is a push body.
    with page.expect_download() as download:
        page.locator("#export-btn").click()
    saved = json.loads(Path(download.value.path()).read_text("utf-8"))
    assert [s["id"] for s in saved["submissions"]] == [item["id"]]
    assert saved["device_id"] == phone.js("await db.kv('device_id')")
    assert {e["code"] for e in saved["rejected"][item["id"]]} == {"min", "control_character"}
    row.get_by_role("link").click()
    error = phone.field("so_nguoi_tham_du").locator(".err")
    expect(error).to_have_text("Không được nhỏ hơn 0 / Must be at least 0")
    bad_text = phone.field("ten_dia_diem").locator(".err")
    expect(bad_text).to_have_text(
        "Có ký tự điều khiển không hợp lệ / Contains an invalid control character"
    )
    phone.fill({"so_nguoi_tham_du": "45", "ten_dia_diem": SESSION["ten_dia_diem"]})
    expect(error).to_be_hidden()
    expect(bad_text).to_be_hidden()
    phone.save()
    expect(page.locator("#st-result")).to_have_text(
        "Lần gửi cuối: 1 đã nhận / Last push: 1 accepted", timeout=20_000
    )
    expect_sent(page)
    expect(page.locator("#st-rejected")).to_have_count(0)
    assert phone.outbox() == []

    boss = server.add_user("giam-sat", "supervisor", "01")
    status, record = server.api(boss, f"/records/{item['id']}")
    assert status == 200
    assert record["data"]["so_nguoi_tham_du"] == 45
    assert [s["id"] for s in record["submissions"]] == [item["id"]]

    # A whole submission refused: the phone's words for a code it knows, else the server's
    # "Vietnamese / English" message (a field's words would be wrong here).
    old, clock = str(uuid.uuid4()), str(uuid.uuid4())
    phone.js(
        "await db.putMany('outbox', [{...arg.item, id: arg.old, form_version: 99},"
        " {...arg.item, id: arg.clock, captured_at: 'hôm qua'}])",
        {"item": item, "old": old, "clock": clock},
    )
    phone.sync()
    page.goto(f"{server.url}/app/#/outbox")
    expect(page.locator(f'li[data-id="{old}"] .err')).to_have_text(
        "Máy chủ không có phiên bản biểu mẫu này / The server has no such form version"
    )
    expect(page.locator(f'li[data-id="{clock}"] .err')).to_have_text(
        "Máy chủ từ chối / Server rejected: Thời điểm ghi phải theo RFC 3339, có múi giờ"
        " / expected an RFC 3339 time with offset"
    )


@pytest.mark.browser
def test_text_cut_inside_an_emoji_is_caught_on_the_phone_and_refused_alone(phones, server) -> None:
    """Half of a surrogate pair is not text: the form says so, and an item that holds one
    anyway (written behind the form's back) is refused alone by the server, with its field."""
    phone = phones("can-bo-c")
    page = phone.page
    phone.new("tuyen_truyen")
    phone.fill(SESSION)
    page.evaluate(
        "() => { const el = document.querySelector('[data-path=ten_dia_diem] input');"
        " el.value = 'Trường THCS \\ud83d';"
        " for (const t of ['input', 'change']) el.dispatchEvent(new Event(t, {bubbles: true})) }"
    )
    expect(phone.field("ten_dia_diem").locator(".err")).to_have_text(
        "Có ký tự hỏng (nửa biểu tượng cảm xúc) / A broken character (half an emoji)"
    )
    phone.fill({"ten_dia_diem": SESSION["ten_dia_diem"]})
    phone.offline()
    phone.save()
    phone.new("tuyen_truyen")
    phone.fill({**SESSION, "ten_dia_diem": "Nhà văn hoá thôn 2"})
    phone.save()
    first, second = phone.outbox()
    phone.js(
        "await db.put('outbox',"
        " {...arg, data: {...arg.data, ten_dia_diem: 'Nhà văn hoá \\ud83d'}})",
        second,
    )
    phone.offline(False)
    expect(page.locator("#st-rejected")).to_have_text("Bị từ chối / Rejected: 1", timeout=20_000)
    [kept] = phone.outbox()
    assert kept["id"] == second["id"]
    assert [(e["path"], e["code"]) for e in kept["errors"]] == [("ten_dia_diem", "malformed")]
    boss = server.add_user("giam-sat-c", "supervisor", "01")
    status, _ = server.api(boss, f"/records/{first['id']}")
    assert status == 200
