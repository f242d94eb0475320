"""Values another officer pushed are shown on this phone (the case, its conflicts, who wrote
them): markup stays text, and a bidirectional override (U+202E) in one value does not turn the
text after it around (who wrote a value and when, the next item of a repeat group)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from playwright.sync_api import Locator, expect

from tests.browser.samples import CASE

RLO = "\u202e"
XSS = "<img src=x onerror=window.__xss=1>"

# Is `sub`, inside the element, drawn left to right? Its second character left of its last,
# on one line (the text around it is kept short). A text turned around by an override draws
# it the other way round.
LEFT_TO_RIGHT = """(el, sub) => {
  const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const at = node.data.indexOf(sub);
    if (at < 0) continue;
    const x = (i) => { const r = document.createRange(); r.setStart(node, i); r.setEnd(node, i + 1);
      return r.getBoundingClientRect(); };
    const [a, b] = [x(at + 1), x(at + sub.length - 1)];
    if (a.top !== b.top) throw new Error(`${sub} is cut over two lines`);
    return a.left < b.left;
  }
  throw new Error(`no text ${sub}`);
}"""


def left_to_right(where: Locator, sub: str) -> bool:
    return bool(where.evaluate(LEFT_TO_RIGHT, sub))


def push(server: Any, token: str, device: str, item: dict[str, Any]) -> dict[str, Any]:
    status, body = server.api(token, "/sync/push", {"device_id": device, "submissions": [item]})
    assert status == 200, body
    return body["results"][0]  # type: ignore[no-any-return]


@pytest.mark.browser
def test_a_bidi_override_in_pushed_values_turns_no_other_text_around(phones, server) -> None:
    other = server.add_user("can-bo-khac")
    case_id = str(uuid.uuid4())
    data = {
        **CASE,
        "cac_ben": [
            {"ho_ten": f"{RLO}Lan", "vai_tro": "ben_yeu_cau"},
            {"ho_ten": f"Đỗ Thị Dung {XSS}", "vai_tro": "ben_con_lai"},
        ],
    }
    base = {"form_id": "hoa_giai", "form_version": 2, "captured_at": "2025-08-15T08:00:00+07:00"}
    result = push(server, other, "may-1", {**base, "id": case_id, "parents": [], "data": data})
    assert result["status"] == "accepted", result
    # Two edits of one field from the case as created: a conflict, each value with its writer,
    # one from a device whose id ends in right-to-left letters (an override in a device id is
    # refused now; letters of a right-to-left script would turn what follows them around too).
    for device, value in [("may-2", f"{RLO}abc {XSS}"), ("x\u05d0\u05d1 12345", "Bà Lan")]:
        edit = {**base, "id": str(uuid.uuid4()), "record_id": case_id, "parents": [case_id]}
        push(server, other, device, {**edit, "data": {"hoa_giai_vien": value}})

    phone = phones("can-bo-an")
    phone.page.add_init_script("window.alert = () => { window.__xss = 1; };")
    phone.sync()
    phone.page.goto(f"{server.url}/app/#/case/{case_id}")
    shown = phone.page.locator('#conflicts [data-field="hoa_giai_vien"] li')
    expect(shown).to_have_count(2)

    # who wrote each value and when reads left to right, whatever the value or device id held
    for i in range(2):
        assert left_to_right(shown.nth(i).locator("small"), "2025"), shown.nth(i).inner_text()
    # the party after the one with an override still reads as written
    parties = phone.page.locator("dl.data li")
    assert left_to_right(parties.first, "Bên yêu cầu"), parties.first.inner_text()
    # the values themselves are kept, overrides included (the supervisor sees what was sent)
    expect(shown.filter(has_text=f"{RLO}abc")).to_have_count(1)

    # the edit form lists the competing values with their writers the same way
    phone.page.goto(f"{server.url}/app/#/edit/{case_id}")
    competing = phone.field("hoa_giai_vien").locator(".competing li")
    expect(competing).to_have_count(2)
    for i in range(2):
        assert left_to_right(competing.nth(i).locator("small"), "2025")

    # markup in values is text: nothing ran, no element was made of it
    assert phone.page.evaluate("window.__xss") is None
    assert phone.page.locator("img[src=x]").count() == 0
