"""An officer whose account an admin disabled (a lost phone found again, a transfer) is told so
by the app, not that the token is invalid, and nothing the officer made is lost; the cases
the phone downloaded go until the account is enabled again."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.samples import CASE, REPORT, push_case
from tests.support import run_coso


@pytest.mark.browser
def test_a_disabled_account_is_named_and_its_outbox_kept(phones, server) -> None:
    case_id = push_case(server, CASE)
    phone = phones("can-bo-khoa")
    page = phone.page
    phone.sync()
    assert [r["record_id"] for r in phone.js("await db.all('records')")] == [case_id]
    phone.offline()
    phone.new("nam_tinh_hinh")
    phone.fill(REPORT)
    phone.save()
    expect(page.locator(".flash")).to_be_visible()
    assert len(phone.outbox()) == 1
    run_coso("users", "disable", "can-bo-khoa", "--db", server.db)
    phone.offline(False)
    phone.sync()
    error = page.locator("#st-error")
    expect(error).to_contain_text("Tài khoản đã bị khóa")
    expect(error).to_contain_text("Your account is disabled")
    assert len(phone.outbox()) == 1  # kept, sent once the account is enabled again
    # a lost phone: the downloaded cases (the parties' names, addresses) are no longer on it;
    # the report it made and has not sent (a follow-up form: its case copy) stays with it
    [own] = phone.js("await db.all('records')")
    assert own["form_id"] == "nam_tinh_hinh" and own["record_id"] != case_id
    run_coso("users", "enable", "can-bo-khoa", "--db", server.db)
    phone.sync()
    expect(page.locator("#st-error")).to_have_count(0)
    assert phone.outbox() == []
    ids = {r["record_id"] for r in phone.js("await db.all('records')")}
    assert ids == {case_id, own["record_id"]}
