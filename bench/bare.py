"""The HTTP stack's own ceiling for `bench.push`: a bare litestar endpoint on uvicorn (as
`coso serve` runs it) that decodes a push batch (`data` as a dict, as MEASURED.md's minimal
endpoint does) and inserts one row per submission with `executemany`, one transaction per
request, WAL and `synchronous=FULL`. No validation, no merge, no change sequence, no audit,
no auth. Driven by the same clients with the same batches, it shows how much of the raw
insert rate is left once HTTP, JSON and Python's request handling are paid, before coso
does any of its own work.

    python -m bench.bare --db PATH --port PORT [--floor]    (bench.push starts it)

`--floor`: the storage floor instead, the writes issue 3 asks of coso and no more, with none
of its checks: each submission kept (a row, found by id and by record), each record's state
kept with the next change sequence value (a row, found by record, by change and by form and
change), one audit row per batch. Still no validation, no merge (the state is the item's
data), no auth. What that reaches is a ceiling no version of coso with this storage passes.
"""

from __future__ import annotations

import argparse
import contextlib
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import msgspec

from tests.support import ROOT, free_port


class Item(msgspec.Struct):
    id: str
    form_id: str
    form_version: int
    captured_at: str
    data: dict[str, Any]
    record_id: str | None = None
    parents: list[str] = []


class Envelope(msgspec.Struct):
    device_id: str
    submissions: list[Item]


class Result(msgspec.Struct):
    id: str
    status: str


class Answer(msgspec.Struct):
    results: list[Result]


FLOOR_SCHEMA = """
CREATE TABLE IF NOT EXISTS submissions (id TEXT PRIMARY KEY, record_id TEXT NOT NULL,
    form_id TEXT NOT NULL, form_version INTEGER NOT NULL, parents TEXT NOT NULL,
    captured_at TEXT NOT NULL, data TEXT NOT NULL, device_id TEXT NOT NULL,
    received_at TEXT NOT NULL, content_hash TEXT NOT NULL) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS submissions_record ON submissions (record_id);
CREATE TABLE IF NOT EXISTS records (record_id TEXT PRIMARY KEY, form_id TEXT NOT NULL,
    change_seq INTEGER NOT NULL UNIQUE, doc TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS records_form_seq ON records (form_id, change_seq);
CREATE TABLE IF NOT EXISTS audit (seq INTEGER PRIMARY KEY, at TEXT NOT NULL,
    device_id TEXT, detail TEXT NOT NULL);
"""


def _app(push: Any) -> Any:
    """A litestar app of the `push` handler and a /healthz for bare_server() to wait on."""
    from litestar import Litestar, Request, get

    @get("/healthz")
    async def healthz(request: Request[Any, Any, Any]) -> str:
        return "ok"

    return Litestar([push, healthz])


def create_floor_app(db: Path) -> Any:
    """The storage floor (`--floor`, see above)."""
    from litestar import post

    conn = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    conn.executescript(FLOOR_SCHEMA)
    lock = threading.Lock()
    encode = msgspec.json.encode

    @post("/api/v1/sync/push", status_code=200, sync_to_thread=True)
    def push(body: bytes) -> Answer:
        env = msgspec.json.decode(body, type=RawEnvelope)
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        subs, states = [], []
        for s in env.submissions:
            data = bytes(s.data).decode()
            rid = s.record_id or s.id
            subs.append(
                (s.id, rid, s.form_id, s.form_version, encode(s.parents).decode(),
                 s.captured_at, data, env.device_id, now, s.id[:32])
            )  # fmt: skip
            states.append((rid, s.form_id, data))
        with lock:
            conn.execute("BEGIN")
            seq = conn.execute("SELECT coalesce(max(change_seq), 0) FROM records").fetchone()[0]
            conn.executemany("INSERT INTO submissions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", subs)
            conn.executemany(
                "INSERT INTO records VALUES (?, ?, ?, ?) ON CONFLICT (record_id) DO UPDATE SET "
                "change_seq = excluded.change_seq, doc = excluded.doc",
                [(rid, form, seq + i, doc) for i, (rid, form, doc) in enumerate(states, 1)],
            )
            detail = encode([[s.id, "accepted"] for s in env.submissions]).decode()
            conn.execute("INSERT INTO audit (at, device_id, detail) VALUES (?, ?, ?)",
                         (now, env.device_id, detail))  # fmt: skip
            conn.execute("COMMIT")
        return Answer([Result(s.id, "accepted") for s in env.submissions])

    return _app(push)


class RawItem(msgspec.Struct):
    id: str
    form_id: str
    form_version: int
    captured_at: str
    data: msgspec.Raw
    record_id: str | None = None
    parents: list[str] = []


class RawEnvelope(msgspec.Struct):
    device_id: str
    submissions: list[RawItem]


def create_app(db: Path) -> Any:
    from litestar import post

    conn = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute(
        "CREATE TABLE IF NOT EXISTS submissions (id TEXT PRIMARY KEY, record_id TEXT NOT NULL, "
        "form_id TEXT NOT NULL, form_version INTEGER NOT NULL, parents TEXT NOT NULL, "
        "captured_at TEXT NOT NULL, data TEXT NOT NULL)"
    )
    lock = threading.Lock()
    encode = msgspec.json.encode

    @post("/api/v1/sync/push", status_code=200, sync_to_thread=True)
    def push(body: bytes) -> Answer:
        env = msgspec.json.decode(body, type=Envelope)
        rows = [
            (
                s.id,
                s.record_id or s.id,
                s.form_id,
                s.form_version,
                encode(s.parents).decode(),
                s.captured_at,
                encode(s.data).decode(),
            )
            for s in env.submissions
        ]
        with lock:
            conn.execute("BEGIN")
            conn.executemany("INSERT INTO submissions VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
            conn.execute("COMMIT")
        return Answer([Result(s.id, "accepted") for s in env.submissions])

    return _app(push)


@contextlib.contextmanager
def bare_server(db: Path, log: Path, *, floor: bool = False) -> Iterator[tuple[str, int]]:
    """The bare server (`floor`: the storage floor) in a subprocess on a free loopback port:
    (url, pid) once it answers."""
    port = free_port()
    cmd = [sys.executable, "-m", "bench.bare", "--db", str(db), "--port", str(port)]
    cmd += ["--floor"] if floor else []
    with log.open("ab") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        with httpx.Client(timeout=1) as probe:
            while True:
                with contextlib.suppress(httpx.HTTPError):
                    if probe.get(f"{url}/healthz").status_code == 200:
                        break
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"bench.bare did not start: {log.read_text()[-2000:]}")
                time.sleep(0.05)
        yield url, proc.pid
    finally:
        proc.terminate()
        proc.wait(10)


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--floor", action="store_true", help="the storage floor endpoint")
    args = parser.parse_args()
    uvicorn.run(
        (create_floor_app if args.floor else create_app)(args.db),
        host="127.0.0.1",
        port=args.port,
        log_level="warning",
        access_log=False,
        timeout_keep_alive=10,
    )


if __name__ == "__main__":
    main()
