"""Edits of a follow-up case on the phone: a refused edit is fixed with the same intent (the
fields the officer emptied are cleared again), a later edit is never built on a refused one,
and a pushed edit becomes the phone's copy of the case even when the pull after it fails."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import expect_sent
from tests.browser.samples import CASE, push_case
from tests.browser.test_offline_entry import HOA_GIAI


def outbox_of(phone, n: int) -> list[dict]:
    """The outbox once it holds `n` entries: Save writes it a moment after the tap."""
    for _ in range(100):
        box = phone.outbox()
        if len(box) == n:
            return box
        phone.page.wait_for_timeout(100)
    raise AssertionError(f"the outbox holds {phone.outbox()}, not {n} entries")


def has_case(phone, case_id: str) -> None:
    """The phone's case list, once it shows the case (pulled by the setup's sync)."""
    phone.page.goto(f"{phone.server.url}/app/#/cases")
    expect(phone.page.locator(f'#case-list a[data-id="{case_id}"]')).to_be_visible()


def open_edit(phone, case_id: str) -> None:
    page = phone.page
    page.goto(f"{phone.server.url}/app/#/case/{case_id}")
    page.locator(f'a[href="#/edit/{case_id}"]').click()
    expect(page.locator("#entry")).to_be_visible()


@pytest.mark.browser
def test_a_refused_edit_is_fixed_with_its_intent_and_never_built_upon(phones, server) -> None:
    case_id = push_case(server, {**CASE, "hoa_giai_vien": "Nguyễn Văn Hòa"})
    phone = phones("can-bo-h")
    page = phone.page
    has_case(phone, case_id)
    phone.offline()

    # The officer empties the mediator (the wrong person) and counts the sessions...
    open_edit(phone, case_id)
    phone.fill({"hoa_giai_vien": "", "so_buoi_hoa_giai": "2"})
    phone.save()
    expect(page.locator(".flash")).to_be_visible()
    [first] = phone.outbox()
    assert first["data"] == {"hoa_giai_vien": None, "so_buoi_hoa_giai": 2}
    # ...and the server refuses it (the count written behind the form's back).
    phone.js("await db.put('outbox', {...arg, data: {...arg.data, so_buoi_hoa_giai: -1}})", first)
    phone.offline(False)
    expect(page.locator("#st-rejected")).to_have_text("Bị từ chối / Rejected: 1", timeout=20_000)

    # Another update of the case meanwhile: told of the refused one, built on the server's heads.
    page.goto(f"{server.url}/app/#/case/{case_id}")
    expect(page.locator("#edit-refused")).to_be_visible()
    open_edit(phone, case_id)
    expect(page.locator("#edit-refused")).to_be_visible()
    phone.offline()
    phone.fill({"trang_thai": "dang_hoa_giai"})
    phone.save()
    expect(page.locator(".flash")).to_be_visible()
    second = next(i for i in phone.outbox() if i["id"] != first["id"])
    assert second["parents"] == [case_id]
    phone.offline(False)
    expect_sent(page, 20_000)
    boss = server.add_user("giam-sat", "supervisor", "01")
    status, record = server.api(boss, f"/records/{case_id}")
    assert status == 200
    assert record["data"]["trang_thai"] == "dang_hoa_giai"
    assert record["data"]["hoa_giai_vien"] == "Nguyễn Văn Hòa"

    # Fixed, the refused edit goes again with its intent: the mediator emptied.
    page.goto(f"{server.url}/app/#/outbox")
    page.locator(f'#outbox-list a[href="#/fix/{first["id"]}"]').click()
    expect(phone.field("so_buoi_hoa_giai").locator(".err")).to_have_text(
        "Không được nhỏ hơn 0 / Must be at least 0"
    )
    expect(phone.field("hoa_giai_vien").locator("input, textarea")).to_have_value("")
    phone.fill({"so_buoi_hoa_giai": "2"})
    phone.save()
    expect(page.locator("#st-rejected")).to_have_count(0, timeout=20_000)
    expect_sent(page, 20_000)
    assert phone.outbox() == []
    status, record = server.api(boss, f"/records/{case_id}")
    assert record["data"].get("hoa_giai_vien") is None
    assert record["data"]["so_buoi_hoa_giai"] == 2
    assert record["data"]["trang_thai"] == "dang_hoa_giai"
    assert record["conflicts"] == []


@pytest.mark.browser
def test_a_pushed_edit_is_the_phones_copy_when_the_pull_fails(phones, server) -> None:
    case_id = push_case(server, CASE)
    phone = phones("can-bo-i")
    page = phone.page
    has_case(phone, case_id)
    # 2G: every pull fails from now on, the pushes get through.
    phone.context.route("**/api/v1/sync/pull**", lambda route: route.abort())

    open_edit(phone, case_id)
    phone.fill({"trang_thai": "dang_hoa_giai"})
    phone.save()
    expect(page.locator("#st-error")).to_be_visible(timeout=20_000)
    assert phone.outbox() == []
    page.goto(f"{server.url}/app/#/case/{case_id}")
    expect(page.locator("dl.data")).to_contain_text("Đang hòa giải")

    open_edit(phone, case_id)
    expect(phone.field("trang_thai").locator("input:checked")).to_have_value("dang_hoa_giai")
    phone.fill({"trang_thai": "hoa_giai_thanh"})
    phone.save()
    expect_sent(page, 20_000)
    boss = server.add_user("giam-sat", "supervisor", "01")
    status, record = server.api(boss, f"/records/{case_id}")
    assert status == 200
    assert record["conflicts"] == []
    assert record["data"]["trang_thai"] == "hoa_giai_thanh"
    assert len(record["heads"]) == 1


@pytest.mark.browser
def test_a_case_made_offline_is_opened_and_updated_offline(phones, server) -> None:
    """A case taken in the morning with no network is updated in the afternoon, still with
    none: it was in no list (only pulled cases were), so it could not be opened, and the
    officer could only enter it again (a second record). It is the phone's case from its
    save, and its update goes out after it as an edit of it."""
    phone = phones("can-bo-sang")
    page = phone.page
    expect(page.locator("body[data-syncs]")).to_have_count(1, timeout=20_000)
    phone.offline()
    phone.new("hoa_giai")
    phone.fill(HOA_GIAI)
    phone.save()
    expect(page.locator(".flash")).to_be_visible()  # the case kept too, after the outbox item
    [root] = outbox_of(phone, 1)
    page.reload()  # offline, from the service worker: the case is kept, not only shown
    page.goto(f"{server.url}/app/#/cases")
    expect(page.locator(f'#case-list a[data-id="{root["id"]}"]')).to_contain_text(
        "Tranh chấp lối đi chung"
    )
    page.locator(f'#case-list a[data-id="{root["id"]}"]').click()
    expect(page.locator(".hint").first).to_contain_text("chưa gửi")
    open_edit(phone, root["id"])
    phone.fill({"trang_thai": "dang_hoa_giai", "so_buoi_hoa_giai": "1"})
    phone.save()
    later = next(i for i in outbox_of(phone, 2) if i["id"] != root["id"])
    assert later["record_id"] == root["id"] and later["parents"] == [root["id"]]
    assert later["data"] == {"trang_thai": "dang_hoa_giai", "so_buoi_hoa_giai": 1}
    # the outbox says which entry is which, and opens its case
    page.goto(f"{server.url}/app/#/outbox")
    first, second = (page.locator(f'li[data-id="{i}"]') for i in (root["id"], later["id"]))
    expect(first.locator(".summary")).to_contain_text("Tranh chấp lối đi chung")
    expect(second.locator(".summary")).to_contain_text("Đang hòa giải")
    second.locator(f'a[href="#/case/{root["id"]}"]').click()
    expect(page.locator("dl.data")).to_contain_text("Tranh chấp lối đi chung")

    phone.offline(False)
    expect_sent(page, 20_000)
    phone.sync()
    boss = server.add_user("giam-sat", "supervisor", "01")
    [record] = server.records(boss, "hoa_giai")
    assert record["record_id"] == root["id"] and record["heads"] == [later["id"]]
    assert record["data"]["trang_thai"] == "dang_hoa_giai"
    assert record["data"]["noi_dung_vu_viec"] == HOA_GIAI["noi_dung_vu_viec"]
    [mine] = phone.js("await db.all('records')")
    assert mine["heads"] == [later["id"]] and not mine.get("local")  # the server's copy now

    # One the server refuses and the officer discards goes from the cases with it.
    phone.offline()
    phone.new("hoa_giai")
    phone.fill(HOA_GIAI)
    phone.save()
    [bad] = outbox_of(phone, 1)
    phone.js("await db.put('outbox', {...arg, data: {...arg.data, so_buoi_hoa_giai: -1}})", bad)
    phone.offline(False)
    expect(page.locator("#st-rejected")).to_have_text("Bị từ chối / Rejected: 1", timeout=20_000)
    page.goto(f"{server.url}/app/#/cases")
    expect(page.locator(f'#case-list a[data-id="{bad["id"]}"]')).to_be_visible()
    page.goto(f"{server.url}/app/#/outbox")
    page.once("dialog", lambda d: d.accept())
    page.locator(f'li[data-id="{bad["id"]}"] button.discard').click()
    expect(page.locator(f'li[data-id="{bad["id"]}"]')).to_have_count(0)
    page.goto(f"{server.url}/app/#/cases")
    expect(page.locator("#case-list a")).to_have_count(1)
    expect(page.locator(f'#case-list a[data-id="{bad["id"]}"]')).to_have_count(0)


@pytest.mark.browser
def test_edits_after_the_clock_is_set_back_still_follow_each_other(phones, server) -> None:
    """A phone whose clock ran years ahead, set right by the officer: the next update of a case
    is still built on the one saved before (found by a probe: ids are UUIDv7, the app took the
    one with the greatest id, made at the wrong time, for the latest)."""
    case_id = push_case(server, CASE)
    phone = phones("can-bo-dong-ho", setup=False)
    page = phone.page
    # years ahead of now, whenever the test runs (a fixed 2030 would be "now" one day)
    now = datetime.now(UTC).replace(microsecond=0)
    page.clock.install(time=(now + timedelta(days=1100)).isoformat())
    phone.setup()
    phone.sync()
    # told, as soon as a sync has seen the server's clock
    expect(page.locator("#st-clock")).to_contain_text("Đồng hồ của máy lệch")
    assert "ngày" in page.locator("#st-clock").inner_text()
    phone.offline()
    open_edit(phone, case_id)
    phone.fill({"noi_dung_vu_viec": "Lần 1"})
    phone.save()
    expect(page.locator(".flash")).to_be_visible()
    page.clock.set_system_time(now.isoformat())  # the officer sets the clock right
    page.reload()
    expect(page.locator("nav.tabs")).to_be_visible()
    for text in ("Lần 2", "Lần 3"):
        open_edit(phone, case_id)
        expect(phone.field("noi_dung_vu_viec").locator("textarea")).to_have_value(
            "Lần 1" if text == "Lần 2" else "Lần 2"
        )
        phone.fill({"noi_dung_vu_viec": text})
        phone.save()
        expect(page.locator(".flash")).to_be_visible()
    first, second, third = sorted(phone.outbox(), key=lambda i: i["id"])
    assert [i["data"]["noi_dung_vu_viec"] for i in (first, second, third)] == [
        "Lần 1",
        "Lần 2",
        "Lần 3",
    ]
    assert (second["parents"], third["parents"]) == ([first["id"]], [second["id"]])
    phone.offline(False)
    phone.wait_outbox_empty()
    # set right (close enough: the test's clock stands still), the warning goes
    page.clock.set_system_time(datetime.now(UTC))
    phone.sync()
    expect(page.locator("#st-clock")).to_have_count(0)
    boss = server.add_user("giam-sat", "supervisor", "01")
    status, record = server.api(boss, f"/records/{case_id}")
    assert status == 200 and record["conflicts"] == []
    assert record["data"]["noi_dung_vu_viec"] == "Lần 3"


@pytest.mark.browser
@pytest.mark.parametrize(
    "stored",
    [
        {"noi_dung_vu_viec": "Dòng 1.\r\nDòng 2."},  # a desk client's line ends
        {"noi_dung_vu_viec": "Dòng 1.\nDòng 2.\n"},
        {"hoa_giai_vien": " Nguyễn Văn Hòa "},  # a short field: an input
        {"cac_ben": [{**CASE["cac_ben"][0], "ho_ten": "Phạm Văn Cường "}, CASE["cac_ben"][1]]},
    ],
    ids=["crlf", "trailing-newline", "spaces-around", "space-in-an-item"],
)
def test_an_edit_sends_no_text_the_officer_did_not_touch(phones, server, stored) -> None:
    """Text stored with CRLF line ends or spaces around it (any client but the app may send
    it) reads back from the form as LF and trimmed: taken for a change, it went out with an
    edit of another field, and a colleague's correction of it became a conflict whose
    provisional value was the phone's stale copy (found by a probe). Only what the officer
    changed is sent."""
    case_id = push_case(server, {**CASE, **stored})
    phone = phones("can-bo-van-ban")
    has_case(phone, case_id)
    phone.offline()
    open_edit(phone, case_id)
    phone.fill({"so_buoi_hoa_giai": "3"})
    phone.save()
    [item] = outbox_of(phone, 1)
    assert item["data"] == {"so_buoi_hoa_giai": 3}


@pytest.mark.browser
def test_the_case_list_finds_a_case_by_what_it_holds_without_diacritics(phones, server) -> None:
    """500 cases, three a screen: finding one meant scrolling 170 screens, and the parties'
    names were nowhere on the cards (found by a probe). The cards name the parties, and a
    search runs over everything a case holds, its repeat items too, typed with or without
    diacritics; kept when a sync redraws the list."""
    cases = {
        name: push_case(
            server,
            {**CASE, "cac_ben": [{**CASE["cac_ben"][0], "ho_ten": name}, CASE["cac_ben"][1]]},
        )
        for name in ("Nguyễn Văn Đông", "Hoàng Thị Huệ", "Lê Văn Tám")
    }
    phone = phones("can-bo-tim")
    page = phone.page
    page.goto(f"{server.url}/app/#/cases")
    expect(page.locator("#case-list li")).to_have_count(3)
    search = page.locator("#case-search")
    expect(search).to_have_attribute(
        "aria-label", "Tìm hồ sơ: tên, địa chỉ, nội dung… / Search cases: name, address, details…"
    )
    visible = page.locator("#case-list li:not([hidden]) a")
    # each card names whom the case is about: its parties
    card = page.locator(f'#case-list a[data-id="{cases["Lê Văn Tám"]}"] small')
    expect(card).to_contain_text(f"Lê Văn Tám, {CASE['cac_ben'][1]['ho_ten']}")
    search.fill("nguyen van dong")  # as typed on a keyboard with no Vietnamese
    expect(visible).to_have_count(1)
    expect(visible).to_have_attribute("data-id", cases["Nguyễn Văn Đông"])
    search.fill("HOÀNG huệ")
    expect(visible).to_have_attribute("data-id", cases["Hoàng Thị Huệ"])
    syncs = int(page.locator("body").get_attribute("data-syncs") or 0)
    page.evaluate("dispatchEvent(new Event('online'))")  # a sync lands while typing...
    expect(page.locator("body")).to_have_attribute("data-syncs", str(syncs + 1))
    page.keyboard.type(" thi")  # ...and the typing goes on in the search (found by a probe)
    expect(page.locator("#case-search")).to_have_value("HOÀNG huệ thi")
    expect(visible).to_have_count(1)
    # what the card shows finds it too: a choice by its label, in either language, a date as
    # written on the card
    for shown in ("ranh giới", "Land, boundaries", "15/08/2025"):
        search.fill(shown)
        expect(visible).to_have_count(3)
    search.fill("không có ai")
    expect(visible).to_have_count(0)
    expect(page.locator("#no-match")).to_be_visible()
    search.fill("")
    expect(visible).to_have_count(3)
    expect(page.locator("#no-match")).to_be_hidden()

    # A Vietnamese keyboard (Telex, Gboard) composes a word in the box as it is typed; a sync
    # that landed mid-word drew a new box, and the word came out "NguyêNguyễn", matching
    # nothing (found by a probe). The box stays, and the word is whole.
    ime = page.context.new_cdp_session(page)

    def compose(*steps: str) -> None:
        for step in steps:
            ime.send(
                "Input.imeSetComposition",
                {"text": step, "selectionStart": len(step), "selectionEnd": len(step)},
            )

    search.click()
    page.evaluate("window.typedIn = document.getElementById('case-search')")
    compose("N", "Ng", "Ngu", "Nguy", "Nguye", "Nguyê")
    syncs = int(page.locator("body").get_attribute("data-syncs") or 0)
    page.evaluate("dispatchEvent(new Event('online'))")
    expect(page.locator("body")).to_have_attribute("data-syncs", str(syncs + 1))
    compose("Nguyên", "Nguyễn")
    ime.send("Input.insertText", {"text": "Nguyễn"})
    expect(page.locator("#case-search")).to_have_value("Nguyễn")
    assert page.evaluate("window.typedIn === document.getElementById('case-search')")
    expect(visible).to_have_count(1)
    expect(visible).to_have_attribute("data-id", cases["Nguyễn Văn Đông"])


def contact_form(pattern: bool) -> dict[str, Any]:
    """A contact list whose phone number a later version checks with a pattern."""
    number = {
        "name": "sdt",
        "type": "text",
        "max_length": 40,
        "label": {"vi": "SĐT", "en": "Phone"},
    }
    return {
        "form_id": "lien_he",
        "title": {"vi": "Liên hệ", "en": "Contact"},
        "sync_to_devices": True,
        "fields": [
            {"name": "ten", "type": "text", "required": True, "label": {"vi": "Tên", "en": "Name"}},
            {**number, "pattern": "^0[0-9]{9,10}$"} if pattern else number,
            {"name": "ghi_chu", "type": "text", "label": {"vi": "Ghi chú", "en": "Note"}},
        ],
    }


@pytest.mark.browser
def test_an_edit_leaves_a_number_stored_with_invisible_marks_alone(phones, server) -> None:
    """A number stored with a direction mark (copied from the contacts, taken before the form
    had a pattern): the form reads it without the mark, which was taken for a change, so an
    edit of another field sent it, and a colleague's correction became a conflict, and merely
    opening the case to edit it left a draft (found by a probe)."""
    admin = server.add_user("quan-tri", "admin", "")
    for pattern in (False, True):
        assert server.api(admin, "/forms", contact_form(pattern))[0] == 201
    case_id = push_case(server, {"ten": "Lê Văn A", "sdt": "\u200e0912345678"}, "lien_he", 1)
    phone = phones("can-bo-lien-he")
    page = phone.page
    phone.sync()
    phone.offline()
    open_edit(phone, case_id)
    page.goto(f"{server.url}/app/#/")
    expect(page.locator("#entry")).to_have_count(0)
    assert phone.js("await db.all('drafts')") == []
    open_edit(phone, case_id)
    phone.fill({"ghi_chu": "Đã gọi điện"})
    phone.save()
    [item] = outbox_of(phone, 1)
    assert item["data"] == {"ghi_chu": "Đã gọi điện"}
