"""Every benchmark in one table: each figure beside its baseline measured in the same run.

    python -m bench.run [--quick] [--only validate push export soak]

Runs `bench.validate`, `bench.push`, `bench.export` (pull and export) and `bench.soak`, each
in its own process with `--json` (and `--quick`), one after the other so that they never
compete for the CPU, then prints one markdown table (benchmark | figure | baseline (same
run) | ratio), the notes of each row under it, and the machine: nproc, CPU model, Python and
SQLite versions. A benchmark module that does not exist yet is skipped with a note; one that
fails is listed with its exit status. `--quick` finishes in about three minutes on 2 cores.

A benchmark module takes part by accepting `--json` (and `--quick`) and printing, as its
last line of standard output, a JSON list of rows: {"benchmark", "figure", "baseline",
"unit", "baseline_name", "note"} (see `bench.common.emit`).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import msgspec

from bench.common import machine

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
# name -> (extra arguments in quick mode, in full mode, timeout in seconds quick/full)
BENCHMARKS: dict[str, tuple[list[str], list[str], tuple[float, float]]] = {
    "validate": (["--quick"], [], (120, 600)),
    "push": (["--quick"], [], (180, 900)),
    # quick: two small sizes still show whether memory stays flat; full: 100k and 1M
    "export": (["--records", "5000", "20000", "--pulls", "50"], [], (300, 7200)),
    "soak": (["--quick"], [], (300, 1800)),
}


class Row(msgspec.Struct):
    benchmark: str
    figure: float | None = None
    baseline: float | None = None
    unit: str = ""
    baseline_name: str = ""
    note: str = ""


def run_one(name: str, quick: bool) -> tuple[list[Row], float]:
    """The rows of one benchmark (or one row saying why there are none), and its seconds."""
    if not (BENCH / f"{name}.py").exists():
        return [Row(name, note=f"skipped: bench/{name}.py does not exist yet")], 0.0
    quick_args, full_args, (quick_timeout, full_timeout) = BENCHMARKS[name]
    cmd = [sys.executable, "-m", f"bench.{name}", "--json", *(quick_args if quick else full_args)]
    print(f"running {' '.join(cmd[1:])} ...", file=sys.stderr, flush=True)
    t0 = time.perf_counter()
    try:
        done = subprocess.run(
            cmd,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=quick_timeout if quick else full_timeout,
        )
    except subprocess.TimeoutExpired:
        return [Row(name, note="failed: timed out")], time.perf_counter() - t0
    seconds = time.perf_counter() - t0
    lines = [line for line in done.stdout.splitlines() if line.startswith("[")]
    rows: list[Row] = []
    if lines:
        try:
            rows = msgspec.json.decode(lines[-1], type=list[Row])
        except msgspec.DecodeError:
            rows = []
    if done.returncode != 0:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1][:300]
        failure = f"exit status {done.returncode}: {tail}"
        if rows:
            for row in rows:
                row.note = f"{row.note}; {failure}" if row.note else failure
        else:
            rows = [Row(name, note=f"failed: {failure}")]
    elif not rows:
        rows = [Row(name, note="failed: no rows on standard output")]
    return rows, seconds


def _figure(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    return f"{value:,.0f} {unit}" if value >= 100 else f"{value:,.2f} {unit}"


def table(rows: list[Row]) -> str:
    lines = [
        "| benchmark | figure | baseline (same run) | ratio |",
        "|---|---:|---|---:|",
    ]
    notes = []
    for i, r in enumerate(rows, 1):
        ratio = f"{r.figure / r.baseline:.3f}" if r.figure and r.baseline else "—"
        base = (
            f"{_figure(r.baseline, r.unit)} ({r.baseline_name})" if r.baseline is not None else "—"
        )
        mark = f" [{i}]" if r.note else ""
        lines.append(f"| {r.benchmark}{mark} | {_figure(r.figure, r.unit)} | {base} | {ratio} |")
        if r.note:
            notes.append(f"[{i}] {r.note}")
    return "\n".join(lines + (["", *notes] if notes else []))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short runs (about a minute)")
    parser.add_argument(
        "--only", nargs="+", choices=list(BENCHMARKS), default=list(BENCHMARKS), metavar="NAME"
    )
    args = parser.parse_args()
    rows: list[Row] = []
    took: list[str] = []
    t0 = time.perf_counter()
    for name in args.only:
        got, seconds = run_one(name, args.quick)
        rows += got
        took.append(f"{name} {seconds:.0f} s")
    m = machine()
    print(
        f"Machine: {m['nproc']} CPUs ({m['cpu']}), Python {m['python']}, SQLite {m['sqlite']}, "
        f"msgspec {m['msgspec']}. Mode: {'quick' if args.quick else 'full'}; "
        f"{', '.join(took)}; {time.perf_counter() - t0:.0f} s in all.\n"
    )
    print(table(rows))


if __name__ == "__main__":
    main()
