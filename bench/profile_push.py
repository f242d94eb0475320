"""The push path in-process, without HTTP: `server.sync.push` over a file store with the
same batches as `bench.push` (new cases, own edits, ~10% edits shared by two devices).

    python -m bench.profile_push [--batches N] [--devices N] [--profile] [--sort KEY]

Prints submissions/s of `sync.push` alone (envelope decoding as the API does it included);
`--profile` runs it under cProfile and prints where the time goes.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import random
import tempfile
import time
from pathlib import Path

import msgspec

from bench.push import SHARED_PER_PAIR, Device
from server import sync
from server.app import ROOT
from server.catalog import Catalog, publish_files, schema_files
from server.item import now_iso
from server.protocol import PushEnvelope
from server.store import Store
from server.store_schema import User
from tests.support import hoa_giai

AREA = "01.00070"


def setup(tmp: Path, devices: int) -> tuple[Store, Catalog, list[Device], list[User]]:
    store = Store(tmp / "coso.db")
    catalog = Catalog(store)
    publish_files(catalog, schema_files(ROOT / "schemas"))
    with store.write() as w:
        ids = [w.add_user(f"p{i}", "officer", AREA, f"hash{i}", now_iso()) for i in range(devices)]
    users = [User(i, f"p{n}", "officer", AREA) for n, i in enumerate(ids)]
    rng = random.Random(3)
    pool = [msgspec.json.encode(hoa_giai(rng)) for _ in range(512)]
    seeder = Device(10_000, "", pool, [])
    pairs = []
    for _ in range(devices if devices > 1 else 0):
        roots = []
        for _ in range(SHARED_PER_PAIR // 100):
            push_body(store, catalog, users[0], seeder.batch(100))
            roots += [r[0] for r in seeder.own[-100:]]
        pairs.append(roots)
    devs = [
        Device(i, "", pool, (pairs[i] + pairs[i - 1]) if devices > 1 else [])
        for i in range(devices)
    ]
    return store, catalog, devs, users


def push_body(store: Store, catalog: Catalog, user: User, body: bytes) -> int:
    env = msgspec.json.decode(body, type=PushEnvelope)
    results = sync.push(store, catalog, user, env.device_id, env.submissions)
    assert all(r.status in ("accepted", "conflict") for r in results), results[:3]
    return len(results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=200)
    parser.add_argument("--devices", type=int, default=4)
    parser.add_argument("--warmup", type=int, default=100, help="batches before the timed ones")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--sort", default="tottime")
    parser.add_argument("--top", type=int, default=35)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="coso-prof-") as tmp:
        store, catalog, devices, users = setup(Path(tmp), args.devices)
        for i in range(args.warmup):
            d = i % len(devices)
            push_body(store, catalog, users[d], devices[d].batch(100))
        bodies = [
            (users[i % len(devices)], devices[i % len(devices)].batch(100))
            for i in range(args.batches)
        ]
        profiler = cProfile.Profile() if args.profile else None
        n = 0
        t0, c0 = time.perf_counter(), time.process_time()
        if profiler:
            profiler.enable()
        for user, body in bodies:
            n += push_body(store, catalog, user, body)
        if profiler:
            profiler.disable()
        elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
        store.close()
    print(
        f"sync.push in-process: {n / elapsed:,.0f} submissions/s of wall time, "
        f"{n / cpu:,.0f} per CPU second ({n} in {elapsed:.2f} s, {cpu:.2f} s CPU)"
    )
    if profiler:
        pstats.Stats(profiler).sort_stats(args.sort).print_stats(args.top)


if __name__ == "__main__":
    main()
