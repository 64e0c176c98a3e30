"""The documentation is executable and its links hold.

Which Python blocks run (the convention the manual follows):

* a block with a ``def test_`` function is a test: it runs under pytest, in a folder of its own
  with no project configuration, so it must work as a user would paste it;
* a block that imports ``aimusic_async.testing`` (the emulator, the webhook signer) needs no key
  and no network: it runs as a script;
* every other block is an illustration (it needs a real API key, or your own web app) and is
  only read.

Each block runs in a fresh interpreter with warnings as errors, and must exit cleanly without an
"Unclosed" resource. Blocks mostly wait on their emulator, so several run at once.

Every relative link of the README, the top-level documents and ``docs/`` must name a file that
exists (the manual's own anchors are checked by ``mkdocs build --strict``).
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from aimusic_async._operations import OPERATIONS

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PAGES = sorted([ROOT / "README.md", *DOCS.rglob("*.md")])
LINKED = sorted([*ROOT.glob("*.md"), *DOCS.rglob("*.md")])

_FENCE = re.compile(r"^```python[^\n]*\n(.*?)^```", re.S | re.M)
# Inline links and images: [text](target) / ![alt](target); the target ends at a space or ")".
_ANY_FENCE = re.compile(r"^```.*?^```", re.S | re.M)
_LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_REFERENCE_DEF = re.compile(r"^\s*\[[^\]]+\]:\s*(\S+)", re.M)
_INLINE_CODE = re.compile(r"`[^`\n]*`")
_PYTEST_INI = "[pytest]\nfilterwarnings = error\nasyncio_default_fixture_loop_scope = function\n"


@dataclass(frozen=True)
class Block:
    page: Path
    line: int
    code: str

    @property
    def is_test(self) -> bool:
        return "def test_" in self.code

    @property
    def runnable(self) -> bool:
        return self.is_test or "aimusic_async.testing" in self.code

    def __str__(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def python_blocks(page: Path) -> list[Block]:
    text = page.read_text(encoding="utf-8")
    return [
        Block(page, text.count("\n", 0, m.start()) + 1, m.group(1)) for m in _FENCE.finditer(text)
    ]


BLOCKS = [block for page in PAGES for block in python_blocks(page)]
# A block shown on two pages (the README's quick start opens the manual too) runs once.
RUNNABLE = list({block.code: block for block in reversed(BLOCKS) if block.runnable}.values())


def run_block(block: Block, folder: Path) -> subprocess.CompletedProcess[str]:
    """Run one block in ``folder``: as a script, or under pytest when it holds a test."""
    folder.mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIMUSIC_")}
    if block.is_test:
        (folder / "test_example.py").write_text(block.code, encoding="utf-8")
        # This ini makes the folder the rootdir, so none of the project's settings leak in
        # (pytest-asyncio stays in its default strict mode). Warnings are errors; the loop
        # scope is set only because pytest-asyncio warns while it is unset.
        (folder / "pytest.ini").write_text(_PYTEST_INI, encoding="utf-8")
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    else:
        command = [sys.executable, "-W", "error", "-c", block.code]
    return subprocess.run(
        command, cwd=folder, env=env, capture_output=True, text=True, timeout=120, check=False
    )


def test_the_docs_have_offline_examples() -> None:
    # Guards the convention itself: a rewrite that stopped blocks from matching would pass
    # vacuously otherwise.
    assert len(RUNNABLE) >= 20
    readme = [b for b in RUNNABLE if b.page.name == "README.md"]
    assert len(readme) >= 3, "the README keeps a runnable quick start, webhook and batch example"
    assert any(b.is_test for b in RUNNABLE), "the pytest plugin example runs under pytest"


def test_every_offline_example_runs(tmp_path: Path) -> None:
    def job(item: tuple[int, Block]) -> tuple[Block, subprocess.CompletedProcess[str]]:
        index, block = item
        return block, run_block(block, tmp_path / f"block{index}")

    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(job, enumerate(RUNNABLE)))
    failures = []
    for block, proc in results:
        output = proc.stdout[-1500:] + proc.stderr[-2500:]
        if proc.returncode != 0:
            failures.append(f"{block} exited {proc.returncode}:\n{output}")
        elif "Unclosed" in proc.stderr or "Unclosed" in proc.stdout:
            failures.append(f"{block} left a resource unclosed:\n{output}")
    assert not failures, "\n\n".join(failures)


def test_the_runner_catches_a_leak_and_a_failing_test(tmp_path: Path) -> None:
    """The harness itself: an unclosed session shows up, and a failing test block fails."""
    leak = Block(
        ROOT / "README.md",
        1,
        "import asyncio\n\nimport aiohttp\n\nimport aimusic_async.testing\n\n\n"
        "async def main() -> None:\n    aiohttp.ClientSession()\n\n\nasyncio.run(main())\n",
    )
    assert leak.runnable
    assert not leak.is_test
    proc = run_block(leak, tmp_path / "leak")
    assert "Unclosed" in proc.stderr

    failing = Block(ROOT / "README.md", 1, "def test_fails() -> None:\n    assert 1 == 2\n")
    assert failing.is_test
    assert run_block(failing, tmp_path / "failing").returncode != 0


def _targets(page: Path) -> list[str]:
    text = page.read_text(encoding="utf-8")
    # Links inside code are code, not links.
    text = _ANY_FENCE.sub("", text)
    text = _INLINE_CODE.sub("", text)
    return _LINK.findall(text) + _REFERENCE_DEF.findall(text)


def test_every_relative_link_points_at_a_file() -> None:
    broken = []
    checked = 0
    for page in LINKED:
        for target in _targets(page):
            parts = urlsplit(target)
            if parts.scheme or parts.netloc or not parts.path:
                continue  # a web address, a mail address, or an anchor on the same page
            checked += 1
            path = (page.parent / unquote(parts.path)).resolve()
            if not path.exists():
                broken.append(f"{page.relative_to(ROOT)}: {target}")
    assert checked >= 20  # the README and the manual do link to each other
    assert not broken, "links to missing files:\n" + "\n".join(broken)


def test_the_link_checker_sees_a_broken_link(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "See [the guide](missing.md#top), [ok](page.md), [web](https://example.com) and\n"
        "`[code](ignored.md)`.\n\n```python\nx = '[in a block](also-ignored.md)'\n```\n",
        encoding="utf-8",
    )
    assert _targets(page) == ["missing.md#top", "page.md", "https://example.com"]


@pytest.mark.parametrize("namespace", sorted({op.namespace for op in OPERATIONS.values()}))
def test_every_public_operation_is_documented(namespace: str) -> None:
    """Each operation of the table (each public method of ``client.<namespace>``) appears in
    the operations page, so adding an operation without documenting it fails here."""
    page = (DOCS / "operations.md").read_text(encoding="utf-8")
    methods = [op.method for op in OPERATIONS.values() if op.namespace == namespace]
    assert methods
    missing = [name for name in methods if not re.search(rf"[`.]{name}\(", page)]
    assert not missing, f"docs/operations.md does not show client.{namespace}: {missing}"


def test_docstring_examples_render_as_code() -> None:
    """The API reference's griffe extension turns ``>>>`` examples into code blocks (Markdown
    would otherwise show them as nested quotes)."""
    pytest.importorskip("griffe")  # the docs extra; CI installs it
    spec = importlib.util.spec_from_file_location(
        "doctest_blocks", DOCS / "_griffe" / "doctest_blocks.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    text = "Use it:\n\n>>> async with C() as c:\n...     await c.go()\n\nDone."
    assert module.fence_examples(text) == (
        "Use it:\n\n```python\nasync with C() as c:\n    await c.go()\n```\n\nDone."
    )
