"""Trust between nodes (issue 12), by attacking real nodes over real TLS.

Each attack that worked while a node's identity was the ``ec-node`` header, made again
with what an attacker can get: an operator's certificate, another province's, a claimed
identity in metadata, a foreign CA, an expired or revoked certificate, plaintext. Each
is refused (-4, PERMISSION_DENIED, with one log line naming the certificate's subject)
or fails its handshake, and nothing is written."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import ssl
import time

import grpc
import pytest
from signkit import stranger
from test_delivery import card, event, rpc_error

from conftest import Cluster, TestPki
from ecnet.v1 import acceptance_service_pb2 as acc_pb
from ecnet.v1 import admin_service_pb2 as admin_pb
from ecnet.v1 import federation_service_pb2 as fed_pb
from ecnet.v1 import settlement_service_pb2 as set_pb
from ecnet.v1 import settlement_service_pb2_grpc
from federation.link import Link
from node.clock import FakeClock
from node.errors import from_rpc_error
from node.pki import CertificateAuthority, Identity
from node.tls import INSECURE_CLAIM

CLAIM_NATIONAL = ((INSECURE_CLAIM, "ecnet://national"),)


async def answer_of(call) -> tuple[int, str]:
    """(0, "") when ``call`` succeeds; else its C.4 code and message."""
    try:
        await call
    except grpc.aio.AioRpcError as exc:
        return from_rpc_error(exc)
    return 0, ""


def refused_lines(caplog, subject_fragment: str) -> list[logging.LogRecord]:
    """The log lines of calls refused for who made them, naming ``subject_fragment``."""
    out = []
    for record in caplog.records:
        fields = getattr(record, "fields", {})
        if fields.get("code") == -4 and subject_fragment in str(fields.get("subject", "")):
            out.append(record)
    return out


async def test_route_settle_at_a_province_is_for_national_alone(cluster, caplog):
    """Attack 1: 'ec-node: national' at 44's RouteSettle settled 500 yuan."""
    await cluster.start_national()
    p44 = await cluster.start_province("44")
    request = fed_pb.RouteSettleRequest(
        servingProvince="31",
        insuOrg="440100",
        settle=set_pb.SettleRequest(orgId="H31010100001", ecToken="0" * 24, requestId="r1"),
    )
    for who, metadata in (("operator", ()), ("p31", ()), ("operator", CLAIM_NATIONAL)):
        s = cluster.stubs(p44, as_=who)
        code, message = await rpc_error(s.federation.RouteSettle(request, metadata=metadata))
        assert code == -4, (who, message)
    # one line per refusal, naming the certificate's subject
    assert len(refused_lines(caplog, "tester")) == 2
    assert len(refused_lines(caplog, "31")) == 1
    assert (await p44.store.counts()).get("settlements", 0) == 0


async def test_events_reach_a_province_only_from_national(cluster, caplog):
    """Attack 2: 'ec-node: national' at 44's DeliverEvents planted a voucher."""
    await cluster.start_national()
    p44 = await cluster.start_province("44")
    planted = event(card(7), 1)
    planted.sequence = 1
    request = fed_pb.DeliverEventsRequest(origin="national", batchId="x", events=[planted])
    for who, metadata in (("p31", ()), ("operator", CLAIM_NATIONAL), ("p44", ())):
        s = cluster.stubs(p44, as_=who)
        code, _ = await rpc_error(s.federation.DeliverEvents(request, metadata=metadata))
        assert code == -4, who
    assert await p44.store.get_voucher(card(7)) is None


async def test_route_query_at_national_only_as_the_serving_province(cluster):
    """Attack 3: RouteQuery at national as 'ec-node: p31' with a QR value seen once."""
    national = await cluster.start_national()
    await cluster.start_province("31")
    request = fed_pb.RouteQueryRequest(
        servingProvince="31", query=acc_pb.QueryRequest(ecQrCode="4" * 28)
    )
    for who in ("p44", "operator"):
        s = cluster.stubs(national, as_=who)
        code, message = await rpc_error(s.federation.RouteQuery(request, timeout=5))
        assert code == -4, (who, message)


