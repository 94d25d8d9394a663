"""``python -m bench --quick`` runs every scenario end to end and prints every row (no timing assertions)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bench.report import ROW_LABELS

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_quick_run_prints_every_row_with_a_verdict_per_target(tmp_path: Path) -> None:
    report = tmp_path / "BENCHMARKS.md"
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--output", str(report)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=540,
        check=False,
    )

    assert done.returncode == 0, done.stderr[-3000:]
    missing = [label for label in ROW_LABELS if label not in done.stdout]
    assert missing == [], done.stdout
    targets = done.stdout.split("Targets:", 1)[1].strip().splitlines()
    assert len(targets) >= 10
    assert all(line.split()[0] in ("PASS", "MISS") for line in targets)
    written = report.read_text()
    assert all(label in written for label in ROW_LABELS)
    assert "## Machine" in written and "python -m bench --quick" in written
