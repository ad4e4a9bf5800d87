"""``ecnet voucher`` end to end: the CLI as a process against an in-process national
node; and the README's grpcurl activation session, run as written."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import sys
from pathlib import Path

import pytest
from clikit import ROOT, ecnet, readme_tls
from voucherkit import start_nation

from node.clock import SystemClock

GRPCURL = shutil.which("grpcurl", path=str(Path(sys.executable).parent)) or shutil.which("grpcurl")


async def test_cli_activates_authorizes_lists_and_revokes(cluster, tmp_path):
    # The CLI stamps its liveness sample with the real time: national keeps it too, however
    # long the subprocesses take on a loaded machine.
    kit = await start_nation(cluster, tmp_path, clock=SystemClock())
    p = kit.person(0)
    node = ["--node", kit.national.address]
    who = ["--name", p.user_name, "--id-type", "01", "--id-no", p.id_no]

    rc, out, err = await ecnet(
        "voucher",
        "activate",
        *who,
        "--password",
        "135792",
        "--business-province",
        "51",
        "--json",
        *node,
    )
    assert rc == 0, err
    activated = json.loads(out)  # ActivateResponse, as grpcurl prints it
    assert activated["state"] == "VOUCHER_STATE_ACTIVATED" and len(activated["authCode"]) == 32
    assert activated["version"] == "1" and len(activated["ecCardNo"]) == 64

    rc, out, err = await ecnet("voucher", "activate", *who, "--password", "135792", *node)
    assert rc == 1 and "error 500086" in err

    rc, out, err = await ecnet(
        "voucher", "authorize", "--channel", "WECHAT", *who, "--password", "135792", "--json", *node
    )
    assert rc == 0, err
    wechat = json.loads(out)
    assert (
        wechat["ecCardNo"] == activated["ecCardNo"] and wechat["authCode"] != activated["authCode"]
    )
    rc, out, err = await ecnet(
        "voucher", "authorize", "--channel", "ALIPAY", *who, "--password", "000000", *node
    )
    assert rc == 1 and "error 500004" in err and "000000" not in err

    rc, out, err = await ecnet(
        "voucher", "authorizations", "--auth-code", activated["authCode"], "--json", *node
    )
    assert rc == 0, err
    listed = json.loads(out)["authorizations"]
    assert [a["channelId"] for a in listed] == ["NHSA-OFFICIAL", "WECHAT"]
    rc, out, err = await ecnet(
        "voucher", "revoke", "--auth-code", activated["authCode"], "--channel", "WECHAT", *node
    )
    assert rc == 0 and "revoked" in out, err
    rc, out, err = await ecnet(
        "voucher", "status", "--channel", "WECHAT", "--auth-code", wechat["authCode"], *node
    )
    assert rc == 1 and "error 500022" in err
    rc, out, err = await ecnet(
        "voucher", "status", "--auth-code", activated["authCode"], "--json", *node
    )
    assert rc == 0 and json.loads(out)["version"] == "3", err

    # a third party activates through the national password page
    q = kit.person(1)
    rc, out, err = await ecnet(
        "voucher",
        "activate",
        "--name",
        q.user_name,
        "--id-no",
        q.id_no,
        "--channel",
        "ALIPAY",
        "--password",
        "246813",
        *node,
    )
    assert rc == 0 and "authCode for ALIPAY" in out, err


@pytest.mark.skipif(
    GRPCURL is None or shutil.which("bash") is None, reason="needs grpcurl and bash"
)
async def test_the_readme_activation_session_runs_as_written(cluster, tmp_path):
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Activate a voucher with grpcurl", 1)[1].split("\n## ", 1)[0]
    script = re.search(r"```sh\n(.*?)```", section, re.S).group(1)
    # the README's nation: `make nation` (10,000 persons, seed 2019, provinces 11,31,44,51)
    from cli.seed import seed_national

    seed_national(tmp_path / "national" / "national.db", 10_000, 2019, ["11", "31", "44", "51"])
    national = await cluster.start_national()
    script = (
        readme_tls(script)
        .replace("127.0.0.1:50000", national.address)
        .replace(".venv/bin/", f"{Path(sys.executable).parent}/")
    )
    work = tmp_path / "work"  # what the session writes goes here, not into the repository
    work.mkdir()
    proc = await asyncio.create_subprocess_exec(
        "bash",
        "-euc",
        script,
        cwd=work,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode == 0, err.decode()
    assert '"state": "VOUCHER_STATE_ACTIVATED"' in out.decode()
    assert '"channelId": "NHSA-OFFICIAL"' in out.decode()