async def test_the_directory_trusts_certificates_not_claims(cluster):
    """Attack 4: an anonymous Deregister of 51, then a Register of 51 elsewhere."""
    national = await cluster.start_national()
    real = await cluster.start_province("51")
    nodes = (await cluster.stubs(national).admin.ListNodes(admin_pb.ListNodesRequest())).nodes
    entry = next(n for n in nodes if n.province == "51")
    for who, metadata in (("operator", ()), ("p44", ()), ("operator", CLAIM_NATIONAL)):
        s = cluster.stubs(national, as_=who).federation
        code, _ = await rpc_error(
            s.Deregister(
                fed_pb.DeregisterRequest(province="51", instanceId=entry.instanceId),
                metadata=metadata,
            )
        )
        assert code == -4, who
        code, _ = await rpc_error(
            s.Register(
                fed_pb.RegisterRequest(
                    province="51",
                    address="127.0.0.1:9",
                    version="x",
                    instanceId="f" * 32,
                    signKey=stranger("p51").public_key,
                ),
                metadata=metadata,
            )
        )
        assert code == -4, who
        code, _ = await rpc_error(
            s.Heartbeat(fed_pb.HeartbeatRequest(province="51", instanceId=entry.instanceId))
        )
        assert code == -4, who
    nodes = (await cluster.stubs(national).admin.ListNodes(admin_pb.ListNodesRequest())).nodes
    entry = next(n for n in nodes if n.province == "51")
    assert entry.address == real.address and entry.state == admin_pb.NODE_STATE_UP


async def test_notices_reach_national_only_from_their_own_province(cluster):
    """Attack 5: DeliverEvents at national as 'ec-node: p44' relayed a made-up notice.
    Another province's, an operator's or a claimed identity cannot speak for 44."""
    national = await cluster.start_national()
    await cluster.start_province("11")
    notice = fed_pb.Event(
        eventId="fake-1",
        sequence=1,
        kind="settlement.notice",
        payloadJson='{"settledBy": "44", "fundPay": 99999900}',
    )
    request = fed_pb.DeliverEventsRequest(origin="p44", batchId="b", events=[notice])
    for who, metadata in (("p31", ()), ("operator", ()), ("operator", CLAIM_NATIONAL)):
        s = cluster.stubs(national, as_=who)
        code, _ = await rpc_error(s.federation.DeliverEvents(request, metadata=metadata))
        assert code == -4, who
    pending = (await cluster.stubs(national).admin.ListNodes(admin_pb.ListNodesRequest())).nodes
    assert all(n.pendingEvents == 0 for n in pending)


# -- certificates that do not pass -------------------------------------------------------


def handshake(address: str, files, server_name: str) -> tuple[str, dict]:
    """A TLS handshake with the node at ``address`` as ``files``' holder, the node checked
    for ``server_name``: (the protocol version, the node's certificate as ssl gives it)."""
    context = ssl.create_default_context(cafile=str(files.ca))
    context.load_cert_chain(str(files.cert), str(files.key))
    context.set_alpn_protocols(["h2"])
    host, port = address.rsplit(":", 1)
    with (
        socket.create_connection((host, int(port)), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname=server_name) as tls,
    ):
        return tls.version() or "", tls.getpeercert() or {}


async def _unavailable(channel, what: str) -> str:
    stub = settlement_service_pb2_grpc.SettlementServiceStub(channel)
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stub.GetSettlement(set_pb.GetSettlementRequest(settlementId="x"), timeout=5)
    assert info.value.code() == grpc.StatusCode.UNAVAILABLE, (what, info.value.details())
    await channel.close()
    return info.value.details() or ""


