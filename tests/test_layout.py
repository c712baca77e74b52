"""The package's layout is its architecture: the import directions are kept here.

    schemas  <-  core  <-  producer, consumer  <-  cli  ->  devtools

The core imports only the schemas; a service never imports the other service;
only the command line imports the developer tools, and only inside the functions
of the commands that run them (so `numguard check` never loads the simulator).
Nothing imports `producer`, `consumer` or `schemas` as a top-level package:
there is one import root.
"""

from __future__ import annotations

import ast
import os
from dataclasses import dataclass
from pathlib import Path

import pytest

import numguard

PACKAGE = Path(numguard.__file__).parent
TOP_LEVEL_FOLDERS = ("producer", "consumer", "schemas")

# Which layers each layer may import (its own always).
ALLOWED = {
    "schemas": set(),
    "core": {"schemas"},
    "producer": {"core", "schemas"},
    "consumer": {"core", "schemas"},
    "devtools": {"core", "schemas", "producer", "consumer"},
    "cli": {"core", "schemas", "producer", "consumer", "devtools"},
    "": {"cli"},  # numguard/__init__.py and __main__.py
}


@dataclass(frozen=True)
class Import:
    module: str  # the importing module, dotted
    target: str  # the imported module, dotted
    line: int
    top_level: bool  # run on import: not inside a function or `if TYPE_CHECKING:`


def layer_of(dotted: str) -> str:
    parts = dotted.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in ALLOWED else ""


def modules() -> list[tuple[str, Path]]:
    """Every module of the package, the linked folders followed as the importer does."""
    found = []
    for folder, _, files in os.walk(PACKAGE, followlinks=True):
        for name in files:
            if name.endswith(".py"):
                path = Path(folder) / name
                relative = path.relative_to(PACKAGE).with_suffix("")
                parts = [p for p in relative.parts if p != "__init__"]
                found.append((".".join(["numguard", *parts]), path))
    return sorted(found)


def imports_of(module: str, path: Path) -> list[Import]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: list[Import] = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            nested = in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            if isinstance(child, ast.If) and ast.unparse(child.test).endswith("TYPE_CHECKING"):
                nested = True  # for the type checker only: never run
            if isinstance(child, ast.Import):
                found.extend(Import(module, a.name, child.lineno, not in_function)
                             for a in child.names)  # fmt: skip
            elif isinstance(child, ast.ImportFrom) and child.level == 0 and child.module:
                found.append(Import(module, child.module, child.lineno, not in_function))
            visit(child, nested)

    visit(tree, False)
    return found


def all_imports() -> list[Import]:
    return [found for module, path in modules() for found in imports_of(module, path)]


def test_the_walk_sees_every_layer_through_the_links() -> None:
    names = {module for module, _ in modules()}
    for layer in ALLOWED:
        if layer:
            assert any(n.startswith(f"numguard.{layer}.") for n in names), layer
    assert "numguard.producer.normalize" in names
    assert "numguard.consumer.store.rules" in names


def test_nothing_imports_the_folders_as_top_level_packages() -> None:
    bare = [i for i in all_imports() if i.target.split(".")[0] in TOP_LEVEL_FOLDERS]
    assert bare == []


def test_each_layer_imports_only_the_layers_below_it() -> None:
    wrong = [
        f"{i.module}:{i.line} imports {i.target}"
        for i in all_imports()
        if i.target.startswith("numguard.")
        and layer_of(i.target) != layer_of(i.module)
        and layer_of(i.target) not in ALLOWED[layer_of(i.module)]
    ]
    assert wrong == []


def test_the_developer_tools_are_imported_only_when_a_command_needs_them() -> None:
    eager = [
        f"{i.module}:{i.line} imports {i.target}"
        for i in all_imports()
        if layer_of(i.target) == "devtools" and layer_of(i.module) != "devtools" and i.top_level
    ]
    assert eager == []


@pytest.mark.parametrize(
    ("module", "source", "allowed"),
    [
        ("numguard.core.x", "from numguard.producer import normalize", False),
        ("numguard.producer.x", "from numguard.consumer.store import rules", False),
        ("numguard.consumer.x", "import numguard.producer.normalize", False),
        ("numguard.consumer.x", "from numguard.devtools import simulator", False),
        ("numguard.schemas.x", "from numguard.core import phone", False),
        ("numguard.producer.x", "from numguard.core.kafka import topics", True),
        ("numguard.cli.x", "from numguard.consumer.store import rules", True),
    ],
)
def test_the_rule_itself_tells_a_wrong_direction(
    module: str, source: str, allowed: bool, tmp_path: Path
) -> None:
    path = tmp_path / "m.py"
    path.write_text(source)
    (found,) = imports_of(module, path)
    assert (layer_of(found.target) in ALLOWED[layer_of(module)] | {layer_of(module)}) is allowed
