"""The disk of the database full (SQLite's "database or disk is full", the transaction rolled
back): the phone is told, in the one error shape, that nothing was stored and when to try
again (503, as for a busy database), and the operator reads one line saying what to do, not a
traceback a request."""

from __future__ import annotations

import contextlib
import logging
import random
import sqlite3
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support import assert_problem, hoa_giai, submission


@contextlib.contextmanager
def _full() -> Iterator[None]:
    raise sqlite3.OperationalError("database or disk is full")
    yield  # pragma: no cover


def test_a_push_onto_a_full_disk_is_503_nothing_stored_and_one_log_line(
    api: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(api.store, "write", _full)
    api.client.event_hooks["response"] = []  # a 503 on purpose
    item = submission("hoa_giai", hoa_giai(random.Random(1)), version=2)
    with caplog.at_level(logging.INFO):
        r = api.client.post(
            "/api/v1/sync/push",
            json={"device_id": "phone-1", "submissions": [item]},
            headers=api.auth("officer"),
        )
    body = assert_problem(r, 503)
    assert body["code"] == "disk_full"
    assert r.headers["retry-after"].isdigit()
    assert "nothing was stored" in body["detail"]
    assert "đầy" in body["detail"]
    lines = [rec for rec in caplog.records if "DISK FULL" in rec.getMessage()]
    assert len(lines) == 1
    assert not any(rec.exc_info for rec in caplog.records)
