"""The soak, short: 20 phones for 15 s against a real `coso serve`, with dropped answers,
retries, out-of-order batches, shared cases and two supervisors resolving conflicts; then
(a) every acknowledged item is stored exactly once, (b) no 5xx, (c) the records equal a
replay of the stored submissions into a fresh database, (d) the supervisors' cursor pulls
hold the final state. See bench/soak.py; `python -m bench.soak` is the full run."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import soak


@pytest.mark.slow
def test_short_soak_has_no_violation(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = soak.main(["--quick", "--seed", "6", "--keep", str(tmp_path)])
    out = capsys.readouterr().out
    print(out)
    assert code == 0, out
    assert "no violations" in out
