"""The push reaches the server but its response is lost on the way back: the phone keeps its
outbox, retries, gets `duplicate`s, and the server holds each submission once. A submission
saved while a sync runs goes out with one more pass after it."""

from __future__ import annotations

import pytest
from playwright.sync_api import Route, expect

from tests.browser.conftest import expect_sent
from tests.browser.samples import REPORT


@pytest.mark.browser
def test_lost_push_response_is_retried_as_duplicates(phones, server) -> None:
    phone = phones("can-bo-d")
    page = phone.page
    phone.offline()
    for words in ("Xe ô tô lạ đỗ nhiều giờ đầu ngõ", "Người lạ hỏi thăm nhà vắng chủ"):
        phone.new("nam_tinh_hinh")
        phone.fill({**REPORT, "noi_dung": words})
        phone.save()
    ids = sorted(i["id"] for i in phone.outbox())
    assert len(ids) == 2

    stored: list[dict] = []

    def lose_response(route: Route) -> None:
        response = route.fetch()  # the server receives and stores the batch...
        stored.append(response.json())
        route.abort("connectionreset")  # ...and the phone never hears back

    page.route("**/api/v1/sync/push", lose_response, times=1)
    phone.offline(False)
    expect(page.locator("#st-error")).to_be_visible(timeout=20_000)
    assert [r["status"] for r in stored[0]["results"]] == ["accepted", "accepted"]
    assert sorted(i["id"] for i in phone.outbox()) == ids

    with page.expect_response("**/api/v1/sync/push") as retry:
        phone.sync()
    results = retry.value.json()["results"]
    assert sorted(r["id"] for r in results) == ids
    assert [r["status"] for r in results] == ["duplicate", "duplicate"]
    expect_sent(page)
    assert phone.outbox() == []

    # Saved while a sync is pulling: that sync read the outbox before it, the next one sends it.
    held: list[Route] = []
    page.route("**/api/v1/sync/pull**", lambda route: held.append(route), times=1)
    phone.new("nam_tinh_hinh")
    phone.fill({**REPORT, "noi_dung": "Cháy nhỏ ở bãi rác cuối ngõ"})
    with page.expect_request("**/api/v1/sync/pull**"):
        page.locator("#sync-btn").click()
    phone.save()
    expect(page.locator("#st-waiting")).to_have_text("Chờ gửi / Waiting: 1")
    [late] = phone.outbox()
    held[0].continue_()
    expect_sent(page, 20_000)
    ids = sorted([*ids, late["id"]])

    boss = server.add_user("giam-sat", "supervisor", "01")
    records = server.records(boss, "nam_tinh_hinh")
    assert sorted(r["record_id"] for r in records) == ids
    for record_id in ids:
        status, record = server.api(boss, f"/records/{record_id}")
        assert status == 200
        assert len(record["submissions"]) == 1
