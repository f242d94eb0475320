"""Messages that say what to write: a number with thousands separators, a phone number with
spaces or +84, a pattern the form explains in its hint, each in Vietnamese with its English."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from playwright.sync_api import expect

from tests.browser.samples import REPORT
from tests.browser.test_offline_entry import HOA_GIAI

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
    that redraw before anyone could read it. It stays until the officer opens another screen,
    and once the sync has sent what was saved it says so: "It will be sent when online" stayed
    beside the status bar's "Waiting: 0" (found by a probe)."""
    phone = phones("can-bo-luu")
    page = phone.page
    expect(page.locator("body[data-syncs]")).to_have_count(1, timeout=20_000)
    phone.new("nam_tinh_hinh")
    phone.fill(REPORT)
    syncs = int(page.evaluate("document.body.dataset.syncs"))
    phone.save()
    expect(page.locator(f'body[data-syncs="{syncs + 1}"]')).to_have_count(1, timeout=20_000)
    expect(page.locator("#st-waiting")).to_have_text("Chờ gửi / Waiting: 0")
    expect(page.locator(".flash")).to_have_text(  # after the redraw too
        "Đã lưu và đã gửi lên máy chủ. / Saved, and sent to the server."
    )
    page.locator('nav a[href="#/outbox"]').click()
    expect(page.locator(".flash")).to_have_count(0)


@pytest.mark.browser
def test_saved_is_said_once_by_a_screen_reader_and_moves_nothing(phones, server) -> None:
    """A screen reader is told "Đã lưu / Saved" by a status line kept in the page: a live region
    put in with its words already in it is not said by every screen reader, and the flash is
    put in again at each redraw (a sync landing), which would say it again. The flash shows
    its words at once: words put in a moment later moved the screen under the officer's
    finger (a test's tap on Edit landed on the case's text)."""
    phone = phones("can-bo-doc")
    page = phone.page
    phone.offline()
    phone.new("nam_tinh_hinh")
    phone.fill(REPORT)
    page.evaluate(
        """() => { window.flashes = []; window.said = [];
        new MutationObserver((changes) => { for (const c of changes) for (const n of c.addedNodes)
            if (n.classList?.contains('flash')) window.flashes.push(n.textContent); })
          .observe(document.querySelector('main'), { childList: true, subtree: true });
        const announcer = document.getElementById('announcer');
        new MutationObserver(() => announcer.textContent && window.said.push(announcer.textContent))
          .observe(announcer, { childList: true, subtree: true }); }"""
    )
    phone.save()
    expect(page.locator(".flash")).to_contain_text("Đã lưu")
    expect(page.locator("#announcer")).to_contain_text("Đã lưu")
    expect(page.locator("#announcer")).to_have_attribute("role", "status")
    box = page.locator("#announcer").bounding_box()
    assert box is not None and box["width"] <= 1 and box["height"] <= 1  # said, not drawn
    phone.offline(False)
    phone.sync()
    expect(page.locator(".flash")).to_contain_text("Đã lưu và đã gửi")  # not said again
    flashes = page.evaluate("window.flashes")
    assert len(flashes) > 1 and all("Đã lưu" in words for words in flashes)
    assert len(page.evaluate("window.said")) == 1


@pytest.mark.browser
def test_a_failed_save_takes_the_officer_to_the_first_error_and_says_it_there(
    phones, server
) -> None:
    """Save with required fields empty scrolled to the first one but left the focus on Save,
    and no field said it was required or wrong but by a red star and colour (found by a
    probe): a screen reader heard neither. The first wrong field now has the focus, and each
    field's own controls carry aria-required, aria-invalid and the error (and hint) as their
    description; fixed, a field is no longer marked."""
    phone = phones("can-bo-doc-man-hinh", viewport=(360, 640))
    page = phone.page
    phone.new("khen_thuong")
    page.locator("#save-btn").click()
    expect(page.locator(".field.bad").first).to_be_visible()
    state = page.evaluate(
        """() => {
      const field = document.querySelector('.field.bad');
      const a = document.activeElement;
      // a radio's group says it (ARIA gives a radio neither aria-required nor aria-invalid)
      const marked = a.type === 'radio' ? a.closest('[role=radiogroup]') : a;
      const ids = (marked.getAttribute('aria-describedby') || '').split(' ');
      const own = (f) => [...f.querySelectorAll('input, textarea, select')]
        .filter((c) => c.closest('.field') === f && !c.classList.contains('settle-box'));
      return {
        inFirstBad: a.closest('.field') === field,
        invalid: marked.getAttribute('aria-invalid'),
        required: marked.getAttribute('aria-required'),
        said: ids.map((id) => document.getElementById(id)?.textContent ?? ''),
        unmarkedRequired: [...document.querySelectorAll('.field')].filter((f) =>
          f.querySelector(':scope > label .req, :scope > legend .req') &&
          !f.classList.contains('t-repeat') && !f.classList.contains('t-select_multiple') &&
          (f.getAttribute('role') === 'radiogroup' ? [f] : own(f))
            .some((c) => c.getAttribute('aria-required') !== 'true')).length,
        onRadios: document.querySelectorAll(
          'input[type=radio][aria-required], input[type=radio][aria-invalid]').length,
        onBoxes: document.querySelectorAll('input[type=checkbox][aria-required]').length,
      };
    }"""
    )
    assert state["onRadios"] == 0 and state["onBoxes"] == 0
    assert state["inFirstBad"] and state["invalid"] == "true" and state["required"] == "true"
    assert "Bắt buộc nhập / Required" in state["said"], state
    assert state["unmarkedRequired"] == 0
    path = page.locator(".field.bad").first.get_attribute("data-path")
    control = page.locator(f'.field[data-path="{path}"]').locator("input, textarea, select").first
    field_type = page.locator(f'.field[data-path="{path}"]').get_attribute("class")
    if "t-select_one" in field_type:
        control.check()
    else:
        control.fill("2025-09-01" if "t-date" in field_type else "Nguyễn Văn An")
    page.locator("#save-btn").click()
    expect(page.locator(f'.field[data-path="{path}"]')).not_to_have_class("bad")
    assert page.locator(f'.field[data-path="{path}"]').get_attribute("aria-invalid") is None
    assert control.get_attribute("aria-invalid") is None


@pytest.mark.browser
def test_a_phone_number_copied_with_invisible_marks_is_taken_as_it_shows(phones) -> None:
    """A number copied from the contacts or the dialler carries direction marks or isolates
    around it, or zero-width spaces inside: the box showed 0912345678 and said "Wrong format",
    with nothing the officer could see to fix (found by a probe). The marks are dropped."""
    phone = phones("can-bo-dan-so")
    phone.offline()
    phone.new("hoa_giai")
    box = phone.field("cac_ben[0].so_dien_thoai")
    for pasted in (
        "\u202a0912345678\u202c",
        "\u20660912345678\u2069",
        "\u200e0912345678",
        "0912\u200b345\u200b678",
        "\ufeff0912345678",
    ):
        phone.fill({"cac_ben[0].so_dien_thoai": pasted})
        expect(box.locator(".err")).to_be_hidden()
    phone.fill({**HOA_GIAI, "cac_ben[0].so_dien_thoai": "\u202a0912345678\u202c"})
    phone.save()
    [sent] = phone.outbox()
    assert sent["data"]["cac_ben"][0]["so_dien_thoai"] == "0912345678"
    # a mark in a text with no pattern (a name) is the officer's text, kept as typed
    assert sent["data"]["cac_ben"][0]["ho_ten"] == HOA_GIAI["cac_ben[0].ho_ten"]
