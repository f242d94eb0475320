"""The app open in two tabs of one phone: they share the outbox, so they never sync at once
(Web Locks). A tab whose push was slow wrote the outbox as it had read it before the other
tab's sync: a rejected item the other tab had fixed and sent since came back as rejected,
and fixed again it went out as a second record (found by a probe)."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Route, expect

from tests.browser.samples import REPORT


@pytest.mark.browser
def test_two_tabs_never_sync_at_once(phones, server) -> None:
    phone = phones("can-bo-hai-tab")
    page = phone.page
    tab2 = phone.context.new_page()
    tab2.goto(f"{server.url}/app/#/outbox")
    expect(tab2.locator("#sync-btn")).to_be_enabled()
    # A report the server refuses (a choice no version has: what an older client could send).
    bad = phone.js("(await import(new URL('uuid7.js', location.href).href)).uuid7()")
    phone.js(
        "await db.put('outbox', {id: arg.id, form_id: 'nam_tinh_hinh', form_version: 1,"
        " record_id: null, parents: [], captured_at: '2025-09-10T07:30:00+07:00',"
        " data: {...arg.data, thoi_gian_tiep_nhan: '2025-09-10T07:30:00+07:00', muc_do: 'sai'},"
        " status: 'queued', saved_at: new Date().toISOString()})",
        {"id": bad, "data": REPORT},
    )
    # The second tab syncs on 2G: its push is held on the way.
    held: list[Route] = []
    tab2.route("**/api/v1/sync/push", lambda route: held.append(route))
    tab2.locator("#sync-btn").click()
    for _ in range(100):
        if held:
            break
        tab2.wait_for_timeout(100)
    assert held
    # The first tab's sync waits for it: nothing of the outbox goes out twice at once.
    pushes: list[Any] = []
    page.on("request", lambda r: pushes.append(r) if "/sync/push" in r.url else None)
    page.goto(f"{server.url}/app/#/outbox")
    page.locator("#sync-btn").click()
    page.wait_for_timeout(1500)
    assert pushes == []
    held[0].continue_()
    expect(page.locator("#st-rejected")).to_have_text("Bị từ chối / Rejected: 1", timeout=20_000)

    # Fixed in the first tab and sent: it stays sent, one record.
    page.goto(f"{server.url}/app/#/outbox")
    page.locator(f'a[href="#/fix/{bad}"]').click()
    expect(page.locator("#entry")).to_be_visible()
    phone.fill({"muc_do": "thap"})
    phone.save()
    phone.wait_outbox_empty()
    tab2.locator("#sync-btn").click()
    tab2.wait_for_timeout(1000)
    expect(tab2.locator("#sync-btn")).to_be_enabled()
    assert phone.outbox() == []
    boss = server.add_user("giam-sat", "supervisor", "01")
    [record] = server.records(boss, "nam_tinh_hinh")
    assert record["record_id"] == bad and record["data"]["muc_do"] == "thap"
    tab2.close()
