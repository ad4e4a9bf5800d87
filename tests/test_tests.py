"""Every test asserts something. A test function with no ``assert``, no ``pytest.raises`` or
``pytest.warns`` and no call to one of the asserting helpers below passes whatever the code
under test does, so it is refused here; read from the source with ``ast``, not run."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent

# Helpers that assert for the test that calls them, and the only files that may define them.
ASSERTING_HELPERS = {
    # the awaited call must fail (voucherkit: with the given C.4 code)
    "fails": {"voucherkit.py", "test_link.py"},
    # ecnet-node exits with the given code and one line of error
    "assert_one_line": {"test_node_program.py"},
}
CHECKS = {"pytest.raises", "pytest.warns"}


def asserts(function: ast.AST) -> bool:
    for node in ast.walk(function):
        if isinstance(node, ast.Assert):
            return True
        if isinstance(node, ast.Call):
            if ast.unparse(node.func) in CHECKS:
                return True
            if isinstance(node.func, ast.Name) and node.func.id in ASSERTING_HELPERS:
                return True
    return False


def collected_functions(tree: ast.Module):
    """The functions pytest collects: ``test*`` at module level and in ``Test*`` classes."""
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
            yield from (
                n
                for n in node.body
                if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)
                and n.name.startswith("test")
            )
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith(
            "test"
        ):
            yield node


def silent_tests(source: str) -> list[str]:
    return [f.name for f in collected_functions(ast.parse(source)) if not asserts(f)]


@pytest.mark.parametrize("path", sorted(TESTS.glob("test_*.py")), ids=lambda p: p.name)
def test_every_test_asserts(path: Path) -> None:
    silent = silent_tests(path.read_text(encoding="utf-8"))
    assert not silent, f"{path.name}: tests that assert nothing: {', '.join(silent)}"


def test_the_asserting_helpers_assert() -> None:
    defined: dict[str, set[str]] = {name: set() for name in ASSERTING_HELPERS}
    for path in sorted(TESTS.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name in defined:
                assert asserts(node), f"{path.name}: {node.name} asserts nothing"
                defined[node.name].add(path.name)
    assert defined == ASSERTING_HELPERS


def test_the_check_itself() -> None:
    source = """
import pytest

def test_nothing():
    work()

async def test_only_awaits():
    await work()

def test_asserts():
    assert work()

async def test_raises():
    with pytest.raises(ValueError):
        await work()

def test_helper():
    assert_one_line(run(), 2, "bad")

def helper_not_a_test():
    work()

class TestGroup:
    def test_in_a_class(self):
        work()
"""
    assert silent_tests(source) == ["test_nothing", "test_only_awaits", "test_in_a_class"]
