"""The HTTP stack's own ceiling for `bench.push`: a bare litestar endpoint on uvicorn (as
`coso serve` runs it) that decodes a push batch (`data` as a dict, as MEASURED.md's minimal
endpoint does) and inserts one row per submission with `executemany`, one transaction per
request, WAL and `synchronous=FULL`. No validation, no merge, no change sequence, no audit,
no auth. Driven by the same clients with the same batches, it shows how much of the raw
insert rate is left once HTTP, JSON and Python's request handling are paid, before coso
does any of its own work.

    python -m bench.bare --db PATH --port PORT     (the server; bench.push starts it)
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


def create_app(db: Path) -> Any:
    from litestar import Litestar, Request, get, post

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

    @get("/healthz")
    async def healthz(request: Request[Any, Any, Any]) -> str:
        return "ok"

    return Litestar([push, healthz])


@contextlib.contextmanager
def bare_server(db: Path, log: Path) -> Iterator[tuple[str, int]]:
    """The bare server in a subprocess on a free loopback port: (url, pid) once it answers."""
    port = free_port()
    cmd = [sys.executable, "-m", "bench.bare", "--db", str(db), "--port", str(port)]
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
    args = parser.parse_args()
    uvicorn.run(
        create_app(args.db),
        host="127.0.0.1",
        port=args.port,
        log_level="warning",
        access_log=False,
        timeout_keep_alive=10,
    )


if __name__ == "__main__":
    main()
