"""At 360x640 (a cheap Android phone) no screen scrolls sideways and nothing is wider than the
screen, every control is at least 44 px tall and every tab label stays on one line (with the
outbox count), with both languages shown and errors showing. Each screen is kept as a full-page
screenshot, artifacts/screenshots/360-*.png."""

from __future__ import annotations

import uuid

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import SCREENSHOTS as SHOTS
from tests.browser.samples import CASE, REPORT
from tests.browser.test_bilingual import TOO_WIDE

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


def conflicting_case(server) -> str:
    """A mediation case two other phones edited from the same state: a conflict."""
    other = server.add_user("can-bo-khac")
    case_id = str(uuid.uuid4())
    base = {"form_id": "hoa_giai", "form_version": 2, "captured_at": "2025-08-15T08:00:00+07:00"}
    pushes = [("may-1", {**base, "id": case_id, "parents": [], "data": CASE})]
    for device, value in [("may-2", "dang_hoa_giai"), ("may-3", "hoa_giai_thanh")]:
        edit = {**base, "id": str(uuid.uuid4()), "record_id": case_id, "parents": [case_id]}
        pushes.append((device, {**edit, "data": {"trang_thai": value}}))
    for device, item in pushes:
        status, body = server.api(other, "/sync/push", {"device_id": device, "submissions": [item]})
        assert status == 200 and body["results"][0]["status"] in ("accepted", "conflict"), body
    return case_id


@pytest.mark.browser
def test_every_screen_fits_a_small_phone(phones, server) -> None:
    case_id = conflicting_case(server)
    blank = phones("can-bo-moi", viewport=(360, 640), setup=False)
    phone = phones("can-bo-e", viewport=(360, 640))
    page = phone.page
    seen = []

    def check(name: str, on=None) -> None:
        on = on or page
        wide = on.evaluate(TOO_WIDE)
        assert wide["out"] == [], f"{name}: wider than the screen: {wide['out']}"
        result = on.evaluate(MEASURE)
        assert result["width"] <= 360, f"{name}: scrolls sideways ({result['width']} px)"
        assert result["small"] == [], f"{name}: controls under 44 px: {result['small']}"
        assert result["wrapped"] == [], f"{name}: tab labels on two lines: {result['wrapped']}"
        on.screenshot(path=str(SHOTS / f"360-{name.replace(' ', '-')}.png"), full_page=True)
        seen.append(name)

    SHOTS.mkdir(parents=True, exist_ok=True)
    blank.page.goto(f"{server.url}/app/")
    expect(blank.page.locator("#setup-token")).to_be_visible()
    check("setup", blank.page)
    blank.page.locator("#setup-token").fill("not-a-token")
    blank.page.locator(".card button").click()
    expect(blank.page.locator(".card .err")).to_be_visible()
    check("setup error", blank.page)

    # Twelve items the server turned down (never pushed again): "Hộp thư đi (12)" on the tab.
    phone.js(
        """await db.putMany('outbox', [...Array(12).keys()].map((i) => ({
          id: `0190aaaa-0000-7000-8000-${String(i).padStart(12, '0')}`, form_id: 'tuyen_truyen',
          form_version: 1, parents: [], captured_at: '2025-09-01T08:00:00+07:00',
          data: {so_nguoi_tham_du: -1}, status: 'rejected', errors: [i % 2
            ? {path: 'so_nguoi_tham_du', code: 'min', limit: 0, message: 'x'}
            : {path: '', code: 'invalid', message: 'Không hợp lệ / Not valid'}],
          saved_at: '2025-09-01T08:00:00+07:00'})))"""
    )
    phone.sync()
    form_ids = [f["form_id"] for f in server.api(phone.token, "/forms")[1]["forms"]]
    page.goto(f"{server.url}/app/#/")
    expect(page.locator("#form-list a").first).to_be_visible()
    expect(page.locator(".tab .count")).to_have_text("(12)")
    check("home")
    for form_id in form_ids:
        phone.new(form_id)
        check(form_id)
        phone.save()  # empty: every required field shows its error
        expect(page.locator("#form-errors")).to_be_visible()
        check(f"{form_id} with errors")
    phone.new("nam_tinh_hinh")
    phone.fill({"loai_vu_viec": "nguoi_la_kha_nghi"})
    page.goto(f"{server.url}/app/#/")
    expect(page.locator("#draft-list li")).to_have_count(1)
    check("drafts")
    for screen, shown in [
        ("outbox", "#outbox-list"),
        ("cases", "#case-list"),
        (f"case/{case_id}", "#conflicts"),
    ]:
        page.goto(f"{server.url}/app/#/{screen}")
        expect(page.locator(shown)).to_be_visible()
        check(screen.split("/")[0])
    page.locator("#status .st-text").click()  # the status bar's lines in full
    check("case status open")
    page.goto(f"{server.url}/app/#/edit/{case_id}")
    expect(page.locator(".competing")).to_be_visible()
    check("case edit")
    page.goto(f"{server.url}/app/#/outbox")
    page.locator("#outbox-list a.btn").nth(1).click()
    expect(page.locator(".field.bad").first).to_be_visible()
    check("rejected fix")
    assert len(seen) == 10 + 2 * len(form_ids)


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
    expect(page.locator("#st-rejected")).to_have_text("Bị từ chối / Rejected: 1")
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


@pytest.mark.browser
def test_the_waiting_count_shows_offline_at_360(phones) -> None:
    """Offline, the usual state in the field, came first on the status bar's first line and
    left "Chờ gửi / Waiting: 1" cut off behind the ellipsis at 360 px (found by a probe)."""
    phone = phones("can-bo-cho-gui", viewport=(360, 640))
    page = phone.page
    phone.idle()
    phone.offline()
    phone.new("nam_tinh_hinh")
    phone.fill(REPORT)
    phone.save()
    expect(page.locator("#st-offline")).to_be_attached()
    expect(page.locator("#st-waiting")).to_have_text("Chờ gửi / Waiting: 1")
    cut = page.evaluate(
        """() => { const e = document.getElementById('st-waiting');
        const line = e.closest('.st-line').getBoundingClientRect();
        return e.getBoundingClientRect().right > line.right; }"""
    )
    assert not cut, "the waiting count is cut off"


@pytest.mark.browser
def test_large_text_does_not_push_a_tab_off_the_screen(phones) -> None:
    """Android's large text (its font size setting, or a zoom) at 360 px: the three tabs, each
    label on one line, no longer fit side by side; the third went past the screen's edge and
    the page scrolled sideways (found by a probe). It goes under the others, whole."""
    phone = phones("can-bo-chu-to", viewport=(360, 640))
    page = phone.page
    expect(page.locator("nav.tabs")).to_be_visible()
    # every text 1.5 times its size (measured first: a child inherits its parent's new size)
    page.evaluate("""() => {
      const all = [...document.querySelectorAll('*')];
      const sizes = all.map((el) => parseFloat(getComputedStyle(el).fontSize));
      all.forEach((el, i) => { el.style.fontSize = `${sizes[i] * 1.5}px`; });
    }""")
    result = page.evaluate(MEASURE)
    assert result["width"] <= 360, f"scrolls sideways ({result['width']} px)"
    assert result["wrapped"] == [], result["wrapped"]
    for tab in page.locator("a.tab").all():
        box = tab.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 360, box
