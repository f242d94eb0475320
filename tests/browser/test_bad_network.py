"""The app's sync on a bad network, as a probe drove it: an answer garbled or cut off on the
way, and a first sync where a download of an earlier form version fails. Neither may leave
the outbox waiting for a button, nor the phone without forms."""

from __future__ import annotations

import pytest
from playwright.sync_api import Route, expect

from tests.browser.conftest import expect_sent
from tests.browser.samples import CASE, REPORT, push_case


@pytest.mark.browser
def test_an_answer_cut_off_on_the_way_is_tried_again_by_itself(phones, server) -> None:
    """The server stored the batch, the body came back cut off (a dropped link, a captive
    portal's page): a network failure, said so in both languages, and tried again with
    backoff, which hears `duplicate` and empties the outbox, no button pressed."""
    phone = phones("can-bo-mang-dut")
    page = phone.page
    expect(page.locator("body[data-syncs]")).to_have_count(1, timeout=20_000)
    phone.offline()
    phone.new("nam_tinh_hinh")
    phone.fill(REPORT)
    phone.save()
    [item] = phone.outbox()

    def cut(route: Route) -> None:
        route.fetch()  # stored...
        route.fulfill(status=200, content_type="application/json", body='{"results": [{"id')

    page.route("**/api/v1/sync/push", cut, times=1)
    phone.offline(False)
    error = page.locator("#st-error")
    expect(error).to_have_text("Lỗi mạng, sẽ thử lại. / Network error, will retry.", timeout=20_000)
    expect_sent(page, 30_000)
    expect(error).to_have_count(0)
    boss = server.add_user("giam-sat", "supervisor", "01")
    assert server.api(boss, f"/records/{item['id']}")[0] == 200


@pytest.mark.browser
def test_a_first_sync_missing_an_earlier_form_version_still_has_every_form(phones, server) -> None:
    """Only labels of removed fields and choices hang on earlier versions: one that fails to
    download leaves the forms usable and the cases pulled, and comes at a later sync."""
    case_id = push_case(server, CASE)
    phone = phones("can-bo-phien-ban-cu", setup=False)
    page = phone.page

    def fail(route: Route) -> None:
        route.abort()

    page.route("**/api/v1/forms/hoa_giai/versions/1", fail)
    phone.setup()
    expect(page.locator("#form-list a")).to_have_count(6)
    page.goto(f"{server.url}/app/#/cases")
    expect(page.locator(f'#case-list a[data-id="{case_id}"]')).to_be_visible(timeout=20_000)
    assert not phone.js("!!(await db.get('forms', ['hoa_giai', 1]))")
    page.unroute("**/api/v1/forms/hoa_giai/versions/1", fail)
    phone.sync()
    assert phone.js("!!(await db.get('forms', ['hoa_giai', 1]))")
