"""Drafts: what is typed survives a reload at any moment, even in a tab whose draft another
tab has saved; a form opened by mistake leaves no draft, and drafts are told apart by what they
hold; the same draft saved from two tabs goes out once and then as an update (never twice under
one id); Save acts once; a rejected item can be given up."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import expect_sent
from tests.browser.samples import CASE, REPORT, push_case
from tests.browser.test_case_edits import contact_form
from tests.browser.test_offline_entry import HOA_GIAI

TEXT = "Hai thanh niên đi xe máy không biển số, nghi trộm chó, chạy về hướng đê"


@pytest.mark.browser
def test_typed_text_survives_a_reload_right_after_the_last_key(phones, server) -> None:
    phone = phones("can-bo-j")
    page = phone.page
    for wait in (0, 150):
        phone.new("nam_tinh_hinh")
        phone.field("noi_dung").locator("textarea").click()
        page.keyboard.type(TEXT, delay=5)  # no pause: the debounced autosave never ran
        page.wait_for_timeout(wait)
        page.reload()
        expect(page.locator("#entry")).to_be_visible()
        expect(phone.field("noi_dung").locator("textarea")).to_have_value(TEXT)
    page.goto(f"{server.url}/app/#/")
    expect(page.locator("#draft-list li")).to_have_count(2)


@pytest.mark.browser
def test_no_empty_drafts_and_each_draft_shows_what_it_holds(phones, server) -> None:
    phone = phones("can-bo-k")
    page = phone.page
    for _ in range(3):  # opened by mistake, backed out of
        page.locator('#form-list a[href="#/new/khen_thuong"]').click()
        expect(page.locator("#entry")).to_be_visible()
        page.go_back()
        expect(page.locator("#form-list")).to_be_visible()
    assert phone.js("await db.all('drafts')") == []
    expect(page.locator("#draft-list")).to_have_count(0)

    for words in ("Xe ô tô lạ đỗ đầu ngõ", "Người lạ hỏi thăm nhà vắng chủ"):
        phone.new("nam_tinh_hinh")
        phone.fill({"noi_dung": words})
        page.go_back()
        expect(page.locator("#form-list")).to_be_visible()
    hints = page.locator("#draft-list .draft-hint")
    expect(hints).to_have_text(["Người lạ hỏi thăm nhà vắng chủ", "Xe ô tô lạ đỗ đầu ngõ"])


@pytest.mark.browser
def test_a_draft_update_of_a_case_names_the_case_once(phones, server) -> None:
    case_id = push_case(server, CASE)
    phone = phones("can-bo-cap-nhat")
    page = phone.page
    page.goto(f"{server.url}/app/#/cases")
    expect(page.locator(f'#case-list a[data-id="{case_id}"]')).to_be_visible()
    page.goto(f"{server.url}/app/#/edit/{case_id}")
    expect(page.locator("#entry")).to_be_visible()
    phone.fill({"so_buoi_hoa_giai": "3"})
    page.goto(f"{server.url}/app/#/")
    hint = page.locator("#draft-list .draft-hint")
    # "Cập nhật / Update: " once, then the case (it read "Cập nhật / Update: : 15/08/2025"),
    # its parties last
    expect(hint).to_have_text(
        "Cập nhật / Update: 15/08/2025 · Đất đai, ranh giới / Land, boundaries"
        " · Phạm Văn Cường, Đỗ Thị Dung"
    )
    expect(hint.locator('[lang="en"]').first).to_have_text("Update")


def report_saved_with_a_second_tab_open(phone: Any) -> Any:
    """A situation report typed in; the same app opened in a second tab on the same draft
    (once its autosave has run); then the report saved in the first tab and sent. That second
    tab's page."""
    phone.new("nam_tinh_hinh")
    phone.fill(REPORT)
    phone.page.wait_for_timeout(600)
    tab2 = phone.context.new_page()
    tab2.goto(phone.page.url)
    expect(tab2.locator("#entry")).to_be_visible()
    phone.save()
    expect_sent(phone.page, 20_000)
    return tab2


