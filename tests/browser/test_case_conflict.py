"""Two officers take the same mediation case offline: their edits of different fields merge,
their different values for one field are both kept as a conflict, on the server and on the
phone."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import expect_sent
from tests.browser.samples import CASE, push_case
from tests.browser.test_case_edits import open_edit


@pytest.mark.browser
def test_two_officers_edit_one_case_offline(phones, server) -> None:
    case_id = push_case(server, CASE)

    a, b = phones("can-bo-an"), phones("can-bo-binh")
    for phone in (a, b):
        phone.page.goto(f"{server.url}/app/#/cases")
        expect(phone.page.locator(f'#case-list a[data-id="{case_id}"]')).to_be_visible()
        phone.offline()

    def edit(phone, values) -> None:
        phone.page.locator(f'#case-list a[data-id="{case_id}"]').click()
        phone.page.locator(f'a[href="#/edit/{case_id}"]').click()
        expect(phone.page.locator("#entry")).to_be_visible()
        phone.fill(values)
        phone.save()
        expect(phone.page.locator(".flash")).to_be_visible()

    edit(a, {"so_buoi_hoa_giai": "2", "trang_thai": "dang_hoa_giai"})
    edit(b, {"hoa_giai_vien": "Bà Nguyễn Thị Lan", "trang_thai": "hoa_giai_thanh"})
    [sent_a] = a.outbox()
    assert sent_a["record_id"] == case_id
    assert sent_a["parents"] == [case_id]
    # Only what the officer changed: the rest is absent, which the protocol reads as untouched.
    assert sent_a["data"] == {"so_buoi_hoa_giai": 2, "trang_thai": "dang_hoa_giai"}

    for phone in (a, b):
        phone.offline(False)
        expect_sent(phone.page, 20_000)

    boss = server.add_user("giam-sat", "supervisor", "01")
    status, record = server.api(boss, f"/records/{case_id}")
    assert status == 200
    assert record["data"]["so_buoi_hoa_giai"] == 2
    assert record["data"]["hoa_giai_vien"] == "Bà Nguyễn Thị Lan"
    [conflict] = record["conflicts"]
    assert conflict["field"] == "trang_thai"
    assert sorted(v["value"] for v in conflict["values"]) == ["dang_hoa_giai", "hoa_giai_thanh"]

    # Officer A's phone pulls the merged case and shows both competing values.
    a.sync()
    a.page.goto(f"{server.url}/app/#/cases")
    expect(a.page.locator(f'#case-list a[data-id="{case_id}"] .badge')).to_be_visible()
    a.shot("04-danh-sach-vu-viec")
    a.page.locator(f'#case-list a[data-id="{case_id}"]').click()
    shown = a.page.locator('#conflicts [data-field="trang_thai"] li')
    expect(shown).to_have_count(2)
    expect(shown.filter(has_text="Đang hòa giải")).to_have_count(1)
    expect(shown.filter(has_text="Hòa giải thành")).to_have_count(1)
    a.shot("05-vu-viec-xung-dot", docs=True)

    # A cursor the server cannot use (a restored backup, say) makes the phone pull afresh.
    a.js("await db.setKv('cursor', 'not-one-of-ours')")
    a.sync()
    expect(a.page.locator("#st-error")).to_have_count(0)
    assert a.js("(await db.all('records')).map((r) => r.record_id)") == [case_id]

    # The edit form names the writers as the case view does: A's own value is "this phone".
    a.page.goto(f"{server.url}/app/#/edit/{case_id}")
    competing = a.field("trang_thai").locator(".competing li")
    expect(competing.filter(has_text="Đang hòa giải")).to_contain_text("máy này")
    expect(competing.filter(has_text="Hòa giải thành")).to_contain_text("máy / device …")


def case_in_conflict(server) -> str:
    """A case whose `trang_thai` two officers at other desks set differently from its first
    state: in conflict on the server. Its id."""
    case_id = push_case(server, CASE)
    for who, value in (("can-bo-1", "dang_hoa_giai"), ("can-bo-2", "hoa_giai_thanh")):
        token = server.add_user(who)
        edit = {
            "id": str(uuid.uuid4()), "form_id": "hoa_giai", "form_version": 2,
            "record_id": case_id, "parents": [case_id],
            "captured_at": "2025-08-16T08:00:00+07:00", "data": {"trang_thai": value},
        }  # fmt: skip
        status, _ = server.api(token, "/sync/push", {"device_id": who, "submissions": [edit]})
        assert status == 200
    return case_id


@pytest.mark.browser
def test_an_officer_settles_a_conflict_with_the_value_shown(phones, server) -> None:
    """Two phones set `trang_thai` differently; an officer who has checked the case keeps the
    provisional value the edit form shows: ticking "settle" sends it with `resolves`, though
    unchanged, and the conflict closes on the server (an edit sending nothing could not)."""
    case_id = case_in_conflict(server)
    boss = server.add_user("giam-sat-2", "supervisor", "01")
    _, before = server.api(boss, f"/records/{case_id}")
    [conflict] = before["conflicts"]
    provisional = before["data"]["trang_thai"]

    phone = phones("can-bo-xac-minh")
    phone.sync()
    phone.page.goto(f"{server.url}/app/#/edit/{case_id}")
    box = phone.field("trang_thai")
    expect(box.locator(".competing li")).to_have_count(2)
    expect(box.locator(f'input[value="{provisional}"]')).to_be_checked()
    phone.save()  # nothing changed, nothing settled: nothing to send
    expect(phone.page.locator(".flash")).to_contain_text("Không có gì thay đổi")
    phone.page.goto(f"{server.url}/app/#/edit/{case_id}")
    phone.field("trang_thai").locator(".settle-box").check()
    phone.page.reload()  # the tick is part of the draft
    expect(phone.field("trang_thai").locator(".settle-box")).to_be_checked()
    phone.save()
    [item] = phone.entries()
    assert item["data"] == {"trang_thai": provisional}
    assert item["resolves"] == ["trang_thai"]
    assert sorted(item["parents"]) == sorted(before["heads"])
    phone.sync()
    _, after = server.api(boss, f"/records/{case_id}")
    assert after["conflicts"] == []
    assert after["data"]["trang_thai"] == provisional
    assert conflict["field"] == "trang_thai"


@pytest.mark.browser
def test_spaces_around_a_typed_value_are_not_kept(phones, server) -> None:
    """A phone number pasted with a space after it matches its pattern, and a name pasted with
    spaces around it is stored without them."""
    phone = phones("can-bo-dan")
    phone.new("hoa_giai")
    phone.fill({
        "ngay_tiep_nhan": CASE["ngay_tiep_nhan"],
        "cac_ben[0].ho_ten": "  Phạm Văn Cường  ",
        "cac_ben[0].vai_tro": "ben_yeu_cau",
        "cac_ben[0].so_dien_thoai": "0904111222 ",
        "cac_ben[1].ho_ten": "Đỗ Thị Dung",
        "cac_ben[1].vai_tro": "ben_con_lai",
        "loai_vu_viec": "dat_dai",
        "noi_dung_vu_viec": CASE["noi_dung_vu_viec"],
        "trang_thai": "moi_tiep_nhan",
    })  # fmt: skip
    phone.save()
    expect(phone.page.locator("#form-errors")).to_be_hidden()
    [item] = phone.entries()  # sent already, or about to be
    assert item["data"]["cac_ben"][0]["ho_ten"] == "Phạm Văn Cường"
    assert item["data"]["cac_ben"][0]["so_dien_thoai"] == "0904111222"


@pytest.mark.browser
def test_a_conflict_stays_one_when_the_pull_after_the_push_fails(phones, server) -> None:
    """The push answers `conflict` (another phone wrote the field first) and the pull that
    would bring the other value fails, as on 2G: the case kept the officer's own value as
    settled, no conflict shown, and the settle box was offered without the other value in
    view. Now the field is in conflict on the phone at once, the other value to come."""
    case_id = push_case(server, CASE)
    a, b = phones("can-bo-an"), phones("can-bo-binh")
    for phone in (a, b):
        phone.page.goto(f"{server.url}/app/#/cases")
        expect(phone.page.locator(f'#case-list a[data-id="{case_id}"]')).to_be_visible()
    a.offline()
    for phone, value in ((b, "hoa_giai_thanh"), (a, "dang_hoa_giai")):
        phone.page.goto(f"{server.url}/app/#/edit/{case_id}")
        expect(phone.page.locator("#entry")).to_be_visible()
        phone.fill({"trang_thai": value})
        phone.save()
    expect_sent(b.page, 20_000)  # B's value is the server's first

    a.page.route("**/api/v1/sync/pull*", lambda route: route.abort())
    a.offline(False)
    expect_sent(a.page, 20_000)
    expect(a.page.locator("#st-error")).to_be_visible(timeout=20_000)  # the pull failed
    a.page.goto(f"{server.url}/app/#/case/{case_id}")
    mine = a.page.locator('#conflicts [data-field="trang_thai"] li')
    expect(mine.filter(has_text="Đang hòa giải")).to_have_count(1)
    expect(mine.filter(has_text="lần đồng bộ tới")).to_have_count(1)
    a.page.goto(f"{server.url}/app/#/edit/{case_id}")
    expect(a.page.locator("#entry")).to_be_visible()
    expect(a.field("trang_thai").locator(".settle-box")).to_have_count(0)

    a.page.unroute("**/api/v1/sync/pull*")
    a.sync()
    a.page.goto(f"{server.url}/app/#/case/{case_id}")
    shown = a.page.locator('#conflicts [data-field="trang_thai"] li')
    expect(shown).to_have_count(2)
    expect(shown.filter(has_text="Hòa giải thành")).to_have_count(1)
    expect(shown.filter(has_text="lần đồng bộ tới")).to_have_count(0)


@pytest.mark.browser
def test_an_edit_of_another_field_leaves_a_known_conflict_whole(phones, server) -> None:
    """A case in conflict on `trang_thai`, both values on the phone; the officer updates
    another field and the pull after the push fails. The push answers `conflict`, naming
    `trang_thai`: the phone kept showing both values, not "this phone: (empty), the other
    value comes with the next sync" (found by a probe)."""
    case_id = case_in_conflict(server)
    phone = phones("can-bo-khac")
    phone.sync()
    page = phone.page
    page.route("**/api/v1/sync/pull*", lambda route: route.abort())
    page.goto(f"{server.url}/app/#/edit/{case_id}")
    expect(page.locator("#entry")).to_be_visible()
    phone.fill({"so_buoi_hoa_giai": "2"})
    phone.save()
    expect_sent(page, 20_000)
    expect(page.locator("#st-error")).to_be_visible(timeout=20_000)  # the pull failed
    page.goto(f"{server.url}/app/#/case/{case_id}")
    [kept] = phone.js("(await db.get('records', arg)).conflicts", case_id)
    assert kept["field"] == "trang_thai" and not kept.get("partial")
    assert sorted(v["value"] for v in kept["values"]) == ["dang_hoa_giai", "hoa_giai_thanh"]
    shown = page.locator('#conflicts [data-field="trang_thai"] li')
    expect(shown).to_have_count(2)
    expect(shown.filter(has_text="Hòa giải thành")).to_have_count(1)
    expect(shown.filter(has_text="lần đồng bộ tới")).to_have_count(0)


