"""The package's layering, checked on its source.

* Only ``_client.py`` touches a private attribute of ``AIMusicClient``: everything else gets the
  narrow ``Runtime`` (or uses the client's public API).
* The runtime import graph has no cycle. Imports under ``if TYPE_CHECKING:`` are left out (they
  never run); imports inside functions count (they run on first call).
* The emulator (``testing/``) imports nothing from the client side except the price table.
* The command line imports no underscore-named helper from another module.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

import aimusic_async

PACKAGE = Path(aimusic_async.__file__).resolve().parent
TESTS = Path(__file__).resolve().parent
ROOT = "aimusic_async"


@dataclass(frozen=True)
class Module:
    name: str  # dotted: aimusic_async.families.sonic
    path: Path
    tree: ast.Module

    @property
    def is_package(self) -> bool:
        return self.path.name == "__init__.py"


def _modules() -> dict[str, Module]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        name = ".".join(parts)
        found[name] = Module(name, path, ast.parse(path.read_text(encoding="utf-8")))
    return found


MODULES = _modules()


def _runtime_nodes(tree: ast.AST) -> Iterator[ast.AST]:
    """Every node that runs: the bodies of ``if TYPE_CHECKING:`` blocks are skipped."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:
                yield child
                yield from _runtime_nodes(child)
            continue
        yield node
        yield from _runtime_nodes(node)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(module: Module) -> Iterator[tuple[str, str | None, int]]:
    """(imported module, imported name or None, line) for every import that runs."""
    package = module.name if module.is_package else module.name.rpartition(".")[0]
    for node in _runtime_nodes(module.tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, None, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            for alias in node.names:
                yield target, alias.name, node.lineno


def _edges(module: Module) -> set[str]:
    """The package's modules that importing (or running) ``module`` imports."""
    out = set()
    for target, name, _line in _imports(module):
        if name is not None and f"{target}.{name}" in MODULES:
            out.add(f"{target}.{name}")  # ``from . import _constants``: the submodule
        elif target in MODULES:
            out.add(target)
    out.discard(module.name)
    return out


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_runtime_import_graph_has_no_cycle() -> None:
    graph = {name: _edges(module) for name, module in MODULES.items()}
    assert sum(len(edges) for edges in graph.values()) > 100  # the walk does see the imports
    assert _cycles(graph) == []


def test_the_cycle_finder_sees_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def _names_a_client(node: ast.expr) -> bool:
    """``client``, ``self._client``, ``http_client`` ...: how the package names a client."""
    if isinstance(node, ast.Name):
        return node.id.lower().endswith("client")
    if isinstance(node, ast.Attribute):
        return node.attr.lower().endswith("client")
    return False


def _private_client_accesses(tree: ast.AST) -> list[int]:
    """Lines where a private attribute (``_x``, not a dunder) is read or written on a client."""
    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and node.attr.startswith("_")
        and not node.attr.startswith("__")
        and _names_a_client(node.value)
    ]


def test_only_the_client_module_touches_its_private_attributes() -> None:
    offenders = [
        f"{module.path.relative_to(PACKAGE.parent)}:{line}"
        for name, module in MODULES.items()
        if name != f"{ROOT}._client"
        for line in _private_client_accesses(module.tree)
    ]
    assert offenders == []


def test_the_private_access_check_sees_one() -> None:
    source = "x = client._hub\nself._client._webhook_secret = 's'\nok = client.hub\n"
    assert _private_client_accesses(ast.parse(source)) == [1, 2]
    # The client module itself is where its private state lives (and is the one exception).
    assert _private_client_accesses(MODULES[f"{ROOT}._client"].tree)


def test_the_emulator_imports_only_the_price_table_from_the_client_side() -> None:
    allowed = {f"{ROOT}._pricing"}
    # The pytest plugin is not the emulator: it hands users a client bound to one, so it may use
    # the client's public surface (the package root); the emulator modules may not.
    plugin = f"{ROOT}.testing.pytest_plugin"
    offenders = []
    for name, module in MODULES.items():
        if not name.startswith(f"{ROOT}.testing"):
            continue
        if name == plugin:
            offenders += [
                f"{name}:{line} imports {target}"
                for target, _imported, line in _imports(module)
                if target.startswith(f"{ROOT}.") and not target.startswith(f"{ROOT}.testing")
            ]
            continue
        for target, imported, line in _imports(module):
            full = f"{target}.{imported}" if f"{target}.{imported}" in MODULES else target
            client_side = full.startswith(ROOT) and not full.startswith(f"{ROOT}.testing")
            if client_side and full not in allowed:
                offenders.append(f"{name}:{line} imports {full}")
    assert offenders == []


@pytest.mark.parametrize(
    "name", sorted(n for n in MODULES if n.startswith(f"{ROOT}.cli")), ids=lambda n: n
)
def test_the_cli_imports_no_private_helper_of_another_module(name: str) -> None:
    offenders = []
    for target, imported, line in _imports(MODULES[name]):
        if not target.startswith(ROOT) or target.startswith(f"{ROOT}.cli"):
            continue
        private = imported and imported.startswith("_") and not imported.startswith("__")
        if private and f"{target}.{imported}" not in MODULES:
            offenders.append(f"{name}:{line}: {target}.{imported}")
    assert offenders == []


def _docstring_problem(doc: str | None) -> str | None:
    """Why a module docstring is not one to three lines saying what the module holds (followed,
    at most, by indented examples or a fenced block such as the error tree), or None."""
    if not doc or not doc.strip():
        return "no docstring"
    first, *rest = doc.strip("\n").split("\n\n")
    if len(first.splitlines()) > 3:
        return f"{len(first.splitlines())} lines of prose before the first break"
    fenced = False
    for line in "\n\n".join(rest).splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif line.strip() and not fenced and not line.startswith(("    ", ">>>", "...")):
            return f"prose after the first paragraph: {line.strip()[:60]!r}"
    return None


def test_every_module_says_what_it_holds_in_a_few_lines() -> None:
    """Design essays live in docs/; a module docstring says what the module holds."""
    problems = []
    for name, module in MODULES.items():
        problem = _docstring_problem(ast.get_docstring(module.tree, clean=False))
        if problem:
            problems.append(f"{name}: {problem}")
    assert problems == []


def test_the_docstring_rule_sees_an_essay() -> None:
    assert _docstring_problem("What it holds.\n\n    >>> example()\n") is None
    assert _docstring_problem("What it holds.\n\n```text\nA tree\n```\n") is None
    assert _docstring_problem("One.\nTwo.\nThree.\nFour.") is not None
    assert _docstring_problem("What it holds.\n\nAnd then an essay.") is not None
    assert _docstring_problem(None) == "no docstring"


def test_no_module_cites_a_document_outside_the_repository() -> None:
    """Facts about the API are stated in the code's own words (or the manual's wire contract is
    named); the design documents and API notes the project was built from are not shipped."""
    cited = []
    pattern = re.compile(r"(sonic|other-families)\.md|DESIGN\b|§")
    for path in sorted([*PACKAGE.rglob("*.py"), *TESTS.rglob("*.py")]):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if pattern.search(line) and path != Path(__file__):
                cited.append(f"{path.name}:{number}: {line.strip()[:80]}")
    assert cited == []
