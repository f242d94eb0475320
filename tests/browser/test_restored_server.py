"""A server restored from a backup has lost what the phones sent since: the phones keep what
the server took, and send it again when the server's answer to their cursor says it is
another database (`reset_required`). What it still has is a `duplicate`; what it lost is
stored again, and the edits built on it, held `pending` meanwhile, are merged."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import expect_sent, pushed_body
from tests.browser.samples import CASE
from tests.browser.test_case_edits import open_edit
from tests.browser.test_offline_entry import HOA_GIAI
from tests.support import run_cli, uuid7


@pytest.mark.browser
def test_phones_send_again_what_a_restored_server_lost(phones, server, tmp_path: Path) -> None:
    an, binh = phones("can-bo-an"), phones("can-bo-binh")
    backup = tmp_path / "dem-qua.db"  # last night's backup: the officers, none of today's work
    assert run_cli("backup", backup, "--db", server.db).exit_code == 0

    # An records a case; Bình, of the same commune, follows it up.
    an.new("hoa_giai")
    an.fill(HOA_GIAI)
    an.save()
    expect(an.page.locator(".flash")).to_be_visible()
    an.wait_outbox_empty()
    boss = server.add_user("giam-sat", "supervisor", "01")
    [case_id] = [r["record_id"] for r in server.records(boss, "hoa_giai")]
    binh.sync()
    open_edit(binh, case_id)
    binh.fill({"trang_thai": "dang_hoa_giai"})
    binh.save()
    expect(binh.page.locator(".flash")).to_be_visible()
    binh.wait_outbox_empty()
    status, before = server.api(boss, f"/records/{case_id}")
    assert status == 200 and before["data"]["trang_thai"] == "dang_hoa_giai"

    # The disk dies: the operator stops the server and restores last night's backup.
    with server.restored(backup):
        boss = server.add_user("giam-sat-2", "supervisor", "01")
        assert server.api(boss, f"/records/{case_id}")[0] == 404  # today's work is gone

        # Bình's phone first: its edit comes back, waiting for the case it was made on.
        binh.sync()
        assert binh.outbox() == []
        assert server.api(boss, f"/records/{case_id}")[0] == 404
        # An's phone: the case comes back, and Bình's edit merges into it.
        an.sync()
        assert an.outbox() == []
        status, after = server.api(boss, f"/records/{case_id}")
        assert status == 200
        assert after["data"] == before["data"]
        assert after["heads"] == before["heads"] and after["conflicts"] == []
        assert {s["id"] for s in after["submissions"]} == {s["id"] for s in before["submissions"]}
        # Sent again once: the next sync sends nothing, and every phone shows the case.
        pushes: list[str] = []
        an.page.on("request", lambda r: pushes.append(r.url) if "/sync/push" in r.url else None)
        an.sync()
        assert pushes == []
        for phone in (an, binh):
            phone.sync()
            phone.page.goto(f"{server.url}/app/#/case/{case_id}")
            expect(phone.page.locator("dl.data")).to_contain_text("Đang hòa giải")
            assert phone.outbox() == []


@pytest.mark.browser
def test_a_phone_of_the_older_app_keeps_its_outbox_when_the_app_updates(browser, server) -> None:
    """The phone's store gains `sent` (IndexedDB version 2): a phone whose store an older
    app made (version 1) keeps its officer, outbox and cases through the update, sends the
    outbox, and keeps what it sent."""
    token = server.add_user("can-bo-cu")
    status, me = server.api(token, "/me")
    assert status == 200
    entry = {
        "id": str(uuid7()),
        "form_id": "hoa_giai",
        "form_version": 2,
        "parents": [],
        "captured_at": "2026-11-20T09:00:00+07:00",
        "data": {**CASE, "hoa_giai_vien": "Trần Thị Cũ"},
        "saved_at": "2026-11-20T02:00:00.000Z",
    }
    context = browser.new_context(service_workers="allow")
    page = context.new_page()
    page.goto(f"{server.url}/healthz")  # the app's origin, before the app runs there
    page.evaluate(
        """([token, me, entry]) => new Promise((resolve, reject) => {
          const r = indexedDB.open('coso', 1);
          r.onupgradeneeded = () => {
            r.result.createObjectStore('kv');
            r.result.createObjectStore('forms', { keyPath: ['form_id', 'version'] });
            for (const s of ['drafts', 'outbox']) r.result.createObjectStore(s, { keyPath: 'id' });
            r.result.createObjectStore('records', { keyPath: 'record_id' });
          };
          r.onsuccess = () => {
            const t = r.result.transaction(['kv', 'outbox'], 'readwrite');
            t.objectStore('kv').put(token, 'token');
            t.objectStore('kv').put(me, 'me');
            t.objectStore('kv').put('may-cu', 'device_id');
            t.objectStore('outbox').put(entry);
            t.oncomplete = () => { r.result.close(); resolve(); };
            t.onerror = () => reject(t.error);
          };
          r.onerror = () => reject(r.error);
        })""",
        [token, me, entry],
    )
    page.goto(f"{server.url}/app/#/")
    expect_sent(page, 20_000)
    boss = server.add_user("giam-sat", "supervisor", "01")
    status, record = server.api(boss, f"/records/{entry['id']}")
    assert status == 200 and record["data"]["hoa_giai_vien"] == "Trần Thị Cũ"
    kept = page.evaluate(
        "async () => (await import(new URL('db.js', location.href).href)).all('sent')"
    )
    assert [i["id"] for i in kept] == [entry["id"]]
    context.close()


@pytest.mark.browser
def test_an_officer_added_again_after_a_restore_keeps_the_phone(phones, server, tmp_path) -> None:
    """The backup lacked the officer's account, and the database it was taken of is gone (a
    new machine: a restore over it would keep its users): the operator adds the officers
    again, in another order, so each gets another id (the first takes the id the officer
    had). The
    officer's own new link carries on with the phone, which sends again what the restored
    server lacks; the other officer's link, under the officer's old id, is a handover (found
    by a probe: told apart by id alone, it was the other way round, and the case was lost)."""
    backup = tmp_path / "truoc.db"
    assert run_cli("backup", backup, "--db", server.db).exit_code == 0
    an = phones("can-bo-an")  # added after the backup
    an_id = an.js("(await db.kv('me')).user_id")
    an.new("hoa_giai")
    an.fill(HOA_GIAI)
    an.save()
    expect(an.page.locator(".flash")).to_be_visible()
    an.wait_outbox_empty()
    with server.restored(backup, new_machine=True):
        binh_token = server.add_user("can-bo-binh")
        an_token = server.add_user("can-bo-an")
        assert server.api(binh_token, "/me")[1]["user_id"] == an_id
        asked: list[str] = []
        an.page.on("dialog", lambda d: (asked.append(d.message), d.dismiss()))
        an.page.goto(f"{server.url}/app/#token={an_token}")
        expect(an.page.locator("#st-last")).not_to_have_text(
            "Đồng bộ lần cuối: chưa / Last sync: never"
        )
        assert asked == []
        an.sync()
        boss = server.add_user("giam-sat", "supervisor", "01")
        [record] = server.records(boss, "hoa_giai")
        full = server.api(boss, f"/records/{record['record_id']}")[1]
        assert full["submissions"][0]["user"] == "can-bo-an"
        # Bình's link, though Bình now has the id An had: another officer, asked first
        an.page.goto(f"{server.url}/app/#token={binh_token}")
        expect(an.page.locator(".flash")).to_contain_text("Không đổi tài khoản")
        assert asked and "can-bo-binh" in asked[0]
        assert an.js("(await db.kv('me')).name") == "can-bo-an"


@pytest.mark.browser
@pytest.mark.parametrize("health", ["answers", "fails-once"])
def test_what_was_sent_goes_again_once_however_often_the_pull_fails(
    phones, server, tmp_path, health: str
) -> None:
    """A restore found, the phone sends again all it sent; the pull from the start that
    follows fails on 2G, sync after sync: nothing is sent again a second time (found by a
    probe: every retry sent it all again, 100 requests for 10,000 entries). Nor when
    `/healthz` fails the first time and the cursor's `reset_required` finds the restore."""
    phone = phones("can-bo-an")
    page = phone.page
    for text in ("Lần 1", "Lần 2", "Lần 3"):
        phone.new("hoa_giai")
        phone.fill({**HOA_GIAI, "noi_dung_vu_viec": text})
        phone.save()
        expect(page.locator(".flash")).to_be_visible()
        phone.wait_outbox_empty()
    backup = tmp_path / "sau.db"  # taken after: the restored server lacks nothing
    assert run_cli("backup", backup, "--db", server.db).exit_code == 0
    with server.restored(backup):
        pushed: list[int] = []
        page.on(
            "request",
            lambda r: (
                pushed.append(len(pushed_body(r)["submissions"])) if "/sync/push" in r.url else None
            ),
        )
        if health == "fails-once":  # the cursor's reset_required finds the restore
            page.route("**/healthz", lambda route: route.abort(), times=1)
            phone.sync()
            assert sum(pushed) == 3
        page.route("**/api/v1/sync/pull**", lambda route: route.abort())
        for _ in range(3):
            phone.sync()
        assert sum(pushed) == 3
        page.unroute("**/api/v1/sync/pull**")
        phone.sync()
        assert sum(pushed) == 3
        assert len(phone.js("await db.all('records')")) == 3
        assert len(phone.js("await db.all('sent')")) == 3


