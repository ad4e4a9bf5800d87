"""NationEcTrans in C (``lib/nationeccode/``), built once per session with ``make lib``, against
a real provincial node's terminal door (``POST https://HOST:PORT/ec/v1/trans``): through
ctypes, as a hospital system loads it, and as the example program, run as a process.

Skipped, with the reason, only where there is no C compiler or no OpenSSL headers."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import fcntl
import json
import os
import shutil
import socket
import subprocess

import pytest
from clikit import ROOT
from scankit import insured_in, start_scan_nation
from test_scan_trans import appendix_b

from conftest import TestPki, free_port

BUILD = ROOT / "build"
LIB = BUILD / "libnationeccode.so"
EXAMPLE = BUILD / "nationeccode-example"
OUT_MAX = 65536  # NATIONEC_OUT_MAX of nationeccode.h
TIMEOUT = "医保服务响应超时"


def _missing_toolchain() -> str | None:
    cc = os.environ.get("CC") or "cc"
    if shutil.which(cc) is None:
        return f"no C compiler ({cc}): apt-get install gcc"
    if shutil.which("make") is None:
        return "no make"
    probe = subprocess.run(
        [cc, "-E", "-x", "c", "-"], input=b"#include <openssl/ssl.h>\n", capture_output=True
    )
    if probe.returncode != 0:
        return "no OpenSSL headers (openssl/ssl.h): apt-get install libssl-dev"
    return None


@pytest.fixture(scope="session")
def clib_built():
    """``make lib``, once per session (workers take turns: the first builds)."""
    reason = _missing_toolchain()
    if reason:
        pytest.skip(reason)
    BUILD.mkdir(exist_ok=True)
    with open(BUILD / ".make-lib.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        done = subprocess.run(["make", "-s", "lib"], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, f"make lib failed:\n{done.stdout}{done.stderr}"
    assert LIB.exists() and EXAMPLE.exists()
    return LIB


class NationEcCode:
    """The library as a hospital system calls it: ctypes, its buffer for OutData."""

    def __init__(self, path) -> None:
        self.fn = ctypes.CDLL(str(path)).NationEcTrans
        self.fn.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p]
        self.fn.restype = ctypes.c_char_p

    def raw(self, url: str | None, in_data: str | None, out: ctypes.Array) -> str:
        ret = self.fn(
            None if url is None else url.encode(),
            None if in_data is None else in_data.encode(),
            out,
        )
        return ret.decode()

    async def __call__(self, url: str | None, in_data: str | None) -> tuple[str, dict]:
        """(return, OutData as JSON), called from a thread: the node shares this loop."""
        out = ctypes.create_string_buffer(OUT_MAX)
        ret = await asyncio.to_thread(self.raw, url, in_data, out)
        return ret, json.loads(out.value.decode())


@pytest.fixture
def clib(clib_built) -> NationEcCode:
    return NationEcCode(clib_built)


def door_of(node, form: str = "full") -> str:
    """The terminal door of a provincial node, as strUrl takes it."""
    host_port = node.https_address
    return {
        "full": f"https://{host_port}/ec/v1/trans",
        "origin": f"https://{host_port}",
        "bare": host_port,
        "name": f"localhost:{host_port.rsplit(':', 1)[1]}",
    }[form]


@pytest.fixture
async def nation(cluster, tmp_path):
    return await start_scan_nation(cluster, tmp_path, ("44", "31"), https=True)


@pytest.fixture
def as_terminal(nation, monkeypatch):
    """The library finds the terminal's certificate as a hospital configures it:
    ECNET_TERMINAL_ID and ECNET_TERMINALS (the tests' pki/terminals), the CA then
    ../ca.crt of that folder."""
    t44 = nation.terminals["44"][0]
    for name in ("ECNET_CA", "ECNET_TERMINAL_CERT", "ECNET_TERMINAL_KEY", "ECNET_TIMEOUT_MS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ECNET_TERMINAL_ID", t44.terminal_id)
    monkeypatch.setenv("ECNET_TERMINALS", str(nation.cluster.pki.terminals))
    return t44


async def a_query(nation, index: int = 0) -> tuple[object, dict]:
    """A person of 44 with a live code, and the ec.query envelope a terminal of 44 sends."""
    p = insured_in(nation.kit, "44")[index]
    auth = await nation.activated(p, "44")
    t44 = nation.terminals["44"][0]
    return p, appendix_b(t44.org_id, await nation.issue("44", auth))


# -- through ctypes ---------------------------------------------------------------------------


async def test_a_scan_succeeds_and_a_business_refusal_returns_its_code(clib, nation, as_terminal):
    node = nation.provinces["44"]
    p, query = await a_query(nation)
    ret, out = await clib(door_of(node), json.dumps(query, ensure_ascii=False))
    assert ret == "0000", out
    assert set(out) == {"orgId", "code", "message", "data", "extra"}
    assert out["code"] == 0 and out["orgId"] == as_terminal.org_id and out["message"] == "成功"
    assert out["data"]["idNo"] == p.id_no and out["data"]["userName"] == p.user_name
    token = out["data"]["ecToken"]
    assert token.startswith("440000ec") and len(token) == 38

    # the same code again: the province answers 500005, and so does the function
    ret, out = await clib(door_of(node, "origin"), json.dumps(query, ensure_ascii=False))
    assert ret == "500005" and out["code"] == 500005 and out["data"] == {}
    assert out["message"].startswith("展码 id 失效或已过期")

    # the token check, data as JSON text (some callers encode it twice), at HOST:PORT
    check = {
        "orgId": as_terminal.org_id,
        "transType": "ec.token.check",
        "data": json.dumps(
            {"ecToken": token, "idType": p.id_type, "idNo": p.id_no, "userName": p.user_name}
        ),
    }
    ret, out = await clib(door_of(node, "bare"), json.dumps(check))
    assert ret == "0000" and out["data"] == {"flag": 1, "insuOrg": p.insured[0].insu_org}

    # by name: the node's certificate names localhost too
    unknown = {"orgId": as_terminal.org_id, "transType": "ec.nope"}
    ret, out = await clib(door_of(node, "name"), json.dumps(unknown))
    assert ret == "500021" and out["code"] == 500021 and "ec.nope" in out["message"]


async def test_what_is_not_a_transaction_returns_the_doors_code(
    clib, nation, as_terminal, monkeypatch
):
    node = nation.provinces["44"]
    # refused by the door (HTTP 400), its B.2 body in OutData
    ret, out = await clib(door_of(node), "{not json")
    assert ret == "-2" and out["code"] == -2 and "not JSON" in out["message"]
    # refused before anything is sent
    for in_data in ("", None):
        ret, out = await clib(door_of(node), in_data)
        assert ret == "-2" and out["code"] == -2 and "InData is" in out["message"]
    # a terminal of 31 at 44's door: the province's refusal
    t31 = nation.terminals["31"][0]
    monkeypatch.setenv("ECNET_TERMINAL_ID", t31.terminal_id)
    ret, out = await clib(door_of(node), json.dumps(appendix_b(t31.org_id, "1" * 28)))
    assert ret == "500100" and out["code"] == 500100


async def test_unusable_urls_return_minus_5(clib, as_terminal):
    for url in (
        None,
        "",
        "http://127.0.0.1:51044/ec/v1/trans",
        "grpc://127.0.0.1:50044",
        "127.0.0.1",
        "127.0.0.1:0",
        "127.0.0.1:70000",
        "127.0.0.1:port",
        "::1:51044",
        "[not-v6]:51044",
        "user@127.0.0.1:51044",
        "127.0.0.1:51044/ec/v1/trans with space",
        "host\r\nX-Injected: 1:51044",
        "no-such-host.invalid:51044",
    ):
        ret, out = await clib(url, '{"orgId": "H1"}')
        assert ret == "-5", (url, out)
        assert out["code"] == -5 and out["message"].startswith("invalid request address"), out


async def test_the_node_certificate_is_checked_against_the_ca_and_the_address(
    clib, nation, as_terminal, monkeypatch, tmp_path
):
    node = nation.provinces["44"]
    _, query = await a_query(nation)
    # a CA that did not issue the node's certificate
    other = TestPki(tmp_path / "other")
    monkeypatch.setenv("ECNET_CA", str(other.ca.cert_path))
    ret, out = await clib(door_of(node), json.dumps(query))
    assert ret == "-1" and out["code"] == -1
    assert "certificate of the node" in out["message"] and "was refused" in out["message"]
    assert str(other.ca.cert_path) in out["message"]
    monkeypatch.delenv("ECNET_CA")

    # the right CA, but an address the certificate does not name: 127.0.0.2 relays to the
    # door, so only the name check can refuse
    async with relay(node.https_address, "127.0.0.2") as relayed:
        ret, out = await clib(f"https://{relayed}/ec/v1/trans", json.dumps(query))
        assert ret == "-1" and "IP address mismatch" in out["message"], out
        assert "for 127.0.0.2" in out["message"]
    if has_ipv6_loopback():  # [::1], checked as an IPv6 address (the certificate has none)
        async with relay(node.https_address, "::1") as relayed:
            assert relayed.startswith("[::1]:")
            ret, out = await clib(f"https://{relayed}/ec/v1/trans", json.dumps(query))
            assert ret == "-1" and "IP address mismatch" in out["message"], out
            assert "for ::1" in out["message"]
    # and the code was never taken: through the door itself it still scans
    ret, out = await clib(door_of(node), json.dumps(query))
    assert ret == "0000", out


def has_ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
    except OSError:
        return False
    return True


@contextlib.asynccontextmanager
async def relay(target: str, host: str):
    """A TCP relay on ``host`` to ``target``: HOST:PORT where it listens."""
    t_host, t_port = target.rsplit(":", 1)

    async def pipe(reader, writer):
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    async def serve(reader, writer):
        up_reader, up_writer = await asyncio.open_connection(t_host, int(t_port))
        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    server = await asyncio.start_server(serve, host, 0)
    try:
        port = server.sockets[0].getsockname()[1]
        yield f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    finally:
        server.close()
        await server.wait_closed()


async def test_the_terminal_certificate_is_required_and_refusals_name_the_file(
    clib, nation, as_terminal, monkeypatch, tmp_path
):
    node = nation.provinces["44"]
    body = json.dumps(appendix_b(as_terminal.org_id, "1" * 28))
    pki = nation.cluster.pki
    mine = pki.files(pki.terminal(as_terminal.terminal_id, as_terminal.org_id))

    # nothing configured: no environment, no nationeccode.conf beside build/'s library
    for name in ("ECNET_TERMINAL_ID", "ECNET_TERMINALS"):
        monkeypatch.delenv(name)
    ret, out = await clib(door_of(node), body)
    assert ret == "-1" and out["message"].startswith("no terminal certificate configured")
    assert "ECNET_TERMINAL_CERT" in out["message"] and "nationeccode.conf" in out["message"]
    # half of a pair
    monkeypatch.setenv("ECNET_TERMINAL_CERT", str(mine.cert))
    ret, out = await clib(door_of(node), body)
    assert ret == "-1" and "ECNET_TERMINAL_KEY" in out["message"]

    # the certificate and key named one by one: the terminal calls
    monkeypatch.setenv("ECNET_TERMINAL_KEY", str(mine.key))
    monkeypatch.setenv("ECNET_CA", str(pki.ca.cert_path))
    ret, out = await clib(door_of(node), body)
    assert out["code"] not in (-1, -3, -4) and ret == str(out["code"]), out  # the scan's answer

    # a file that is not there, named
    monkeypatch.setenv("ECNET_TERMINAL_KEY", str(tmp_path / "gone.key"))
    ret, out = await clib(door_of(node), body)
    assert ret == "-1" and f"terminal key {tmp_path / 'gone.key'}" in out["message"], out
    # another terminal's key: not this certificate's
    other = pki.files(pki.terminal("44201912345678909998", as_terminal.org_id))
    monkeypatch.setenv("ECNET_TERMINAL_KEY", str(other.key))
    ret, out = await clib(door_of(node), body)
    assert ret == "-1" and "does not belong to the certificate" in out["message"]

    # a certificate of another CA, for the same number: the node ends the handshake
    impostor = TestPki(tmp_path / "other")
    f = impostor.files(impostor.terminal(as_terminal.terminal_id, as_terminal.org_id))
    monkeypatch.setenv("ECNET_TERMINAL_CERT", str(f.cert))
    monkeypatch.setenv("ECNET_TERMINAL_KEY", str(f.key))
    ret, out = await clib(door_of(node), body)
    assert ret == "-1" and "does not accept the terminal certificate" in out["message"], out
    assert str(f.cert) in out["message"]

    # the operator's certificate of the right CA names no terminal: the door's -4
    operator = pki.files("operator")
    monkeypatch.setenv("ECNET_TERMINAL_CERT", str(operator.cert))
    monkeypatch.setenv("ECNET_TERMINAL_KEY", str(operator.key))
    ret, out = await clib(door_of(node), body)
    assert ret == "-4" and out["code"] == -4


async def test_no_connection_or_no_answer_returns_minus_3(clib, as_terminal, monkeypatch):
    # nothing listens there: refused at once
    ret, out = await clib(f"127.0.0.1:{free_port()}", '{"orgId": "H1"}')
    assert ret == "-3" and out["message"].startswith(TIMEOUT + ": cannot connect")
    # a listener that never answers: the time limit ends the call
    monkeypatch.setenv("ECNET_TIMEOUT_MS", "300")
    with socket.create_server(("127.0.0.1", 0)) as silent:
        port = silent.getsockname()[1]
        ret, out = await clib(f"https://127.0.0.1:{port}/ec/v1/trans", '{"orgId": "H1"}')
    assert ret == "-3" and out["message"].startswith(TIMEOUT + ": no ")
    assert "within 300 ms" in out["message"]
    monkeypatch.setenv("ECNET_TIMEOUT_MS", "soon")
    ret, out = await clib("127.0.0.1:1", '{"orgId": "H1"}')
    assert ret == "-1" and "ECNET_TIMEOUT_MS=soon" in out["message"]


async def test_out_data_is_never_overrun_and_the_conf_beside_the_library_is_read(
    clib_built, nation, as_terminal, monkeypatch, tmp_path
):
    """The library copied with a nationeccode.conf beside it (found with dladdr), no
    environment, OutData 256 bytes with guard bytes after it."""
    pki = nation.cluster.pki
    mine = pki.files(pki.terminal(as_terminal.terminal_id, as_terminal.org_id))
    for name in ("ECNET_TERMINAL_ID", "ECNET_TERMINALS"):
        monkeypatch.delenv(name)
    folder = tmp_path / "hospital"
    folder.mkdir()
    shutil.copy(clib_built, folder / "libnationeccode.so")
    shutil.copy(mine.key, folder / "terminal.key")
    (folder / "nationeccode.conf").write_text(
        "# the terminal of the test\n"
        f"ca = {pki.ca.cert_path}\n"
        f"cert={mine.cert}\n"
        "key=terminal.key\n"  # relative: beside the file
        "timeout_ms=10000\n"
        "out_max=256\n"
    )
    lib = NationEcCode(folder / "libnationeccode.so")
    node = nation.provinces["44"]
    size, guard = 256, 512

    async def call(in_data: str) -> tuple[str, dict]:
        buf = ctypes.create_string_buffer(b"\xa5" * (size + guard), size + guard)
        ret = await asyncio.to_thread(lib.raw, door_of(node), in_data, buf)
        assert buf.raw[size:] == b"\xa5" * guard, "OutData written past out_max"
        end = buf.raw.index(b"\0")
        assert end < size
        return ret, json.loads(buf.raw[:end].decode())

    p, query = await a_query(nation)
    ret, out = await call(json.dumps(query))  # the answer (some 400 bytes) does not fit
    assert ret == "-1" and "does not fit OutData (256 bytes" in out["message"], out
    ret, out = await call(json.dumps(query))  # the code was used: a short answer fits
    assert ret == "500005" and out["code"] == 500005
    # a refusal with a long message is cut to fit, still JSON
    monkeypatch.setenv("ECNET_CA", str(tmp_path / ("目录" * 200) / "ca.crt"))
    ret, out = await call(json.dumps(query))
    assert ret == "-1" and out["message"].startswith("cannot read the CA file")
    monkeypatch.delenv("ECNET_CA")

    # the environment wins over the file, and a bad line is refused with its number
    monkeypatch.setenv("ECNET_OUT_MAX", "100")
    ret, out = await call(json.dumps(query))
    assert ret == "-1" and "ECNET_OUT_MAX=100 is not a size" in out["message"]
    monkeypatch.delenv("ECNET_OUT_MAX")
    with open(folder / "nationeccode.conf", "a") as conf:
        conf.write("proxy=10.0.0.1\n")
    ret, out = await call(json.dumps(query))
    assert ret == "-1" and "nationeccode.conf line 7: unknown setting 'proxy'" in out["message"]


# -- the example program ----------------------------------------------------------------------


async def run_example(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        str(EXAMPLE),
        *args,
        stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(
        proc.communicate(stdin.encode() if stdin is not None else None), 60
    )
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_the_example_program_scans_and_refuses(clib_built, nation, as_terminal):
    node = nation.provinces["44"]
    p, query = await a_query(nation, 1)
    rc, out, err = await run_example(door_of(node), json.dumps(query, ensure_ascii=False))
    ret, answer = out.split("\n", 1)
    assert rc == 0 and ret == "0000", err
    assert json.loads(answer)["data"]["idNo"] == p.id_no

    # InData from standard input; the used code answers its code and exit status 1
    rc, out, err = await run_example(door_of(node, "bare"), stdin=json.dumps(query))
    ret, answer = out.split("\n", 1)
    assert rc == 1 and ret == "500005" and json.loads(answer)["code"] == 500005

    rc, out, err = await run_example(f"127.0.0.1:{free_port()}", "-", stdin="{}")
    assert rc == 1 and out.startswith("-3\n") and TIMEOUT in out
    rc, out, err = await run_example()
    assert rc == 2 and "usage" in err
