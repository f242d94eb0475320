"""Benchmarks (they print figures; they are not timed tests). Run from the repo root:
`python -m bench.run --quick`, or one of `python -m bench.validate`, `python -m bench.push`."""
