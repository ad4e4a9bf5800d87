"""The documentation points only at what the repository holds: every module, class or
function a docstring, docs/architecture.md or the README names (``node.x.y``,
:mod:`federation.z`) exists, every proto name (``ecnet.v1.VoucherData``) is in the
contracts, and every file path they give (``tests/test_x.py``) is in the tree."""

from __future__ import annotations

import importlib
import re

from clikit import ROOT
from google.protobuf import descriptor_pool

import ecnet.v1  # noqa: F401 - the generated package
from node.app import SERVICE_NAMES  # noqa: F401 - loads every contract into the pool

_NAME = re.compile(
    r"(?:``|:(?:mod|class|func|meth|attr|data|exc):`~?)"
    r"((?:node|federation|cli|bench|ecnet)(?:\.\w+)+)(?:\(\))?(?:``|`)"
)
_PATH = re.compile(
    r"`((?:node|federation|cli|bench|tests|docs|proto)/[\w./-]+\.(?:py|md|toml|proto))`"
)


def _resolves(name: str) -> bool:
    if name.startswith("ecnet.v1.") and name.count(".") == 2:
        pool = descriptor_pool.Default()
        for find in (pool.FindMessageTypeByName, pool.FindEnumTypeByName, pool.FindServiceByName):
            try:
                find(name)
                return True
            except KeyError:
                pass
    parts = name.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        for attr in parts[i:]:
            if not hasattr(obj, attr):
                return False
            obj = getattr(obj, attr)
        return True
    return False


def _documents() -> list:
    code = [p for pkg in ("node", "federation", "cli", "bench") for p in (ROOT / pkg).rglob("*.py")]
    docs = [ROOT / "docs" / f"{name}.md" for name in ("architecture", "netns", "deployment")]
    return [*code, *docs, ROOT / "README.md"]


def test_named_modules_and_objects_exist():
    named = {
        (str(f.relative_to(ROOT)), m.group(1))
        for f in _documents()
        for m in _NAME.finditer(f.read_text())
    }
    assert len(named) > 100
    assert sorted(n for n in named if not _resolves(n[1])) == []


def test_named_files_exist():
    paths = {
        (str(f.relative_to(ROOT)), m.group(1))
        for f in _documents()
        for m in _PATH.finditer(f.read_text())
    }
    assert len(paths) > 5
    assert sorted(p for p in paths if not (ROOT / p[1]).exists()) == []


def test_the_checks_can_fail():
    assert _resolves("node.app.Node") and _resolves("ecnet.v1.VoucherData")
    assert not _resolves("node.app.Nothing") and not _resolves("node.nowhere")
    assert not _resolves("ecnet.v1.NoSuchMessage")
