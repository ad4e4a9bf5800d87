"""``ecnet nation up --db postgres``: the simulated nation on PostgreSQL, end to end
through the CLI (real node processes on the nation's own embedded server), and the
``--db`` values it refuses."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pgkit
import psycopg
import pytest
from test_nation_supervisor import node_pids, start

from cli import nationdb
from cli.nation import plan_nation
from cli.nationfile import PostgresEntry, pid_alive
from conftest import reserved_ports
from node.storage.pgserver import postmaster_pid

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.postgresql

ECNET = [sys.executable, "-m", "cli.main"]


def ecnet(*args: str, data: Path, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [*ECNET, *args, "--data", str(data)], capture_output=True, text=True, timeout=120
    )
    if check:
        assert proc.returncode == 0, proc.stderr + proc.stdout
    return proc


def field(data: Path, *args: str | int):
    """``ecnet ARGS --json``'s answer, down the path after ``--`` (keys, indexes)."""
    split = args.index("--")
    value = json.loads(ecnet(*map(str, args[:split]), "--json", data=data).stdout)
    for key in args[split + 1 :]:
        value = value[key]
    return value


def status(data: Path) -> dict[str, dict]:
    return {row["node"]: row for row in field(data, "nation", "status", "--")}


def running(pid: int) -> bool:
    """Whether process ``pid`` runs (an exited one that its new parent, init or a
    subreaper, has not reaped yet does not)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.fixture
def embedded():
    """The embedded server can start here (else the test is skipped, saying why)."""
    try:
        pgkit.server()
    except pgkit.Unavailable as exc:
        pytest.skip(f"PostgreSQL: the embedded server cannot start here: {exc}")


def up(data: Path, base: int, *more: str, check: bool = True) -> subprocess.CompletedProcess:
    return ecnet(
        "nation", "up", "--detach", "--population", "200", "--provinces", "44",
        "--base-port", str(base), "--heartbeat", "0.5", *more, data=data, check=check,
    )  # fmt: skip


def readme_block() -> str:
    """The README's ``sh`` block that runs the nation on PostgreSQL."""
    section = (ROOT / "README.md").read_text().split("## PostgreSQL\n", 1)[1]
    section = section.split("\n## ", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", section, re.S)
    return next(b for b in blocks if "nation up --db postgres" in b)


def test_the_readme_session_runs_and_the_nation_works_on_postgresql(embedded, tmp_path):
    data = tmp_path / "nation"
    with reserved_ports() as base:
        # as written, but on the ports of the test's block (the README's nation: 50000)
        script = readme_block().replace(".venv/bin/", f"{Path(sys.executable).parent}/")
        script = script.replace("nation up ", f"nation up --base-port {base} --heartbeat 0.5 ")
        session = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script],
            env=os.environ | {"ECNET_DATA": str(data)},
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=180,
        )
        nation = json.loads((data / "nation.json").read_text())
        folder = Path(nation["postgres"]["folder"])
        stopped = False
        try:
            assert session.returncode == 0, session.stderr + session.stdout
            server = nation["postgres"]["server"]
            assert {n: e["db"] for n, e in nation["nodes"].items()} == {
                "national": server + "ecnet_national",
                "p44": server + "ecnet_p44",
            }
            assert "databases made: ecnet_national, ecnet_p44" in session.stderr
            # the session's nation down stopped the server cleanly, its up started it again
            # on the same data (nothing seeded twice)
            assert "stopped the nation's PostgreSQL server" in session.stderr, session.stderr
            assert "database system is shut down" in (folder / "server.log").read_text()
            assert "already holds 1,000 persons" in session.stderr, session.stderr
            pid = postmaster_pid(folder)
            assert pid is not None
            # every node runs on its database there, not on an SQLite file
            for name, entry in nation["nodes"].items():
                assert not list((data / name).glob("*.db")), list((data / name).iterdir())
                cmdline = Path(f"/proc/{entry['pid']}/cmdline").read_bytes().split(b"\0")
                assert cmdline[cmdline.index(b"--db") + 1].decode() == entry["db"]
            rows = status(data)
            assert rows["national"]["counts"]["persons"] == 1000
            assert rows["p44"]["database"] == server + "ecnet_p44"
            assert all(r["health"] == "SERVING" for r in rows.values())
            # the session's nation status said where the data is, and that the server ran
            assert f"data on the nation's PostgreSQL server at {server} (pid" in session.stdout
            # the session's operator, enrolled into national's database on the server
            with psycopg.connect(nation["nodes"]["national"]["db"]) as conn:
                duty = conn.execute("SELECT duty FROM console_operators WHERE name = 'wang'")
                assert duty.fetchone() == ("auditor",)

            # a person of Guangdong: a voucher, a code, its scan, a settlement
            person = field(
                data, "persons", "list", "--insured-province", "44", "--limit", "1",
                "--reveal", "--reason", "test", "--", "persons", 0,
            )  # fmt: skip
            terminal = field(data, "terminals", "list", "--province", "44", "--", "terminals", 0)
            auth = field(
                data, "voucher", "activate", "--name", person["userName"],
                "--id-no", person["idNo"], "--password", "135792", "--", "authCode",
            )  # fmt: skip
            issue = ["qr", "issue", "--province", "44", "--auth-code", auth]
            code = field(data, *issue, "--", "ecQrCode")
            where = ["--province", "44", "--terminal", terminal["terminalId"]]
            where += ["--org", terminal["orgId"]]
            token = field(data, "scan", *where, "--code", code, "--", "ecToken")
            items = tmp_path / "items.json"
            item = {"code": "A1", "name": "阿莫西林胶囊", "category": "A", "unitPrice": 30000}
            items.write_text(json.dumps([item | {"quantity": 1}]))
            settled = field(
                data, "settle", *where, "--token", token, "--items", str(items),
                "--request-id", "pg-0001", "--", "settlement",
            )  # fmt: skip
            assert settled["state"] == "SETTLEMENT_STATE_SETTLED", settled
            assert settled["feeSumamt"] == "30000", settled
            # ... kept in the province's database on the server
            with psycopg.connect(nation["nodes"]["p44"]["db"]) as conn:
                sid = conn.execute("SELECT settlement_id FROM settlements").fetchall()
            assert [r[0] for r in sid] == [settled["settlementId"]]

            # the operator revoked: its console password gone from national's database
            ecnet("operators", "revoke", "wang", data=data)
            with psycopg.connect(nation["nodes"]["national"]["db"]) as conn:
                gone = conn.execute("SELECT count(*) FROM console_operators WHERE name = 'wang'")
                assert gone.fetchone() == (0,)

            # down stops the nodes and the server
            down = ecnet("nation", "down", data=data)
            stopped = True
            assert "stopped the nation's PostgreSQL server" in down.stderr, down.stderr
            assert postmaster_pid(folder) is None
            assert not running(pid)
            # national's database out of reach: one line, -3's (try again later)
            refused = ecnet("operators", "add", "li", "--role", "auditor", data=data, check=False)
            assert refused.returncode != 0
            assert refused.stderr.strip().count("\n") == 0, refused.stderr
            assert f"cannot connect to the database {server}ecnet_national" in refused.stderr
        finally:
            if not stopped:  # the test stopped short of its nation down
                ecnet("nation", "down", data=data, check=False)
            if folder.is_dir() and not folder.is_relative_to(data):
                subprocess.run(["rm", "-rf", str(folder)], check=False)
        assert postmaster_pid(folder) is None


