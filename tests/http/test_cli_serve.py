"""`coso serve` as an operator runs it: what it refuses before it starts (a message in both
languages, no banner, no traceback), and the lock that keeps `coso restore` from swapping the
database under a running server."""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import sqlite3
import subprocess
import threading
import time
from contextlib import closing
from pathlib import Path

import httpx
import msgspec
import pytest
from click.testing import CliRunner

from server import sync
from server.catalog import Catalog, publish_files, schema_files
from server.cli import main
from server.cli_serve import PUBLISHING
from server.form_source import read_source
from server.item import now_iso
from server.store import Store
from server.store_schema import User
from tests.support import (
    ROOT,
    cli_add_user,
    coso_command,
    free_port,
    hoa_giai,
    running_server,
    submission,
)


def coso(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """A `coso` process to its end (a timeout, not a hang, if it starts serving after all)."""
    return subprocess.run(
        [*coso_command(), *map(str, args)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )


def refused(done: subprocess.CompletedProcess[str], *words: str) -> None:
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    assert "coso chạy tại / on http" not in done.stdout  # the banner
    for word in words:
        assert word in done.stderr


def db_id(db: Path) -> str:
    with closing(sqlite3.connect(db)) as conn:
        return str(conn.execute("SELECT value FROM meta WHERE key = 'db_id'").fetchone()[0])


def test_serve_refuses_a_database_it_cannot_use(tmp_path: Path) -> None:
    junk = tmp_path / "junk.db"
    junk.write_bytes(random.Random(5).randbytes(8192))
    other = tmp_path / "other.db"
    with closing(sqlite3.connect(other)) as conn:
        conn.execute("CREATE TABLE t (x)")
        conn.commit()
    folder = tmp_path / "folder.db"
    folder.mkdir()
    cases = [
        (tmp_path / "nowhere" / "c.db", "no directory", "không có thư mục"),
        (folder, "is a directory", "là thư mục"),
        (junk, "not a coso database (file is not a database)", "không phải cơ sở dữ liệu coso"),
        (other, "another program's tables", "không phải cơ sở dữ liệu coso"),
    ]
    port = str(free_port())
    for db, *why in cases:
        before = db.read_bytes() if db.is_file() else None
        refused(coso("serve", "--db", db, "--port", port), *why)
        assert (db.read_bytes() if db.is_file() else None) == before
    assert not (tmp_path / "nowhere").exists()
    assert list(tmp_path.glob("*.lock")) == []  # nothing made beside another's file either


@pytest.mark.parametrize("port", ["65536", "99999", "-1", "0"])
def test_serve_refuses_a_port_out_of_range(tmp_path: Path, port: str) -> None:
    """0 too: the system would pick a port, and the banner and setup links would name 0."""
    result = CliRunner().invoke(main, ["serve", "--db", str(tmp_path / "c.db"), "--port", port])
    assert result.exit_code == 2
    assert "--port" in result.output and "1<=x<=65535" in result.output
    assert not (tmp_path / "c.db").exists()


def test_serve_refuses_a_port_in_use_before_anything_else(tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = coso("serve", "--db", db, "--host", "127.0.0.1", "--port", port, "--demo")
    refused(done, f"cannot listen on 127.0.0.1:{port}", "cổng đang được dùng")
    assert "token" not in done.stdout  # no demo users made, no forms published
    assert not db.exists()


@pytest.mark.slow
def test_restore_refuses_while_the_server_runs(tmp_path: Path) -> None:
    db, backup, log = tmp_path / "coso.db", tmp_path / "backup.db", tmp_path / "serve.log"
    cli_add_user(db, "quan-tri", "admin", "")
    with running_server(db, log) as server:
        before = httpx.get(f"{server.url}/healthz", timeout=30).json()["database"]
        assert coso("backup", backup, "--db", db).returncode == 0  # a backup, while it runs
        refused(
            coso("restore", backup, "--db", db),
            "stop the server first",
            "hãy dừng máy chủ trước",
        )
        # the server goes on, on the same database
        assert (
            httpx.get(f"{server.url}/healthz", timeout=30).json()["database"] == before == db_id(db)
        )
        assert server.proc.poll() is None
    done = coso("restore", backup, "--db", db)  # stopped: the restore goes ahead
    assert done.returncode == 0, done.stderr
    assert db_id(db) != before
    with running_server(db, log) as server:  # and the next server serves the restored one
        assert httpx.get(f"{server.url}/healthz", timeout=30).json()["database"] == db_id(db)


@pytest.mark.slow
def test_a_second_server_on_the_database_is_refused_and_writes_nothing(tmp_path: Path) -> None:
    """Two servers on one database would each keep their own write lock and form cache: the
    second is refused before it writes anything (its --demo users too), on any port."""
    db, log = tmp_path / "coso.db", tmp_path / "serve.log"
    with running_server(db, log, extra_args=["--demo"]) as server:
        with closing(sqlite3.connect(db)) as conn:
            users = conn.execute("SELECT count(*) FROM users").fetchone()[0]
        second = coso("serve", "--db", db, "--port", str(free_port()), "--demo")
        refused(second, "already running", "đang chạy trên cơ sở dữ liệu này")
        with closing(sqlite3.connect(db)) as conn:
            assert conn.execute("SELECT count(*) FROM users").fetchone()[0] == users == 3
        assert httpx.get(f"{server.url}/healthz", timeout=30).status_code == 200
    with running_server(db, log) as server:  # stopped: the next one starts
        assert httpx.get(f"{server.url}/healthz", timeout=30).status_code == 200


@pytest.mark.parametrize("how", ["hard_link", "lock_file_deleted"])
def test_a_second_server_is_refused_by_another_name_or_without_the_lock_file(
    tmp_path: Path, how: str
) -> None:
    """The lock file is named after the database: a hard link to it (another name) or a clean-up
    that deleted the lock file let a second server start beside the first, on the same file,
    and each checkpointed over what the other had acknowledged (found by a probe: 1,500 of
    3,000 records pushed through both were lost)."""
    db, log = tmp_path / "coso.db", tmp_path / "serve.log"
    with running_server(db, log) as server:
        other = db
        if how == "hard_link":
            other = tmp_path / "cung-tep.db"
            os.link(db, other)
        else:
            (tmp_path / "coso.db.lock").unlink()
        second = coso("serve", "--db", other, "--port", str(free_port()))
        refused(second, "already running", "đang chạy trên cơ sở dữ liệu này")
        assert not (tmp_path / "cung-tep.db.lock").exists()  # a refused start leaves none
        assert httpx.get(f"{server.url}/healthz", timeout=30).status_code == 200


@pytest.mark.slow
def test_the_lock_goes_with_a_killed_server(tmp_path: Path) -> None:
    """A server killed outright (power cut, OOM) leaves no lock behind: the kernel drops it."""
    db, backup, log = tmp_path / "coso.db", tmp_path / "backup.db", tmp_path / "serve.log"
    cli_add_user(db, "quan-tri", "admin", "")
    assert coso("backup", backup, "--db", db).returncode == 0
    with running_server(db, log) as server:
        server.kill()
    done = coso("restore", backup, "--db", db)
    assert done.returncode == 0, done.stderr


def _raw(port: int, request: bytes) -> bytes:
    """What the server answers to `request` written as bytes, up to its closing."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer


@pytest.mark.slow
def test_what_is_not_http_gets_problem_json_from_the_server_itself(tmp_path: Path) -> None:
    """Requests uvicorn cannot parse never reach the app: its own answer was text/plain.
    Every error is problem+json (PROTOCOL, Conventions), these too. And a request in the
    absolute form (`GET http://host/path`) reaches its route (it was 404)."""
    cli_add_user(tmp_path / "coso.db", "quan-tri", "admin", "")
    broken = [
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n",  # no colon
        b"GET /api/v1/records/\xc3\xa9 HTTP/1.1\r\nHost: x\r\n\r\n",  # a raw byte in the path
        b"POST /api/v1/sync/push HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
        b"GET /healthz HTTP/1.1\r\n\r\n",  # no Host
        b"POST /api/v1/sync/push HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        # framed two ways: by its chunks a push and then a request for /me, by its length one
        # push (what a proxy in front may think): refused, and nothing read after it
        b"POST /api/v1/sync/push HTTP/1.1\r\nHost: x\r\nContent-Length: 40\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /api/v1/me HTTP/1.1\r\nHost: x\r\n\r\n",
    ]
    with running_server(tmp_path / "coso.db", tmp_path / "serve.log") as server:
        for request in broken:
            answer = _raw(server.port, request)
            head, _, body = answer.partition(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            headers = dict(line.lower().split(": ", 1) for line in lines[1:])
            assert lines[0].startswith("HTTP/1.1 400"), (request[:60], lines[0])
            assert headers["content-type"] == "application/problem+json", request[:60]
            problem = json.loads(body)
            assert problem["status"] == 400 and problem["code"] == "bad_request"
            assert " / " in problem["detail"] and problem["type"].startswith("urn:coso:problem:")
            assert int(headers["content-length"]) == len(body)  # one answer, then closed
        assert httpx.get(f"{server.url}/healthz", timeout=30).status_code == 200  # and it goes on
        # the absolute form, which a server must accept (RFC 9112 3.2.2): routed by its path
        answer = _raw(
            server.port,
            b"GET http://127.0.0.1/api/v1/forms HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        )
        assert answer.startswith(b"HTTP/1.1 401"), answer[:200]  # the forms, asking a token
        # its scheme escaped, it is no absolute form: a path no route has, not a 500 in text
        # (found by a white-box probe: an IndexError in the edge, for anyone, with no token)
        for target in (b"http%3A//x/api/v1/me", b"http:%2F%2Fx/healthz"):
            request = b"GET " + target + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
            answer = _raw(server.port, request)
            head, _, body = answer.partition(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 404"), answer[:200]
            assert b"content-type: application/problem+json" in head.lower()
            assert json.loads(body)["status"] == 404


def test_a_first_start_stopped_while_publishing_is_finished_by_the_next(tmp_path: Path) -> None:
    """Stopped a second into its first start (Ctrl+C), `coso serve` had published some of the
    forms: the next start took the database for one in use, published no more and said
    nothing, and the server ran without the rest (`tuyen_truyen` v1 as the latest)."""
    db = tmp_path / "coso.db"
    files = schema_files(ROOT / "schemas")
    store = Store(db)  # what the stopped start left: its mark, and the first three forms
    with store.write() as w:
        w.set_meta(PUBLISHING, str(ROOT / "schemas"))
    publish_files(Catalog(store), files[:3])
    store.close()
    log = tmp_path / "log"
    with running_server(db, log):
        pass
    assert "publishing the rest of" in log.read_text("utf-8")
    store = Store(db)
    try:
        assert len(store.form_versions()) == len(files)
        assert store.meta(PUBLISHING) is None
    finally:
        store.close()
    with running_server(db, log):  # and a start after that publishes nothing
        pass
    assert log.read_text("utf-8").count("publishing the rest of") == 1


def test_a_clean_stop_leaves_the_database_file_whole(tmp_path: Path) -> None:
    """After SIGTERM the database file alone holds everything acknowledged: an operator who
    stops the server and copies `coso.db` (a cold backup, a move) got the state before its
    last writes, which stayed in `coso.db-wal` (the readers of the request threads kept
    SQLite from folding it in)."""
    db = tmp_path / "coso.db"
    token = cli_add_user(db, "can-bo", "officer", "01.00070")
    item = submission("hoa_giai", hoa_giai(random.Random(1)), version=2)
    with running_server(db, tmp_path / "log") as srv:
        auth = {"Authorization": f"Bearer {token}"}
        r = httpx.post(
            f"{srv.url}/api/v1/sync/push",
            json={"device_id": "may-1", "submissions": [item]},
            headers=auth,
            timeout=30,
        )
        assert r.json()["results"][0]["status"] == "accepted", r.text
        assert httpx.get(f"{srv.url}/api/v1/sync/pull", headers=auth, timeout=30).status_code == 200
    alone = tmp_path / "alone.db"
    alone.write_bytes(db.read_bytes())  # the file, without its -wal
    with closing(sqlite3.connect(alone)) as conn:
        assert conn.execute("SELECT id FROM submissions").fetchall() == [(item["id"],)]
    assert "Lưu ý" not in (tmp_path / "log").read_text("utf-8")  # nothing left to say


def test_a_stop_that_leaves_writes_in_the_log_says_so(tmp_path: Path) -> None:
    """A stop on a full disk, or while another program reads, cannot fold the write-ahead log
    in: it said "Stopped." as ever, and an operator moving `coso.db` alone (the disk full:
    to a bigger one) lost everything since the last checkpoint. It says to move both."""
    db = tmp_path / "coso.db"
    log = tmp_path / "log"
    token = cli_add_user(db, "can-bo", "officer", "01.00070")
    item = submission("hoa_giai", hoa_giai(random.Random(1)), version=2)
    with closing(sqlite3.connect(db)) as reader:
        with running_server(db, log) as srv:
            reader.execute("BEGIN")
            reader.execute("SELECT count(*) FROM users").fetchone()  # an older snapshot held
            r = httpx.post(
                f"{srv.url}/api/v1/sync/push",
                json={"device_id": "may-1", "submissions": [item]},
                headers={"Authorization": f"Bearer {token}"},
                timeout=30,
            )
            assert r.json()["results"][0]["status"] == "accepted", r.text
        said = log.read_text("utf-8")
        assert f"{db}-wal still holds the latest writes" in said
        assert "mang cả hai tệp" in said
        reader.rollback()
    with closing(sqlite3.connect(db)) as conn:  # both files together: nothing lost
        assert conn.execute("SELECT id FROM submissions").fetchall() == [(item["id"],)]


def test_a_stop_during_a_renaming_publish_is_prompt_and_the_next_start_finishes(
    tmp_path: Path,
) -> None:
    """SIGTERM while a publish derives 25,000 records anew: the server exits after the chunk
    under way, not after the whole derive (it stayed up, deaf and holding its lock, for
    minutes), and the next start derives the rest."""
    db = tmp_path / "coso.db"
    admin = cli_add_user(db, "quan-tri", "admin", "")
    store = Store(db)
    catalog = Catalog(store)
    publish_files(catalog, schema_files(ROOT / "schemas"))
    fv = catalog.get("hoa_giai")
    assert fv is not None
    with store.write() as w:
        officer = User(w.add_user("can-bo", "officer", "01.00070", "x", now_iso()), "can-bo",
                       "officer", "01.00070")  # fmt: skip
    rng = random.Random(5)
    pool = [hoa_giai(rng) for _ in range(50)]
    for _ in range(25):
        batch = [
            msgspec.json.encode(submission("hoa_giai", rng.choice(pool), version=fv.latest))
            for _ in range(1000)
        ]
        sync.push(store, catalog, officer, "may-1", [msgspec.Raw(b) for b in batch])
    store.close()
    latest = next(
        read_source(p.read_bytes())
        for p in reversed(schema_files(ROOT / "schemas"))
        if p.name.startswith("hoa_giai.")
    )
    field = next(f for f in latest["fields"] if f["type"] == "text")
    field["previous_names"] = [*field.get("previous_names", []), field["name"]]
    field["name"] = f"{field['name']}_moi"

    answers: list[int] = []
    with running_server(db, tmp_path / "log", stop_timeout=120) as srv:

        def publish_it() -> None:
            r = httpx.post(
                f"{srv.url}/api/v1/forms",
                json=latest,
                headers={"Authorization": f"Bearer {admin}"},
                timeout=120,
            )
            answers.append(r.status_code)

        thread = threading.Thread(target=publish_it)
        thread.start()
        time.sleep(1.5)  # the version is in; its records are being derived anew
        started = time.monotonic()
        srv.stop(timeout=120)
        stopped_in = time.monotonic() - started
        thread.join(30)
    assert answers == [201]
    version = fv.latest + 1
    left = Store(db).records_derived_before("hoa_giai", version, "", 10**6)
    assert left, "the whole derive ran before the server stopped"
    assert stopped_in < 20, stopped_in
    with running_server(db, tmp_path / "log"):
        for _ in range(600):
            if not Store(db).records_derived_before("hoa_giai", version, "", 1):
                break
            time.sleep(0.2)
        else:
            raise AssertionError("the next start did not derive the rest")


def half_sent_push(port: int, token: str) -> socket.socket:
    """A push whose body is still coming (its sender stopped, or is slow): the connection."""
    sock = socket.create_connection(("127.0.0.1", port))
    sock.sendall(
        b"POST /api/v1/sync/push HTTP/1.1\r\nHost: x\r\nContent-Type: application/json"
        b"\r\nAuthorization: Bearer " + token.encode() + b"\r\n"
        b'Content-Length: 100000\r\n\r\n{"device_id": "may-1", '
    )
    time.sleep(0.3)  # read by the server...
    # ...surely, once it has answered a request sent after it: a stop now finds the push in
    # flight, not an idle connection (a sleep alone stood in for what the server does)
    assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=30).status_code == 200
    return sock


@pytest.mark.parametrize(
    ("sig", "presses", "in_flight"),
    [
        (signal.SIGINT, 1, False),
        (signal.SIGINT, 2, False),
        (signal.SIGINT, 2, True),
        (signal.SIGTERM, 1, False),
        (signal.SIGHUP, 1, False),  # the SSH session ended: it died, status 129 (a probe)
    ],
    ids=["ctrl-c", "ctrl-c-twice", "ctrl-c-twice-during-a-push", "sigterm", "sighup"],
)
def test_a_stop_is_said_and_clean(tmp_path: Path, sig: int, presses: int, in_flight: bool) -> None:
    """Ctrl+C in the terminal (SIGINT; twice: stop at once) and a service manager's SIGTERM end
    `coso serve` with status 0 and say so in both languages. Ctrl+C ended in click's
    "Aborted!" and status 1, a second one in a traceback (with a phone's push half sent, in
    uvicorn's "Exception in ASGI application"), SIGTERM in status 143 with no "Stopped", and
    told a service manager to press Ctrl+C (found by probes)."""
    log = tmp_path / "serve.log"
    db = tmp_path / "coso.db"
    token = cli_add_user(db, "can-bo", "officer", "01.00070")
    with running_server(db, log) as server:
        slow = None
        if in_flight:  # a push whose body is still coming
            slow = half_sent_push(server.port, token)
        for _ in range(presses):
            server.proc.send_signal(sig)
            # with a push in flight the server waits for it: the second press is one more
            # (back to back, two signals may arrive as one); with none, it may have gone
            time.sleep(0.3 if in_flight else 0)
        assert server.proc.wait(20) == 0
        if slow is not None:
            slow.close()
    out = log.read_text(encoding="utf-8")
    assert "Đang dừng… / Stopping…" in out and out.rstrip().endswith("Đã dừng / Stopped.")
    assert ("Ctrl+C" in out) == (sig == signal.SIGINT)
    assert "Aborted" not in out and "Traceback" not in out and "ERROR" not in out, out[-3000:]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["sigterm", "ctrl-c"])
def test_a_stop_waits_for_a_stalled_client_no_longer_than_its_grace(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sig: int
) -> None:
    """A client that stops sending its push's body held a stopping server, deaf and holding its
    lock, until it hung up (found by a white-box probe; an export a client stops reading did
    the same). The requests in flight get `$COSO_STOP_GRACE` seconds (30 unless told)."""
    monkeypatch.setenv("COSO_STOP_GRACE", "1")
    log = tmp_path / "serve.log"
    db = tmp_path / "coso.db"
    token = cli_add_user(db, "can-bo", "officer", "01.00070")
    with running_server(db, log) as server:
        stalled = half_sent_push(server.port, token)
        started = time.monotonic()
        server.proc.send_signal(sig)
        assert server.proc.wait(20) == 0
        assert time.monotonic() - started < 8
        stalled.close()
    out = log.read_text(encoding="utf-8")
    assert out.rstrip().endswith("Đã dừng / Stopped.")
    # said in a line, not as an error with a traceback (found by a probe of the fix)
    assert "1 request(s) still in flight after 1 s cut short" in out
    assert "Traceback" not in out and "ERROR" not in out and "CancelledError" not in out, out


def test_a_grace_that_is_no_number_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COSO_STOP_GRACE", "nửa phút")
    done = coso("serve", "--db", tmp_path / "coso.db", "--port", str(free_port()))
    assert done.returncode == 2
    assert "COSO_STOP_GRACE" in done.stderr and "số giây" in done.stderr
    assert not (tmp_path / "coso.db").exists()  # refused before anything is made
