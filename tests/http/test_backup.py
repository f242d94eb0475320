"""Backup and restore with the real commands: `coso backup` taken while a `coso serve`
takes pushes from several phones, then `coso restore` in place of the database.

The restored database passes `PRAGMA integrity_check`, holds every submission the server
acknowledged before the backup began (and the record of each), and has a new identity: a
cursor handed out before gets 409 `reset_required`, and pulling from the start works.
"""

from __future__ import annotations

import fcntl
import random
import sqlite3
import subprocess
import threading
import time
from contextlib import closing
from pathlib import Path

import httpx
import pytest

from tests.support import (
    assert_problem,
    cli_add_user,
    coso_command,
    hoa_giai,
    run_coso,
    running_server,
    submission,
)
from tests.support import (
    run_cli as run,
)

PHONES = 4
BATCH = 10


class Phones:
    """Threads pushing new records in batches; each acknowledged id with the time it came."""

    def __init__(self, url: str, token: str) -> None:
        self.url, self.token = url, token
        self.acked: list[tuple[float, str]] = []
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [
            threading.Thread(target=self._run, args=(n,), daemon=True) for n in range(PHONES)
        ]

    def _run(self, n: int) -> None:
        rng = random.Random(n)
        headers = {"Authorization": f"Bearer {self.token}"}
        with httpx.Client(base_url=self.url, headers=headers, timeout=60) as client:
            while not self._stop.is_set():
                items = [
                    submission("hoa_giai", hoa_giai(rng), version=2, rng=rng) for _ in range(BATCH)
                ]
                r = client.post(
                    "/api/v1/sync/push", json={"device_id": f"phone-{n}", "submissions": items}
                )
                at = time.monotonic()
                if r.status_code != 200:
                    self.errors.append(f"{r.status_code} {r.text[:200]}")
                    continue
                with self._lock:
                    for result in r.json()["results"]:
                        if result["status"] != "accepted":
                            self.errors.append(str(result))
                        self.acked.append((at, result["id"]))

    def __enter__(self) -> Phones:
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(60)

    def count(self) -> int:
        with self._lock:
            return len(self.acked)

    def before(self, moment: float) -> set[str]:
        with self._lock:
            return {sid for at, sid in self.acked if at < moment}


def wait_for(phones: Phones, count: int) -> None:
    deadline = time.monotonic() + 60
    while phones.count() < count:
        assert not phones.errors, phones.errors[:3]
        assert time.monotonic() < deadline, "the phones are not getting through"
        time.sleep(0.05)


@pytest.mark.slow
def test_a_backup_under_write_load_restores_whole_with_a_new_identity(tmp_path: Path) -> None:
    db, backup, log = tmp_path / "coso.db", tmp_path / "backup.db", tmp_path / "server.log"
    token = cli_add_user(db, "can-bo", "officer", "01.00070")
    auth = {"Authorization": f"Bearer {token}"}

    # a clean stop (SIGTERM) before the restore: the store closes, the WAL is folded in
    with running_server(db, log, stop_timeout=20) as srv:
        url = srv.url
        old_id = httpx.get(f"{url}/healthz", timeout=30).json()["database"]
        with Phones(url, token) as phones:
            wait_for(phones, 10 * BATCH)  # the load is on
            pulled = httpx.get(f"{url}/api/v1/sync/pull?limit=5", headers=auth, timeout=30)
            old_cursor = pulled.json()["next"]
            began = time.monotonic()
            out = run_coso("backup", backup, "--db", db)
            ended = time.monotonic()
            wait_for(phones, phones.count() + 10 * BATCH)  # and stayed on after
        assert not phones.errors, phones.errors[:3]
        must_have = phones.before(began)
        during = phones.before(ended) - must_have
        after = {sid for _, sid in phones.acked} - must_have - during
    assert "backup" in out
    assert len(must_have) >= 10 * BATCH and after

    # the operator's restore: the server is stopped, the backup goes in place of coso.db
    restored = run_coso("restore", backup, "--db", db)
    assert "new database id / mã cơ sở dữ liệu mới" in restored

    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        stored = {r[0] for r in conn.execute("SELECT id FROM submissions")}
        records = {r[0] for r in conn.execute("SELECT record_id FROM records")}
        new_id = conn.execute("SELECT value FROM meta WHERE key = 'db_id'").fetchone()[0]
    finally:
        conn.close()
    assert must_have <= stored, f"{len(must_have - stored)} acknowledged submissions lost"
    assert must_have <= records  # each was a new record, with its merged state
    assert stored <= must_have | during | after  # nothing but what the phones pushed
    print(
        f"acknowledged before the backup {len(must_have)}, during {len(during)}, after "
        f"{len(after)}; in the backup {len(stored)}; backup took {ended - began:.2f} s"
    )
    assert new_id != old_id

    with running_server(db, log, stop_timeout=20) as srv:
        url = srv.url
        assert httpx.get(f"{url}/healthz", timeout=30).json()["database"] == new_id
        r = httpx.get(
            f"{url}/api/v1/sync/pull", params={"since": old_cursor}, headers=auth, timeout=30
        )
        assert assert_problem(r, 409)["code"] == "reset_required"
        seen: set[str] = set()
        since = ""
        while True:  # the client's answer to reset_required: pull again from the start
            page = httpx.get(
                f"{url}/api/v1/sync/pull",
                params={"since": since, "limit": 1000},
                headers=auth,
                timeout=30,
            ).json()
            seen |= {rec["record_id"] for rec in page["records"]}
            since = page["next"]
            if not page["more"]:
                break
        assert seen == records


