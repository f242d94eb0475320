"""End-to-end push throughput: a real `coso serve` on loopback, several concurrent phones
pushing batches of realistic submissions, beside raw `sqlite3.executemany` of the same rows.

    python -m bench.push [--seconds S] [--clients N] [--batch B] [--quick] [--json]

Each client is an officer's device (its own user and token, all in one commune). A batch
mixes new `hoa_giai` v2 cases (about 60%), edits of the device's own earlier cases (about
30%, parents = its last edit) and edits of cases shared with the next device (about 10%:
both devices edit the same records from the same heads, so the server merges concurrent
edits and lists conflicts). Every item is built by the client before the timer starts for
its request; the figure is submissions per second of wall time over all clients, with p50
and p99 latency of one batch request.

The baseline inserts the very rows that were pushed, one row per submission, into a bare
table with Python's `sqlite3` (`executemany`, WAL, `synchronous=FULL`, one transaction per
batch), on the same disk, after the server has stopped. Target: end-to-end at least 1/4 of
the raw rate (issue 3).

Then the same phones push the same kind of batches, for the same time, to a bare litestar
endpoint that only decodes and inserts (`bench/bare.py`): the ceiling of the HTTP stack and
these clients on this machine, before any of coso's own work (validation, merge, change
sequence, audit, auth); and to the storage floor (`bench/bare.py --floor`): the rows coso
must write (the submission, the record's state with its change sequence, the audit), with
none of its checks.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import sqlite3
import tempfile
import threading
import time
from collections import Counter
from itertools import zip_longest
from pathlib import Path
from typing import Any

import httpx
import msgspec

from bench.bare import bare_server
from bench.common import FORM, VERSION, emit, percentile
from tests.support import cli_add_user, hoa_giai, now, running_server, uuid7

AREA = "01.00070"  # Phường Hoàn Kiếm, Thành phố Hà Nội
TARGET = 0.25
SHARE_NEW, SHARE_OWN = 0.60, 0.30  # the rest edits records shared with another device
SHARED_PER_PAIR = 300


class Result(msgspec.Struct):
    id: str | None
    status: str


class Response(msgspec.Struct):
    results: list[Result]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Device:
    """One phone: makes batches of items as JSON bytes, remembers what it created."""

    def __init__(self, n: int, token: str, pool: list[bytes], shared: list[str]) -> None:
        self.device_id = f"bench-phone-{n}"
        self.token = token
        self.rng = random.Random(n)
        self.pool = pool
        self.own: list[list[str]] = []  # [record_id, last submission id]
        self.shared = {rid: rid for rid in shared}  # record_id -> my last submission on it
        self.shared_order = list(shared)
        self.next_shared = 0
        self.sent: list[bytes] = []

    def item(
        self, record_id: str | None, parent: str | None, captured_at: str
    ) -> tuple[bytes, str]:
        sid = uuid7(self.rng)
        rid = b"null" if record_id is None else b'"' + record_id.encode() + b'"'
        parents = b"[]" if parent is None else b'["' + parent.encode() + b'"]'
        return b"".join(
            (
                b'{"id":"',
                sid.encode(),
                b'","form_id":"',
                FORM.encode(),
                b'","form_version":',
                str(VERSION).encode(),
                b',"record_id":',
                rid,
                b',"parents":',
                parents,
                b',"captured_at":"',
                captured_at.encode(),
                b'","data":',
                self.rng.choice(self.pool),
                b"}",
            )
        ), sid

    def batch(self, size: int) -> bytes:
        captured_at = now()
        items = []
        for _ in range(size):
            roll = self.rng.random()
            if roll >= SHARE_NEW + SHARE_OWN and self.shared_order:
                rid = self.shared_order[self.next_shared % len(self.shared_order)]
                self.next_shared += 1
                raw, sid = self.item(rid, self.shared[rid], captured_at)
                self.shared[rid] = sid
            elif roll >= SHARE_NEW and self.own:
                entry = self.rng.choice(self.own)
                raw, sid = self.item(entry[0], entry[1], captured_at)
                entry[1] = sid
            else:
                raw, sid = self.item(None, None, captured_at)
                self.own.append([sid, sid])
            items.append(raw)
        body = b"".join(
            (
                b'{"device_id":"',
                self.device_id.encode(),
                b'","submissions":[',
                b",".join(items),
                b"]}",
            )
        )
        return body


def post(client: httpx.Client, token: str, body: bytes) -> Counter[str]:
    r = client.post(
        "/api/v1/sync/push",
        content=body,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    if r.status_code != 200:
        raise RuntimeError(f"push answered {r.status_code}: {r.text[:500]}")
    return Counter(res.status for res in msgspec.json.decode(r.content, type=Response).results)


def seed_shared(url: str, token: str, pool: list[bytes], pairs: int) -> list[list[str]]:
    """Create the records each pair of devices will edit concurrently; their ids per pair."""
    seeder = Device(10_000, token, pool, [])
    seeder.device_id = "bench-seed"
    roots: list[list[str]] = []
    with httpx.Client(base_url=url, timeout=120) as client:
        for _ in range(pairs):
            ids: list[str] = []
            for start in range(0, SHARED_PER_PAIR, 100):
                body = seeder.batch(min(100, SHARED_PER_PAIR - start))
                counts = post(client, token, body)
                assert counts["accepted"] == min(100, SHARED_PER_PAIR - start), counts
                ids += [r[0] for r in seeder.own[-min(100, SHARED_PER_PAIR - start) :]]
            roots.append(ids)
    return roots


def run_clients(
    url: str, pid: int, devices: list[Device], seconds: float, batch: int
) -> tuple[int, float, list[float], Counter[str], float]:
    """Every device pushes batches for `seconds`; (items, wall seconds, latencies, statuses,
    CPU seconds the server process used meanwhile)."""
    latencies: list[float] = []
    statuses: Counter[str] = Counter()
    errors: list[BaseException] = []
    lock = threading.Lock()
    clock = {"t0": 0.0, "cpu0": 0.0, "stop": 0.0}

    def start() -> None:  # run once, before any thread passes the gate
        clock["t0"], clock["cpu0"] = time.perf_counter(), cpu_seconds(pid)
        clock["stop"] = clock["t0"] + seconds

    start_gate = threading.Barrier(len(devices) + 1, action=start)

    def work(device: Device) -> None:
        mine: list[float] = []
        counts: Counter[str] = Counter()
        try:
            with httpx.Client(base_url=url, timeout=120) as client:
                post(client, device.token, device.batch(batch))  # warm the connection
                start_gate.wait()
                while time.perf_counter() < clock["stop"]:
                    body = device.batch(batch)
                    device.sent.append(body)
                    t0 = time.perf_counter()
                    counts += post(client, device.token, body)
                    mine.append(time.perf_counter() - t0)
        except BaseException as exc:
            errors.append(exc)
            with contextlib.suppress(threading.BrokenBarrierError):
                start_gate.abort()
        with lock:
            latencies.extend(mine)
            statuses.update(counts)

    threads = [threading.Thread(target=work, args=(d,)) for d in devices]
    for t in threads:
        t.start()
    with contextlib.suppress(threading.BrokenBarrierError):  # a client failed: raised below
        start_gate.wait()
    for t in threads:
        t.join()
    wall, cpu = time.perf_counter() - clock["t0"], cpu_seconds(pid) - clock["cpu0"]
    if errors:
        raise errors[0]
    return sum(statuses.values()), wall, latencies, statuses, cpu


def raw_rate(path: Path, bodies: list[bytes]) -> float:
    """Rows/s of bare `executemany` of the pushed rows: WAL, synchronous=FULL, one
    transaction per batch."""
    rows = []
    for body in bodies:
        env = msgspec.json.decode(body)
        rows.append(
            [
                (
                    s["id"],
                    s["record_id"] or s["id"],
                    s["form_id"],
                    s["form_version"],
                    msgspec.json.encode(s["parents"]).decode(),
                    s["captured_at"],
                    msgspec.json.encode(s["data"]).decode(),
                )
                for s in env["submissions"]
            ]
        )
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute(
        "CREATE TABLE submissions (id TEXT PRIMARY KEY, record_id TEXT NOT NULL, "
        "form_id TEXT NOT NULL, form_version INTEGER NOT NULL, parents TEXT NOT NULL, "
        "captured_at TEXT NOT NULL, data TEXT NOT NULL)"
    )
    n = 0
    t0 = time.perf_counter()
    for chunk in rows:
        conn.execute("BEGIN")
        conn.executemany("INSERT INTO submissions VALUES (?, ?, ?, ?, ?, ?, ?)", chunk)
        conn.execute("COMMIT")
        n += len(chunk)
    elapsed = time.perf_counter() - t0
    conn.close()
    return n / elapsed


def results(
    quick: bool = False, seconds: float | None = None, clients: int = 4, batch: int = 100
) -> list[dict[str, Any]]:
    seconds = seconds if seconds is not None else (5.0 if quick else 20.0)
    rng = random.Random(3)
    pool = [msgspec.json.encode(hoa_giai(rng)) for _ in range(512)]
    with tempfile.TemporaryDirectory(prefix="coso-bench-") as tmp:
        db = Path(tmp) / "coso.db"
        tokens = [cli_add_user(db, f"bench-officer-{i}", "officer", AREA) for i in range(clients)]
        with running_server(db, db.with_suffix(".log")) as srv:
            pairs = seed_shared(srv.url, tokens[0], pool, clients if clients > 1 else 0)
            devices = [
                Device(
                    i,
                    tokens[i],
                    pool,
                    (pairs[i] + pairs[i - 1]) if clients > 1 else [],
                )
                for i in range(clients)
            ]
            items, wall, latencies, statuses, server_cpu = run_clients(
                srv.url, srv.pid, devices, seconds, batch
            )
        # the same phones (same seeds, same batches) against the bare endpoint: the stack's
        # own ceiling, with nothing of coso's work (bench/bare.py)
        with bare_server(Path(tmp) / "bare.db", Path(tmp) / "bare.log") as (url, pid):
            twins = [Device(i, "-", pool, d.shared_order) for i, d in enumerate(devices)]
            bare_items, bare_wall, _, _, bare_cpu = run_clients(url, pid, twins, seconds, batch)
        # and against the storage floor: the writes coso must make, none of its checks
        with bare_server(Path(tmp) / "floor.db", Path(tmp) / "floor.log", floor=True) as (
            url,
            pid,
        ):
            twins = [Device(i, "-", pool, d.shared_order) for i, d in enumerate(devices)]
            floor_items, floor_wall, _, _, floor_cpu = run_clients(url, pid, twins, seconds, batch)
        # the timed batches, in about the order they were sent, at most 60k rows
        bodies = [b for group in zip_longest(*(d.sent for d in devices)) for b in group if b]
        db_size = sum(f.stat().st_size for f in Path(tmp).glob("coso.db*"))
        raw = raw_rate(Path(tmp) / "raw.db", bodies[: max(1, 60_000 // batch)])
    rate = items / wall
    ratio = rate / raw
    bare = bare_items / bare_wall
    floor = floor_items / floor_wall
    return [
        {
            "benchmark": f"push: {clients} clients x batches of {batch}, HTTP loopback",
            "figure": rate,
            "baseline": raw,
            "unit": "submissions/s",
            "baseline_name": "sqlite3 executemany, same rows, WAL, synchronous=FULL, 1 txn/batch",
            "note": (
                f"p50 {percentile(latencies, 50) * 1000:.0f} ms, "
                f"p99 {percentile(latencies, 99) * 1000:.0f} ms per batch; "
                f"target ≥ {TARGET:.2f} of raw: {'met' if ratio >= TARGET else 'NOT met'}; "
                + ", ".join(f"{k} {v}" for k, v in sorted(statuses.items()))
                + f"; server CPU {server_cpu / items * 1e6:.0f} us per submission"
                + f" ({server_cpu / wall:.2f} cores); {wall:.1f} s, db {db_size / 1e6:.0f} MB; "
                + f"bare litestar decode+insert endpoint, same clients: {bare:,.0f}/s "
                + f"({bare / raw:.3f} of raw, server CPU {bare_cpu / bare_items * 1e6:.0f} us); "
                + f"storage floor (coso's writes, none of its checks): {floor:,.0f}/s "
                + f"({floor / raw:.3f} of raw, server CPU {floor_cpu / floor_items * 1e6:.0f} us)"
            ),
            "floor": floor,
            "floor_cpu_us": floor_cpu / floor_items * 1e6,
            "bare": bare,
            "bare_cpu_us": bare_cpu / bare_items * 1e6,
            "server_cpu_us": server_cpu / items * 1e6,
            "p50_ms": percentile(latencies, 50) * 1000,
            "p99_ms": percentile(latencies, 99) * 1000,
            "statuses": dict(statuses),
        }
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=None, help="timed run (20, quick 5)")
    parser.add_argument("--clients", type=int, default=4, help="concurrent devices (4)")
    parser.add_argument("--batch", type=int, default=100, help="submissions per request (100)")
    parser.add_argument("--quick", action="store_true", help="a short run")
    parser.add_argument("--json", action="store_true", help="print the rows as one JSON line")
    args = parser.parse_args()
    rows = results(args.quick, args.seconds, args.clients, args.batch)
    if args.json:
        emit(rows, True)
        return
    r = rows[0]
    print(f"{r['benchmark']}")
    print(f"  end to end: {r['figure']:,.0f} {r['unit']}")
    print(f"  latency:    p50 {r['p50_ms']:.0f} ms, p99 {r['p99_ms']:.0f} ms per batch")
    print(f"  statuses:   {r['statuses']}")
    print(f"  server CPU: {r['server_cpu_us']:.0f} us per submission")
    print(f"  raw insert: {r['baseline']:,.0f} rows/s ({r['baseline_name']})")
    ratio = r["figure"] / r["baseline"]
    verdict = "met" if ratio >= TARGET else "NOT met"
    print(f"  ratio:      {ratio:.3f} (target ≥ {TARGET:.2f}: {verdict})")
    print(
        f"  bare stack: {r['bare']:,.0f} submissions/s, {r['bare'] / r['baseline']:.3f} of raw,"
        f" server CPU {r['bare_cpu_us']:.0f} us per submission (bench/bare.py: litestar decode"
        " + executemany only, same clients and batches)"
    )
    print(
        f"  floor:      {r['floor']:,.0f} submissions/s, {r['floor'] / r['baseline']:.3f} of raw,"
        f" server CPU {r['floor_cpu_us']:.0f} us per submission (bench/bare.py --floor: the"
        " rows coso must write, submission + record state with its change sequence + audit,"
        " none of its checks)"
    )


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
