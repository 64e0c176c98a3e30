"""A griffe extension for the API reference: docstring examples written as ``>>>`` lines become
Python code blocks (as prose, Markdown would read them as nested quotes)."""

from __future__ import annotations

import re
from typing import Any

import griffe

_PROMPT = re.compile(r"^(\s*)(>>>|\.\.\.)( |$)")


def fence_examples(text: str) -> str:
    """Wrap each run of ``>>>`` / ``...`` lines in a fenced block, without the prompts."""
    out: list[str] = []
    block: list[str] = []
    indent = ""

    def flush() -> None:
        if block:
            out.extend([f"{indent}```python", *block, f"{indent}```"])
            block.clear()

    for line in text.splitlines():
        match = _PROMPT.match(line)
        if match:
            if not block:
                indent = match.group(1)
            block.append(indent + line[match.end() :])
        else:
            flush()
            out.append(line)
    flush()
    return "\n".join(out)


class DoctestBlocks(griffe.Extension):
    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None and ">>>" in obj.docstring.value:
            obj.docstring.value = fence_examples(obj.docstring.value)
