"""What the app draws when the phone's store is slow and the officer does not wait: a screen
finished late never covers the one she opened after it, a sync landing never closes or
redraws a form she is opening, Discard tapped twice discards once, and a save she walked away
from does not pull her back (found by probes; each race is played in order by slowing one
kind of request to the phone's store, see conftest.SLOW_STORE)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import expect_sent, slow_store
from tests.browser.samples import CASE, push_case
from tests.browser.test_case_edits import open_edit
from tests.browser.test_held_edits import AGREED, record_once_agreed, two_edits_the_first_refused


def press_sync(page) -> int:
    """Press Sync (as a tap: a click from Playwright scrolls to the sticky bar); the count of
    finished syncs that its end makes."""
    expect(page.locator("#sync-btn:not([aria-disabled='true'])")).to_have_count(1, timeout=20_000)
    done = int(page.evaluate("document.body.dataset.syncs ?? 0")) + 1
    page.evaluate("document.getElementById('sync-btn').click()")
    return done


def save_slowly_and_walk_away(phones, server, name: str):
    """An officer's phone, offline, on which an edit of a case is saved while the store is
    slow (its outbox written 1.5 s late), and the officer taps Forms 300 ms after Save."""
    case_id = push_case(server, CASE)
    phone = phones(name)
    page = phone.page
    page.goto(f"{server.url}/app/#/cases")
    expect(page.locator(f'#case-list a[data-id="{case_id}"]')).to_be_visible()
    phone.offline()
    open_edit(phone, case_id)
    phone.fill({"so_buoi_hoa_giai": "3"})
    slow_store(page, "outbox", ("put",), 1_500)
    page.locator("#save-btn").click()
    page.wait_for_timeout(300)
    page.locator('a.tab[href="#/"]').click()
    return phone


@pytest.mark.browser
def test_a_screen_finished_late_never_covers_the_one_opened_after_it(phones, server) -> None:
    """A screen begun first (a sync landing on a case draws it again) and finished last covered
    the list the officer had opened meanwhile; she tapped a case that was not there."""
    case_id = push_case(server, CASE)
    phone = phones("can-bo-cham")
    page = phone.page
    page.goto(f"{server.url}/app/#/cases")
    expect(page.locator(f'#case-list a[data-id="{case_id}"]')).to_be_visible()

    slow_store(page, "records", ("get",), 800)
    page.evaluate(f"location.hash = '#/case/{case_id}'")  # its screen waits on the slow read
    page.wait_for_timeout(200)
    page.evaluate("location.hash = '#/cases'")  # the officer goes back to the list
    page.wait_for_timeout(1_500)  # the case's read has long completed
    assert page.evaluate("location.hash") == "#/cases"
    expect(page.locator(f'#case-list a[data-id="{case_id}"]')).to_be_visible()
    expect(page.locator(f'a[href="#/edit/{case_id}"]')).to_have_count(0)
    expect(page.locator("h2")).to_contain_text("Hồ sơ theo dõi")
    page.locator(f'#case-list a[data-id="{case_id}"]').click()
    expect(page.locator(f'a[href="#/edit/{case_id}"]')).to_be_visible()


@pytest.mark.browser
def test_a_sync_landing_while_a_form_opens_leaves_it_open(phones) -> None:
    """A sync that landed while a form was being drawn waited its turn, then drew the screen
    again: it closed the form just opened, deleted its blank draft and showed the forms."""
    phone = phones("can-bo-mo-mau")
    page = phone.page
    form = page.locator("#form-list a").first.get_attribute("href")
    slow_store(page, "drafts", ("get",), 3_000)  # the form's first read
    page.locator(f'#form-list a[href="{form}"]').click()
    page.wait_for_timeout(300)
    landed = press_sync(page)
    expect(page.locator(f'body[data-syncs="{landed}"]')).to_have_count(1, timeout=20_000)
    assert not page.locator("#entry").count(), "the sync landed after the form was drawn"
    expect(page.locator("#entry")).to_be_visible()
    page.evaluate("window.opened = document.getElementById('entry')")
    page.wait_for_timeout(1_500)  # anything asked for meanwhile has been drawn
    slow_store(page, None)
    assert page.evaluate("location.hash").startswith("#/draft/")
    assert page.evaluate("document.getElementById('entry') === window.opened"), "drawn again"
    assert len(phone.js("await db.all('drafts')")) == 1


@pytest.mark.browser
def test_discard_tapped_twice_sends_the_held_edit_once(phones, server) -> None:
    """The screen slow to change, the officer tapped Discard again: each tap put the edit held
    behind the refused one back under a new id, and the case got two heads for one edit."""
    phone, case_id, first, _ = two_edits_the_first_refused(phones, server, "can-bo-bo-hai-lan")
    page = phone.page
    page.goto(f"{server.url}/app/#/outbox")
    discard = page.locator(f'li[data-id="{first["id"]}"] button.discard')
    expect(discard).to_be_visible()
    page.on("dialog", lambda d: d.accept())
    slow_store(page, "outbox", ("getAll",), 1_500)
    discard.click()
    page.wait_for_timeout(300)
    discard.click()  # nothing seemed to happen
    page.wait_for_timeout(2_000)
    slow_store(page, None)
    expect_sent(page, 20_000)
    record = record_once_agreed(server, page, case_id)
    assert len(record["heads"]) == 1, record["heads"]
    assert record["conflicts"] == []
    # the held edit as first sent (kept by the server, waiting for its refused parent for
    # ever) and the one sent again without it: not a third
    agreed = [s["id"] for s in record["submissions"] if s["data"].get("ket_qua") == AGREED]
    assert len(agreed) == 2, agreed


@pytest.mark.browser
def test_a_save_the_officer_walked_away_from_leaves_her_where_she_went(phones, server) -> None:
    """Save written slowly, the officer opened the forms meanwhile; the save's end took her back
    to the case. It now says "Saved" where she is."""
    phone = save_slowly_and_walk_away(phones, server, "can-bo-di-tiep")
    page = phone.page
    expect(page.locator("#form-list")).to_be_visible()
    page.wait_for_timeout(2_500)  # the save has been written
    slow_store(page, None)
    assert page.evaluate("location.hash") == "#/"
    expect(page.locator("#form-list")).to_be_visible()
    expect(page.locator(".flash")).to_contain_text("Đã lưu")
    [sent] = phone.outbox()
    assert sent["data"] == {"so_buoi_hoa_giai": 3}


@pytest.mark.browser
def test_discard_in_a_tab_behind_a_fix_made_in_another_keeps_the_fix(phones, server) -> None:
    """The refused edit fixed in one tab (the same id, queued again), then discarded from
    another that still showed it refused: the fix was deleted and never sent, and the officer
    was told the refused item was discarded. Now nothing is discarded and the tab says so,
    drawn as the outbox now is."""
    phone, _, first, _ = two_edits_the_first_refused(phones, server, "can-bo-hai-the")
    a = phone.page
    b = phone.context.new_page()
    b.goto(f"{server.url}/app/#/outbox")
    phone.offline()  # the fix waits in the outbox
    a.evaluate("location.hash = '#/outbox'")
    discard = a.locator(f'li[data-id="{first["id"]}"] button.discard')
    expect(discard).to_be_visible()
    b.locator(f'a[href="#/fix/{first["id"]}"]').click()
    expect(b.locator("#entry")).to_be_visible()
    box = b.locator('[data-path="so_buoi_hoa_giai"] input')
    box.fill("2")
    box.dispatch_event("change")
    b.locator("#save-btn").click()
    expect(b.locator("#entry")).to_have_count(0)
    for _ in range(50):
        fixed = [i for i in phone.outbox() if i["id"] == first["id"]]
        if fixed and fixed[0]["status"] == "queued":
            break
        b.wait_for_timeout(100)
    assert fixed[0]["data"] == {"so_buoi_hoa_giai": 2}

    a.on("dialog", lambda d: d.accept())
    discard.click()  # tab A still shows it refused
    expect(a.locator(".flash")).to_contain_text("nothing was discarded")
    expect(discard).to_have_count(0)  # drawn again, as the outbox is
    kept = {i["id"]: i for i in phone.outbox()}
    assert kept[first["id"]]["data"] == {"so_buoi_hoa_giai": 2}
    assert kept[first["id"]]["status"] == "queued"


@pytest.mark.browser
def test_saved_said_for_a_screen_she_left_is_not_said_on_the_next(phones, server) -> None:
    """Save written slowly; the officer went on to the forms and into a new one before it was
    written, so "Saved" could not be said where she was. Leaving that blank form for the
    cases, she read "Saved" there, as if the form she had just left had been saved."""
    phone = save_slowly_and_walk_away(phones, server, "can-bo-mau-moi")
    page = phone.page
    page.locator('#form-list a[href="#/new/nam_tinh_hinh"]').click()
    expect(page.locator("#entry")).to_be_visible()
    page.wait_for_timeout(2_500)  # the save has been written
    slow_store(page, None)
    assert len(phone.outbox()) == 1
    expect(page.locator(".flash")).to_have_count(0)  # an open form is not drawn again
    page.locator('a.tab[href="#/cases"]').click()
    expect(page.locator("#case-list")).to_be_visible()
    page.wait_for_timeout(300)
    expect(page.locator(".flash")).to_have_count(0)


@pytest.mark.browser
def test_a_form_tapped_while_a_screen_draws_is_drawn_once_and_stays_open(phones) -> None:
    """A screen began drawing (the forms, while the store was slow) and the officer tapped a
    form: that drawing, reading the address late, opened the form; then each address change
    on the way (the tap, and the form's own) drew it again. The second drawing closed the form
    just opened: its blank draft was deleted and the forms shown, or what had been ticked
    meanwhile was drawn away (found by a probe, 8 runs in 17 on a loaded phone)."""
    phone = phones("can-bo-hai-lan")
    page = phone.page
    form = page.locator("#form-list a").first.get_attribute("href")
    page.evaluate("location.hash = '#/outbox'")
    expect(page.locator("h2")).to_contain_text("Hộp thư đi")
    page.evaluate(
        """() => { window.forms = 0; new MutationObserver((changes) => { for (const c of changes)
            for (const n of c.addedNodes) if (n.id === 'entry') window.forms += 1; })
          .observe(document.querySelector('main'), { childList: true }); }"""
    )
    slow_store(page, "kv", ("get",), 600)
    page.evaluate("location.hash = '#/'")  # the forms begin drawing, waiting on the store
    page.wait_for_timeout(150)
    page.evaluate(f"location.hash = '{form}'")  # the officer taps a form before they show
    expect(page.locator("#entry")).to_be_visible(timeout=20_000)
    page.wait_for_timeout(4_000)  # every drawing the taps asked for has had its turn
    slow_store(page, None)
    assert page.evaluate("location.hash").startswith("#/draft/")
    expect(page.locator("#entry")).to_be_visible()
    assert page.evaluate("window.forms") == 1
    assert len(phone.js("await db.all('drafts')")) == 1


@pytest.mark.browser
def test_a_second_form_tapped_while_the_first_opens_is_the_one_opened(phones) -> None:
    """The officer tapped one form, then another while the first's draft was being written:
    the first opened in the place of the second, and a blank draft of it was left (found by a
    probe)."""
    phone = phones("can-bo-doi-mau")
    page = phone.page
    first, second = page.locator("#form-list a").evaluate_all("(l) => l.map((a) => a.hash)")[:2]
    slow_store(page, "drafts", ("put",), 1_000)
    page.evaluate(f"location.hash = '{first}'")
    page.wait_for_timeout(200)
    page.evaluate(f"location.hash = '{second}'")
    expect(page.locator("#entry")).to_be_visible(timeout=20_000)
    page.wait_for_timeout(2_500)  # the first form's draft written long since
    slow_store(page, None)
    drafts = phone.js("await db.all('drafts')")
    assert [d["form_id"] for d in drafts] == [second.removeprefix("#/new/")]
    assert page.evaluate("location.hash") == f"#/draft/{drafts[0]['id']}"
