"""A database file with damaged pages (a failing disk, a copy cut short, bytes changed by
another program): requests that touch them were 500 `internal` with a bare traceback while
`/healthz` said ok, and `coso backup` copied the damage and said it had made a backup (found
by a probe). Now 503 `database_damaged`, a `DATABASE DAMAGED` line in the log, a `/healthz`
that says so, and no backup written."""

from __future__ import annotations

import random
import sqlite3
from contextlib import closing
from pathlib import Path

import httpx

from tests.support import (
    assert_problem,
    cli_add_user,
    hoa_giai,
    run_cli,
    running_server,
    submission,
)


def damage(db: Path, table: str) -> None:
    """The first byte of `table`'s root page (its kind) made one no page has."""
    with closing(sqlite3.connect(db)) as conn:
        (root,) = conn.execute(
            "SELECT rootpage FROM sqlite_master WHERE name = ?", [table]
        ).fetchone()
        (size,) = conn.execute("PRAGMA page_size").fetchone()
    with open(db, "r+b") as f:
        f.seek((root - 1) * size)
        f.write(b"\x07")


def test_a_damaged_database_is_503_and_said_and_never_backed_up(tmp_path: Path) -> None:
    db, log = tmp_path / "coso.db", tmp_path / "serve.log"
    token = cli_add_user(db, "can-bo", "officer", "01.00070")
    auth = {"Authorization": f"Bearer {token}"}
    items = [submission("hoa_giai", hoa_giai(random.Random(i)), version=2) for i in range(300)]
    with running_server(db, log) as srv, httpx.Client(timeout=30) as client:
        r = client.post(
            srv.url + "/api/v1/sync/push",
            json={"device_id": "phone-1", "submissions": items},
            headers=auth,
        )
        assert {x["status"] for x in r.json()["results"]} == {"accepted"}
    damage(db, "records")
    with running_server(db, log) as srv, httpx.Client(timeout=30) as client:
        r = client.get(srv.url + "/api/v1/sync/pull", headers=auth)
        problem = assert_problem(r, 503)
        assert problem["code"] == "database_damaged"
        assert problem["detail"].startswith("Cơ sở dữ liệu của máy chủ bị hỏng")
        r = client.get(srv.url + "/healthz")  # an uptime monitor learns of it
        assert assert_problem(r, 503)["code"] == "database_damaged"
    assert "DATABASE DAMAGED / CƠ SỞ DỮ LIỆU BỊ HỎNG" in log.read_text("utf-8")
    assert "Traceback" not in log.read_text("utf-8")
    copy = tmp_path / "nightly.db"
    result = run_cli("backup", copy, "--db", db)
    assert result.exit_code == 1, result.output
    assert "is damaged" in result.output and "bị hỏng" in result.output
    assert "keep the earlier backups" in result.output
    assert not copy.exists() and not Path(f"{copy}.part").exists()