async def test_foreign_ca_expired_and_plaintext_fail_the_handshake(cluster, tmp_path):
    await cluster.start_national()
    p44 = await cluster.start_province("44")
    # A CA of someone else's, with a certificate that names national.
    foreign = TestPki(tmp_path / "foreign")
    f = foreign.files("national")
    creds = grpc.ssl_channel_credentials(
        cluster.pki.ca.cert_path.read_bytes(), f.key.read_bytes(), f.cert.read_bytes()
    )
    await _unavailable(grpc.aio.secure_channel(p44.address, creds), "a foreign CA")
    # Our CA, a certificate that expired (issued when the clock said 2020).
    old = CertificateAuthority.open(cluster.pki.root, clock=FakeClock(1_577_836_800.0))  # 2020
    key, cert = old.issue(Identity.national(), days=1, folder=tmp_path / "old")
    creds = grpc.ssl_channel_credentials(
        cluster.pki.ca.cert_path.read_bytes(), key.read_bytes(), cert.read_bytes()
    )
    await _unavailable(grpc.aio.secure_channel(p44.address, creds), "an expired certificate")
    # No certificate at all, and no TLS at all.
    creds = grpc.ssl_channel_credentials(cluster.pki.ca.cert_path.read_bytes())
    await _unavailable(grpc.aio.secure_channel(p44.address, creds), "no client certificate")
    await _unavailable(grpc.aio.insecure_channel(p44.address), "plaintext")
    # The node is unharmed: a caller with a good certificate is answered.
    info = await cluster.stubs(p44).admin.GetNodeInfo(admin_pb.GetNodeInfoRequest())
    assert info.province == "44" and info.transport == "mutual TLS"


async def test_the_handshake_is_tls_1_3_and_checks_the_peer_name(cluster):
    national = await cluster.start_national()
    version, cert = handshake(national.address, cluster.pki.files("operator"), "national.ecnet")
    assert version == "TLSv1.3"
    assert [v for k, v in cert["subjectAltName"] if k == "URI"] == ["ecnet://national"]
    # A node dialling national checks it is national: p44's certificate at national's
    # address does not pass as "national".
    p44 = await cluster.start_province("44")
    channel = cluster.pki.channel(p44.address, "operator", peer="national")
    await _unavailable(channel, "p44 presented where national was dialled")


async def _ca_of_its_own(tmp_path) -> Cluster:
    """A cluster whose CA is its own: its revocations touch no other test."""
    return Cluster(tmp_path, TestPki(tmp_path / "own-ca"))


async def test_a_revocation_reaches_every_node_through_the_directory(tmp_path, caplog):
    cluster = await _ca_of_its_own(tmp_path)
    try:
        national = await cluster.start_national()
        p44 = await cluster.start_province("44")
        await cluster.start_province("31")
        as_31 = cluster.stubs(p44, as_="p31")
        request = fed_pb.RouteQueryRequest(servingProvince="31")
        code, _ = await rpc_error(as_31.federation.RouteQuery(request, timeout=5))
        assert code == -4  # p31 is a node, but not national: refused for that, not revoked
        # national's operator revokes 31's certificate: the CRL file changes at national...
        CertificateAuthority.open(cluster.pki.root).revoke(identity=Identity.of_province("31"))
        as_31_at_national = cluster.stubs(national, as_="p31")
        deadline = time.monotonic() + 10
        while True:  # national reads the file again within a second
            code, message = await answer_of(
                as_31_at_national.admin.GetNodeInfo(admin_pb.GetNodeInfoRequest())
            )
            if code == -4 and "revoked" in message:
                break
            assert time.monotonic() < deadline, message
            await asyncio.sleep(0.1)
        # ...and reaches 44 with a heartbeat answer: 31's certificate is refused there too.
        while True:
            code, message = await answer_of(as_31.admin.GetNodeInfo(admin_pb.GetNodeInfoRequest()))
            if code == -4 and "revoked" in message:
                break
            assert time.monotonic() < deadline, message
            await asyncio.sleep(0.1)
        assert refused_lines(caplog, "31")
        # 31 itself says so, in its log (once) and in GetNodeInfo (nation status)
        p31 = cluster.nodes[-1]
        while True:
            info = await cluster.stubs(p31).admin.GetNodeInfo(admin_pb.GetNodeInfoRequest())
            if info.registration.startswith("refused: ") and "revoked" in info.registration:
                break
            assert time.monotonic() < deadline + 5, info.registration
            await asyncio.sleep(0.1)
        said = [r for r in caplog.records if "refused this node's registration" in r.getMessage()]
        assert len(said) == 1
    finally:
        await cluster.close()


