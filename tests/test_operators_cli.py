"""The operators' and audit commands (``ecnet operators``, ``ecnet --as``, ``ecnet audit``)
and the README's session "Operators and the audit log", run as written."""

from __future__ import annotations

import json
import shutil
import sqlite3

from clikit import ecnet, readme_session, write_nation
from voucherkit import start_nation


async def test_readme_operators_session(cluster, tmp_path):
    rc, out, err = await readme_session(
        cluster, tmp_path, "Operators and the audit log", provinces=("44", "31"), own_ca=True
    )
    assert rc == 0, err
    assert "│ 杨*雪    │ 01     │ 441426********3706 │" in out  # masked, to the operator of 44
    assert "error -4: ecnet://operator/p44/chen may list persons of province 44 only" in err
    assert "SetChannelStatus is not allowed to ecnet://operator/auditor/wang" in err
    assert "PERMISSION_DENIED -4" in out  # audit show: the refusals are in the log
    # each operator's one-time console password, given and recorded at national
    assert "console password of wang (one-time" in out and "console password of chen" in out
    assert "national: intact, 7 records" in out and "p44: intact" in out and "p31: intact" in out


async def test_operators_add_refuses_what_it_cannot_do(cluster, tmp_path):
    data = tmp_path / "nation"
    data.mkdir()
    rc, _, err = await ecnet("operators", "add", "wang", "--role", "auditor", "--data", str(data))
    assert rc == 1 and "no CA in" in err, err
    # the tests' CA, copied as nation up leaves it
    shutil.copytree(cluster.pki.folder, data / "pki", dirs_exist_ok=True)
    for role, words in (("root", "is not a role"), ("p99", "is not a role")):
        rc, _, err = await ecnet("operators", "add", "wang", "--role", role, "--data", str(data))
        assert rc == 1 and words in err, err
    rc, _, err = await ecnet("operators", "add", "Wang", "--role", "auditor", "--data", str(data))
    assert rc == 1 and "is not an operator name" in err, err
    assert (await ecnet("operators", "add", "wang", "--role", "auditor", "--data", str(data)))[
        0
    ] == 0
    # the same again is no change; another role for the name is refused
    assert (await ecnet("operators", "add", "wang", "--role", "auditor", "--data", str(data)))[
        0
    ] == 0
    rc, _, err = await ecnet("operators", "add", "wang", "--role", "admin", "--data", str(data))
    assert rc == 1 and "exists already as ecnet://operator/auditor/wang" in err, err
    rc, out, _ = await ecnet("operators", "list", "--json", "--data", str(data))
    assert {"name": "wang", "role": "auditor"}.items() <= json.loads(out)[-1].items()
    # revoked: on the CA's list as revoked, its files gone, the name free again
    rc, out, err = await ecnet("operators", "revoke", "wang", "--data", str(data))
    assert rc == 0 and "revoked ecnet://operator/auditor/wang (1 certificate(s))" in out, err
    assert not (data / "pki" / "operators" / "wang.crt").exists()
    rc, out, _ = await ecnet("ca", "list", "--json", "--data", str(data))
    rows = [r for r in json.loads(out) if r["identity"] == "ecnet://operator/auditor/wang"]
    assert len(rows) == 1 and rows[0]["revokedAt"], rows
    assert (await ecnet("operators", "add", "wang", "--role", "admin", "--data", str(data)))[0] == 0
    # an operator not made
    rc, _, err = await ecnet(
        "--as", "nobody", "persons", "list", "--node", "127.0.0.1:9", "--data", str(data)
    )
    assert rc == 1 and "no operator nobody" in err and "ecnet operators add nobody" in err, err


async def test_audit_verify_exits_non_zero_naming_the_record(cluster, tmp_path):
    kit = await start_nation(cluster, tmp_path, population=30)
    data = write_nation(tmp_path / "nation", kit.national)
    for _ in range(3):
        assert (await ecnet("channels", "list", "--data", str(data)))[0] == 0
    rc, out, err = await ecnet("audit", "verify", "--data", str(data))
    assert rc == 0 and "national: intact, 3 records" in out, (out, err)
    rc, out, _ = await ecnet("audit", "show", "--json", "--data", str(data))
    records = json.loads(out)["records"]
    assert [r["sequence"] for r in records] == ["1", "2", "3", "4"]  # verify's own is the 4th

    conn = sqlite3.connect(kit.national.db_path)
    with conn:
        conn.execute("DROP TRIGGER audit_log_no_update")
        conn.execute("UPDATE audit_log SET peer = 'ipv4:10.9.9.9:1' WHERE seq = 2")
    conn.close()
    rc, out, err = await ecnet("audit", "verify", "--data", str(data))
    assert rc == 1 and "national: BROKEN at record 2: record 2 was changed" in err, (out, err)
    rc, out, err = await ecnet("audit", "verify", "--json", "--data", str(data))
    assert rc == 1 and json.loads(out)["national"]["firstBadSequence"] == 2
