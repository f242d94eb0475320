"""Adding an item to a repeat group: its empty fields are not marked wrong before the officer
has had a chance to fill them, so no error appears and disappears above the next control she
taps (which moved it away from under her finger: the tap was lost)."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect


@pytest.mark.browser
def test_a_new_item_is_not_marked_wrong_and_the_next_tap_lands(phones) -> None:
    phone = phones("can-bo-r", viewport=(360, 640))
    page = phone.page
    phone.offline()
    phone.new("mo_hinh")
    page.locator('[data-path="hoat_dong"] button.secondary', has_text="+").click()
    item = phone.field("hoat_dong[0].noi_dung")
    expect(item).to_be_visible()
    expect(page.locator('[data-path^="hoat_dong["] .err:not([hidden])')).to_have_count(0)

    item.locator("textarea, input").first.click()
    page.keyboard.type("Lắp 4 camera ở đầu ngõ")
    radio = phone.field("hieu_qua").locator('input[value="kha"]')
    radio.scroll_into_view_if_needed()
    box = radio.bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)  # one tap
    expect(radio).to_be_checked()

    # Leaving the item's required date empty is still caught, at the field, on saving.
    phone.save()
    expect(phone.field("hoat_dong[0].ngay").locator(".err")).to_have_text(
        "Bắt buộc nhập / Required"
    )
    expect(phone.field("hoat_dong[0].noi_dung").locator(".err")).to_be_hidden()


@pytest.mark.browser
def test_removing_items_below_the_minimum_says_so_at_once(phones) -> None:
    """The count of a group is what adding and removing touch: under its minimum, it shows."""
    phone = phones("can-bo-s", viewport=(360, 640))
    page = phone.page
    phone.new("hoa_giai")
    expect(page.locator('[data-path="cac_ben"] .item')).to_have_count(2)
    page.locator('[data-path="cac_ben"] .item-head button').first.click()
    expect(page.locator('[data-path="cac_ben"] .item')).to_have_count(1)
    expect(page.locator('[data-path="cac_ben"] > .err')).to_have_text(
        "Cần ít nhất 2 mục / At least 2 items"
    )
    expect(page.locator('[data-path^="cac_ben["] .err:not([hidden])')).to_have_count(0)


@pytest.mark.browser
def test_removing_an_item_that_holds_data_is_asked_first(phones) -> None:
    """One tap on "Xóa mục / Remove item", just under the item above on a small screen, took
    a whole party (name, phone number) with it, saved at once, with no way back (found by a
    probe). An item that holds something asks first; an empty one goes at once."""
    phone = phones("can-bo-xoa-muc", viewport=(360, 640))
    page = phone.page
    phone.offline()
    phone.new("hoa_giai")
    phone.fill({"cac_ben[1].ho_ten": "Đỗ Thị Dung", "cac_ben[1].so_dien_thoai": "0912345678"})
    asked: list[str] = []

    def answer(accept: bool) -> None:
        def on(dialog: Any) -> None:
            asked.append(dialog.message)
            dialog.accept() if accept else dialog.dismiss()

        page.once("dialog", on)

    remove = page.locator('[data-path="cac_ben"] .item-head button')
    answer(False)
    remove.nth(1).click()
    expect(page.locator('[data-path="cac_ben"] .item')).to_have_count(2)
    assert asked == [
        "Xóa mục 2 cùng những gì đã nhập trong đó?\n\nRemove item 2 and what was entered in it?"
    ]
    page.reload()  # kept in the draft too
    expect(phone.field("cac_ben[1].ho_ten").locator("input")).to_have_value("Đỗ Thị Dung")
    remove.first.click()  # the first party is empty: no question
    expect(page.locator('[data-path="cac_ben"] .item')).to_have_count(1)
    assert len(asked) == 1
    answer(True)
    remove.first.click()  # Đỗ Thị Dung's, now the first
    expect(page.locator('[data-path="cac_ben"] .item')).to_have_count(0)
    assert len(asked) == 2


@pytest.mark.parametrize("touch", [False, True], ids=["mouse", "finger"])
@pytest.mark.browser
def test_an_error_shown_on_leaving_a_field_does_not_lose_the_tap_below(phones, touch) -> None:
    """A wrong phone number, then a tap on the choice just below it: the error it brings (which
    pushes that choice down) comes after the tap, which picks the choice."""
    phone = phones(f"can-bo-t{int(touch)}", viewport=(360, 640), has_touch=touch)
    page = phone.page
    phone.new("hoa_giai")
    phone.field("cac_ben[0].so_dien_thoai").locator("input").click()
    page.keyboard.type("0912")
    radio = phone.field("cac_ben[0].vai_tro").locator('input[value="ben_yeu_cau"]')
    radio.scroll_into_view_if_needed()
    box = radio.bounding_box()
    assert box is not None
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    if touch:
        page.touchscreen.tap(x, y)
    else:
        page.mouse.click(x, y)
    expect(radio).to_be_checked()
    expect(phone.field("cac_ben[0].so_dien_thoai").locator(".err")).to_have_text(
        "Không đúng định dạng: 10 hoặc 11 chữ số, bắt đầu bằng 0 (ví dụ 0912345678)"
        " / Wrong format: 10 or 11 digits starting with 0 (e.g. 0912345678)"
    )


@pytest.mark.browser
def test_errors_follow_their_item_when_an_earlier_one_is_removed(phones) -> None:
    """Before the first Save, a field shows its error once touched. The marks were kept by item
    number: removing party 1 took the wrong phone number's error off the party that still held
    it, and put "Required" on the name of the party that moved into the touched place (found
    by a review)."""
    phone = phones("can-bo-r4", viewport=(390, 844))
    page = phone.page
    phone.offline()
    phone.new("hoa_giai")
    add = page.locator('[data-path="cac_ben"] button.secondary', has_text="+")
    add.click()
    add.click()
    expect(page.locator('[data-path="cac_ben"] .item')).to_have_count(4)
    phone.fill({"cac_ben[0].ho_ten": "Người Một", "cac_ben[1].ho_ten": "Người Hai"})
    phone.fill({"cac_ben[2].so_dien_thoai": "0912"})
    bad = phone.field("cac_ben[2].so_dien_thoai").locator(".err")
    expect(bad).to_be_visible()
    page.once("dialog", lambda d: d.accept())
    page.locator('[data-path="cac_ben"] .item-head button').first.click()
    expect(page.locator('[data-path="cac_ben"] .item')).to_have_count(3)
    # the party with the bad number is now the second: its error went with it
    expect(phone.field("cac_ben[1].so_dien_thoai").locator("input")).to_have_value("0912")
    expect(phone.field("cac_ben[1].so_dien_thoai").locator(".err")).to_be_visible()
    # and nobody touched its name, nor the number of the party now first
    expect(phone.field("cac_ben[1].ho_ten").locator(".err")).to_be_hidden()
    expect(phone.field("cac_ben[0].so_dien_thoai").locator(".err")).to_be_hidden()
    expect(page.locator('[data-path^="cac_ben["] .err:not([hidden])')).to_have_count(1)
