"""At 360x640 (a cheap Android phone) no screen scrolls sideways, every control is at least
44 px tall and every tab label stays on one line (with the outbox count), in Vietnamese and in
English, with errors showing."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

MEASURE = """() => {
  const small = [];
  for (const el of document.querySelectorAll('button, input, select, textarea, a.btn, a.tab')) {
    const r = el.getBoundingClientRect();
    if (!r.width || !r.height || getComputedStyle(el).visibility === 'hidden') continue;
    if (r.height < 44) small.push(`${el.outerHTML.slice(0, 90)} -> ${r.height}px`);
  }
  const wrapped = [];
  for (const tab of document.querySelectorAll('a.tab')) {
    const texts = document.createTreeWalker(tab, NodeFilter.SHOW_TEXT);
    for (let n = texts.nextNode(); n; n = texts.nextNode()) {
      const r = document.createRange();
      r.selectNodeContents(n);
      if (r.getClientRects().length > 1) wrapped.push(tab.textContent);
    }
    if (tab.scrollWidth > tab.clientWidth) wrapped.push(`${tab.textContent} (overflows)`);
  }
  return {width: document.documentElement.scrollWidth, small, wrapped};
}"""


@pytest.mark.browser
def test_every_screen_fits_a_small_phone(phones, server) -> None:
    phone = phones("can-bo-e", viewport=(360, 640))
    page = phone.page
    # Twelve items the server turned down (never pushed again): "Hộp thư đi (12)" on the tab.
    phone.js(
        """await db.putMany('outbox', [...Array(12).keys()].map((i) => ({
          id: `0190aaaa-0000-7000-8000-${String(i).padStart(12, '0')}`, form_id: 'tuyen_truyen',
          form_version: 1, parents: [], captured_at: '2025-09-01T08:00:00+07:00', data: {},
          status: 'rejected', errors: [{path: '', code: 'invalid', message: 'Không hợp lệ / x'}],
          saved_at: '2025-09-01T08:00:00+07:00'})))"""
    )
    form_ids = [f["form_id"] for f in server.api(phone.token, "/forms")[1]["forms"]]
    seen = []

    def check(name: str) -> None:
        result = page.evaluate(MEASURE)
        assert result["width"] <= 360, f"{name}: scrolls sideways ({result['width']} px)"
        assert result["small"] == [], f"{name}: controls under 44 px: {result['small']}"
        assert result["wrapped"] == [], f"{name}: tab labels on two lines: {result['wrapped']}"
        seen.append(name)

    for lang in ("vi", "en"):
        page.goto(f"{server.url}/app/#/")
        expect(page.locator("#form-list a").first).to_be_visible()
        expect(page.locator(".tab .count")).to_have_text("(12)")
        check(f"{lang} home")
        for form_id in form_ids:
            phone.new(form_id)
            check(f"{lang} {form_id}")
            phone.save()  # empty: every required field shows its error
            expect(page.locator("#form-errors")).to_be_visible()
            check(f"{lang} {form_id} with errors")
        for screen in ("outbox", "cases"):
            page.goto(f"{server.url}/app/#/{screen}")
            expect(page.locator("main h2")).to_be_visible()
            check(f"{lang} {screen}")
        page.locator("#lang").click()
        expect(page.locator("#lang")).to_have_text("VI" if lang == "vi" else "EN")
    assert len(seen) == 2 * (3 + 2 * len(form_ids))


@pytest.mark.browser
def test_status_bar_stays_two_lines_on_the_smallest_phone(phones, server) -> None:
    """320x568 with a rejected item, a network error and a retry time: two short lines (the
    rest on a tap), not a third of the screen."""
    phone = phones("can-bo-n", viewport=(320, 568))
    page = phone.page
    phone.js(
        "await db.put('outbox', {id: '01a00000-0000-7000-8000-000000000001', form_id: 'mo_hinh',"
        " form_version: 1, record_id: null, parents: [], captured_at: '2025-01-01T00:00:00+07:00',"
        " data: {ten_mo_hinh: 'x'}, status: 'queued', saved_at: new Date().toISOString()})"
    )
    phone.sync()
    expect(page.locator("#st-rejected")).to_have_text("Bị từ chối: 1")
    phone.context.route("**/api/v1/**", lambda route: route.abort())
    phone.sync()
    expect(page.locator("#st-error")).to_be_visible()
    phone.new("danh_gia_tieu_chi")
    page.mouse.wheel(0, 1500)
    bar = page.locator("#status")
    lines = page.locator("#status .st-line")
    expect(lines).to_have_count(2)
    assert bar.bounding_box()["height"] <= 72
    for i in range(2):
        assert lines.nth(i).bounding_box()["height"] < 26, "one line each"
    expect(lines.nth(1)).to_contain_text("Thử lại lúc")
    page.locator("#status .st-text").click()  # the details, in full
    expect(page.locator("#status .st-text")).to_have_attribute("aria-expanded", "true")
    assert page.evaluate("document.documentElement.scrollWidth") <= 320
