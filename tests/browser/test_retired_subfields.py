"""A sub-field a later form version removed keeps its values through an edit on the phone: the
app sends each repeat item back whole, with what the version it shows no longer has, at every
depth (PROTOCOL: removing a field from a form never hides data already collected)."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import expect_sent
from tests.browser.samples import push_case
from tests.browser.test_case_edits import open_edit


def person(*, nested: bool, ten: bool) -> dict[str, Any]:
    """A repeat group `ben` of people (`ten`, `tuoi`), with their children (`con`) inside."""
    fields: list[dict[str, Any]] = [
        {"name": "tuoi", "type": "integer", "min": 0, "label": {"vi": "Tuổi", "en": "Age"}}
    ]
    if ten:
        fields.insert(0, {"name": "ten", "type": "text", "label": {"vi": "Tên", "en": "Name"}})
    if nested:
        fields.append(person(nested=False, ten=ten) | {"name": "con"})
    return {
        "name": "ben",
        "type": "repeat",
        "label": {"vi": "Các bên", "en": "Parties"},
        "fields": fields,
    }


def form(ten: bool) -> dict[str, Any]:
    return {
        "form_id": "ho_so_ben",
        "title": {"vi": "Hồ sơ các bên", "en": "Parties"},
        "sync_to_devices": True,
        "fields": [
            {"name": "ghi_chu", "type": "text", "label": {"vi": "Ghi chú", "en": "Note"}},
            person(nested=True, ten=ten),
        ],
    }


@pytest.mark.browser
def test_an_edit_sends_items_back_with_the_sub_fields_a_later_version_removed(
    phones, server
) -> None:
    admin = server.add_user("quan-tri", "admin", "")
    status, body = server.api(admin, "/forms", form(ten=True))
    assert status == 201, body
    an = {"ten": "An", "tuoi": 30, "con": [{"ten": "Bé", "tuoi": 5}]}
    data = {
        "ghi_chu": "Hai hộ",
        "ben": [an, {"ten": "Bình", "tuoi": 40}, {"ten": "Chi", "tuoi": 50}],
    }
    case_id = push_case(server, data, "ho_so_ben", 1)
    status, body = server.api(admin, "/forms", form(ten=False))
    assert status == 201 and body["version"] == 2, body

    phone = phones("can-bo-b")
    page = phone.page
    page.goto(f"{server.url}/app/#/cases")
    expect(page.locator(f'#case-list a[data-id="{case_id}"]')).to_be_visible()
    open_edit(phone, case_id)
    expect(phone.field("ben[0].ten")).to_have_count(0)
    # Bình's item goes (and what it held with it); An and her child are a year older.
    binh = page.locator('[data-path="ben"] .item').filter(has=phone.field("ben[1].tuoi"))
    page.once("dialog", lambda d: d.accept())  # it holds data: removing it is asked first
    binh.locator(".item-head button").click()
    expect(phone.field("ben[2].tuoi")).to_have_count(0)
    phone.fill({"ben[0].tuoi": "31", "ben[0].con[0].tuoi": "6"})
    phone.save()
    expect(page.locator("#entry")).to_have_count(0)
    phone.sync()
    expect_sent(page, 20_000)
    expect(page.locator("#st-rejected")).to_have_count(0)

    boss = server.add_user("giam-sat", "supervisor", "01")
    status, record = server.api(boss, f"/records/{case_id}")
    assert status == 200, record
    assert record["data"]["ben"] == [
        {"ten": "An", "tuoi": 31, "con": [{"ten": "Bé", "tuoi": 6}]},
        {"ten": "Chi", "tuoi": 50},
    ]
    assert record["data"]["ghi_chu"] == "Hai hộ"
    assert record["conflicts"] == []


def _chon(label: dict[str, str], q: bool) -> dict[str, Any]:
    choices = [{"value": "p", "label": {"vi": f"{label['vi']} P", "en": f"{label['en']} P"}}]
    if q:
        choices.append(
            {"value": "q", "label": {"vi": f"{label['vi']} Q", "en": f"{label['en']} Q"}}
        )
    return {"name": "s", "type": "select_one", "label": label, "choices": choices}


def _two_s(q: bool) -> dict[str, Any]:
    """A field `s` at the top and one inside the group `g`, each with its own choices."""
    top = _chon({"vi": "Chuyển công an huyện", "en": "To the district"}, q)
    sub = _chon({"vi": "Giới tính nữ", "en": "Female"}, q)
    group = {"name": "g", "type": "repeat", "label": {"vi": "Nhóm", "en": "Group"}}
    return {
        "form_id": "hai_s",
        "title": {"vi": "Hai trường s", "en": "Two s fields"},
        "sync_to_devices": True,
        "fields": [top, group | {"fields": [sub]}],
    }


@pytest.mark.browser
def test_a_removed_choice_of_a_sub_field_reads_by_its_own_label(phones, server) -> None:
    """Labels of choices a later version dropped were kept by bare field name: a group's `s`
    read the top-level `s`'s label for the same value (another meaning), in the case and in
    the edit form."""
    admin = server.add_user("quan-tri", "admin", "")
    assert server.api(admin, "/forms", _two_s(q=True))[0] == 201
    case_id = push_case(server, {"g": [{"s": "q"}]}, "hai_s", 1)
    assert server.api(admin, "/forms", _two_s(q=False))[0] == 201

    phone = phones("can-bo-s")
    page = phone.page
    page.goto(f"{server.url}/app/#/case/{case_id}")
    shown = page.locator("dl.data")
    expect(shown).to_contain_text("Giới tính nữ Q")
    expect(shown).not_to_contain_text("huyện")
    open_edit(phone, case_id)
    item = phone.field("g[0].s")
    expect(item).to_contain_text("Giới tính nữ Q")
    expect(item).not_to_contain_text("huyện")
