"""A submission the server rejects stays in the outbox, marked, with the server's error shown
at the field; once the officer fixes it, it goes out again (same id: it was never stored)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from playwright.sync_api import expect

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
    # Written behind the form's back, so only the server can catch it.
    phone.js("await db.put('outbox', {...arg, data: {...arg.data, so_nguoi_tham_du: -5}})", item)

    phone.offline(False)
    expect(page.locator("#st-rejected")).to_have_text("Bị từ chối: 1", timeout=20_000)
    [kept] = phone.outbox()
    assert kept["id"] == item["id"]
    assert kept["status"] == "rejected"
    assert [e["path"] for e in kept["errors"]] == ["so_nguoi_tham_du"]

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
    assert saved["rejected"][item["id"]][0]["code"] == "min"
    row.get_by_role("link").click()
    error = phone.field("so_nguoi_tham_du").locator(".err")
    expect(error).to_have_text("Không được nhỏ hơn 0")
    phone.fill({"so_nguoi_tham_du": "45"})
    expect(error).to_be_hidden()
    phone.save()
    expect(page.locator("#st-result")).to_have_text("Lần gửi cuối: 1 đã nhận", timeout=20_000)
    expect(page.locator("#st-waiting")).to_have_text("Chờ gửi: 0")
    expect(page.locator("#st-rejected")).to_have_count(0)
    assert phone.outbox() == []

    boss = server.add_user("giam-sat", "supervisor", "01")
    status, record = server.api(boss, f"/records/{item['id']}")
    assert status == 200
    assert record["data"]["so_nguoi_tham_du"] == 45
    assert [s["id"] for s in record["submissions"]] == [item["id"]]
