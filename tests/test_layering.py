"""Imports only go downwards (ARCHITECTURE.md, "Layout and layers").

Every module of physxai is parsed with ``ast`` (nothing is imported), relative imports are
resolved against the module's package, and each import is checked against the layer table:

| layer                  | may import (inside physxai)                                     |
|------------------------|-----------------------------------------------------------------|
| errors, _validation    | each other                                                      |
| physics                | errors, _validation                                             |
| data                   | physics and below                                               |
| models                 | errors, _validation                                             |
| attribution            | errors, _validation (and itself)                                |
| features, influence    | attribution and below                                           |
| probes, evaluation     | features, influence, attribution, models, data and below        |
| plot, harness, cli,    | anything in physxai                                             |
| report, scale, testing,|                                                                 |
| the package            |                                                                 |

Third-party packages follow the same table: the base layers use only the standard library,
torch and numpy; physics adds scipy; data adds h5py and scikit-learn (its tabular sets);
attribution, features and influence may use scipy and scikit-learn (solvers, t-SNE, trees);
probes and evaluation add h5py; matplotlib and the peer libraries (captum, zennit, shap) only in
the top layers. tqdm (progress bars) is allowed everywhere. Nothing in physxai imports the
``experiments`` directory, which the CLI loads by path.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

import physxai

PACKAGE_DIR = Path(physxai.__file__).resolve().parent

BASE = {"errors", "_validation"}
TOP = "anything"
#: layer -> the physxai layers it may import (besides itself)
INTERNAL: dict[str, set[str] | str] = {
    "errors": BASE,
    "_validation": BASE,
    "physics": BASE,
    "data": BASE | {"physics"},
    "models": BASE,
    "attribution": BASE,
    "features": BASE | {"attribution"},
    "influence": BASE | {"attribution"},
    "probes": BASE
    | {"physics", "data", "models", "attribution", "features", "influence", "evaluation"},
    "evaluation": BASE
    | {"physics", "data", "models", "attribution", "features", "influence", "probes"},
    "plot": TOP,
    "harness": TOP,
    "cli": TOP,
    "report": TOP,
    "scale": TOP,
    "testing": TOP,
    "__init__": TOP,
    "__main__": TOP,
}

_CORE = {"torch", "numpy"}
_EVERYWHERE = {"tqdm", "typing_extensions"}
#: layer -> third-party top-level packages it may import
EXTERNAL: dict[str, set[str] | str] = {
    "errors": _CORE,
    "_validation": _CORE,
    "physics": _CORE | {"scipy"},
    "data": _CORE | {"scipy", "h5py", "sklearn", "tomli"},
    "models": _CORE,
    "attribution": _CORE | {"scipy", "sklearn"},
    "features": _CORE | {"scipy", "sklearn"},
    "influence": _CORE | {"scipy", "sklearn"},
    "probes": _CORE | {"scipy", "sklearn", "h5py"},
    "evaluation": _CORE | {"scipy", "sklearn", "h5py"},
    "plot": TOP,
    "harness": TOP,
    "cli": TOP,
    "report": TOP,
    "scale": TOP,
    "testing": TOP,
    "__init__": TOP,
    "__main__": TOP,
}


def module_name(path: Path, root: Path = PACKAGE_DIR) -> tuple[str, bool]:
    """Dotted name of a file in the package, and whether it is a package ``__init__``."""
    rel = path.relative_to(root.parent).with_suffix("")
    parts = list(rel.parts)
    is_package = parts[-1] == "__init__"
    if is_package:
        parts = parts[:-1]
    return ".".join(parts), is_package


def layer_of(name: str) -> str:
    """``physxai.attribution.lrp.rules`` -> ``attribution``; ``physxai`` -> ``__init__``."""
    parts = name.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def imported_names(source: str, module: str, is_package: bool) -> list[tuple[int, str]]:
    """(line, absolute dotted name) of every import in ``source``; relative ones resolved.

    ``from X import y`` yields ``X.y`` (y may be a submodule or an attribute; the layer is
    decided by the first component after ``physxai``, so both read the same).
    """
    package = module if is_package else module.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = package.split(".")
                if node.level - 1 >= len(base_parts):
                    found.append((node.lineno, "<beyond the top-level package>"))
                    continue
                base = ".".join(base_parts[: len(base_parts) - (node.level - 1)])
                base = f"{base}.{node.module}" if node.module else base
            else:
                base = node.module or ""
            if node.module is None or base == "physxai":
                # `from . import x` / `from physxai import x`: x names a subpackage or attribute
                found += [(node.lineno, f"{base}.{alias.name}") for alias in node.names]
            else:
                found.append((node.lineno, base))
    return found


def violations(source: str, module: str, is_package: bool = False) -> list[str]:
    """Every import of ``source`` (the module ``module``) that goes against the layer table."""
    layer = layer_of(module)
    if layer not in INTERNAL:
        return [f"{module}: unknown layer {layer!r}; add it to the table in ARCHITECTURE.md"]
    bad = []
    for line, name in imported_names(source, module, is_package):
        top = name.split(".")[0]
        where = f"{module}:{line} imports {name}"
        if name.startswith("<"):
            bad.append(f"{where}: relative import past the package")
        elif top == "experiments":
            bad.append(
                f"{where}: the library never imports experiments/ (the CLI loads them by path)"
            )
        elif top == "physxai":
            target = layer_of(name)
            if target not in INTERNAL:
                target = "__init__"  # an attribute of the package itself (__version__, attribute)
            allowed = INTERNAL[layer]
            if target != layer and allowed != TOP and target not in allowed:
                bad.append(f"{where}: layer {layer!r} may not import layer {target!r}")
        elif top in sys.stdlib_module_names or top == "__future__":
            continue
        else:
            allowed = EXTERNAL[layer]
            if allowed != TOP and top not in allowed and top not in _EVERYWHERE:
                bad.append(f"{where}: layer {layer!r} may not import the package {top!r}")
    return bad


def test_the_tree_follows_the_layers():
    files = sorted(PACKAGE_DIR.rglob("*.py"))
    assert len(files) > 5
    problems = []
    for path in files:
        name, is_package = module_name(path)
        problems += violations(path.read_text(encoding="utf-8"), name, is_package)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(
    "module, is_package, source, expected",
    [
        ("physxai.attribution.gradient", False, "from ..plot import heatmaps\n", "'plot'"),
        ("physxai.attribution.gradient", False, "from ..models import MLP\n", "'models'"),
        ("physxai.attribution", True, "from ..data import load\n", "'data'"),
        ("physxai.attribution.lrp.rules", False, "from ...physics import ising\n", "'physics'"),
        ("physxai.models._mlp", False, "import physxai.attribution\n", "'attribution'"),
        ("physxai.models._mlp", False, "from physxai import attribute\n", "'__init__'"),
        ("physxai.errors", False, "from . import harness\n", "'harness'"),
        ("physxai.features.tsne", False, "from ..probes import compare\n", "'probes'"),
        ("physxai.cli", False, "import experiments.wetzel2017\n", "never imports experiments"),
        ("physxai.harness", False, "from experiments import foo\n", "never imports experiments"),
        ("physxai.models._cnn", False, "import matplotlib.pyplot as plt\n", "'matplotlib'"),
        ("physxai.attribution.lrp", True, "import captum\n", "'captum'"),
        ("physxai._validation", False, "import scipy.linalg\n", "'scipy'"),
        ("physxai.errors", False, "from .... import x\n", "past the package"),
    ],
)
def test_a_planted_bad_import_is_caught(module, is_package, source, expected):
    found = violations(source, module, is_package)
    assert len(found) == 1 and expected in found[0], found


@pytest.mark.parametrize(
    "module, is_package, source",
    [
        (
            "physxai.attribution.gradient",
            False,
            "from ._base import Attribution\nfrom .. import _validation\n",
        ),
        (
            "physxai.attribution.lrp.rules",
            False,
            "from ..._validation import check_inputs\nfrom .. import _base\n",
        ),
        ("physxai.attribution", True, "from .gradient import Saliency\nimport torch, math\n"),
        (
            "physxai.probes.ccnn",
            False,
            "from ..models import fit\nfrom ..data import load\nimport h5py\n",
        ),
        (
            "physxai.features.tsne",
            False,
            "from ..attribution import attribute\nimport sklearn.manifold\n",
        ),
        (
            "physxai.models._training",
            False,
            "from tqdm.auto import tqdm\nfrom .._validation import x\n",
        ),
        (
            "physxai.harness",
            False,
            "from . import __version__\nimport matplotlib\nfrom .plot import heatmap_grid\n",
        ),
        ("physxai", True, "from .attribution import METHODS, attribute\n"),
    ],
)
def test_allowed_imports_pass(module, is_package, source):
    assert violations(source, module, is_package) == []


def test_relative_imports_resolve_against_the_package():
    # in a package __init__ "." is the package itself; in a module it is the module's package
    assert imported_names("from . import rules", "physxai.attribution.lrp", True) == [
        (1, "physxai.attribution.lrp.rules")
    ]
    assert imported_names("from . import rules", "physxai.attribution.lrp.composites", False) == [
        (1, "physxai.attribution.lrp.rules")
    ]
    assert imported_names("from ..x import y", "physxai.a.b", False) == [(1, "physxai.x")]
