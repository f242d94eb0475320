"""An officer using TalkBack, a keyboard, or large text, or working in the sun: the focus is
never left on the page's body, what goes wrong is said once and tied to its field, the focus
ring shows on every background, a focused field is never under the sticky status bar, and
repeat items and tabs say what they are (found by an accessibility probe)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

FOCUSED = "() => { const e = document.activeElement; return e ? e.id || e.tagName : null; }"


@pytest.mark.browser
def test_the_focus_goes_to_each_new_screen_and_stays_on_sync(phones) -> None:
    """Every screen change, Save and Sync left the focus on the page's body: a keyboard user
    began again from the top, and a screen reader was left wherever the phone put it."""
    phone = phones("can-bo-ban-phim")
    page = phone.page
    page.locator('a.tab[href="#/cases"]').focus()
    page.keyboard.press("Enter")
    expect(page.locator("main h2")).to_be_focused()
    expect(page).to_have_title("Hồ sơ theo dõi / Follow-up records — coso")
    expect(page.locator('a.tab[href="#/cases"]')).to_have_attribute("aria-current", "page")
    expect(page.locator('a.tab[href="#/"]')).not_to_have_attribute("aria-current", "page")

    syncs = int(page.locator("body").get_attribute("data-syncs") or 0)
    page.locator("#sync-btn").focus()
    page.keyboard.press("Enter")
    expect(page.locator("body")).to_have_attribute("data-syncs", str(syncs + 1))
    expect(page.locator("#sync-btn")).to_be_focused()
    expect(page.locator("#sync-btn")).to_be_enabled()
    # the status line is a button that opens, not a live region it cannot be both
    bar = page.locator("#st-text")
    expect(bar).not_to_have_attribute("role", "status")
    bar.focus()
    page.keyboard.press("Enter")
    expect(bar).to_have_attribute("aria-expanded", "true")
    expect(page.locator("#st-text")).to_be_focused()


@pytest.mark.browser
def test_a_setup_with_a_wrong_token_says_so_at_the_box(phones) -> None:
    phone = phones("can-bo-cai-dat", setup=False)
    page = phone.page
    page.goto(f"{phone.server.url}/app/")
    box = page.locator("#setup-token")
    box.fill("not-a-token")
    page.locator(".card button").focus()
    page.keyboard.press("Enter")
    problem = page.locator("#setup-error")
    expect(problem).to_have_attribute("role", "alert")
    expect(problem).to_contain_text("/")  # both languages
    expect(box).to_have_attribute("aria-invalid", "true")
    expect(box).to_have_attribute("aria-describedby", "setup-error")
    expect(box).to_be_focused()


@pytest.mark.browser
def test_repeat_items_are_named_groups_with_their_own_remove(phones) -> None:
    phone = phones("can-bo-nhom")
    page = phone.page
    phone.new("hoa_giai")
    items = page.locator('[data-path="cac_ben"] .item')
    expect(items).to_have_count(2)
    expect(items.nth(1)).to_have_attribute("role", "group")
    expect(items.nth(1)).to_have_attribute("aria-label", "Mục 2 / Item 2")
    expect(items.nth(1).locator(".item-head button")).to_have_accessible_name(
        "Xóa mục 2 / Remove item 2"
    )


@pytest.mark.browser
def test_errors_are_not_written_again_at_each_key(phones) -> None:
    """After a failed Save, each key typed checked the form again and wrote every error anew,
    and a screen reader read the alerts again and again."""
    phone = phones("can-bo-doc-loi")
    page = phone.page
    phone.new("hoa_giai")
    page.locator("#save-btn").click()
    untouched = phone.field("ngay_tiep_nhan").locator(".err")
    expect(untouched).to_be_visible()
    page.evaluate("""() => {
      window.changes = 0;
      const watch = new MutationObserver((m) => { window.changes += m.length; });
      const el = document.querySelector('[data-path="ngay_tiep_nhan"] .err');
      watch.observe(el, { childList: true, subtree: true, characterData: true, attributes: true });
    }""")
    phone.field("noi_dung_vu_viec").locator("textarea").click()
    page.keyboard.type("abc", delay=30)
    expect(phone.field("noi_dung_vu_viec").locator(".err")).to_be_hidden()
    assert page.evaluate("window.changes") == 0
    expect(untouched).to_be_visible()


@pytest.mark.browser
def test_the_focus_ring_is_dark_and_no_focused_field_is_under_the_status_bar(phones) -> None:
    """The ring was amber (1.8:1 on white, barely seen in the sun); going back up a long form
    from the keyboard, a field came to rest under the sticky status bar."""
    phone = phones("can-bo-tab-lui", viewport=(390, 844))
    page = phone.page
    phone.new("hoa_giai")
    page.locator("#save-btn").focus()
    page.keyboard.press("Shift+Tab")
    ring = page.evaluate("getComputedStyle(document.activeElement).outlineColor")
    assert ring == "rgb(27, 27, 27)", ring
    hidden = []
    for _ in range(45):
        page.keyboard.press("Shift+Tab")
        where = page.evaluate("""() => {
          const e = document.activeElement;
          if (e === document.body || e.closest('#status, header')) return { top: 1, bottom: 0 };
          const r = document.activeElement.getBoundingClientRect();
          const bar = document.getElementById('status').getBoundingClientRect();
          return { id: document.activeElement.id, top: r.top, bottom: r.bottom, bar: bar.bottom };
        }""")
        if where["bottom"] > 0 and where["top"] < where["bar"] - 1:
            hidden.append(where)
    assert hidden == []


@pytest.mark.browser
def test_no_match_in_the_case_search_is_said(phones, server) -> None:
    from tests.browser.samples import CASE, push_case

    for _ in range(2):
        push_case(server, CASE)
    phone = phones("can-bo-tim-kiem")
    page = phone.page
    phone.sync()
    page.goto(f"{server.url}/app/#/cases")
    page.locator("#case-search").fill("zzzz")
    expect(page.locator("#no-match")).to_be_visible()
    expect(page.locator("#no-match")).to_have_attribute("role", "status")


@pytest.mark.browser
def test_touch_users_see_no_ring_a_busy_sync_looks_busy_and_a_sync_keeps_the_place(
    phones, server
) -> None:
    """What the focus work must not cost an officer who taps (regression probe): the app
    opening drew the focus ring around the screen's heading, a running Sync looked ready, and
    (older) a sync landing threw the officer back to the top of the list being read."""
    from tests.browser.samples import CASE, push_case

    for i in range(12):
        push_case(server, {**CASE, "noi_dung_vu_viec": f"Vụ số {i} " + "chữ " * 30})
    phone = phones("can-bo-cham", has_touch=True, is_mobile=True)
    page = phone.page
    page.goto(f"{server.url}/app/#/cases")
    expect(page.locator("#case-list li")).to_have_count(12)
    ring = page.evaluate("""() => {
      const s = getComputedStyle(document.activeElement);
      return [document.activeElement.tagName, s.outlineStyle, s.boxShadow];
    }""")
    assert ring[1:] == ["none", "none"], ring
    page.evaluate("window.scrollTo(0, 1500)")
    before = page.evaluate("window.scrollY")
    assert before > 500
    # (a tap the page does not scroll for, as Playwright's click would)
    page.evaluate("window.shownList = document.getElementById('case-list')")
    page.evaluate("document.getElementById('sync-btn').click()")
    for _ in range(200):  # until the list is drawn anew
        if not page.evaluate("window.shownList.isConnected"):
            break
        page.wait_for_timeout(50)
    page.wait_for_timeout(100)  # (and the rest of route() after it)
    assert page.evaluate("window.scrollY") == before
    page.evaluate("document.getElementById('sync-btn').setAttribute('aria-disabled', 'true')")
    assert page.evaluate("getComputedStyle(document.getElementById('sync-btn')).opacity") == "0.6"
