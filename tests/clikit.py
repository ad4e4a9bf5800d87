"""Shared set-up of the CLI tests: the ``ecnet`` command run as a person runs it (a
subprocess), and a ``nation.json`` naming in-process nodes so that ``--province NN``
finds them."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from cli.nationfile import NationFile, NodeEntry

ROOT = Path(__file__).resolve().parent.parent


async def ecnet(*args: str, env: dict | None = None, cwd: Path = ROOT, stdin: str | None = None,
                timeout: float = 60) -> tuple[int, str, str]:
    """``ecnet ARGS``: (exit code, stdout, stderr)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "cli.main", *args, cwd=cwd, env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
        stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(stdin.encode() if stdin is not None else None), timeout)
    return proc.returncode, out.decode(), err.decode()


def write_nation(folder: Path, *nodes) -> Path:
    """A ``nation.json`` naming running in-process nodes, as ``ecnet nation up`` writes it."""
    nation = NationFile(folder)
    for node in nodes:
        name = node.config.name
        nation.nodes[name] = NodeEntry(name, node.config.role, node.config.province, node.address,
                                       str(node.config.data_dir), str(folder / f"{name}.log"))
    nation.save()
    return folder