@pytest.mark.browser
def test_one_draft_saved_from_two_tabs_goes_out_once_then_as_an_update(phones, server) -> None:
    phone = phones("can-bo-l")
    page = phone.page
    tab2 = report_saved_with_a_second_tab_open(phone)

    extra = tab2.locator('[data-path="bien_phap_xu_ly"] textarea')
    extra.fill("Đã mời lên làm việc")
    extra.dispatch_event("change")
    expect(tab2.locator("#draft-moved .notice")).to_be_visible()
    tab2.locator("#save-btn").click()
    expect(tab2.locator("#entry")).to_have_count(0)  # a sync may already have taken the flash
    boss = server.add_user("giam-sat", "supervisor", "01")
    for _ in range(100):
        [record] = server.records(boss, "nam_tinh_hinh")
        if "bien_phap_xu_ly" in record["data"]:
            break
        tab2.wait_for_timeout(200)
    expect_sent(tab2, 20_000)
    assert phone.outbox() == []
    assert record["data"]["bien_phap_xu_ly"] == "Đã mời lên làm việc"
    assert record["data"]["noi_dung"] == REPORT["noi_dung"]
    status, full = server.api(boss, f"/records/{record['record_id']}")
    assert status == 200
    assert [s["data"] for s in full["submissions"]][1] == {"bien_phap_xu_ly": "Đã mời lên làm việc"}
    tab2.close()

    # An item whose id the server already holds with other content (an older client's two
    # tabs): fixed and saved, it goes out under a new id.
    first = full["submissions"][0]
    phone.js(
        "await db.put('outbox', {...arg, record_id: null, status: 'queued',"
        " saved_at: new Date().toISOString(), data: {...arg.data, noi_dung: 'Nội dung khác'}})",
        {k: first[k] for k in ("id", "form_id", "form_version", "parents", "captured_at", "data")},
    )
    phone.sync()
    [reused] = phone.outbox()
    assert reused["status"] == "rejected"
    assert [e["code"] for e in reused["errors"]] == ["id_reused"]
    page.goto(f"{server.url}/app/#/outbox")
    page.locator(f'a[href="#/fix/{reused["id"]}"]').click()
    expect(page.locator("#entry")).to_be_visible()
    phone.save()
    expect(page.locator("#st-rejected")).to_have_count(0, timeout=20_000)
    expect_sent(page, 20_000)
    assert sorted(r["data"]["noi_dung"] for r in server.records(boss, "nam_tinh_hinh")) == [
        "Nội dung khác",
        REPORT["noi_dung"],
    ]

    # A rejected item the officer gives up: after saving the outbox to a file, and a yes.
    gone = str(uuid.uuid4())
    phone.js(
        "await db.put('outbox', {id: arg, form_id: 'nam_tinh_hinh', form_version: 1,"
        " record_id: null, parents: [], captured_at: '2025-09-01T08:00:00+07:00', data: {},"
        " status: 'rejected', saved_at: '2025-09-01T08:00:00+07:00',"
        " errors: [{path: '', code: 'id_reused', message: 'x'}]})",
        gone,
    )
    page.goto(f"{server.url}/app/#/outbox")
    with page.expect_download() as download:
        page.locator("#export-btn").click()
    saved = json.loads(Path(download.value.path()).read_text("utf-8"))
    assert [s["id"] for s in saved["submissions"]] == [gone]
    row = page.locator(f'li[data-id="{gone}"]')
    page.once("dialog", lambda d: d.dismiss())
    row.locator("button.discard").click()
    expect(row).to_be_visible()
    asked: list[str] = []
    page.once("dialog", lambda d: (asked.append(d.message), d.accept()))
    row.locator("button.discard").click()
    expect(row).to_have_count(0)
    assert "Bỏ mục bị từ chối này?" in asked[0]
    assert phone.outbox() == []


