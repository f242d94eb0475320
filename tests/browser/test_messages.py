"""Messages that say what to write: a number with thousands separators, a phone number with
spaces or +84, a pattern the form explains in its hint, each in Vietnamese with its English."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from playwright.sync_api import expect

from tests.browser.samples import REPORT

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"


@pytest.mark.browser
def test_messages_say_what_to_write(phones, server) -> None:
    form = yaml.safe_load((SCHEMAS / "mo_hinh.v1.yaml").read_text("utf-8"))
    for f in form["fields"]:
        if f["name"] == "sdt_nguoi_phu_trach":
            f["hint"] = {"vi": "10 hoặc 11 chữ số, bắt đầu bằng 0", "en": "10 or 11 digits from 0"}
    admin = server.add_user("quan-tri", "admin", "")
    status, published = server.api(admin, "/forms", form)
    assert status == 201, published
    phone = phones("can-bo-m")
    page = phone.page

    phone.new("tuyen_truyen")
    phone.fill({"so_nguoi_tham_du": "1.500"})
    expect(phone.field("so_nguoi_tham_du").locator(".err")).to_have_text(
        "Viết liền các chữ số, không dấu chấm hay dấu cách"
        " / Write the digits with no separators: 1500"
    )

    phone.new("mo_hinh")
    phone.fill({"sdt_nguoi_phu_trach": "+84 912 345 678"})
    phone_err = phone.field("sdt_nguoi_phu_trach").locator(".err")
    expect(phone_err).to_have_text(
        "Viết liền, không dấu cách, dấu chấm hay gạch ngang"
        " / Write it with no spaces, dots or dashes: 0912345678"
    )
    phone.fill({"sdt_nguoi_phu_trach": "12345"})
    expect(phone_err).to_have_text(
        "Không đúng định dạng: 10 hoặc 11 chữ số, bắt đầu bằng 0"
        " / Wrong format: 10 or 11 digits from 0"
    )

    # the hint's English beside the Vietnamese, marked as English for screen readers
    expect(phone_err.locator('[lang="en"]')).to_have_text("Wrong format: 10 or 11 digits from 0")
    expect(page.locator("#lang")).to_have_count(0)  # no language switch: both are always shown

    # a geopoint says which box is wrong, and for a range, the range
    place = phone.field("vi_tri")
    place.locator("input").nth(0).fill("21.03")
    place.locator("input").nth(0).dispatch_event("change")
    expect(place.locator(".err")).to_have_text("Kinh độ: Bắt buộc nhập / Longitude: Required")
    place.locator("input").nth(0).fill("105.85")
    place.locator("input").nth(1).fill("21.03")
    place.locator("input").nth(1).dispatch_event("change")
    expect(place.locator(".err")).to_have_text(
        "Vĩ độ: Phải từ -90 đến 90 / Latitude: Must be from -90 to 90"
    )


@pytest.mark.browser
def test_saved_stays_through_the_sync_it_starts_and_goes_when_the_officer_moves(
    phones, server
) -> None:
    """Online, a save starts a sync, whose end redraws the screen: "Đã lưu / Saved" went with
    that redraw before anyone could read it. It stays until the officer opens another screen."""
    phone = phones("can-bo-luu")
    page = phone.page
    expect(page.locator("body[data-syncs]")).to_have_count(1, timeout=20_000)
    phone.new("nam_tinh_hinh")
    phone.fill(REPORT)
    syncs = int(page.evaluate("document.body.dataset.syncs"))
    phone.save()
    expect(page.locator(f'body[data-syncs="{syncs + 1}"]')).to_have_count(1, timeout=20_000)
    expect(page.locator("#st-waiting")).to_have_text("Chờ gửi / Waiting: 0")
    expect(page.locator(".flash")).to_contain_text("Đã lưu")  # after the redraw too
    page.locator('nav a[href="#/outbox"]').click()
    expect(page.locator(".flash")).to_have_count(0)
