"""The HTTPS server behind the doors (``node.doors.server``), against real nodes: TLS 1.3
only, a renewed certificate served without a restart, a certificate of another CA refused
with its alert, its start refused with one line
when its port is taken, plain HTTP on an ``--insecure`` node, the descriptions, and one
log line per call as on the gRPC port."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import ssl
import time

import httpx
import pytest
from test_node_program import assert_one_line, run_node

from conftest import Cluster, TestPki
from node.__main__ import EXIT_CONFIG
from node.pki import CertificateAuthority, Identity


def tls_handshake(address: str, pki: TestPki, version: ssl.TLSVersion | None = None):
    """A handshake with the doors at ``address`` (as the operator): (protocol, the
    server's certificate); ``version`` pins the client to one TLS version."""
    ctx = pki.ssl_context("operator")
    if version is not None:
        ctx.minimum_version = ctx.maximum_version = version
    host, port = address.rsplit(":", 1)
    with (
        socket.create_connection((host, int(port)), timeout=5) as raw,
        ctx.wrap_socket(raw, server_hostname=host) as tls,
    ):
        return tls.version(), tls.getpeercert() or {}


async def test_tls_1_3_only_and_a_renewed_certificate_is_served_without_a_restart(tmp_path):
    cluster = Cluster(tmp_path, TestPki(tmp_path / "own-ca"))  # it renews: a CA of its own
    try:
        node = await cluster.start_national(https="127.0.0.1:0")
        version, cert = await asyncio.to_thread(tls_handshake, node.https_address, cluster.pki)
        assert version == "TLSv1.3"
        with pytest.raises(ssl.SSLError):
            await asyncio.to_thread(
                tls_handshake, node.https_address, cluster.pki, ssl.TLSVersion.TLSv1_2
            )
        first = int(cert["serialNumber"], 16)
        ca = CertificateAuthority.open(cluster.pki.root)
        ca.issue(Identity.national())  # renewed in place: pki/nodes/national.{crt,key}
        os.utime(ca.nodes / "national.crt")
        deadline = time.monotonic() + 10
        while True:
            _, cert = await asyncio.to_thread(tls_handshake, node.https_address, cluster.pki)
            if int(cert["serialNumber"], 16) != first:
                break
            assert time.monotonic() < deadline, "the renewed certificate was never served"
            await asyncio.sleep(0.2)
        assert int(cert["serialNumber"], 16) == ca.issued()[-1].serial
    finally:
        await cluster.close()


def refused_as(address: str, pki: TestPki, delay: float, pieces: int) -> str:
    """A call to the doors at ``address`` with ``pki``'s operator certificate, its request
    sent ``delay`` seconds after the handshake in ``pieces`` writes: how it ended."""
    ctx = pki.ssl_context("operator")
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # the node's certificate is not this CA's either
    host, port = address.rsplit(":", 1)
    request = b"POST /ec/v1/trans HTTP/1.1\r\nHost: x\r\nContent-Length: 3000\r\n\r\n" + b"{" * 3000
    size = len(request) // pieces + 1
    with (
        socket.create_connection((host, int(port)), timeout=5) as raw,
        ctx.wrap_socket(raw) as tls,  # TLS 1.3: done before the node judges
    ):
        try:
            time.sleep(delay)
            for i in range(0, len(request), size):
                tls.sendall(request[i : i + size])
                time.sleep(0.005)
            return f"answered {tls.recv(100)!r}"
        except ssl.SSLError as exc:
            return f"alert {exc.reason}"
        except OSError as exc:
            return f"cut {exc!r}"


async def test_a_certificate_of_another_ca_is_refused_with_its_alert_whenever_the_request_comes(
    cluster, tmp_path
):
    # asyncio alone drops the connection with the alert unsent: the client then reads an
    # end of stream, or a reset when its request arrived after the node's last read
    node = await cluster.start_national(https="127.0.0.1:0")
    other = TestPki(tmp_path / "other-ca")
    for delay, pieces in [(0, 1), (0, 4), (0.05, 1), (0.05, 3), (0.2, 2)]:
        ended = await asyncio.to_thread(refused_as, node.https_address, other, delay, pieces)
        assert ended == "alert TLSV1_ALERT_UNKNOWN_CA", (delay, pieces, ended)
    # and the node still serves its own
    version, _ = await asyncio.to_thread(tls_handshake, node.https_address, cluster.pki)
    assert version == "TLSv1.3"


def test_a_taken_https_port_stops_the_start_with_one_line(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        proc = run_node(
            "--role",
            "national",
            "--listen",
            "127.0.0.1:0",
            "--https",
            f"127.0.0.1:{port}",
            "--data",
            str(tmp_path / "n"),
        )
    assert_one_line(proc, EXIT_CONFIG, f"cannot listen on 127.0.0.1:{port}: address in use")
    assert not (tmp_path / "n").exists()
    proc = run_node("--role", "national", "--https", "nowhere", "--data", str(tmp_path / "m"))
    assert_one_line(proc, EXIT_CONFIG, "--https 'nowhere' is not HOST:PORT")


async def test_an_insecure_node_serves_plain_http_and_believes_the_terminal_header(cluster):
    national = await cluster.start_national(insecure=True, https="127.0.0.1:0")
    p44 = await cluster.start_province("44", insecure=True, https="127.0.0.1:0")
    assert national.https_address
    async with httpx.AsyncClient(base_url=f"http://{p44.https_address}", timeout=10) as http:
        data = {"businessType": "01101", "operatorId": "o", "operatorName": "n"}
        body = {"orgId": "H44", "transType": "ec.query", "data": {**data, "ecQrCode": "1" * 28}}
        r = await http.post("/ec/v1/trans", json=body, headers={"ec-terminal-id": "4" * 20})
        # the claim is believed, and the registry still decides: an unknown terminal
        assert r.status_code == 200 and r.json()["code"] == 500100


async def test_the_descriptions_come_from_the_contracts(cluster):
    await cluster.start_national()
    p44 = await cluster.start_province("44", https="127.0.0.1:0")
    async with cluster.pki.https(p44, None) as http:
        spec = (await http.get("/openapi.json")).json()
        page = await http.get("/docs")
    post = spec["paths"]["/ec/v1/trans"]["post"]
    assert set(post["responses"]) == {"200", "400", "403", "413"}
    query = spec["components"]["schemas"]["QueryRequest"]
    required = {"orgId", "businessType", "operatorId", "operatorName", "ecQrCode"}
    assert set(query["required"]) == required
    assert "用码业务类型" in query["properties"]["businessType"]["description"]
    envelope = spec["components"]["schemas"]["TransRequest"]
    assert envelope["required"] == ["orgId", "transType", "data"]
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    text = page.text
    assert "POST /ec/v1/trans" in text and "用码业务类型" in text and "/openapi.json" in text
    assert "<script" not in text  # nothing fetched from elsewhere


async def test_every_door_call_writes_one_log_line_as_the_grpc_port_does(cluster, caplog):
    await cluster.start_national()
    p44 = await cluster.start_province("44", https="127.0.0.1:0")
    caplog.set_level(logging.INFO, logger="ecnet.call")
    async with cluster.pki.https(p44, "operator") as http:
        data = {"businessType": "01101", "operatorId": "o", "operatorName": "n"}
        body = {"orgId": "H44", "transType": "ec.query", "data": {**data, "ecQrCode": "1" * 28}}
        r = await http.post("/ec/v1/trans", json=body)
    assert r.json()["code"] == -4, r.text
    lines = [
        rec
        for rec in caplog.records
        if rec.name == "ecnet.call" and getattr(rec, "fields", {}).get("door") == "https"
    ]
    assert len(lines) == 1, [getattr(r, "fields", None) for r in caplog.records]
    fields = lines[0].fields
    assert fields["method"] == "/ecnet.v1.AcceptanceService/Trans"
    assert fields["code"] == -4 and "operator" in fields["caller"]
    assert json.dumps(fields)  # structured, as every call line