# --- the commands' refusals (in-process, fast) -------------------------------------------


def test_backup_never_overwrites_a_file(live: Path, tmp_path: Path) -> None:
    kept = tmp_path / "kept.db"
    kept.write_bytes(b"yesterday's backup")
    result = run("backup", kept, "--db", live)
    assert result.exit_code == 1
    assert "exists" in result.output
    assert kept.read_bytes() == b"yesterday's backup"


@pytest.mark.slow
def test_a_backup_killed_half_way_leaves_no_file_that_looks_whole(
    live: Path, tmp_path: Path
) -> None:
    """A `coso backup` killed half-way (a reboot, `timeout`, a nightly job's SIGKILL) left a
    full-size FILE that was no backup, found out only when it was needed. It writes FILE.part
    and renames it when whole; the next backup takes a FILE.part left so over."""
    with closing(sqlite3.connect(live)) as conn:  # a database a backup takes a moment to copy
        conn.execute("CREATE TABLE ballast (x BLOB)")
        conn.executemany("INSERT INTO ballast VALUES (randomblob(1000000))", [()] * 200)
        conn.commit()
    target = tmp_path / "nightly.db"
    part = tmp_path / "nightly.db.part"
    proc = subprocess.Popen(
        [*coso_command(), "backup", str(target), "--db", str(live)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    while not part.exists() and proc.poll() is None:
        time.sleep(0.001)
    proc.kill()
    proc.wait()
    assert part.exists(), "the backup ended before it could be killed: make the ballast larger"
    assert not target.exists()  # nothing a nightly job, or a person, would take for a backup
    run_coso("backup", target, "--db", live)
    assert not part.exists()
    with closing(sqlite3.connect(target)) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert conn.execute("SELECT count(*) FROM ballast").fetchone() == (200,)


def test_a_backup_to_a_file_another_backup_is_writing_is_refused_and_spoils_nothing(
    live: Path, tmp_path: Path
) -> None:
    """Two backups to one FILE at once (a cron job's and an operator's) wrote one FILE.part
    together: both failed, with "disk I/O error" and "attempt to write a readonly database"
    (found by a probe). The second is told another backup is writing it."""
    target = tmp_path / "nightly.db"
    part = tmp_path / "nightly.db.part"
    with part.open("ab") as held:  # a backup writing it now
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        held.write(b"half a backup")
        held.flush()
        result = run("backup", target, "--db", live)
        assert result.exit_code == 1
        assert "another backup is writing" in result.output
        assert "một lệnh sao lưu khác đang ghi" in result.output
        assert part.read_bytes() == b"half a backup" and not target.exists()

    # Started together, they make one whole backup, whichever writes it; neither fails
    # with a database error.
    with closing(sqlite3.connect(live)) as conn:  # a database a backup takes a moment to copy
        conn.execute("CREATE TABLE ballast (x BLOB)")
        conn.executemany("INSERT INTO ballast VALUES (randomblob(100000))", [()] * 200)
        conn.commit()
    part.unlink()
    for _ in range(3):
        procs = [
            subprocess.Popen(
                [*coso_command(), "backup", str(target), "--db", str(live)],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(2)
        ]
        said = [p.communicate(timeout=120) for p in procs]
        codes = [p.returncode for p in procs]
        assert 0 in codes, said
        for (_, err), code in zip(said, codes, strict=True):
            assert code == 0 or "another backup is writing" in err or "exists" in err, err
        with closing(sqlite3.connect(target)) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
            assert conn.execute("SELECT count(*) FROM ballast").fetchone() == (200,)
        assert not part.exists()
        target.unlink()


def test_restore_refuses_what_is_not_a_coso_backup(live: Path, tmp_path: Path) -> None:
    before = live.read_bytes()
    junk = tmp_path / "junk.db"
    junk.write_bytes(random.Random(1).randbytes(8192))
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE t (x)")
    conn.close()
    for bad, why in ((junk, "not a SQLite database"), (other, "not a coso database")):
        result = run("restore", bad, "--db", live)
        assert result.exit_code == 1, result.output
        assert why in result.output  # a message, not a traceback
        assert result.exception is None or isinstance(result.exception, SystemExit)
    assert live.read_bytes() == before


def test_restore_reads_a_backup_whatever_its_file_name(live: Path, tmp_path: Path) -> None:
    copy = tmp_path / "coso #2 ?.db"  # characters a SQLite URI would misread
    assert run("backup", copy, "--db", live).exit_code == 0
    target = tmp_path / "restored.db"
    result = run("restore", copy, "--db", target)
    assert result.exit_code == 0, result.output
    with sqlite3.connect(target) as conn:
        assert conn.execute("SELECT name FROM users").fetchall() == [("a",)]
    conn.close()


def test_a_backup_served_as_it_is_resets_the_clients_cursors(live: Path, tmp_path: Path) -> None:
    """An operator moving to another machine serves the backup file itself instead of
    restoring it: with the old database's identity, a client's cursor from past what the
    backup holds would skip the changes made there under the same change numbers."""
    copy = tmp_path / "copy.db"
    assert run("backup", copy, "--db", live).exit_code == 0
    ids = []
    for path in (live, copy):
        with closing(sqlite3.connect(path)) as conn:
            ids.append(conn.execute("SELECT value FROM meta WHERE key = 'db_id'").fetchone()[0])
            assert conn.execute("SELECT name FROM users").fetchall() == [("a",)]  # all of it
    assert ids[0] != ids[1] and all(ids)