async def test_a_renewed_certificate_is_served_without_a_restart(tmp_path):
    cluster = await _ca_of_its_own(tmp_path)
    try:
        national = await cluster.start_national()

        def served_serial() -> int:
            operator = cluster.pki.files("operator")
            _, cert = handshake(national.address, operator, "national.ecnet")
            return int(cert["serialNumber"], 16)

        first = served_serial()
        ca = CertificateAuthority.open(cluster.pki.root)
        ca.issue(Identity.national())  # renewed in place: pki/nodes/national.{crt,key}
        os.utime(ca.nodes / "national.crt")
        deadline = time.monotonic() + 10
        while (serial := served_serial()) == first:
            assert time.monotonic() < deadline, "the renewed certificate was never served"
            await asyncio.sleep(0.2)
        assert serial == ca.issued()[-1].serial
        # and the node still works with its provinces under the new certificate
        p44 = await cluster.start_province("44")
        info = await cluster.stubs(p44).admin.GetNodeInfo(admin_pb.GetNodeInfoRequest())
        assert info.registration == "registered"
    finally:
        await cluster.close()


async def test_a_node_refuses_to_start_with_another_nodes_certificate(cluster):
    p44 = cluster.pki.node_settings("p44")
    with pytest.raises(
        Exception, match="certificate of ecnet://province/44, not of ecnet://national"
    ):
        await cluster.start(cluster.config("national", **p44))


async def test_insecure_is_plaintext_believes_claims_and_says_so(cluster, caplog):
    national = await cluster.start_national(insecure=True)
    p44 = await cluster.start_province("44", insecure=True)
    info = await cluster.stubs(p44).admin.GetNodeInfo(admin_pb.GetNodeInfoRequest())
    assert info.transport == "INSECURE plaintext" and info.registration == "registered"
    assert any("INSECURE" in r.getMessage() for r in caplog.records)
    # plaintext: a claim is all it takes, which is why it is for development only
    s = cluster.stubs(national)
    code, _ = await rpc_error(
        s.federation.Heartbeat(fed_pb.HeartbeatRequest(province="44", instanceId="x"))
    )
    assert code == -4  # no claim: not a node
    answer = await s.federation.Heartbeat(
        fed_pb.HeartbeatRequest(province="44", instanceId="x"),
        metadata=((INSECURE_CLAIM, "ecnet://province/44"),),
    )
    assert not answer.known


async def test_a_province_calls_with_its_renewed_certificate_once_the_old_is_revoked(tmp_path):
    cluster = await _ca_of_its_own(tmp_path)
    try:
        national = await cluster.start_national()
        p44 = await cluster.start_province("44")
        ca = CertificateAuthority.open(cluster.pki.root)
        old = next(i for i in ca.issued() if i.identity == "ecnet://province/44")
        ca.issue(Identity.of_province("44"))  # renewed in place, then the old one revoked
        await asyncio.sleep(1.1)  # the node looks at its files once a second
        ca.revoke(serial=old.serial)
        stubs = cluster.stubs(national)
        await asyncio.sleep(2.0)  # ten heartbeats, a lease is three
        nodes = (await stubs.admin.ListNodes(admin_pb.ListNodesRequest())).nodes
        entry = next(n for n in nodes if n.province == "44")
        assert entry.state == admin_pb.NODE_STATE_UP and entry.address == p44.address
        info = await cluster.stubs(p44).admin.GetNodeInfo(admin_pb.GetNodeInfoRequest())
        assert info.registration == "registered"
    finally:
        await cluster.close()


async def test_a_link_stream_opened_before_a_revocation_is_refused_after_it(tmp_path):
    """A Link stream names its caller once, when it opens; each message on it is checked
    again, so a certificate revoked meanwhile stops a stream that is already open."""
    cluster = await _ca_of_its_own(tmp_path)
    try:
        national = await cluster.start_national()
        await cluster.start_province("44")
        channel = cluster.pki.channel(national.address, "p44", peer="national")
        link = Link(channel, (), national.address)
        request = fed_pb.RouteQueryRequest(
            servingProvince="44", query=acc_pb.QueryRequest(ecQrCode="9" * 28)
        )
        code, _ = await answer_of(link.RouteQuery(request, timeout=5))
        assert code not in (0, -4)  # answered as p44: not a code of any province
        CertificateAuthority.open(cluster.pki.root).revoke(identity=Identity.of_province("44"))
        deadline = time.monotonic() + 10
        while True:
            code, message = await answer_of(link.RouteQuery(request, timeout=5))
            if code == -4:
                break
            assert time.monotonic() < deadline, message
            await asyncio.sleep(0.2)
        assert "revoked" in message
        await link.close()
        await channel.close()
    finally:
        await cluster.close()
