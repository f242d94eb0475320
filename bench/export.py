"""Export and pull at scale: a real `coso serve` over a database of 100k and 1M realistic
mediation cases, beside a baseline of plain `SELECT doc` + `msgspec.json.encode`.

    python -m bench.export [--records 100000 1000000] [--quick] [--pulls 200] [--json]

The records are written straight into the `records` table through `Store.write()` and
`Writer.upsert_records`, as the merge engine would store them (a `protocol.Record` per case:
`hoa_giai` v2 data from `tests.support.hoa_giai`, 1-4 revisions, 2% with an open conflict,
spread over 30 communes of Hà Nội). Pushing a million cases through the API would take about
an hour on this machine and measure push, not export; `bench.push` measures push.

For each size and format a fresh `coso serve` exports every case as a supervisor of the
province (`GET /api/v1/forms/hoa_giai/export`, read with httpx as a stream, `Accept-Encoding:
identity`); the figures are rows/s, the time to the first byte, and the server process's peak
RSS (`VmHWM` in /proc/PID/status), which must stay within 1.5x from the smallest size to the
largest (memory flat). The baseline, in its own process over the same database, reads the same
rows with `SELECT doc ... ORDER BY change_seq` and encodes each with `msgspec.json.encode`
after decoding it (JSONL with no columns), and once more passing the stored text through.
Pull: p50/p99 of `GET /api/v1/records?limit=1000` from random cursors at the largest size.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import msgspec

from bench.common import FORM, VERSION, emit, percentile
from server import areas, cursor
from server.app import ROOT
from server.auth import add_user
from server.catalog import Catalog, publish_files, schema_files
from server.protocol import Conflict, ConflictValue, Record
from server.store import Store
from server.store_schema import RecordRow
from tests.support import hoa_giai, running_server, uuid7

FORMATS = ("csv", "xlsx", "jsonl")
MEMORY_LIMIT = 1.5
BATCH = 10_000
PROVINCE = "01"  # Thành phố Hà Nội


def communes(rng: random.Random, n: int = 30) -> list[str]:
    """`n` official communes and wards of the province."""
    found = sorted(p for p, _ in areas.search("Hà Nội", limit=10_000) if p.startswith("01."))
    return rng.sample(found, n)


def case(rng: random.Random, places: list[str], at: str) -> Record:
    """One mediation case as the merge engine stores it."""
    rid = uuid7(rng)
    data = hoa_giai(rng)
    revision = rng.choice((1, 1, 1, 2, 2, 3, 4))
    if revision > 1:
        data["trang_thai"] = rng.choice(["hoa_giai_thanh", "hoa_giai_khong_thanh"])
        data["ket_qua"] = (
            "Hai bên thống nhất mở lại lối đi chung rộng 1,2 m; cam kết không tái diễn."
        )
        data["ngay_theo_doi_tiep"] = f"2026-12-{rng.randint(1, 28):02d}"
        data["muc_do_phuc_tap"] = rng.choice(["don_gian", "phuc_tap"])
    heads = [uuid7(rng)] if revision > 1 else [rid]
    conflicts = []
    if rng.random() < 0.02:
        heads.append(uuid7(rng))
        conflicts = [
            Conflict(
                "trang_thai",
                [
                    ConflictValue("dang_hoa_giai", heads[0], "phone-a", at),
                    ConflictValue("hoa_giai_thanh", heads[1], "phone-b", at),
                ],
            )
        ]
    return Record(
        record_id=rid,
        form_id=FORM,
        form_version=VERSION,
        area=rng.choice(places),
        data=data,
        heads=sorted(heads),
        revision=revision,
        conflicts=conflicts,
        updated_at=at,
        created_at=at,
    )


def grow(store: Store, target: int, rng: random.Random, places: list[str]) -> float:
    """Add cases until the form has `target`; seconds taken."""
    have = store.count_records(FORM, "")
    started = time.perf_counter()
    at = "2026-11-20T08:30:00.000Z"
    encode = msgspec.json.encode
    while have < target:
        n = min(BATCH, target - have)
        records = [case(rng, places, at) for _ in range(n)]
        with store.write() as w:
            w.upsert_records(
                [
                    RecordRow(
                        r.record_id,
                        r.form_id,
                        r.area,
                        w.next_change_seq(),
                        int(bool(r.conflicts)),
                        encode(r).decode(),
                    )
                    for r in records
                ]
            )
        have += n
        print(f"\r  {have:,} / {target:,} records written", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    return time.perf_counter() - started


def status(pid: int, key: str) -> int:
    """A figure of /proc/PID/status in bytes (VmRSS, VmHWM)."""
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    raise KeyError(key)


def export_once(db: Path, token: str, fmt: str, expected: int) -> dict[str, Any]:
    """One export through a fresh server: rows/s, first byte, bytes, RSS before and peak."""
    headers = {"Authorization": f"Bearer {token}", "Accept-Encoding": "identity"}
    log = db.with_suffix(".log")
    with running_server(db, log) as srv, httpx.Client(base_url=srv.url, timeout=3600) as client:
        assert client.get("/api/v1/me", headers=headers).status_code == 200  # warm
        before = status(srv.pid, "VmRSS")
        size = newlines = 0
        first = None
        started = time.perf_counter()
        with client.stream(
            "GET", f"/api/v1/forms/{FORM}/export", params={"format": fmt}, headers=headers
        ) as r:
            if r.status_code != 200:
                raise RuntimeError(f"export answered {r.status_code}: {r.read()[:300]!r}")
            for chunk in r.iter_raw():
                if first is None:
                    first = time.perf_counter() - started
                size += len(chunk)
                newlines += chunk.count(b"\n")
        elapsed = time.perf_counter() - started
        peak = status(srv.pid, "VmHWM")
    if fmt != "xlsx":  # CSV: a header line and one line per case (no newlines in the data)
        rows = newlines - (fmt == "csv")
        if rows != expected:
            raise RuntimeError(f"{fmt}: {rows} rows exported, {expected} expected")
    return {
        "format": fmt,
        "rows_per_s": expected / elapsed,
        "seconds": elapsed,
        "first_byte_s": first or elapsed,
        "bytes": size,
        "rss_before": before,
        "rss_peak": peak,
    }


BASELINE = """
import sqlite3, sys, time, msgspec
db, form, mode = sys.argv[1], sys.argv[2], sys.argv[3]
conn = sqlite3.connect(db)
encode, decode = msgspec.json.encode, msgspec.json.decode
n = size = 0
t = time.perf_counter()
for (doc,) in conn.execute(
    "SELECT doc FROM records WHERE form_id = ? ORDER BY change_seq", [form]
):
    out = encode(decode(doc)) if mode == "decode" else encode(msgspec.Raw(doc))
    size += len(out) + 1
    n += 1
