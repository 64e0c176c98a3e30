"""The README's examples run: every Python block that brings its own emulator is executed as a
script in a fresh interpreter (no key, no network) and must exit cleanly, without warnings."""

from __future__ import annotations

import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)
# Blocks that start an emulator run offline; the others need a key (or are test functions).
RUNNABLE = [b for b in BLOCKS if "Emulator(" in b and "def test_" not in b]


def _run(job: tuple[int, str], root: Path) -> tuple[int, subprocess.CompletedProcess[str]]:
    index, code = job
    folder = root / f"block{index}"
    folder.mkdir()
    proc = subprocess.run(
        [sys.executable, "-W", "error", "-c", code],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return index, proc


def test_every_offline_readme_example_runs(tmp_path: Path) -> None:
    assert len(RUNNABLE) >= 8
    # Each example is mostly waiting on its emulator: run a few at once to keep the suite quick.
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda job: _run(job, tmp_path), enumerate(RUNNABLE)))
    for index, proc in results:
        head = RUNNABLE[index].strip().splitlines()[:6]
        assert proc.returncode == 0, f"README block {index} ({head}) failed:\n{proc.stderr[-2000:]}"
        assert "Unclosed" not in proc.stderr, f"README block {index} leaked a session"
