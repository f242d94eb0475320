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
    supervisor = cli_add_user(db, "giam-sat", "supervisor", "01")
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
    with running_server(db, log, ready=(200, 503)) as srv, httpx.Client(timeout=30) as client:
        r = client.get(srv.url + "/api/v1/sync/pull", headers=auth)
        problem = assert_problem(r, 503)
        assert problem["code"] == "database_damaged"
        assert problem["detail"].startswith("Cơ sở dữ liệu của máy chủ bị hỏng")
        r = client.get(srv.url + "/healthz")  # an uptime monitor learns of it
        assert assert_problem(r, 503)["code"] == "database_damaged"
    assert "DATABASE DAMAGED / CƠ SỞ DỮ LIỆU BỊ HỎNG" in log.read_text("utf-8")
    assert "Traceback" not in log.read_text("utf-8")
    # an export is the read most likely to meet the damage: cut short (never a file that
    # looks whole), said in the log, and /healthz says so (found by a regression probe)
    with running_server(db, log, ready=(200, 503)) as srv, httpx.Client(timeout=30) as client:
        head = {"Authorization": f"Bearer {supervisor}"}
        try:
            r = client.get(srv.url + "/api/v1/forms/hoa_giai/export?format=csv", headers=head)
            assert r.status_code == 503, r.text[:300]  # met before the first byte
        except httpx.HTTPError:
            pass  # met while streaming: the answer is cut short
        r = client.get(srv.url + "/healthz")
        assert assert_problem(r, 503)["code"] == "database_damaged"
    assert log.read_text("utf-8").count("DATABASE DAMAGED") >= 2
    copy = tmp_path / "nightly.db"
    result = run_cli("backup", copy, "--db", db)
    assert result.exit_code == 1, result.output
    assert "is damaged" in result.output and "bị hỏng" in result.output
    assert "keep the earlier backups" in result.output
    assert not copy.exists() and not Path(f"{copy}.part").exists()


def test_damage_an_export_meets_while_streaming_is_said_and_healthz_knows(
    tmp_path: Path,
) -> None:
    """An export that met damaged data after its first bytes was cut short with a traceback,
    logged as a 200, and `/healthz` stayed ok (found by a regression probe). Here the text of
    one record past the first page of the export is bytes that are not UTF-8."""
    db, log = tmp_path / "coso.db", tmp_path / "serve.log"
    token = cli_add_user(db, "can-bo", "officer", "01.00070")
    supervisor = cli_add_user(db, "giam-sat", "supervisor", "01")
    with running_server(db, log) as srv, httpx.Client(timeout=60) as client:
        for batch in range(2):
            items = [
                submission("hoa_giai", hoa_giai(random.Random(i)), version=2)
                for i in range(batch * 700, (batch + 1) * 700)
            ]
            r = client.post(
                srv.url + "/api/v1/sync/push",
                json={"device_id": "phone-1", "submissions": items},
                headers={"Authorization": f"Bearer {token}"},
            )
            assert {x["status"] for x in r.json()["results"]} == {"accepted"}
    with closing(sqlite3.connect(db)) as conn:  # the 1,300th record in change order
        conn.execute(
            "UPDATE records SET doc = CAST(X'7bff22' AS TEXT) WHERE change_seq ="
            " (SELECT change_seq FROM records ORDER BY change_seq LIMIT 1 OFFSET 1299)"
        )
        conn.commit()
    with running_server(db, log, ready=(200, 503)) as srv, httpx.Client(timeout=60) as client:
        head = {"Authorization": f"Bearer {supervisor}"}
        url = srv.url + "/api/v1/forms/hoa_giai/export?format=jsonl"
        with client.stream("GET", url, headers=head) as r:
            assert r.status_code == 200  # begun: the damage is further on
            try:
                body = b"".join(r.iter_bytes())
            except httpx.HTTPError:
                body = None  # cut short: never a file that looks whole
        assert body is None or body.count(b"\n") < 1400
        r = client.get(srv.url + "/healthz")
        assert assert_problem(r, 503)["code"] == "database_damaged"
    assert "DATABASE DAMAGED / CƠ SỞ DỮ LIỆU BỊ HỎNG: an export cut short" in log.read_text("utf-8")
    # the command line meets it too: called damaged, with what to do (found by a probe)
    out = tmp_path / "hoa_giai.jsonl"
    result = run_cli("export", "hoa_giai", "--format", "jsonl", "--out", out, "--db", db)
    assert result.exit_code == 1, result.output
    assert "is damaged" in result.output and "restore the latest good backup" in result.output
    assert "bị hỏng" in result.output and not out.exists()
