"""A database that another writer holds past the wait (`coso forms publish` renaming a field
re-derives every record of the form in one transaction: about 5,000 records a second, so a
form of 150,000 records holds it over the 30 s a write waits): the phone is told, in the one
error shape, that nothing was stored and when to try again, instead of "an unexpected error".
"""

from __future__ import annotations

import contextlib
import random
import sqlite3
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support import assert_problem, hoa_giai, submission


@contextlib.contextmanager
def _locked() -> Iterator[None]:
    raise sqlite3.OperationalError("database is locked")
    yield  # pragma: no cover


@pytest.fixture
def busy(api: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Every write fails as SQLite fails one that waited its busy_timeout out."""
    monkeypatch.setattr(api.store, "write", _locked)
    # this module checks a 503 on purpose: the suite's "never a 5xx" hook is not for it
    api.client.event_hooks["response"] = []
    return api


def _busy_problem(r: Any) -> None:
    body = assert_problem(r, 503)
    assert body["code"] == "busy"
    assert r.headers["retry-after"].isdigit()
    assert "nothing was stored" in body["detail"]


def test_a_push_while_another_writer_holds_the_database_is_503_with_retry_after(
    busy: Any,
) -> None:
    item = submission("hoa_giai", hoa_giai(random.Random(1)), version=2)
    r = busy.client.post(
        "/api/v1/sync/push",
        json={"device_id": "phone-1", "submissions": [item]},
        headers=busy.auth("officer"),
    )
    _busy_problem(r)


def test_a_publish_or_resolve_while_busy_is_503_too(busy: Any) -> None:
    r = busy.client.post(
        "/api/v1/forms",
        json={
            "form_id": "thu_ban",
            "title": {"vi": "Thử", "en": "Test"},
            "fields": [{"name": "a", "type": "text", "label": {"vi": "A", "en": "A"}}],
        },
        headers=busy.auth("admin"),
    )
    _busy_problem(r)


def test_other_database_errors_stay_internal(api: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    @contextlib.contextmanager
    def broken() -> Iterator[None]:
        raise sqlite3.OperationalError("disk I/O error")
        yield  # pragma: no cover

    monkeypatch.setattr(api.store, "write", broken)
    api.client.event_hooks["response"] = []
    item = submission("hoa_giai", hoa_giai(random.Random(2)), version=2)
    r = api.client.post(
        "/api/v1/sync/push",
        json={"device_id": "phone-1", "submissions": [item]},
        headers=api.auth("officer"),
    )
    assert_problem(r, 500)
    assert "retry-after" not in r.headers
