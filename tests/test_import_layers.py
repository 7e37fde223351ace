"""Imports inside ``autocolor`` point one way: down the layers of docs/architecture.md.

Every ``import`` / ``from ... import`` of the package's source is read with ``ast`` (module level,
inside functions and under ``TYPE_CHECKING`` alike, plus ``importlib.import_module("autocolor...")``
with a literal name) and mapped to the top-level unit it names (``autocolor.decode.bins`` ->
``decode``). A unit may import units of lower layers only; units of one layer are independent of
each other. Every unit must be placed in a layer, so a new package is placed on purpose.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "autocolor"

#: Top to bottom. Keep in step with the "Layers" section of docs/architecture.md.
LAYERS: tuple[frozenset[str], ...] = tuple(
    frozenset(layer.split())
    for layer in (
        "__main__",  # python -m autocolor
        "cli",  # parse, call, report
        "evaluation batch train video",  # score a model, run a batch, train one, colorize a video
        "sampling",  # several draws of one photo, over the pipeline
        "pipeline",  # the one orchestrator: photo -> network -> decoder -> photo
        "decode hints render metrics data contactsheet networks outputnames",  # around the network; formulas; crops; grids; loading; output names
        "weights",  # files -> state_dicts; converters check them against the network's shapes
        "models",  # networks and their registry
        "color devices imagefile",  # Lab and bins; devices; photo files
        "imageencode",  # output codes -> file bytes with metadata (imagefile, render, batch use it)
        "imagemeta photo imageformats",  # file metadata; the decoded-photo type; readable formats
        "errors names __version__",  # leaves
    )
)

#: Upward imports that are allowed, each inside a function (never at import time), with why.
EXCEPTIONS: dict[tuple[str, str], str] = {
    ("models/registry.py", "weights"): "create_model(pretrained=True) is the timm-style shortcut that "
    "asks the weights layer for the state_dict; importing models never imports weights",
}

#: The package facade re-exports the public API lazily (``autocolor.colorize`` -> pipeline).
FACADE = "__init__.py"


def _unit(module: str, root: str = "autocolor") -> str | None:
    """``autocolor.decode.bins`` -> ``decode``; ``autocolor`` alone -> ``None`` (see _from_root)."""
    parts = module.split(".")
    if parts[0] != root or len(parts) < 2:
        return None
    return parts[1]


def _imports(path: Path, package_root: Path, root: str = "autocolor") -> Iterator[tuple[str, int]]:
    """``(unit, line)`` of every import of the package in ``path``."""
    relative = path.relative_to(package_root).with_suffix("")
    module = [root, *relative.parts]
    if module[-1] == "__init__":
        module = module[:-1]
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                unit = _unit(alias.name, root)
                if unit:
                    yield unit, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against this module's package
                package = module if path.name == "__init__.py" else module[:-1]
                base = package[: len(package) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target == root:  # from autocolor import x: x is a unit (or __version__)
                for alias in node.names:
                    yield alias.name, node.lineno
            elif unit := _unit(target, root):
                yield unit, node.lineno
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
            and (unit := _unit(node.args[0].value, root))
        ):
            yield unit, node.lineno


def _own_unit(path: Path, package_root: Path) -> str:
    relative = path.relative_to(package_root)
    return relative.parts[0].removesuffix(".py") if len(relative.parts) > 1 or relative.name != FACADE else ""


def units_of(package_root: Path) -> set[str]:
    """The top-level modules and packages of the package (``__init__.py`` excluded)."""
    return {
        p.name.removesuffix(".py")
        for p in package_root.iterdir()
        if (p.suffix == ".py" and p.name != FACADE) or (p.is_dir() and (p / "__init__.py").is_file())
    }


def layer_violations(
    package_root: Path,
    layers: Sequence[frozenset[str]],
    exceptions: dict[tuple[str, str], str],
    root: str = "autocolor",
) -> list[str]:
    """Every import that does not point down the layers, as ``file:line: a imports b (why)``."""
    rank = {unit: i for i, layer in enumerate(layers) for unit in layer}
    problems = [
        f"{unit}: not in any layer; place it in LAYERS (tests/test_import_layers.py) and docs/architecture.md"
        for unit in sorted(units_of(package_root) - set(rank))
    ]
    for path in sorted(package_root.rglob("*.py")):
        own = _own_unit(path, package_root)
        if not own:
            continue  # the facade
        where = path.relative_to(package_root).as_posix()
        for unit, line in _imports(path, package_root, root):
            if unit == own or (where, unit) in exceptions:
                continue
            if unit not in rank:
                problems.append(f"{where}:{line}: {own} imports {unit}, which is in no layer")
            elif own in rank and rank[unit] < rank[own]:
                problems.append(f"{where}:{line}: {own} imports {unit}, a higher layer")
            elif own in rank and rank[unit] == rank[own]:
                problems.append(f"{where}:{line}: {own} imports {unit}, a peer in the same layer")
    return problems


def test_imports_point_down_the_layers() -> None:
    problems = layer_violations(SRC, LAYERS, EXCEPTIONS)
    assert not problems, "imports against the layers:\n" + "\n".join(problems)


def test_exceptions_are_still_needed_and_lazy() -> None:
    """An exception that no longer happens is removed; the remaining ones import inside functions."""
    for (where, unit), _why in EXCEPTIONS.items():
        path = SRC / where
        tree = ast.parse(path.read_text(encoding="utf-8"))
        top_level = {u for node in tree.body for u, _ in _imports_of_node(node, path)}
        assert unit not in top_level, f"{where} imports {unit} at module level"
        assert any(u == unit for u, _ in _imports(path, SRC)), f"{where} no longer imports {unit}: drop the exception"


def _imports_of_node(node: ast.stmt, path: Path) -> Iterator[tuple[str, int]]:
    if isinstance(node, ast.Import):
        yield from ((u, node.lineno) for a in node.names if (u := _unit(a.name)))
    elif isinstance(node, ast.ImportFrom) and not node.level and (u := _unit(node.module or "")):
        yield u, node.lineno


def test_every_layer_unit_exists() -> None:
    """A unit listed in LAYERS that was renamed or removed is dropped from the list too."""
    listed = set().union(*LAYERS) - {"__version__"}
    assert listed <= units_of(SRC), sorted(listed - units_of(SRC))


def _fake_package(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "autocolor"
    for name, text in {"__init__.py": "", **files}.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


LAYERS_ABC = (frozenset({"top"}), frozenset({"mid", "peer"}), frozenset({"low"}))


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"low.py": "from autocolor.mid import x\n"}, "low.py:1: low imports mid, a higher layer"),
        ({"low.py": "def f():\n    import autocolor.top.sub\n"}, "low.py:2: low imports top, a higher layer"),
        ({"mid/__init__.py": "", "mid/a.py": "from ..peer import y\n"}, "mid/a.py:1: mid imports peer, a peer"),
        ({"low.py": "import importlib\nimportlib.import_module('autocolor.top')\n"}, "low.py:2: low imports top"),
        ({"low.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from autocolor import mid\n"},
         "low.py:3: low imports mid"),
        ({"stray.py": ""}, "stray: not in any layer"),
    ],
)
def test_the_checker_finds_violations(tmp_path: Path, files: dict[str, str], expected: str) -> None:
    base = {"top.py": "from autocolor.mid import a\nfrom autocolor import low\n", "mid/__init__.py": "",
            "peer.py": "", "low.py": ""}  # fmt: skip
    root = _fake_package(tmp_path, {**base, **files})
    problems = layer_violations(root, LAYERS_ABC, {})
    assert any(p.startswith(expected) for p in problems), problems
    clean = layer_violations(_fake_package(tmp_path / "clean", base), LAYERS_ABC, {})
    assert clean == []