elapsed = time.perf_counter() - t
hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM:")][0].split()[1]
print(n, elapsed, size, int(hwm) * 1024)
"""


def baseline(db: Path, mode: str) -> dict[str, Any]:
    """SELECT doc + msgspec.json.encode of every case, in a process of its own."""
    out = subprocess.run(
        [sys.executable, "-c", BASELINE, str(db), FORM, mode],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    n, elapsed, size, hwm = int(out[0]), float(out[1]), int(out[2]), int(out[3])
    return {
        "rows": n,
        "rows_per_s": n / elapsed,
        "seconds": elapsed,
        "bytes": size,
        "rss_peak": hwm,
    }


def pulls(db: Path, token: str, db_id: str, total: int, n: int) -> dict[str, Any]:
    """p50/p99 of a 1000-record page of GET /records from random cursors."""
    rng = random.Random(7)
    headers = {"Authorization": f"Bearer {token}", "Accept-Encoding": "identity"}
    times = []
    log = db.with_suffix(".log")
    with running_server(db, log) as srv, httpx.Client(base_url=srv.url, timeout=120) as client:
        for i in range(n + 5):
            since = cursor.make(db_id, rng.randrange(0, max(1, total - 1000)))
            started = time.perf_counter()
            r = client.get(
                "/api/v1/records", params={"since": since, "limit": 1000}, headers=headers
            )
            took = time.perf_counter() - started
            page = msgspec.json.decode(r.content)
            if r.status_code != 200 or len(page["records"]) != 1000:
                raise RuntimeError(f"pull answered {r.status_code} with {len(page['records'])}")
            if i >= 5:  # the first few warm the server and SQLite's cache
                times.append(took)
    return {
        "p50_ms": percentile(times, 50) * 1000,
        "p99_ms": percentile(times, 99) * 1000,
        "rows_per_s": 1000 / percentile(times, 50),
        "pages": n,
    }


def results(
    sizes: list[int],
    pulls_n: int = 200,
    formats: tuple[str, ...] = FORMATS,
    keep: Path | None = None,
) -> dict[str, Any]:
    sizes = sorted(sizes)
    with tempfile.TemporaryDirectory(prefix="coso-bench-export-") as tmp:
        folder = keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        db = folder / "export.db"
        store = Store(db)
        catalog = Catalog(store)
        if catalog.get(FORM) is None:
            publish_files(catalog, schema_files(ROOT / "schemas"))
        _, token = add_user(store, "bench-supervisor", "supervisor", PROVINCE)
        rng = random.Random(1)
        places = communes(rng)
        out: dict[str, Any] = {"sizes": {}, "machine_nproc": os.cpu_count()}
        for size in sizes:
            print(f"{size:,} records:", file=sys.stderr)
            wrote = grow(store, size, rng, places)
            count = store.count_records(FORM, PROVINCE)
            db_bytes = sum(f.stat().st_size for f in folder.glob("export.db*"))
            runs = []
            for fmt in formats:
                print(f"  export {fmt} ...", file=sys.stderr, flush=True)
                runs.append(export_once(db, token, fmt, count))
            base = [baseline(db, "decode"), baseline(db, "raw")]
            out["sizes"][size] = {
                "write_s": wrote,
                "db_bytes": db_bytes,
                "exports": runs,
                "baseline": base,
            }
        largest = sizes[-1]
        print(f"  pull {pulls_n} pages at {largest:,} ...", file=sys.stderr, flush=True)
        out["pull"] = {"records": largest, **pulls(db, token, store.db_id, largest, pulls_n)}
        store.close()
    return out


def memory_ratios(out: dict[str, Any]) -> dict[str, float]:
    sizes = sorted(out["sizes"])
    small, large = out["sizes"][sizes[0]], out["sizes"][sizes[-1]]
    return {
        a["format"]: b["rss_peak"] / a["rss_peak"]
        for a, b in zip(small["exports"], large["exports"], strict=True)
    }


def table(out: dict[str, Any]) -> str:
    mb = 1024 * 1024
    lines = [
        "export of hoa_giai v2 cases through `coso serve` over loopback HTTP "
        "(supervisor of the province, Accept-Encoding: identity)",
        "records inserted directly with Store.write()/Writer.upsert_records, not pushed",
        "",
        f"{'records':>10}  {'what':<40} {'rows/s':>9} {'1st byte':>9} {'total':>8} "
        f"{'output':>9} {'RSS before':>10} {'peak RSS':>9}",
    ]
    for size, run in sorted(out["sizes"].items()):
        for e in run["exports"]:
            lines.append(
                f"{size:>10,}  {'export ' + e['format']:<40} {e['rows_per_s']:>9,.0f} "
                f"{e['first_byte_s']:>8.2f}s {e['seconds']:>7.1f}s {e['bytes'] / mb:>7.0f}MB "
                f"{e['rss_before'] / mb:>8.0f}MB {e['rss_peak'] / mb:>7.0f}MB"
            )
        for b, name in zip(
            run["baseline"],
            ("baseline: SELECT doc + decode + encode", "baseline: SELECT doc + encode(Raw)"),
            strict=True,
        ):
            lines.append(
                f"{size:>10,}  {name:<40} {b['rows_per_s']:>9,.0f} {'':>9} "
                f"{b['seconds']:>7.1f}s {b['bytes'] / mb:>7.0f}MB {'':>10} "
                f"{b['rss_peak'] / mb:>7.0f}MB"
            )
        written = f"database {run['db_bytes'] / mb:,.0f} MB, written in {run['write_s']:.0f} s"
        lines.append(f"{'':>10}  ({written})")
    ratios = memory_ratios(out)
    sizes = sorted(out["sizes"])
    verdict = "met" if all(r <= MEMORY_LIMIT for r in ratios.values()) else "NOT met"
    lines.append("")
    lines.append(
        f"peak RSS at {sizes[-1]:,} / at {sizes[0]:,}: "
        + ", ".join(f"{fmt} {r:.2f}x" for fmt, r in ratios.items())
        + f"  (limit {MEMORY_LIMIT}x: {verdict})"
    )
    p = out["pull"]
    lines.append(
        f"pull: GET /api/v1/records?limit=1000 at {p['records']:,} records, {p['pages']} pages "
        f"from random cursors: p50 {p['p50_ms']:.1f} ms, p99 {p['p99_ms']:.1f} ms "
        f"({p['rows_per_s']:,.0f} rows/s at p50)"
    )
    return "\n".join(lines)


def rows_for_run(out: dict[str, Any]) -> list[dict[str, Any]]:
    """The figures as bench.run rows: each export format at the largest size, and pull."""
    size = max(out["sizes"])
    run = out["sizes"][size]
    base = run["baseline"][0]
    ratios = memory_ratios(out)
    rows = [
        {
            "benchmark": f"export {e['format']}: {size:,} cases, HTTP loopback",
            "figure": e["rows_per_s"],
            "baseline": base["rows_per_s"],
            "unit": "rows/s",
            "baseline_name": "SELECT doc + msgspec decode/encode, same rows",
            "note": (
                f"peak RSS {e['rss_peak'] / 2**20:.0f} MB, {ratios[e['format']]:.2f}x that at "
                f"{min(out['sizes']):,} (limit {MEMORY_LIMIT}x); first byte "
                f"{e['first_byte_s']:.2f} s"
            ),
        }
        for e in run["exports"]
    ]
    p = out["pull"]
    rows.append(
        {
            "benchmark": f"pull: GET /records?limit=1000 at {p['records']:,} records",
            "figure": p["rows_per_s"],
            "baseline": base["rows_per_s"],
            "unit": "rows/s",
            "baseline_name": "SELECT doc + msgspec decode/encode, same rows",
            "note": f"p50 {p['p50_ms']:.1f} ms, p99 {p['p99_ms']:.1f} ms per page",
        }
    )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--records", type=int, nargs="+", default=None, help="sizes (100000 1000000)"
    )
    parser.add_argument("--quick", action="store_true", help="20000 and 100000, 50 pulls")
    parser.add_argument("--pulls", type=int, default=None, help="pull pages timed (200)")
    parser.add_argument("--formats", nargs="+", choices=FORMATS, default=list(FORMATS))
    parser.add_argument("--keep", type=Path, default=None, help="keep the database in DIR")
    parser.add_argument("--json", action="store_true", help="print the rows as one JSON line")
    args = parser.parse_args()
    sizes = args.records or ([20_000, 100_000] if args.quick else [100_000, 1_000_000])
    pulls_n = args.pulls or (50 if args.quick else 200)
    out = results(sizes, pulls_n, tuple(args.formats), args.keep)
    if args.json:
        emit(rows_for_run(out), True)
    else:
        print(table(out))
    if any(r > MEMORY_LIMIT for r in memory_ratios(out).values()):
        sys.exit(1)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