@pytest.mark.browser
def test_text_typed_in_a_second_tab_survives_a_reload_after_the_first_saved(phones, server) -> None:
    phone = phones("can-bo-o")
    page = phone.page
    tab2 = report_saved_with_a_second_tab_open(phone)

    # Typed in the second tab, reloaded within the autosave's pause: only the crash buffer has it.
    tab2.locator('[data-path="bien_phap_xu_ly"] textarea').click()
    tab2.keyboard.type("Đã mời lên làm việc", delay=5)
    tab2.reload()
    expect(tab2.locator("#entry")).to_be_visible()
    expect(tab2.locator('[data-path="bien_phap_xu_ly"] textarea')).to_have_value(
        "Đã mời lên làm việc"
    )
    expect(tab2.locator("#draft-moved .notice")).to_be_visible()
    tab2.locator("#save-btn").click()
    expect(tab2.locator("#entry")).to_have_count(0)
    boss = server.add_user("giam-sat", "supervisor", "01")
    for _ in range(100):
        [record] = server.records(boss, "nam_tinh_hinh")
        if "bien_phap_xu_ly" in record["data"]:
            break
        tab2.wait_for_timeout(200)
    assert record["data"]["bien_phap_xu_ly"] == "Đã mời lên làm việc"
    assert record["data"]["noi_dung"] == REPORT["noi_dung"]
    assert phone.js("await db.all('drafts')") == []
    buffers = "Object.keys(localStorage).filter((k) => k.startsWith('coso.typing.'))"
    assert tab2.evaluate(buffers) == []

    # A buffer left by a draft saved just before a reload, holding nothing more: let go.
    [(draft_id, saved)] = phone.js("await db.get('kv', 'saved_drafts')").items()
    page.evaluate(
        "([id, data]) => localStorage.setItem('coso.typing.' + id,"
        " JSON.stringify({data, at: Date.now(), draft: {id, form_id: 'nam_tinh_hinh',"
        " form_version: 1}}))",
        [draft_id, saved["data"]],
    )
    page.goto(f"{server.url}/app/#/")
    page.reload()
    expect(page.locator("#form-list")).to_be_visible()
    expect(page.locator("#draft-list")).to_have_count(0)
    assert page.evaluate(buffers) == []
    tab2.close()


@pytest.mark.browser
def test_a_double_tap_or_a_reload_during_save_leaves_no_stray_draft(phones, server) -> None:
    phone = phones("can-bo-p")
    page = phone.page
    phone.offline()
    names = []
    for n in range(2):  # taps with the focus left in the field, as the fastest fingers do
        phone.new("nam_tinh_hinh")
        phone.fill({**REPORT, "noi_dung": f"Lần chạm {n}"})
        page.evaluate("const b = document.querySelector('#save-btn'); b.click(); b.click()")
        expect(page.locator("#form-list")).to_be_visible()
        names.append(f"Lần chạm {n}")
    for delay in (20, 40, 80):
        phone.new("nam_tinh_hinh")
        phone.fill({**REPORT, "noi_dung": f"Tải lại {delay}"})
        page.evaluate(
            f"setTimeout(() => location.reload(), {delay});"
            " document.querySelector('#save-btn').click()"
        )
        page.wait_for_timeout(1000)
        expect(page.locator("#sync-btn")).to_be_visible()
    page.goto(f"{server.url}/app/#/")
    expect(page.locator("#form-list")).to_be_visible()
    strays = [d for d in phone.js("await db.all('drafts')") if d.get("record_id")]
    assert strays == []
    expect(page.locator("#draft-list .draft-hint", has_text="Cập nhật")).to_have_count(0)
    sent = sorted(i["data"]["noi_dung"] for i in phone.outbox())
    assert set(names) <= set(sent)
    assert len(sent) == len(set(sent))  # each at most once


@pytest.mark.browser
def test_a_second_tab_never_undoes_what_the_first_tab_saved(phones, server) -> None:
    """One case open for an update in two tabs (the same draft): the first changes its status
    and saves; the second, which still showed the old status, changes the details. The second
    tab's form then shows the first one's status, and its save sends only the details (found
    by a probe: it sent the old status back, undoing the first save, with no conflict)."""
    case_id = push_case(server, CASE)
    phone = phones("can-bo-hai-tab")
    page = phone.page
    phone.sync()
    page.goto(f"{server.url}/app/#/edit/{case_id}")
    expect(page.locator("#entry")).to_be_visible()
    tab2 = phone.context.new_page()
    tab2.goto(f"{server.url}/app/#/edit/{case_id}")
    expect(tab2.locator("#entry")).to_be_visible()

    phone.fill({"trang_thai": "dang_hoa_giai"})
    page.wait_for_timeout(600)
    phone.save()
    phone.wait_outbox_empty()
    details = CASE["noi_dung_vu_viec"] + " (đã gặp hai bên)"
    box = tab2.locator('[data-path="noi_dung_vu_viec"] textarea')
    box.fill(details)
    box.dispatch_event("change")
    expect(tab2.locator("#draft-moved .notice")).to_be_visible()
    status = tab2.locator('[data-path="trang_thai"]')
    expect(status.locator('input[value="dang_hoa_giai"]')).to_be_checked()
    expect(tab2.locator('[data-path="noi_dung_vu_viec"] textarea')).to_have_value(details)
    tab2.locator("#save-btn").click()
    expect(tab2.locator("#entry")).to_have_count(0)
    boss = server.add_user("giam-sat", "supervisor", "01")
    for _ in range(100):
        record = server.api(boss, f"/records/{case_id}")[1]
        if len(record["submissions"]) == 3:
            break
        tab2.wait_for_timeout(200)
    assert record["data"]["trang_thai"] == "dang_hoa_giai"
    assert record["data"]["noi_dung_vu_viec"] == details
    assert record["conflicts"] == []
    assert record["submissions"][2]["data"] == {"noi_dung_vu_viec": details}
    tab2.close()


