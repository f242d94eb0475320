"""Helpers shared by the benchmarks: a catalog of the real forms, realistic items as bytes,
percentiles and the machine's description."""

from __future__ import annotations

import os
import platform
import random
import sqlite3
from typing import Any

import msgspec

from server.app import ROOT
from server.catalog import Catalog, publish_files, schema_files
from server.store import Store
from tests.support import hoa_giai, now, uuid7

FORM, VERSION = "hoa_giai", 2


def catalog() -> Catalog:
    """The real forms published into an in-memory store."""
    cat = Catalog(Store(":memory:"))
    publish_files(cat, schema_files(ROOT / "schemas"))
    return cat


def hoa_giai_item(rng: random.Random, **extra: Any) -> dict[str, Any]:
    """One realistic new `hoa_giai` v2 submission, as a phone sends it."""
    item: dict[str, Any] = {
        "id": uuid7(rng),
        "form_id": FORM,
        "form_version": VERSION,
        "record_id": None,
        "parents": [],
        "captured_at": now(),
        "data": hoa_giai(rng),
    }
    item.update(extra)
    return item


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0..100) by nearest rank."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def machine() -> dict[str, str]:
    model = "unknown"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {
        "nproc": str(os.cpu_count()),
        "cpu": model,
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "msgspec": msgspec.__version__,
    }


def emit(rows: list[dict[str, Any]], as_json: bool) -> None:
    """Print a benchmark's rows (`--json`: one JSON line for bench.run)."""
    if as_json:
        print(msgspec.json.encode(rows).decode())
