"""The types a user sees are honest: every Python example of the README and the manual passes
``mypy --strict``, and the client's shortcuts take what the functions behind them take.

The examples are the blocks ``tests/test_docs.py`` finds. Each is written to a temporary folder as
a module of its own and mypy runs once over all of them, with the project's settings (strict, the
pydantic plugin) and nothing else, as in a user's project. A block that is deliberately not
Python a user would run (a signature shown for reading) is marked by the line
``<!-- typecheck: skip -->`` right above its opening fence; no other block may be skipped.
A third-party module the examples import (a web framework) that is not installed here is
treated as untyped instead of failing the run.
"""

from __future__ import annotations

import importlib.util
import inspect
import re
import subprocess
import sys
from pathlib import Path

import pytest

from aimusic_async import AIMusicClient
from aimusic_async._download import download
from aimusic_async.batch import run_batch

from .test_docs import BLOCKS, ROOT, Block

SKIP_MARKER = "<!-- typecheck: skip -->"
_IMPORT = re.compile(r"^\s*(?:from|import)\s+([A-Za-z_][\w]*)", re.M)


def skipped(block: Block) -> bool:
    """Is the block marked on the line right above its fence?"""
    lines = block.page.read_text(encoding="utf-8").splitlines()
    # block.line is the 1-based line of the fence; the line above it is at index line - 2.
    return block.line >= 2 and lines[block.line - 2].strip() == SKIP_MARKER


def module_name(block: Block) -> str:
    page = re.sub(r"[^0-9a-zA-Z]+", "_", str(block.page.relative_to(ROOT))).strip("_").lower()
    return f"example_{page}_line{block.line}"


def mypy_config(missing: set[str]) -> str:
    """The project's ``[tool.mypy]`` table without ``packages``, as a pyproject.toml."""
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    table = re.search(r"^\[tool\.mypy\]\n(.*?)(?=^\[|\Z)", text, re.S | re.M)
    assert table is not None, "pyproject.toml has a [tool.mypy] table"
    settings = [line for line in table.group(1).splitlines() if not line.startswith("packages")]
    lines = ["[tool.mypy]", *settings]
    if missing:
        names = ", ".join(f'"{name}", "{name}.*"' for name in sorted(missing))
        lines += ["[[tool.mypy.overrides]]", f"module = [{names}]", "ignore_missing_imports = true"]
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One mypy cache for this module's runs: the SDK is analysed once, not per run."""
    return tmp_path_factory.mktemp("mypy-cache")


def typecheck(blocks: list[Block], folder: Path, cache: Path) -> tuple[int, str]:
    """Run mypy once over ``blocks`` written as modules into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    missing: set[str] = set()
    files = []
    for block in blocks:
        path = folder / f"{module_name(block)}.py"
        path.write_text(block.code, encoding="utf-8")
        files.append(path.name)
        for name in _IMPORT.findall(block.code):
            if importlib.util.find_spec(name) is None:
                missing.add(name)
    (folder / "pyproject.toml").write_text(mypy_config(missing), encoding="utf-8")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--config-file",
            "pyproject.toml",
            "--cache-dir",
            str(cache),
            "--no-error-summary",
            *files,
        ],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    return proc.returncode, proc.stdout + proc.stderr


CHECKED = [block for block in BLOCKS if not skipped(block)]


def test_almost_every_example_is_checked() -> None:
    # Guards the convention: a marker is for the rare block that is not a program.
    assert len(CHECKED) >= 30
    assert len(BLOCKS) - len(CHECKED) <= 2, [str(b) for b in BLOCKS if skipped(b)]


def test_every_example_passes_mypy_strict(tmp_path: Path, cache: Path) -> None:
    code, output = typecheck(CHECKED, tmp_path / "examples", cache)
    # Errors name the module, which names the page and the line of the block.
    assert code == 0, output


def test_the_checker_catches_a_wrong_example(tmp_path: Path, cache: Path) -> None:
    """The harness itself: a call the SDK's annotations forbid fails the check."""
    wrong = Block(
        ROOT / "README.md",
        1,
        "from aimusic_async import AIMusicClient\n\n\n"
        "async def main(client: AIMusicClient) -> None:\n"
        "    await client.download('https://example.com/a.mp3', 'out/', retries='3')\n",
    )
    code, output = typecheck([wrong], tmp_path / "wrong", cache)
    assert code != 0
    assert "retries" in output


def test_the_skip_marker_is_read(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        f"Text.\n\n{SKIP_MARKER}\n```python\nf(\n```\n\n```python\nx = 1\n```\n", encoding="utf-8"
    )
    marked, plain = (Block(page, 4, "f(\n"), Block(page, 8, "x = 1\n"))
    assert skipped(marked)
    assert not skipped(plain)


def _keywords(fn: object, drop: int) -> list[tuple[str, object, object, object]]:
    params = list(inspect.signature(fn).parameters.values())[drop:]  # type: ignore[arg-type]
    return [(p.name, p.kind, p.default, p.annotation) for p in params]


@pytest.mark.parametrize(
    ("method", "function", "drop"),
    [
        # client.batch(jobs, ...) is run_batch(client, jobs, ...).
        (AIMusicClient.batch, run_batch, 1),
        # client.download(clip_or_url, dest, ...) is download(runtime, clip_or_url, dest, ...).
        (AIMusicClient.download, download, 1),
    ],
)
def test_the_client_shortcuts_take_what_their_function_takes(
    method: object, function: object, drop: int
) -> None:
    assert _keywords(method, 1) == _keywords(function, drop)  # 1: self