def test_a_server_of_ones_own_gets_a_database_per_node_and_keeps_running(embedded, tmp_path):
    server = pgkit.server()  # the worker's: here, a server of the user's
    url = server.url("")
    data = tmp_path / "nation"
    try:
        with reserved_ports() as base:
            started = up(data, base, "--db", url)
            try:
                assert f"data on PostgreSQL at {url}" in started.stdout, started.stdout
                rows = status(data)
                assert rows["national"]["counts"]["persons"] == 200
                assert rows["national"]["database"] == url + "ecnet_national"
                assert all(r["health"] == "SERVING" for r in rows.values())
            finally:
                down = ecnet("nation", "down", data=data)
            assert "PostgreSQL" not in down.stderr, down.stderr
            # left running, with the nation's databases
            names = {r[0] for r in server.admin.execute("SELECT datname FROM pg_database")}
            assert {"ecnet_national", "ecnet_p44"} <= names
    finally:
        for name in ("ecnet_national", "ecnet_p44"):
            server.drop(server.url(name))


def test_a_role_that_may_not_create_the_databases_is_one_line(embedded, tmp_path):
    server = pgkit.server()
    server.admin.execute("DROP ROLE IF EXISTS ecnet_nocreate")
    server.admin.execute("CREATE ROLE ecnet_nocreate LOGIN NOCREATEDB")
    url = f"postgresql://ecnet_nocreate@127.0.0.1:{server.port}/"
    data = tmp_path / "nation"
    with reserved_ports() as base:
        proc = up(data, base, "--db", url, check=False)
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert f"cannot make the nation's databases on {url}: permission denied" in lines[0]
    assert not list(data.glob("*/node.log"))


def test_a_different_db_for_a_nation_with_data_is_refused(tmp_path):
    """--db that is not what the nation in DIR keeps its data on would start it empty."""
    data = tmp_path / "nation"
    nation = plan_nation(data, ["44"], 47000)
    nation.postgres = PostgresEntry("postgresql://postgres@127.0.0.1:5999/", str(data / "pg"))
    nation.save()
    proc = ecnet("nation", "up", "--db", "postgresql://u@127.0.0.1:1/", data=data, check=False)
    assert proc.returncode != 0
    assert proc.stderr.strip().count("\n") == 0, proc.stderr
    assert "keeps its data on PostgreSQL at its own server (--db postgres)" in proc.stderr
    # a nation on SQLite files
    nation.postgres = None
    nation.save()
    (data / "national").mkdir(parents=True)
    (data / "national" / "national.db").write_bytes(b"")
    proc = ecnet("nation", "up", "--db", "postgres", data=data, check=False)
    assert proc.returncode != 0
    assert "keeps its data in SQLite files" in proc.stderr, proc.stderr
    assert not (data / "postgres").exists()


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("mysql", "--db takes `postgres`"),
        ("postgresql://u:secret@127.0.0.1:5432/", "no password in the URL"),
        ("postgresql://u@127.0.0.1:5432/ecnet", "give the server without a database"),
    ],
)
def test_bad_db_values_are_refused_in_one_line(tmp_path, value, says):
    data = tmp_path / "nation"
    proc = ecnet("nation", "up", "--db", value, "--provinces", "44", data=data, check=False)
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and says in lines[0], proc.stderr
    assert not (data / "nation.json").exists()


