"""Validation speed: items/s for a realistic `hoa_giai` v2 submission through the compiled
validator, beside plain `msgspec.json.decode` of the same bytes, in the same run.

    python -m bench.validate [--quick] [--json]

"decode + validate" is what the push path does per item: `msgspec.json.decode` of the item's
bytes into `server.protocol.Submission`, then the form version's compiled `Validator` over
`data`. The baseline decodes the same bytes into plain Python objects with no validation.
A third line times the whole per-item `server.item.prepare` (ids, times, validation,
canonical encoding and content hash), everything a pushed item costs before SQL.
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable
from typing import Any

import msgspec

from bench.common import FORM, VERSION, catalog, emit, hoa_giai_item
from server.item import Prepared, now_iso, prepare
from server.protocol import Submission
from server.store_schema import User


def _rate(fn: Callable[[bytes], Any], items: list[bytes], seconds: float) -> float:
    """Items per second, best of several rounds over the whole pool, for about `seconds`."""
    best = 0.0
    deadline = time.perf_counter() + seconds
    while True:
        start = time.perf_counter()
        for raw in items:
            fn(raw)
        elapsed = time.perf_counter() - start
        best = max(best, len(items) / elapsed)
        if time.perf_counter() >= deadline:
            return best


def results(quick: bool = False) -> list[dict[str, Any]]:
    rng = random.Random(2)
    items = [msgspec.json.encode(hoa_giai_item(rng)) for _ in range(2000)]
    cat = catalog()
    validator = cat.get(FORM).validators[VERSION - 1]  # type: ignore[union-attr]
    decoder = msgspec.json.Decoder(Submission)
    plain = msgspec.json.Decoder()
    user = User(1, "bench", "officer", "01.00070")
    received_at, received_ts = now_iso(), time.time()

    def decode_validate(raw: bytes) -> None:
        item = decoder.decode(raw)
        _, errors = validator(item.data, creating=True, path="submissions[0].data")
        assert not errors, errors

    def prepare_one(raw: bytes) -> None:
        p = prepare(cat, decoder, raw, 0, user, "bench", received_at, received_ts)
        assert isinstance(p, Prepared), p

    seconds = 0.6 if quick else 3.0
    _rate(decode_validate, items[:200], 0.1)  # warm up
    base = _rate(plain.decode, items, seconds)
    figure = _rate(decode_validate, items, seconds)
    whole = _rate(prepare_one, items, seconds)
    size = sum(map(len, items)) // len(items)
    return [
        {
            "benchmark": "validate: decode + validate (hoa_giai v2)",
            "figure": figure,
            "baseline": base,
            "unit": "items/s",
            "baseline_name": "msgspec.json.decode, no validation",
            "note": f"{size} B per item",
        },
        {
            "benchmark": "validate: whole per-item prepare (item.prepare)",
            "figure": whole,
            "baseline": base,
            "unit": "items/s",
            "baseline_name": "msgspec.json.decode, no validation",
            "note": "ids, times, validation, canonical encoding, content hash",
        },
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter rounds")
    parser.add_argument("--json", action="store_true", help="print the rows as one JSON line")
    args = parser.parse_args()
    rows = results(args.quick)
    if args.json:
        emit(rows, True)
        return
    for r in rows:
        print(
            f"{r['benchmark']}: {r['figure']:,.0f} {r['unit']}  |  {r['baseline_name']}: "
            f"{r['baseline']:,.0f} {r['unit']}  |  ratio {r['figure'] / r['baseline']:.2f}"
            f"  ({r['note']})"
        )


if __name__ == "__main__":
    main()
