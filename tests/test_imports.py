"""Every module of the project imports on its own, first, in a fresh state: an import
cycle that only bites when a particular module is imported first (a CLI command, a
tool) fails here rather than in a user's hands."""

from __future__ import annotations

import subprocess
import sys

from clikit import ROOT

PACKAGES = ("node", "federation", "cli", "bench")

SCRIPT = """
import importlib, pathlib, sys
root = pathlib.Path(sys.argv[1])
ours = {p.split(".")[0] for p in sys.argv[2:]}
names = []
for package in sys.argv[2:]:
    for f in sorted((root / package).rglob("*.py")):
        parts = f.relative_to(root).with_suffix("").parts
        names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
failed = []
for name in names:
    for loaded in [m for m in sys.modules if m.split(".")[0] in ours]:
        del sys.modules[loaded]
    try:
        importlib.import_module(name)
    except Exception as exc:
        failed.append(f"{name}: {type(exc).__name__}: {exc}")
print(len(names))
print("\\n".join(failed))
sys.exit(1 if failed else 0)
"""


def test_every_module_imports_first():
    run = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(ROOT), *PACKAGES],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert int(run.stdout.split()[0]) > 50