def test_a_server_that_cannot_be_reached_is_one_line(tmp_path):
    data = tmp_path / "nation"
    with reserved_ports() as base:  # nothing listens at BASE+1 (a port of the block held)
        url = f"postgresql://ecnet@127.0.0.1:{base + 1}/"
        proc = up(data, base, "--db", url, check=False)
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert f"cannot connect to the PostgreSQL server {url}" in lines[0], lines[0]
    assert "refused" in lines[0].lower(), lines[0]
    assert not list(data.glob("*/node.log"))  # no node was started


def test_a_server_folder_left_by_a_deleted_nation_is_not_taken_over(tmp_path):
    """Run as root, the server's files live outside a private DIR; a nation made again in
    a DIR of the same name starts on a new cluster, not on the deleted nation's data."""
    data = tmp_path / "nation"
    data.mkdir(mode=0o700)
    folder = nationdb._folder(data)
    if folder == data / "postgres":
        pytest.skip("the server's user can enter DIR: its files are in DIR/postgres")
    try:
        assert (data / "postgres").resolve() == folder
        (folder / "PG_VERSION").write_text("18")  # the old nation's cluster
        shutil.rmtree(data)
        data.mkdir(mode=0o700)
        assert nationdb._folder(data) == folder
        assert list(folder.iterdir()) == []
        assert (data / "postgres").resolve() == folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_the_foreground_nation_ends_with_its_server(embedded, tmp_path):
    """``nation up`` in the foreground, ended by SIGTERM (``kill``): the nodes, then the
    nation's own server, end with it."""
    data = tmp_path / "nation"
    with reserved_ports() as base:
        command = [*ECNET, "nation", "up", "--db", "postgres", "--population", "50"]
        command += ["--provinces", "44", "--heartbeat", "0.5", "--base-port", str(base)]
        proc, _, errf = start(command + ["--data", str(data)], tmp_path)
        folder = Path(json.loads((data / "nation.json").read_text())["postgres"]["folder"])
        server = postmaster_pid(folder)
        assert server is not None
        try:
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=60) == 0, errf.read_text()
        finally:
            if proc.poll() is None:
                proc.kill()
                ecnet("nation", "down", data=data, check=False)
            if not folder.is_relative_to(data):
                shutil.rmtree(folder, ignore_errors=True)
        assert "stopped the nation's PostgreSQL server" in errf.read_text()
        assert not running(server)
        assert not any(pid_alive(pid) for pid in node_pids(data).values())


def test_a_national_cluster_of_two_on_the_nations_database(embedded, tmp_path):
    """``nation up --national 2 --db postgres``: two national processes on one database,
    sharing national's keys, and every province given both as one ``--national`` list."""
    data = tmp_path / "nation"
    with reserved_ports() as base:
        up(data, base, "--db", "postgres", "--national", "2")
        try:
            nation = json.loads((data / "nation.json").read_text())
            nodes = nation["nodes"]
            first, second = nodes["national"], nodes["national-2"]
            assert first["db"] == second["db"] == nation["postgres"]["server"] + "ecnet_national"
            assert first["data"] != second["data"]

            def args(entry) -> list[str]:
                return [
                    a.decode()
                    for a in Path(f"/proc/{entry['pid']}/cmdline").read_bytes().split(b"\0")
                ]

            def arg(entry, flag: str) -> str:
                cmd = args(entry)
                return cmd[cmd.index(flag) + 1]

            for flag in ("--sign-key", "--master-key"):  # one national, one set of keys
                assert arg(first, flag) == arg(second, flag)
            assert arg(nodes["p44"], "--national") == f"{first['address']},{second['address']}"
            rows = status(data)
            assert set(rows) == {"national", "national-2", "p44"}
            assert all(r["health"] == "SERVING" for r in rows.values()), rows
            assert rows["national-2"]["counts"]["persons"] == 200
        finally:
            ecnet("nation", "down", data=data, check=False)
            folder = Path(json.loads((data / "nation.json").read_text())["postgres"]["folder"])
            if folder.is_dir() and not folder.is_relative_to(data):
                shutil.rmtree(folder, ignore_errors=True)
    assert not any(running(e["pid"]) for e in nodes.values())


def test_a_national_cluster_needs_postgresql(tmp_path):
    data = tmp_path / "nation"
    proc = ecnet("nation", "up", "--national", "2", "--provinces", "44", data=data, check=False)
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "share one PostgreSQL database" in lines[0], proc.stderr
    assert not (data / "nation.json").exists()