@pytest.mark.browser
def test_a_new_link_is_not_taken_while_the_phones_account_cannot_be_checked(
    phones, server, tmp_path
) -> None:
    """After a restore, the officer's account added again: whether the phone's old account
    is gone (the same officer) or still there (another of the same name) cannot be told while
    sign-ins from this address are rate-limited (the other phones behind one proxy, whose
    tokens the restore wiped out too). The phone is not handed over, and keeps what it sent
    (found by a probe: taken for another officer, the phone emptied its kept entries)."""
    backup = tmp_path / "truoc.db"
    assert run_cli("backup", backup, "--db", server.db).exit_code == 0
    an = phones("can-bo-an")
    an.new("hoa_giai")
    an.fill(HOA_GIAI)
    an.save()
    expect(an.page.locator(".flash")).to_be_visible()
    an.wait_outbox_empty()
    [saved] = an.js("(await db.all('sent')).map((s) => s.id)")
    # the save's sync over (its pull cut by the restore would be tried again meanwhile, find
    # the restore and put what was sent back in the outbox, which is kept as well)
    expect(an.page.locator("#sync-btn:not([aria-disabled='true'])")).to_have_count(1)
    before = an.js("await db.kv('me')")
    with server.restored(backup, new_machine=True):
        server.add_user("can-bo-binh")
        an_token = server.add_user("can-bo-an")
        for _ in range(21):
            server.api("khong-co", "/me")
        assert server.api("khong-co", "/me")[0] == 429
        asked: list[str] = []
        an.page.on("dialog", lambda d: (asked.append(d.message), d.accept()))
        an.page.goto(f"{server.url}/app/#token={an_token}")
        expect(an.page.locator(".flash")).not_to_contain_text("Đã lưu")  # the setup's answer
        assert asked == []
        assert an.js("await db.kv('me')") == before
        kept = an.js("[...await db.all('sent'), ...await db.all('outbox')].map((s) => s.id)")
        assert kept == [saved]
