"""Shared set-up of the CLI tests: the ``ecnet`` command run as a person runs it (a
subprocess), and a ``nation.json`` naming in-process nodes so that ``--province NN``
finds them."""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import tempfile
from pathlib import Path

from cli.nationfile import NationFile, NodeEntry

ROOT = Path(__file__).resolve().parent.parent
GRPCURL = shutil.which("grpcurl", path=str(Path(sys.executable).parent)) or shutil.which("grpcurl")


async def ecnet(
    *args: str,
    env: dict | None = None,
    cwd: Path | None = None,
    stdin: str | None = None,
    timeout: float = 60,
) -> tuple[int, str, str]:
    """``ecnet ARGS``: (exit code, stdout, stderr). It runs in ``cwd``, by default a new
    empty folder, so that nothing it writes lands in the repository."""
    if cwd is None:
        with tempfile.TemporaryDirectory(prefix="ecnet-cwd-") as folder:
            return await ecnet(*args, env=env, cwd=Path(folder), stdin=stdin, timeout=timeout)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "cli.main",
        *args,
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
        stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(
        proc.communicate(stdin.encode() if stdin is not None else None), timeout
    )
    return proc.returncode, out.decode(), err.decode()


def tls_flags() -> list[str]:
    """grpcurl's flags to call as the tests' operator (conftest's ``test_pki``)."""
    env = os.environ
    return ["-cacert", env["ECNET_CA"], "-cert", env["ECNET_CERT"], "-key", env["ECNET_KEY"]]


async def grpcurl(*args: str, timeout: float = 30) -> tuple[int, str, str]:
    """The real grpcurl (over mutual TLS as the tests' operator, then ``ARGS``): (exit
    code, stdout, stderr), run without blocking the event loop of the nodes it calls."""
    assert GRPCURL is not None, "grpcurl is not installed (make setup installs it)"
    proc = await asyncio.create_subprocess_exec(
        GRPCURL,
        *tls_flags(),
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout)
    return proc.returncode or 0, out.decode(), err.decode()


def terminal_tls_flags(terminal_id: str) -> list[str]:
    """grpcurl's flags to call as the terminal ``terminal_id`` (its certificate issued by
    ``cluster.pki.terminal`` first)."""
    env = os.environ
    folder = Path(env["ECNET_TERMINALS"])
    return [
        "-cacert",
        env["ECNET_CA"],
        "-cert",
        str(folder / f"{terminal_id}.crt"),
        "-key",
        str(folder / f"{terminal_id}.key"),
    ]


def readme_tls(script: str) -> str:
    """A README session's grpcurl flags (``nation/pki/…``, where ``make nation`` puts the
    CA's, the operator's and the terminals' certificates) pointed at the tests' CA."""
    env = os.environ
    for name, var in (("ca.crt", "ECNET_CA"), ("operator.crt", "ECNET_CERT")):
        script = script.replace(f"nation/pki/{name}", env[var])
    script = script.replace("nation/pki/terminals/", env["ECNET_TERMINALS"] + "/")
    return script.replace("nation/pki/operator.key", env["ECNET_KEY"])


def write_nation(folder: Path, *nodes) -> Path:
    """A ``nation.json`` naming running in-process nodes, as ``ecnet nation up`` writes it."""
    nation = NationFile(folder)
    for node in nodes:
        name = node.config.name
        nation.nodes[name] = NodeEntry(
            name,
            node.config.role,
            node.config.province,
            node.address,
            str(node.config.data_dir),
            str(folder / f"{name}.log"),
            https=node.https_address,
        )
    nation.save()
    return folder


async def readme_session(
    cluster,
    root: Path,
    heading: str,
    provinces=("44", "31"),
    timeout: float = 180,
    own_ca: bool = False,
) -> tuple[int, str, str]:
    """The ``sh`` blocks of the README's section ``heading``, run as written by bash
    against the README's nation (``make nation``: 10,000 persons, seed 2019, provinces
    11,31,44,51; here national and ``provinces``, in-process): (exit code, stdout, stderr).
    ``own_ca``: the nation folder gets a copy of the tests' CA in ``DIR/pki`` (its key
    too, as ``nation up`` leaves it), for a session that issues certificates."""
    import re

    from cli.seed import seed_national

    readme = (ROOT / "README.md").read_text()
    section = readme.split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]
    script = "\n".join(re.findall(r"```sh\n(.*?)```", section, re.S))
    report = seed_national(
        root / "national" / "national.db", 10_000, 2019, ["11", "31", "44", "51"]
    )
    for org_id, terminal_id in report.registered:  # what nation up issues them
        cluster.pki.terminal(terminal_id, org_id)
    # every node with its HTTPS doors, as nation up starts them
    national = await cluster.start_national(https="127.0.0.1:0")
    nodes = {"00": national} | {
        code: await cluster.start_province(code, https="127.0.0.1:0") for code in provinces
    }
    data = write_nation(root / "nation", *nodes.values())
    if own_ca:
        shutil.copytree(cluster.pki.folder, data / "pki")
    else:
        # the tests' CA as the nation's (nation/pki: what `ecnet terminals register` signs)
        (data / "pki").symlink_to(cluster.pki.folder, target_is_directory=True)
    script = readme_tls(script)
    script = re.sub(r"127\.0\.0\.1:500(\d\d)", lambda m: nodes[m.group(1)].address, script)
    script = re.sub(r"127\.0\.0\.1:510(\d\d)", lambda m: nodes[m.group(1)].https_address, script)
    script = script.replace(".venv/bin/", f"{Path(sys.executable).parent}/")
    work = root / "work"
    work.mkdir()
    proc = await asyncio.create_subprocess_exec(
        "bash",
        "-euo",
        "pipefail",
        "-c",
        script,
        cwd=work,
        env={**os.environ, "ECNET_DATA": str(data)},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout)
    return proc.returncode, out.decode(), err.decode()