@pytest.mark.browser
def test_a_draft_keeps_the_space_and_line_break_typed_last(phones) -> None:
    """A phone discards a tab in the background (the officer was in Zalo): the draft came back
    without the space after "Nguyễn" and the line break after the last sentence, and the next
    word was glued on, "NguyễnVăn An" (found by a probe). A draft keeps text as typed; what is
    saved and sent is still trimmed."""
    phone = phones("can-bo-go-tiep")
    page = phone.page
    phone.offline()
    phone.new("hoa_giai")
    name = phone.field("cac_ben[0].ho_ten").locator("input")
    name.click()
    page.keyboard.type("Nguyễn ")
    story = phone.field("noi_dung_vu_viec").locator("textarea")
    story.click()
    page.keyboard.type("Hai hộ tranh chấp lối đi.")
    page.keyboard.press("Enter")
    page.reload()
    expect(page.locator("#entry")).to_be_visible()
    expect(name).to_have_value("Nguyễn ")
    expect(story).to_have_value("Hai hộ tranh chấp lối đi.\n")
    name.press("End")
    page.keyboard.type("Văn An")
    story.press("Control+End")
    page.keyboard.type("Đã mời hòa giải.")
    phone.fill(
        {k: v for k, v in HOA_GIAI.items() if k not in ("cac_ben[0].ho_ten", "noi_dung_vu_viec")}
    )
    phone.save()
    [sent] = phone.outbox()
    assert sent["data"]["cac_ben"][0]["ho_ten"] == "Nguyễn Văn An"
    assert sent["data"]["noi_dung_vu_viec"] == "Hai hộ tranh chấp lối đi.\nĐã mời hòa giải."


@pytest.mark.browser
def test_a_second_tab_keeps_the_first_tabs_number_over_a_pasted_one(phones, server) -> None:
    """A number pasted with direction marks around it, the draft open in two tabs: the first
    corrects the number and saves, the second adds a note. The draft keeps the marks, the
    form reads the number without them, so the second tab took its old number for a change
    and sent it back over the correction (found by a probe). It sends only the note."""
    admin = server.add_user("quan-tri", "admin", "")
    assert server.api(admin, "/forms", contact_form(True))[0] == 201
    phone = phones("can-bo-hai-tab-so")
    page = phone.page
    phone.offline()
    phone.new("lien_he")
    phone.fill({"ten": "Lê Văn B", "sdt": "\u202a0912345678\u202c"})
    for _ in range(100):  # the draft saved (a change saves it at once)
        if phone.js("await db.all('drafts')"):
            break
        page.wait_for_timeout(50)
    tab2 = phone.context.new_page()
    tab2.goto(page.url)
    expect(tab2.locator("#entry")).to_be_visible()
    phone.fill({"sdt": "0987654321"})
    phone.save()
    note = tab2.locator('[data-path="ghi_chu"] textarea')
    note.fill("Ghi chú tab 2")
    note.dispatch_event("change")
    expect(tab2.locator("#draft-moved .notice")).to_be_visible()
    expect(tab2.locator('[data-path="sdt"] input')).to_have_value("0987654321")
    tab2.locator("#save-btn").click()
    expect(tab2.locator("#entry")).to_have_count(0)
    first, second = sorted(phone.outbox(), key=lambda i: i["saved_at"])
    assert first["data"] == {"ten": "Lê Văn B", "sdt": "0987654321"}
    assert second["data"] == {"ghi_chu": "Ghi chú tab 2"}
    tab2.close()
