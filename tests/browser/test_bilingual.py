"""Both languages, always: on a 360x640 phone a form's field labels and the main buttons show
the Vietnamese with the English beside it (the English marked lang="en" for screen readers),
and no element is wider than the screen."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import expect

from tests.support import latest_schema

# Elements wider than the viewport or reaching past its edges, unless a box that clips them
# (the status bar's lines, cut short with "…") holds them.
TOO_WIDE = """() => {
  const out = [];
  const clipped = (el) => {
    for (let p = el.parentElement; p; p = p.parentElement)
      if (/hidden|clip/.test(getComputedStyle(p).overflowX)) return true;
    return false;
  };
  for (const el of document.querySelectorAll('body *')) {
    const r = el.getBoundingClientRect();
    if (!r.width) continue;
    if ((r.width > innerWidth || r.right > innerWidth + 0.5 || r.left < -0.5) && !clipped(el))
      out.push(`${el.outerHTML.slice(0, 80)}: ${r.left}..${r.right}`);
  }
  return {out, scroll: document.documentElement.scrollWidth};
}"""


def english(label: dict[str, str]) -> str:
    return label.get("en") or label["vi"]


@pytest.mark.browser
def test_labels_and_buttons_show_vietnamese_and_english_on_a_small_phone(phones) -> None:
    phone = phones("can-bo-song-ngu", viewport=(360, 640))
    page = phone.page
    form = latest_schema("hoa_giai")  # what phone.new() opens
    phone.new("hoa_giai")
    title = page.locator("#form-title")
    expect(title).to_contain_text(form["title"]["vi"])
    expect(title.locator('[lang="en"]')).to_have_text(form["title"]["en"])
    for f in form["fields"]:
        head = phone.field(f["name"]).locator("> label, > legend").first
        expect(head).to_contain_text(f["label"]["vi"])
        if english(f["label"]) != f["label"]["vi"]:
            expect(head.locator('[lang="en"]')).to_have_text(english(f["label"]))
    for button, vi, en in [
        ("#save-btn", "Lưu vào hộp thư đi", "Save to outbox"),
        ("#sync-btn", "Đồng bộ", "Sync"),
        ('a.tab[href="#/"]', "Biểu mẫu", "Forms"),
        ('a.tab[href="#/outbox"]', "Hộp thư đi", "Outbox"),
        ('a.tab[href="#/cases"]', "Hồ sơ", "Records"),
    ]:
        expect(page.locator(button)).to_contain_text(vi)
        expect(page.locator(button).locator('[lang="en"]')).to_have_text(en)
    assert page.evaluate("document.documentElement.lang") == "vi"
    phone.save()  # empty: the errors too, in both languages
    expect(page.locator("#form-errors")).to_contain_text("Còn")
    expect(page.locator("#form-errors [lang=en]")).to_contain_text("problem(s)")
    for when in ("form", "form with errors"):
        wide = page.evaluate(TOO_WIDE)
        assert wide["scroll"] <= 360, f"{when}: scrolls sideways ({wide['scroll']} px)"
        assert wide["out"] == [], f"{when}: wider than the screen: {wide['out']}"
        page.mouse.wheel(0, 100_000)


@pytest.mark.browser
def test_the_page_shown_while_the_app_opens_marks_its_english(phones, server) -> None:
    """What index.html shows before app.js runs (a slow phone sees it for seconds) and without
    JavaScript: the English in lang="en", as everywhere else."""
    phone = phones("can-bo-dang-mo", setup=False)
    page = phone.page
    page.route("**/app/app.js", lambda route: route.abort())
    page.goto(f"{server.url}/app/")
    expect(page.locator("#main")).to_have_text("Đang mở… / Opening…")
    expect(page.locator('#main [lang="en"]')).to_have_text("Opening…")
    html = page.content()
    assert '<span lang="en">JavaScript is required.</span>' in html


@pytest.mark.browser
def test_the_installed_apps_name_and_description_are_in_both_languages(server) -> None:
    """The name the phone shows under the app's icon, on its splash screen and in the install
    prompt was Vietnamese only (found by a probe)."""
    res = httpx.get(f"{server.url}/app/manifest.webmanifest", timeout=30)
    assert res.status_code == 200
    manifest = res.json()
    for key in ("name", "description"):
        vi, _, en = manifest[key].partition(" / ")
        assert vi and en, (key, manifest[key])
    assert manifest["name"] == "coso — Công tác cơ sở / Grassroots work"
