"""``ecnet nation`` end to end: real node processes, driven through the CLI."""

from __future__ import annotations

import json
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cli.nation import ensure_pki, plan_nation
from conftest import reserved_ports
from node.domain.idno import validate_id
from node.pki import read_certificate, read_crl, verify

ECNET = [sys.executable, "-m", "cli.main"]


def ecnet(*args: str, data: Path, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [*ECNET, *args, "--data", str(data)], capture_output=True, text=True, timeout=120
    )
    if check:
        assert proc.returncode == 0, proc.stderr + proc.stdout
    return proc


@pytest.fixture
def nation(tmp_path):
    data = tmp_path / "nation"
    # national on BASE, province NN on BASE+NN: a block of ports this test alone holds
    with reserved_ports() as base:
        ecnet(
            "nation",
            "up",
            "--detach",
            "--population",
            "300",
            "--provinces",
            "11,44",
            "--base-port",
            str(base),
            "--heartbeat",
            "0.5",
            data=data,
        )
        try:
            yield data, base
        finally:
            ecnet("nation", "down", data=data, check=False)


def status(data: Path) -> dict[str, dict]:
    return {
        row["node"]: row
        for row in json.loads(ecnet("nation", "status", "--json", data=data).stdout)
    }


def test_nation_lifecycle(nation):
    data, base = nation
    rows = status(data)
    assert set(rows) == {"national", "p11", "p44"}
    assert all(r["health"] == "SERVING" for r in rows.values())
    assert rows["p44"]["address"] == f"127.0.0.1:{base + 44}"
    assert rows["p44"]["directory"] == "up"
    assert rows["national"]["counts"]["persons"] == 300
    assert rows["national"]["database"] == ""  # SQLite: its file in its data folder
    assert rows["national"]["counts"]["channels"] == 3
    # when each node's certificate expires, as the node says (GetNodeInfo.certNotAfter)
    for node in ("national", "p44"):
        cert = read_certificate(data / "pki" / "nodes" / f"{node}.crt")
        assert rows[node]["certNotAfter"] == cert.not_valid_after_utc.isoformat()
    # every node's folder, database and log are its own (0700 / 0600)
    for node in ("national", "p44"):
        folder = data / node
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
        for f in folder.iterdir():
            if f.suffix in (".db", ".log", ".lock") or f.name.endswith(("-wal", "-shm")):
                assert stat.S_IMODE(f.stat().st_mode) == 0o600, f
        assert {f.suffix for f in folder.iterdir()} >= {".db", ".log"}, list(folder.iterdir())
    # the nation's certificates: one CA, every node's identity, the operator's, keys 0600
    pki = data / "pki"
    ca = read_certificate(pki / "ca.crt")
    crl = read_crl(pki / "crl.pem")
    for stem, uri in [
        ("nodes/national", "ecnet://national"),
        ("nodes/p11", "ecnet://province/11"),
        ("nodes/p44", "ecnet://province/44"),
        ("operator", "ecnet://operator/admin"),
    ]:
        got = verify(read_certificate(pki / f"{stem}.crt"), ca, crl, time.time(), "client")
        assert got.uri == uri, (stem, got)
        assert stat.S_IMODE((pki / f"{stem}.key").stat().st_mode) == 0o600, stem
    # every node's SM2 key that signs its events, beside its certificate, and used
    for node in ("national", "p11", "p44"):
        key = pki / "nodes" / f"{node}.sign.key"
        assert stat.S_IMODE(key.stat().st_mode) == 0o600, key
        assert not (data / node / "sign.key").exists()
    assert stat.S_IMODE(pki.stat().st_mode) == 0o700
    # every seeded terminal's certificate, naming its number and institution, and it scans
    listed = json.loads(ecnet("terminals", "list", "--json", data=data).stdout)["terminals"]
    assert {t["province"] for t in listed} == {"11", "44"}
    for t in listed:
        number = t["terminalId"]
        got = verify(read_certificate(pki / "terminals" / f"{number}.crt"), ca, crl, time.time())
        assert got.uri == f"ecnet://terminal/{t['orgId']}/{number}", got
        assert stat.S_IMODE((pki / "terminals" / f"{number}.key").stat().st_mode) == 0o600
    t44 = next(t for t in listed if t["province"] == "44")
    probe = "424" + "0" * 19 + "440000"  # passes the terminal's checks, fails the code's
    scan = ecnet(
        "scan",
        "--province",
        "44",
        "--terminal",
        t44["terminalId"],
        "--org",
        t44["orgId"],
        "--code",
        probe,
        data=data,
        check=False,
    )
    assert "error 500049" in scan.stderr, scan.stderr
    # each node's master key beside its certificate, not in its data folder (node.vault)
    for node in ("national", "p11", "p44"):
        key = pki / "nodes" / f"{node}.master"
        assert stat.S_IMODE(key.stat().st_mode) == 0o600, key
        assert len(bytes.fromhex(key.read_text().strip())) == 16
        assert not (data / node / "master.key").exists()
    assert stat.S_IMODE((pki / "nodes").stat().st_mode) == 0o700

    persons = json.loads(
        ecnet(
            "persons",
            "list",
            "--insured-province",
            "44",
            "--limit",
            "5",
            "--reveal",
            "--reason",
            "the test checks the seeded id numbers",
            "--json",
            data=data,
        ).stdout
    )["persons"]
    assert len(persons) == 5
    for p in persons:
        assert validate_id(p["idType"], p["idNo"]) is None
        assert any(r["insuOrg"].startswith("44") for r in p["insuredRegions"])
    # an operator of another role from the nation's CA (ecnet operators add): it sees
    # persons masked only; every node's audit log holds together
    ecnet("operators", "add", "wang", "--role", "support", data=data)
    assert (pki / "operators" / "wang.crt").exists()
    shown = ecnet("--as", "wang", "persons", "list", "--limit", "1", "--json", data=data)
    assert "*" in json.loads(shown.stdout)["persons"][0]["idNo"]
    refused = ecnet(
        "--as", "wang", "persons", "list", "--reveal", "--reason", "curious", data=data, check=False
    )
    assert refused.returncode == 1 and "error -4" in refused.stderr, refused.stderr
    verified = ecnet("audit", "verify", data=data).stdout
    assert "national: intact" in verified and "p44: intact" in verified, verified
    channels = json.loads(ecnet("channels", "list", "--json", data=data).stdout)["channels"]
    assert {c["channelId"] for c in channels} == {"NHSA-OFFICIAL", "WECHAT", "ALIPAY"}
    terminals = json.loads(
        ecnet("terminals", "list", "--province", "44", "--json", data=data).stdout
    )["terminals"]
    assert terminals and all(
        len(t["terminalId"]) == 20 and t["province"] == "44" for t in terminals
    )

    # A fault drill: stop a province, national sees it stopped; start it again.
    ecnet("nation", "stop", "--province", "44", data=data)
    rows = status(data)
    assert rows["p44"]["health"] == "DOWN" and rows["p44"]["directory"] == "stopped"
    assert rows["p11"]["health"] == "SERVING"
    ecnet("nation", "start", "--province", "44", data=data)
    assert status(data)["p44"]["health"] == "SERVING"

    again = ecnet("nation", "up", "--detach", "--base-port", str(base), data=data, check=False)
    assert (
        again.returncode == 1
        and "already running" in again.stderr
        and "Traceback" not in again.stderr
    )

    ecnet("nation", "down", data=data)
    assert all(r["health"] == "DOWN" and r["pid"] is None for r in status(data).values())


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["nation", "up", "--provinces", "11,99"], "not a province code of GB/T 2260: 99"),
        (["nation", "status"], "no nation in"),
        (["persons", "list"], "no nation in"),
        (["nation", "stop", "--province", "44"], "no nation in"),
    ],
)
def test_cli_errors_are_one_line(args, fragment, tmp_path):
    proc = ecnet(*args, data=tmp_path / "empty", check=False)
    assert proc.returncode == 1
    assert fragment in proc.stderr and "Traceback" not in proc.stderr