@pytest.mark.browser
def test_a_settled_conflict_stays_settled_when_its_refused_edit_is_fixed(phones, server) -> None:
    """The fix of a refused edit opened with its "settle" box unticked: saved as it was, it
    sent nothing and the conflict stayed open; with another change, it went without
    `resolves` (found by a white-box probe)."""
    case_id = case_in_conflict(server)
    boss = server.add_user("giam-sat-3", "supervisor", "01")
    provisional = server.api(boss, f"/records/{case_id}")[1]["data"]["trang_thai"]
    phone = phones("can-bo-sua")
    phone.sync()
    page = phone.page
    page.goto(f"{server.url}/app/#/edit/{case_id}")
    phone.offline()
    phone.field("trang_thai").locator(".settle-box").check()
    phone.fill({"so_buoi_hoa_giai": "2"})
    phone.save()
    [item] = phone.outbox()
    assert item["resolves"] == ["trang_thai"]
    # the server refuses it (a count written behind the form's back)
    phone.js("await db.put('outbox', {...arg, data: {...arg.data, so_buoi_hoa_giai: -1}})", item)
    phone.offline(False)
    expect(page.locator("#st-rejected")).to_be_visible(timeout=20_000)
    page.goto(f"{server.url}/app/#/fix/{item['id']}")
    expect(phone.field("trang_thai").locator(".settle-box")).to_be_checked()
    phone.fill({"so_buoi_hoa_giai": "2"})
    phone.save()
    phone.wait_outbox_empty()
    _, after = server.api(boss, f"/records/{case_id}")
    assert after["conflicts"] == []
    assert after["data"]["trang_thai"] == provisional
    assert after["data"]["so_buoi_hoa_giai"] == 2


