"""Tier 1: the generated service uses its dependencies through their public names only.

Ruff's SLF001 and PLC2701 (on in the generated project) catch ``obj._x`` and ``from pkg
import _x``. This scan covers what they cannot see: a private name in a string
(``getattr(obj, "_x")``), a private attribute a class inherits from a library class and
reads or writes through ``self``, and ``import pkg._x``. A private name the service itself
defines is its own to use.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from conftest import OPTION_SETS, render

_REFLECTION = frozenset({"getattr", "setattr", "hasattr", "delattr"})


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _own_names(trees: list[ast.Module]) -> set[str]:
    """Names the service defines: functions, classes, variables, attributes it sets.

    (Whether a ``self._x`` a library subclass sets is its own is ``_inherited_privates``'s call.)
    """
    own: set[str] = set()
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                own.add(node.name)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                own.add(node.id)
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                own.add(node.attr)
            elif isinstance(node, ast.alias) and node.asname:
                own.add(node.asname)
    return own


def _third_party_imports(tree: ast.Module, local: set[str]) -> dict[str, str]:
    """Local name -> the third-party module it came from, for this file's imports."""
    found: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] not in local:
                    found[alias.asname or alias.name.split(".")[0]] = alias.name
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            external = node.module.split(".")[0] not in local
            for alias in node.names if external else ():
                found[alias.asname or alias.name] = node.module
    return found


def _base_root(base: ast.expr) -> str | None:
    while isinstance(base, ast.Attribute):
        base = base.value
    if isinstance(base, ast.Subscript):
        return _base_root(base.value)
    return base.id if isinstance(base, ast.Name) else None


def _inherited_privates(node: ast.ClassDef, own: set[str]) -> list[str]:
    """``self._x`` in a library subclass where ``_x`` is not set up by this class itself.

    The class's own private attributes are those its ``__init__`` assigns, its body
    declares, or the service defines elsewhere as methods; anything else comes from the
    library's class (``self._captured_signals`` in a ``uvicorn.Server`` subclass, say).
    """
    declared = {
        target.id
        for statement in node.body
        for target in (
            statement.targets
            if isinstance(statement, ast.Assign)
            else [getattr(statement, "target", None)]
        )
        if isinstance(target, ast.Name)
    } | {
        s.name
        for s in node.body
        if isinstance(s, ast.FunctionDef | ast.AsyncFunctionDef)
    }
    for statement in node.body:
        if isinstance(statement, ast.FunctionDef) and statement.name == "__init__":
            declared |= {
                n.attr
                for n in ast.walk(statement)
                if isinstance(n, ast.Attribute)
                and isinstance(n.ctx, ast.Store)
                and isinstance(n.value, ast.Name)
                and n.value.id == "self"
            }
    return sorted(
        {
            n.attr
            for n in ast.walk(node)
            if isinstance(n, ast.Attribute)
            and isinstance(n.value, ast.Name)
            and n.value.id in ("self", "cls")
            and _private(n.attr)
            and n.attr not in declared
        }
    )


def scan(sources: dict[str, str], local: set[str]) -> list[str]:
    """Every use of a third-party private name in ``sources`` (path -> Python source)."""
    trees = {path: ast.parse(text, path) for path, text in sources.items()}
    own = _own_names(list(trees.values()))
    problems: list[str] = []
    for path, tree in trees.items():
        imported = _third_party_imports(tree, local)
        for node in ast.walk(tree):
            where = f"{path}:{getattr(node, 'lineno', 0)}"
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.split(".")[0] not in local and any(
                        _private(part) for part in alias.name.split(".")
                    ):
                        problems.append(f"{where}: import {alias.name}")
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                if node.module.split(".")[0] not in local:
                    parts = [*node.module.split("."), *(a.name for a in node.names)]
                    for part in filter(_private, parts):
                        problems.append(f"{where}: from {node.module} import {part}")
            elif (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in _REFLECTION
                and len(node.args) >= 2
                and isinstance(node.args[1], ast.Constant)
                and isinstance(node.args[1].value, str)
                and _private(node.args[1].value)
                and node.args[1].value not in own
            ):
                problems.append(f"{where}: {node.func.id}(..., {node.args[1].value!r})")
            elif isinstance(node, ast.ClassDef) and any(
                _base_root(base) in imported for base in node.bases
            ):
                for attr in _inherited_privates(node, own):
                    problems.append(
                        f"{where}: class {node.name} uses inherited self.{attr}"
                    )
    return problems


def _local_names(project: Path) -> set[str]:
    roots = [project, project / "src"]
    return {
        p.stem
        for root in roots
        if root.is_dir()
        for p in root.iterdir()
        if p.suffix == ".py" or p.is_dir()
    }


@pytest.fixture(scope="module", name="rendered")
def _rendered(
    template: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Path]:
    return {
        name: render(template, tmp_path_factory.mktemp(name) / "project", **answers)
        for name, answers in OPTION_SETS.items()
    }


@pytest.mark.parametrize("option_set", OPTION_SETS)
def test_the_service_uses_no_private_name_of_a_dependency(
    rendered: dict[str, Path], option_set: str
) -> None:
    """No rendered .py file reaches a library's private name by string, subclass or import."""
    project = rendered[option_set]
    sources = {
        str(path.relative_to(project)): path.read_text(encoding="utf-8")
        for path in project.rglob("*.py")
        if ".venv" not in path.parts
    }
    assert len(sources) > 20
    assert scan(sources, _local_names(project)) == []


SEEDED = """
import opentelemetry.sdk._logs
from opentelemetry import trace
from opentelemetry.trace.propagation import _SPAN_KEY
from opentelemetry.sdk.trace import Span
import uvicorn
from service.tools import _helper


class _Own:
    def __init__(self) -> None:
        self._mine = 1


class EdgeSpan(Span):
    _slot = None

    def __init__(self) -> None:
        self._created = 1

    def grab(self) -> object:
        return self._attributes, self._created, self._slot


class Server(uvicorn.Server):
    def stop(self) -> None:
        self._captured_signals = []


def reach(sampler: object, own: _Own) -> object:
    getattr(own, "_mine")
    hasattr(sampler, "__doc__")
    return getattr(sampler, "_root"), trace.get_tracer
"""


def test_the_scanner_finds_each_kind_of_private_use() -> None:
    """Seeded uses are each reported; the service's own private names and dunders are not."""
    problems = scan({"seeded.py": SEEDED}, local={"service"})
    assert sorted(problem.split(": ", 1)[1] for problem in problems) == sorted(
        [
            "import opentelemetry.sdk._logs",
            "from opentelemetry.trace.propagation import _SPAN_KEY",
            "class EdgeSpan uses inherited self._attributes",
            "class Server uses inherited self._captured_signals",
            "getattr(..., '_root')",
        ]
    )


def test_the_scanner_passes_public_code() -> None:
    """A library subclass that keeps to its own attributes and public names is clean."""
    clean = SEEDED.split("class EdgeSpan")[0].replace(
        "from opentelemetry.trace.propagation import _SPAN_KEY\n", ""
    )
    clean = clean.replace("import opentelemetry.sdk._logs\n", "")
    assert scan({"clean.py": clean}, local={"service"}) == []