def test_persons_list_against_a_node_that_is_down(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.run(
        [*ECNET, "persons", "list", "--node", f"127.0.0.1:{port}"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1
    assert "error -3" in proc.stderr and "did not answer" in proc.stderr


def test_the_nation_keeps_its_ca_and_adds_what_a_new_province_needs(tmp_path):
    first = plan_nation(tmp_path, ["44"], 51000)
    assert ensure_pki(first) == ["ca", "national", "p44", "operator"]
    ca = (tmp_path / "pki" / "ca.crt").read_bytes()
    assert ensure_pki(first) == []  # started again: nothing made, the same CA
    assert ensure_pki(plan_nation(tmp_path, ["44", "31"], 51000)) == ["p31"]
    assert (tmp_path / "pki" / "ca.crt").read_bytes() == ca


def test_nation_up_opens_the_console_to_its_admin_and_operators_add_to_others(nation):
    import re
    import ssl

    import httpx
    import pyotp

    data, base = nation
    written = data / "console-admin.txt"
    assert stat.S_IMODE(written.stat().st_mode) == 0o600
    text = written.read_text()
    url = re.search(r"console: (\S+)", text).group(1)
    assert url == f"https://127.0.0.1:{base + 1000}/console/"
    password = re.search(r"password \(one-time[^)]*\): (\S+)", text).group(1)
    totp = pyotp.parse_uri(re.search(r"totp: (\S+)", text).group(1))
    added = ecnet("operators", "add", "chen", "--role", "p44", data=data).stdout
    chen = re.search(r"console password of chen \(one-time[^)]*\): (\S+)", added).group(1)
    # a second `add` of the same operator keeps its password
    again = ecnet("operators", "add", "chen", "--role", "p44", data=data).stdout
    assert "console password" not in again

    def login(name: str, secret: str, code: str = "") -> httpx.Response:
        tls = ssl.create_default_context(cafile=str(data / "pki" / "ca.crt"))
        with httpx.Client(base_url=url, verify=tls) as http:
            form = http.get("login").text
            token = re.search(r'name="csrf" value="([^"]+)"', form).group(1)
            return http.post(
                "login", data={"csrf": token, "name": name, "password": secret, "totp": code}
            )

    assert login("admin", password).status_code == 401  # an administrator needs the code
    first = login("admin", password, totp.now())
    assert first.status_code == 303 and first.headers["location"] == "/console/password"
    assert login("chen", chen).headers["location"] == "/console/password"
    # revoked, the operator's console password goes too
    ecnet("operators", "revoke", "chen", data=data)
    assert login("chen", chen).status_code == 401