def _form_with(*names: str) -> dict[str, Any]:
    return {
        "form_id": "ho_so_xoa",
        "title": {"vi": "Hồ sơ", "en": "File"},
        "sync_to_devices": True,
        "fields": [
            {"name": n, "type": "text", "label": {"vi": f"Trường {n.upper()}", "en": f"Field {n}"}}
            for n in names
        ],
    }


@pytest.mark.parametrize("settle", [True, False], ids=["ticked", "chosen"])
@pytest.mark.browser
def test_a_conflict_on_a_field_a_later_version_removed_is_settled_on_the_phone(
    phones, server, settle
) -> None:
    """Two officers' values for field B, then a version without B: the case still shows the
    conflict, which the edit form had no box for (it draws the version's fields), so no phone
    could settle it (found by a review). It offers B's competing values now: the one chosen is
    sent as a live field's would be, with `resolves` when the box is ticked, and without it
    as a change (an edit of every head settles the conflict all the same)."""
    admin = server.add_user("quan-tri", "admin", "")
    assert server.api(admin, "/forms", _form_with("a", "b"))[0] == 201
    case_id = push_case(server, {"a": "x", "b": "start"}, "ho_so_xoa", 1)
    # cb2's, the later, is the value the case shows
    for who, value, hour in (("cb1", "một", "08"), ("cb2", "hai", "09")):
        edit = {
            "id": str(uuid.uuid4()),
            "form_id": "ho_so_xoa",
            "form_version": 1,
            "record_id": case_id,
            "parents": [case_id],
            "captured_at": f"2025-08-16T{hour}:00:00+07:00",
            "data": {"b": value},
        }
        status, _ = server.api(
            server.add_user(who), "/sync/push", {"device_id": who, "submissions": [edit]}
        )
        assert status == 200
    assert server.api(admin, "/forms", _form_with("a"))[0] == 201
    boss = server.add_user("giam-sat", "supervisor", "01")
    _, record = server.api(boss, f"/records/{case_id}")
    assert [c["field"] for c in record["conflicts"]] == ["b"]
    assert record["data"]["b"] == "hai"

    phone = phones("can-bo-chot")
    page = phone.page
    phone.sync()
    phone.offline()
    open_edit(phone, case_id)
    retired = page.locator('fieldset.retired[data-path="b"]')
    expect(retired.locator("legend")).to_contain_text("Trường B")
    expect(retired.locator("legend")).to_contain_text(
        "từ phiên bản trước / from an earlier version"
    )
    expect(retired.locator("label.opt")).to_have_count(2)
    expect(retired.locator("label.opt", has_text="hai").locator("input")).to_be_checked()
    # the box as a live field's: beside its label, not a row a stray tap ticks
    box = retired.locator(".settle-box").bounding_box()
    assert box is not None and box["width"] < 40, box
    retired.locator("label.opt", has_text="một").locator("input").check()
    if settle:
        retired.locator(".settle-box").check()
    page.reload()  # the choice and the tick are in the draft
    expect(retired.locator("label.opt", has_text="một").locator("input")).to_be_checked()
    expect(retired.locator(".settle-box")).to_be_checked(checked=settle)
    phone.save()
    [sent] = phone.outbox()
    assert sent["data"] == {"b": "một"}, sent
    assert sent.get("resolves") == (["b"] if settle else None), sent
    assert sent["form_version"] == 2
    phone.offline(False)
    expect_sent(page, 20_000)

    _, record = server.api(boss, f"/records/{case_id}")
    assert record["conflicts"] == [], record
    assert record["data"]["b"] == "một" and record["data"]["a"] == "x"
