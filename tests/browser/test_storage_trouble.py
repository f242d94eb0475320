"""The phone's own storage failing, as a probe made it fail: full (a quota the origin fills
up), cleared by the browser between two sessions, not opening at all, or upgraded from another
tab. The officer is told what is wrong, in both languages, and what was typed is never lost:
before, Save and the autosave did nothing while the form still said "Draft saved", the outbox
file was not made, a sync the server had taken was shown as a network error and sent again
for ever, and a store that would not open left "Opening…" on the screen for good."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.samples import REPORT

# Fills the origin's storage with another database until a write fails: a phone whose disk
# is full (the quota is set small before the app's store exists; CDP cannot shrink it after).
FILL = """async () => {
  const d = await new Promise((res, rej) => { const r = indexedDB.open('filler', 1);
    r.onupgradeneeded = () => r.result.createObjectStore('s');
    r.onsuccess = () => res(r.result); r.onerror = () => rej(r.error); });
  let size = 262144;
  for (;;) {
    const ok = await new Promise((res) => { const t = d.transaction('s', 'readwrite');
      const bytes = crypto.getRandomValues(new Uint8Array(Math.min(size, 65536)));
      t.objectStore('s').put(bytes, Math.random());
      t.oncomplete = () => res(true); t.onabort = () => res(false); });
    if (ok) continue;
    if (size <= 256) break;
    size = Math.floor(size / 4);
  }
  d.close();
}"""
FREE = """new Promise((res) => { const r = indexedDB.deleteDatabase('filler');
  r.onsuccess = r.onerror = r.onblocked = () => res(true); })"""
FULL_VI = "Bộ nhớ của máy đã đầy"
FULL_EN = "The phone's storage is full"


@pytest.mark.browser
def test_a_full_phone_says_so_keeps_the_typing_and_syncs_what_the_server_took(
    phones, server, tmp_path: Path
) -> None:
    phone = phones("can-bo-may-day", setup=False)
    page = phone.page
    cdp = page.context.new_cdp_session(page)
    cdp.send("Storage.overrideQuotaForOrigin", {"origin": server.url, "quotaSize": 3_000_000})
    phone.setup()
    phone.idle()
    phone.offline()
    for n in range(2):
        phone.new("nam_tinh_hinh")
        phone.fill({**REPORT, "noi_dung": f"Báo cáo số {n}"})
        phone.save()
    assert len(phone.outbox()) == 2
    phone.new("nam_tinh_hinh")
    phone.fill({"noi_dung": "Bắt đầu gõ"})
    expect(page.locator("#draft-note")).to_contain_text("Bản nháp đã lưu")

    page.evaluate(FILL)
    phone.fill({**REPORT, "noi_dung": "Gõ khi bộ nhớ đầy"})
    alert = page.locator("#storage-alert")
    expect(alert).to_contain_text(FULL_VI)
    expect(alert).to_contain_text(FULL_EN)
    expect(page.locator("#draft-note")).to_contain_text("Chưa lưu được bản nháp")
    page.locator("#save-btn").click()
    expect(page.locator("#form-errors")).to_contain_text("Chưa lưu được")
    expect(page.locator("#entry")).to_be_visible()  # the form stays open, nothing lost
    assert len(phone.outbox()) == 2

    # the escape hatch works on a full phone, with what was typed since
    page.goto(f"{server.url}/app/#/outbox")
    with page.expect_download() as download:
        page.locator("#export-btn").click()
    saved = json.loads(Path(download.value.path()).read_text("utf-8"))
    assert sorted(s["data"]["noi_dung"] for s in saved["submissions"]) == [
        "Báo cáo số 0",
        "Báo cáo số 1",
    ]
    assert "Gõ khi bộ nhớ đầy" in [d["data"].get("noi_dung") for d in saved["drafts"]]

    # online, still full: what the server takes leaves the outbox; no "network error"
    phone.offline(False)
    phone.sync()
    expect(page.locator("#st-waiting")).to_have_text("Chờ gửi / Waiting: 0")
    expect(page.locator("#st-error")).not_to_contain_text("Lỗi mạng")
    boss = server.add_user("giam-sat-may-day", "supervisor", "01")
    status, page_ = server.api(boss, "/records?form_id=nam_tinh_hinh")
    assert status == 200 and len(page_["records"]) == 2

    # room again: the notice goes with the next write, and the typing becomes the draft
    page.evaluate(FREE)
    page.goto(f"{server.url}/app/#/")
    draft = page.locator("#draft-list a")
    expect(draft).to_have_count(1)
    expect(draft).to_contain_text("Gõ khi bộ nhớ đầy")
    expect(alert).to_be_hidden()
    draft.click()
    expect(phone.field("noi_dung").locator("textarea, input")).to_have_value("Gõ khi bộ nhớ đầy")


@pytest.mark.browser
def test_a_store_the_browser_cleared_is_said_and_the_same_officer_gets_the_typing_back(
    phones, server
) -> None:
    phone = phones("can-bo-bi-xoa")
    page = phone.page
    phone.idle()
    phone.offline()
    phone.new("nam_tinh_hinh")
    # typed, and not yet autosaved when the browser clears the store (what the crash buffer
    # holds, written as the app writes it at each keystroke)
    draft_id = page.url.rsplit("/", 1)[1]
    page.evaluate(
        """async (id) => {
          const drafts = await import(new URL('drafts.js', location.href).href);
          const d = { id, form_id: 'nam_tinh_hinh', form_version: 1, data: {}, fresh: true };
          drafts.buffer(d, { noi_dung: 'Đang gõ dở thì trình duyệt dọn bộ nhớ' }, {});
        }""",
        draft_id,
    )
    cdp = page.context.new_cdp_session(page)
    cdp.send("Storage.clearDataForOrigin", {"origin": server.url, "storageTypes": "indexeddb"})
    phone.offline(False)
    page.goto(f"{server.url}/app/")
    page.reload()
    notice = page.locator("#storage-cleared")
    expect(notice).to_contain_text("Dữ liệu của ứng dụng trên máy này đã bị xóa")
    expect(notice).to_contain_text("This app's data on this phone was deleted")
    phone.setup()
    page.goto(f"{server.url}/app/#/")
    expect(page.locator("#draft-list a")).to_contain_text("Đang gõ dở")


@pytest.mark.browser
def test_a_store_that_will_not_open_is_said_not_left_opening(phones, server) -> None:
    phone = phones("can-bo-an-danh", setup=False)
    page = phone.page
    page.add_init_script(
        "indexedDB.open = () => {"
        " throw new DOMException('no backing store', 'InvalidStateError'); };"
    )
    page.goto(f"{server.url}/app/")
    alert = page.locator("#storage-alert")
    expect(alert).to_contain_text("Trình duyệt không mở được bộ nhớ của ứng dụng")
    expect(alert).to_contain_text("The browser would not open the app's storage")


@pytest.mark.browser
def test_a_tab_whose_store_a_newer_app_upgraded_asks_to_be_reloaded(phones, server) -> None:
    phone = phones("can-bo-hai-the")
    page = phone.page
    phone.new("nam_tinh_hinh")
    phone.fill({"noi_dung": "Gõ trong thẻ cũ"})
    other = page.context.new_page()
    other.goto(f"{server.url}/app/manifest.webmanifest")
    other.evaluate(
        "new Promise((res, rej) => { const r = indexedDB.open('coso', 3);"
        " r.onsuccess = () => { r.result.close(); res(true); }; r.onerror = () => rej(r.error); })"
    )
    alert = page.locator("#storage-alert")
    expect(alert).to_contain_text("Ứng dụng đã được cập nhật ở một thẻ khác")
    expect(alert.locator("button")).to_contain_text("Tải lại trang")


@pytest.mark.browser
@pytest.mark.parametrize("persisted", [False, True])
def test_the_outbox_says_when_the_browser_may_clear_what_waits_in_it(
    phones, server, persisted: bool
) -> None:
    """Entries wait in a store the browser may clear when the phone is short of space unless
    it has granted persistence (Chrome does for an app on the home screen): the outbox says
    so beside them, and what to do; not once the store is kept, nor with nothing waiting."""
    phone = phones("can-bo-luu-giu")
    page = phone.page
    page.add_init_script(f"navigator.storage.persisted = async () => {str(persisted).lower()};")
    page.goto(f"{server.url}/app/#/outbox")
    page.reload()  # a change of fragment alone loads nothing: the script runs at a load
    expect(page.locator("#export-btn")).to_be_visible()
    expect(page.locator("#not-persisted")).to_have_count(0)  # nothing waiting
    phone.offline()
    phone.new("nam_tinh_hinh")
    phone.fill(REPORT)
    phone.save()
    page.goto(f"{server.url}/app/#/outbox")
    expect(page.locator("#outbox-list li")).to_have_count(1)
    hint = page.locator("#not-persisted")
    if persisted:
        expect(hint).to_have_count(0)
    else:
        expect(hint).to_contain_text("Trình duyệt có thể xóa dữ liệu của ứng dụng")
        expect(hint).to_contain_text("Add the app to the home screen")
