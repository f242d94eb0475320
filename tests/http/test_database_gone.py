"""The database file deleted or moved while `coso serve` runs (an operator's mistake, a
cleanup script): SQLite would go on writing into the file no one can open again, so pushes
were answered 200 and lost, and a new connection made an empty database in its place. The
server refuses every request 503 `database_gone` instead, makes no file, and, the file put
back, goes on with nothing lost."""

from __future__ import annotations

import random
from pathlib import Path

import httpx

from tests.support import assert_problem, cli_add_user, hoa_giai, running_server, submission

PUSH = "/api/v1/sync/push"


def _push(client: httpx.Client, url: str, token: str, seed: int) -> httpx.Response:
    item = submission("hoa_giai", hoa_giai(random.Random(seed)), version=2)
    return client.post(
        url + PUSH,
        json={"device_id": "phone-1", "submissions": [item]},
        headers={"Authorization": f"Bearer {token}"},
    )


def test_a_database_moved_away_is_refused_and_nothing_acknowledged_is_lost(tmp_path: Path) -> None:
    db = tmp_path / "coso.db"
    log = tmp_path / "serve.log"
    token = cli_add_user(db, "can-bo", "officer", "01.00070")
    aside = tmp_path / "aside.db"
    with running_server(db, log) as srv, httpx.Client(timeout=30) as client:
        assert _push(client, srv.url, token, 1).json()["results"][0]["status"] == "accepted"
        db.rename(aside)
        for path in ("/healthz", "/api/v1/records"):
            r = client.get(srv.url + path, headers={"Authorization": f"Bearer {token}"})
            assert r.status_code == 503, (path, r.text)
        r = _push(client, srv.url, token, 2)
        problem = assert_problem(r, 503)
        assert problem["code"] == "database_gone"
        assert "retry-after" in r.headers
        assert not db.exists()  # no empty database made in its place
        aside.rename(db)
        assert _push(client, srv.url, token, 2).json()["results"][0]["status"] == "accepted"
        r = client.get(srv.url + "/api/v1/sync/pull", headers={"Authorization": f"Bearer {token}"})
        assert len(r.json()["records"]) == 2
    assert "DATABASE FILE GONE" in log.read_text("utf-8")


def test_a_deleted_write_ahead_log_is_refused_and_a_clean_stop_keeps_what_was_acknowledged(
    tmp_path: Path,
) -> None:
    """`coso.db-wal` deleted under a running server (a cleanup of "temporary" files): every
    push was still answered 200, into a file no one can open again, and lost at the next
    crash; reads were 500. Refused 503 `database_gone` instead; a clean stop folds what the
    log held into the database, and nothing acknowledged is lost."""
    db = tmp_path / "coso.db"
    log = tmp_path / "serve.log"
    token = cli_add_user(db, "can-bo", "officer", "01.00070")
    auth = {"Authorization": f"Bearer {token}"}
    with running_server(db, log) as srv, httpx.Client(timeout=30) as client:
        for seed in range(3):
            assert _push(client, srv.url, token, seed).json()["results"][0]["status"] == (
                "accepted"
            )
        Path(f"{db}-wal").unlink()
        problem = assert_problem(_push(client, srv.url, token, 9), 503)
        assert problem["code"] == "database_gone"
        # not "the server is busy", as the Vietnamese title said of every 503
        assert problem["title"] == "Máy chủ tạm thời không phục vụ được / Service unavailable"
        for path in ("/healthz", "/api/v1/sync/pull"):
            assert client.get(srv.url + path, headers=auth).status_code == 503, path
    assert "coso.db-wal" in log.read_text("utf-8")
    with running_server(db, tmp_path / "again.log") as srv, httpx.Client(timeout=30) as client:
        records = client.get(srv.url + "/api/v1/sync/pull", headers=auth).json()["records"]
        assert len(records) == 3  # the three acknowledged, not the refused one
