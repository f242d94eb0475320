"""Numbers and times the phone must read back as they are: a decimal typed with a dot before
three digits (a thousands separator in Vietnamese), a bound shown the Vietnamese way, and a
case holding a time of year 202 or a decimal of 1e-7, which an edit must leave alone."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.samples import CASE, push_case
from tests.browser.test_case_edits import has_case, open_edit, outbox_of

L = {"vi": "Trường", "en": "Field"}
FORM = {
    "form_id": "so_lieu",
    "title": {"vi": "Số liệu", "en": "Figures"},
    "sync_to_devices": True,
    "fields": [
        {"name": "so_thuc", "type": "decimal", "label": L},
        {"name": "nho", "type": "decimal", "label": L},
        {"name": "ty_le", "type": "decimal", "min": 0.1, "label": L},
        {"name": "luc", "type": "datetime", "label": L},
        {"name": "vi_tri", "type": "geopoint", "label": L},
        {"name": "ma", "type": "text", "label": L},
    ],
}


@pytest.fixture
def figures(server) -> None:
    admin = server.add_user("quan-tri", "admin", "")
    status, published = server.api(admin, "/forms", FORM)
    assert status == 201, published


@pytest.mark.browser
def test_a_dot_before_three_digits_is_asked_about_not_read_as_a_decimal(
    figures, phones, server
) -> None:
    """ "1.500" is one thousand five hundred to a Vietnamese officer: it was saved as 1.5."""
    phone = phones(
        "can-bo-so",
        geolocation={"latitude": 21.028, "longitude": 105.854, "accuracy": 8},
        permissions=["geolocation"],
    )
    phone.offline()
    phone.new("so_lieu")
    err = phone.field("so_thuc").locator(".err")
    phone.fill({"so_thuc": "1.500"})
    expect(err).to_have_text(
        "Không rõ 1.500 là 1500 hay 1,5: viết 1500, hoặc 1,5 (dấu phẩy là dấu thập phân)"
        " / Unclear whether 1.500 means 1500 or 1.5: write 1500, or 1,5 (a comma is the"
        " decimal mark)"
    )
    phone.save()
    expect(phone.page.locator("#entry")).to_be_visible()  # not saved
    assert phone.outbox() == []

    # a bound in the Vietnamese with a comma, as the officer writes it
    phone.fill({"ty_le": "0,09"})
    expect(phone.field("ty_le").locator(".err")).to_have_text(
        "Không được nhỏ hơn 0,1 / Must be at least 0.1"
    )
    phone.fill({"ty_le": "0,1"})
    # a comma is the decimal mark, and a dot before other than three digits reads as one
    for typed in ["1,500", "2.25", "1500", "0.125"]:
        phone.fill({"so_thuc": typed})
        expect(err).to_be_hidden()
    # what the officer typed comes back from a draft as a number, shown the Vietnamese way,
    # never asked about again ("2.125" was); a fix of the GPS with three decimals is a number
    phone.fill({"so_thuc": "2,125"})
    phone.page.wait_for_timeout(800)  # the draft's autosave
    phone.page.reload()
    expect(phone.field("so_thuc").locator("input")).to_have_value("2,125")
    phone.field("vi_tri").locator("button").click()
    expect(phone.field("vi_tri").locator("input").nth(0)).to_have_value("21.028")
    phone.save()
    [entry] = outbox_of(phone, 1)
    assert entry["data"]["so_thuc"] == 2.125 and entry["data"]["ty_le"] == 0.1
    assert (entry["data"]["vi_tri"]["lat"], entry["data"]["vi_tri"]["lon"]) == (21.028, 105.854)


@pytest.mark.browser
def test_an_edit_leaves_alone_a_time_and_a_number_it_cannot_show_as_typed(
    figures, phones, server
) -> None:
    """A time of year 202 (a slip of the picker the server takes) left the datetime input
    empty, and the edit sent null for it; a decimal of 1e-7, shown so, was refused as not a
    number and blocked every save of the case, and so did 1.125 and a coordinate of 21.028
    (asked about as a thousands separator the officer never typed)."""
    case_id = push_case(
        server,
        {
            "so_thuc": 1.125,  # shown "1,125": "1.125" was asked about as if typed
            "nho": 1e-7,
            "luc": "0202-05-01T02:53:20Z",
            "vi_tri": {"lat": 21.028, "lon": 105.854},
            "ma": "A1",
        },
        form_id="so_lieu",
        version=1,
    )
    phone = phones("can-bo-sua")
    has_case(phone, case_id)
    # the case as it is: the year in four digits
    phone.page.goto(f"{server.url}/app/#/case/{case_id}")
    expect(phone.page.locator("body")).to_contain_text("09:59 01/05/0202")
    phone.offline()
    open_edit(phone, case_id)
    expect(phone.field("so_thuc").locator("input")).to_have_value("1,125")
    phone.fill({"ma": "A2"})
    phone.save()
    [entry] = outbox_of(phone, 1)
    assert entry["data"] == {"ma": "A2"}


@pytest.mark.browser
def test_a_date_filled_in_part_is_said_to_be_incomplete_never_saved_empty(
    figures, phones, server
) -> None:
    """A date box the officer clears one part of ("mm/15/2026", to type the month again) reads
    as empty to the browser: the edit was saved, and sent null, erasing the case's date; a
    new case's "12/08/yyyy" saved no date at all (found by a white-box probe)."""
    case_id = push_case(server, {**CASE, "ngay_theo_doi_tiep": "2026-08-15"})
    phone = phones("can-bo-ngay")
    has_case(phone, case_id)
    phone.offline()
    open_edit(phone, case_id)
    date = phone.field("ngay_theo_doi_tiep").locator("input")
    date.focus()
    phone.page.keyboard.press("Backspace")  # one part of the date cleared
    phone.save()
    expect(phone.page.locator("#entry")).to_be_visible()  # not saved
    expect(phone.field("ngay_theo_doi_tiep").locator(".err")).to_have_text(
        "Ngày chưa đủ: hãy ghi đủ ngày, tháng, năm, hoặc xoá hết"
        " / The date is incomplete: write the day, month and year, or clear it all"
    )
    assert phone.outbox() == []
    # the page reloaded meanwhile (the phone short of memory): the draft kept the date as it
    # was, not the incomplete one (which came back as an empty box, and was sent as null)
    phone.page.wait_for_timeout(800)  # the draft's autosave
    phone.page.reload()
    expect(date).to_have_value("2026-08-15")
    date.focus()
    phone.page.keyboard.press("Backspace")
    date.fill("2026-09-01")  # written whole: saved
    phone.save()
    [edit] = outbox_of(phone, 1)
    assert edit["data"] == {"ngay_theo_doi_tiep": "2026-09-01"}

    # a date and time given in part, in a new entry
    phone.new("so_lieu")
    when = phone.field("luc").locator("input")
    when.focus()
    phone.page.keyboard.type("08")  # the first part only
    phone.save()
    expect(phone.page.locator("#entry")).to_be_visible()
    expect(phone.field("luc").locator(".err")).to_contain_text("Ngày giờ chưa đủ")
    assert len(phone.outbox()) == 1
