"""The national CA (node.pki), attacked: a foreign CA's certificate, an expired one, a
revoked one, one with a forged common name and no SAN, one with two identities, a CA
certificate presented as a node's; each refused with its reason. And the certificates
at work in gRPC's own TLS (BoringSSL): mutual TLS between a node certificate and a
province certificate of the CA, the peer's identity read from ``auth_context()``; a
foreign CA's client and a plaintext client fail the handshake."""

from __future__ import annotations

import datetime as dt
import os
import stat

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from node.clock import FakeClock, SeededEntropy, SystemClock
from node.pki import (
    CertificateAuthority,
    Identity,
    IdentityError,
    PkiError,
    Reason,
    Refused,
    Role,
    identity_of,
    make_request,
    new_key,
    pem,
    read_certificate,
    verify,
)

DAY = 86_400.0


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def ca(tmp_path, clock) -> CertificateAuthority:
    return CertificateAuthority.create(tmp_path / "nation", clock=clock, entropy=SeededEntropy(7))


def leaf(ca: CertificateAuthority, identity: Identity, **kw) -> x509.Certificate:
    return ca.sign(make_request(identity, new_key()), **kw)


def forge(
    ca: CertificateAuthority, sans: list[x509.GeneralName] | None, cn: str
) -> x509.Certificate:
    """A certificate the CA's key signs outside :meth:`CertificateAuthority.sign`: what a
    careless or compromised issuing step could produce."""
    key = new_key()
    now = dt.datetime.fromtimestamp(ca.clock.now(), dt.UTC)
    b = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
        .issuer_name(ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, False, False, False, False),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.SERVER_AUTH]
            ),
            critical=False,
        )
    )
    if sans is not None:
        b = b.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return b.sign(ca.key, hashes.SHA256())


def refused(reason: Reason, cert, ca: CertificateAuthority, crl=None, now=None, **kw) -> Refused:
    with pytest.raises(Refused) as info:
        verify(
            cert,
            ca.cert,
            ca.crl() if crl is None else crl,
            ca.clock.now() if now is None else now,
            **kw,
        )
    assert info.value.reason is reason, info.value
    return info.value


# -- identities ----------------------------------------------------------------------
def test_identities_parse_and_print():
    assert Identity.parse("ecnet://national") == Identity.national()
    p44 = Identity.parse("ecnet://province/44")
    assert (p44.role, p44.province, p44.uri, p44.stem) == (
        Role.PROVINCE,
        "44",
        "ecnet://province/44",
        "p44",
    )
    assert Identity.parse("ecnet://province/66").province == "66"
    assert Identity.parse("ecnet://operator/admin").name == "admin"
    for bad in (
        "ecnet://province/99",  # no such province
        "ecnet://province/71",  # Taiwan runs no node
        "ecnet://province/4",
        "ecnet://operator/Admin",
        "ecnet://operator/",
        "ecnet://national/44",
        "ecnet://regional/44",
        "https://national",
        "national",
    ):
        with pytest.raises(IdentityError):
            Identity.parse(bad)


def test_operator_identities_with_a_duty():
    admin = Identity.parse("ecnet://operator/admin")
    assert (admin.duty, admin.operator_duty) == (None, "admin")  # the national administrator
    for duty in ("admin", "auditor", "support", "p44", "p66"):
        who = Identity.parse(f"ecnet://operator/{duty}/li-lei")
        assert (who.role, who.name, who.operator_duty) == (Role.OPERATOR, "li-lei", duty)
        assert who.uri == f"ecnet://operator/{duty}/li-lei"
        assert who.stem == f"operator-{duty}-li-lei"
    assert Identity.national().operator_duty is None
    assert Identity.of_province("44").operator_duty is None
    for bad in (
        "ecnet://operator/root/li-lei",  # no such duty
        "ecnet://operator/p99/li-lei",  # no such province
        "ecnet://operator/p4/li-lei",
        "ecnet://operator/auditor/",
        "ecnet://operator/auditor/Li",
        "ecnet://operator/p44/li-lei/x",
    ):
        with pytest.raises(IdentityError):
            Identity.parse(bad)
    with pytest.raises(IdentityError):
        Identity(Role.PROVINCE, province="44", duty="admin")


def test_ca_issues_an_operator_with_a_duty(ca):
    auditor = Identity.operator("wang", duty="auditor")
    _, crt = ca.issue(auditor, hosts=())
    assert ca.verify(read_certificate(crt)) == auditor


# -- what the CA issues ----------------------------------------------------------------
def test_ca_and_leaf_certificates(ca, clock):
    c = ca.cert
    assert c.issuer == c.subject
    bc = c.extensions.get_extension_for_class(x509.BasicConstraints)
    assert bc.critical and bc.value.ca
    ku = c.extensions.get_extension_for_class(x509.KeyUsage).value
    assert ku.key_cert_sign and ku.crl_sign
    assert c.public_key().curve.name == "secp256r1"

    cert = leaf(
        ca, Identity.of_province("44"), days=30, hosts=["localhost", "127.0.0.1", "10.0.0.4"]
    )
    assert ca.verify(cert) == Identity.of_province("44")
    assert ca.verify(cert, purpose="server") == Identity.of_province("44")
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.UniformResourceIdentifier) == ["ecnet://province/44"]
    assert san.get_values_for_type(x509.DNSName) == ["p44.ecnet", "localhost"]
    assert [str(a) for a in san.get_values_for_type(x509.IPAddress)] == ["127.0.0.1", "10.0.0.4"]
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    eku = list(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)
    assert ExtendedKeyUsageOID.SERVER_AUTH in eku and ExtendedKeyUsageOID.CLIENT_AUTH in eku
    assert cert.not_valid_after_utc - cert.not_valid_before_utc == dt.timedelta(days=30)

    # Serials are random, and the index records each issued certificate.
    other = leaf(ca, Identity.of_province("44"))
    assert other.serial_number != cert.serial_number and cert.serial_number.bit_length() > 64
    rows = ca.issued()
    assert [(r.serial, r.identity) for r in rows] == [
        (cert.serial_number, "ecnet://province/44"),
        (other.serial_number, "ecnet://province/44"),
    ]
    assert rows[0].hosts == ("localhost", "127.0.0.1", "10.0.0.4")


def test_files_modes_and_reopening(tmp_path, clock):
    data = tmp_path / "nation"
    ca = CertificateAuthority.create(data, clock=clock)
    key_path, crt_path = ca.issue(Identity.national())
    pki = data / "pki"
    assert (key_path, crt_path) == (pki / "nodes/national.key", pki / "nodes/national.crt")
    assert stat.S_IMODE(os.stat(pki).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(pki / "nodes").st_mode) == 0o700
    for private in (pki / "ca.key", key_path):
        assert stat.S_IMODE(os.stat(private).st_mode) == 0o600
        assert private.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    names = {p.name for p in pki.iterdir()}
    assert names == {"ca.crt", "ca.key", "crl.pem", "index.json", "nodes", ".lock"}
    assert not [p for p in pki.rglob("*.tmp")]  # no temporary file left behind

    again = CertificateAuthority.open(data, clock=clock)
    assert again.verify(read_certificate(crt_path)) == Identity.national()
    with pytest.raises(PkiError, match="already holds a CA"):
        CertificateAuthority.create(data, clock=clock)
    # --force starts over: what the old CA issued no longer verifies.
    new = CertificateAuthority.create(data, clock=clock, force=True)
    assert new.issued() == []
    refused(Reason.FOREIGN_CA, read_certificate(crt_path), new)


def test_sign_refuses_requests_without_one_identity(ca):
    key = new_key()
    no_san = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ecnet://national")]))
        .sign(key, hashes.SHA256())
    )
    with pytest.raises(PkiError, match="no subjectAltName"):
        ca.sign(no_san)
    web = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "p44")]))
        .add_extension(
            x509.SubjectAlternativeName([x509.UniformResourceIdentifier("https://p44.example")]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    with pytest.raises(PkiError, match="no ecnet://"):
        ca.sign(web)
    bad_province = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([]))
        .add_extension(
            x509.SubjectAlternativeName([x509.UniformResourceIdentifier("ecnet://province/99")]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    with pytest.raises(PkiError, match="'99' is not a province code"):
        ca.sign(bad_province)
    with pytest.raises(PkiError, match="neither an IP address nor a host name"):
        leaf(ca, Identity.national(), hosts=["bad host!"])
    assert ca.issued() == []


# -- attacks on verify -------------------------------------------------------------------
def test_foreign_ca_refused(ca, tmp_path, clock):
    foreign = CertificateAuthority.create(tmp_path / "elsewhere", clock=clock)
    # Same identity, same subject names: only the signature tells them apart.
    cert = leaf(foreign, Identity.national())
    e = refused(Reason.FOREIGN_CA, cert, ca)
    assert "not by this CA" in str(e)
    # A CRL of the foreign CA does not pass for ours either.
    refused(Reason.BAD_CRL, leaf(ca, Identity.national()), ca, crl=foreign.crl())


def test_expired_and_not_yet_valid_refused(ca, clock):
    cert = leaf(ca, Identity.of_province("31"), days=10)
    assert verify(cert, ca.cert, ca.crl(), clock.now() + 9 * DAY) == Identity.of_province("31")
    e = refused(Reason.EXPIRED, cert, ca, now=clock.now() + 11 * DAY)
    assert "expired 2026-01-10" in str(e)
    refused(Reason.NOT_YET_VALID, cert, ca, now=clock.now() - DAY)


def test_revoked_refused(ca, clock):
    cert = leaf(ca, Identity.of_province("44"))
    keep = leaf(ca, Identity.of_province("31"))
    old_crl = ca.crl()
    clock.advance(60)
    done = ca.revoke(serial=cert.serial_number)
    assert [r.serial for r in done] == [cert.serial_number]
    e = refused(Reason.REVOKED, cert, ca)
    assert f"{cert.serial_number:x}" in str(e)
    assert ca.verify(keep) == Identity.of_province("31")
    # The CRL is signed by the CA, numbered anew, and names only the revoked serial.
    crl = ca.crl()
    assert crl.is_signature_valid(ca.cert.public_key())
    assert [r.serial_number for r in crl] == [cert.serial_number]
    number = crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
    assert number > old_crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
    # Revoking again changes nothing; by province, every certificate of it.
    assert ca.revoke(serial=cert.serial_number) == []
    second = leaf(ca, Identity.of_province("44"))
    assert [r.serial for r in ca.revoke(identity=Identity.of_province("44"))] == [
        second.serial_number
    ]
    refused(Reason.REVOKED, second, ca)
    assert [r.revoked_at is not None for r in ca.issued()] == [True, False, True]
    with pytest.raises(PkiError, match="issued no certificate"):
        ca.revoke(serial=12345)


def test_forged_common_name_without_san_refused(ca):
    cert = forge(ca, None, cn="ecnet://national")
    e = refused(Reason.NO_IDENTITY, cert, ca)
    assert "no subjectAltName" in str(e)
    with pytest.raises(Refused):
        identity_of(cert)
    # A SAN with host names but no ecnet URI is no identity either.
    refused(Reason.NO_IDENTITY, forge(ca, [x509.DNSName("national.ecnet")], cn="national"), ca)


def test_two_identities_refused(ca):
    sans = [
        x509.UniformResourceIdentifier("ecnet://province/44"),
        x509.UniformResourceIdentifier("ecnet://national"),
    ]
    e = refused(Reason.SEVERAL_IDENTITIES, forge(ca, sans, cn="p44"), ca)
    assert "ecnet://province/44, ecnet://national" in str(e)
    bad = [x509.UniformResourceIdentifier("ecnet://province/99")]
    refused(Reason.BAD_IDENTITY, forge(ca, bad, cn="p99"), ca)


def test_wrong_key_usage_refused(ca, clock):
    # The CA certificate itself: signed by the CA, valid, but no leaf.
    refused(Reason.KEY_USAGE, ca.cert, ca)
    # A leaf for servers only, presented by a client.
    key = new_key()
    now = dt.datetime.fromtimestamp(clock.now(), dt.UTC)
    server_only = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([]))
        .issuer_name(ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, False, False, False, False),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.SubjectAlternativeName([x509.UniformResourceIdentifier("ecnet://national")]),
            critical=False,
        )
        .sign(ca.key, hashes.SHA256())
    )
    assert (
        verify(server_only, ca.cert, ca.crl(), clock.now(), purpose="server") == Identity.national()
    )
    e = refused(Reason.KEY_USAGE, server_only, ca)
    assert "clientAuth" in str(e)


# -- gRPC's own TLS ----------------------------------------------------------------------
WHO = "/ecnet.test.Who/Me"


async def _serve(ca: CertificateAuthority):
    """A real grpc.aio server with mutual TLS under ``ca`` (national's certificate), whose
    one method answers the caller's identity as :func:`node.pki.verify` reads it from the
    peer certificate in ``context.auth_context()``."""
    key_path, crt_path = ca.issue(Identity.national(), hosts=["localhost", "127.0.0.1"])

    async def me(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        auth = context.auth_context()
        assert auth["transport_security_type"] == [b"ssl"]
        (peer_pem,) = auth["x509_pem_cert"]
        try:
            identity = ca.verify(x509.load_pem_x509_certificate(peer_pem))
        except Refused as exc:
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, str(exc))
        return identity.uri.encode()

    server = grpc.aio.server()
    server.add_generic_rpc_handlers(
        [
            grpc.method_handlers_generic_handler(
                "ecnet.test.Who", {"Me": grpc.unary_unary_rpc_method_handler(me)}
            )
        ]
    )
    creds = grpc.ssl_server_credentials(
        [(key_path.read_bytes(), crt_path.read_bytes())],
        root_certificates=ca.cert_path.read_bytes(),
        require_client_auth=True,
    )
    port = server.add_secure_port("127.0.0.1:0", creds)
    await server.start()
    return server, port


def _client(ca_pem: bytes, key: bytes | None, crt: bytes | None, target: str, **options):
    creds = grpc.ssl_channel_credentials(
        root_certificates=ca_pem, private_key=key, certificate_chain=crt
    )
    return grpc.aio.secure_channel(target, creds, options=list(options.items()))


async def test_mutual_tls_in_grpc(tmp_path):
    ca = CertificateAuthority.create(tmp_path / "nation", clock=SystemClock())  # BoringSSL's time
    server, port = await _serve(ca)
    try:
        key, crt = ca.issue(Identity.of_province("44"), folder=tmp_path / "p44")
        ca_pem = ca.cert_path.read_bytes()
        for target in (f"127.0.0.1:{port}", f"localhost:{port}"):
            async with _client(ca_pem, key.read_bytes(), crt.read_bytes(), target) as ch:
                answer = await ch.unary_unary(WHO)(b"", timeout=10)
            assert answer == b"ecnet://province/44", target

        # A client of a foreign CA (the same identity): the server refuses the handshake.
        foreign = CertificateAuthority.create(tmp_path / "elsewhere", clock=SystemClock())
        fkey, fcrt = foreign.issue(Identity.of_province("44"), folder=tmp_path / "forged")
        async with _client(ca_pem, fkey.read_bytes(), fcrt.read_bytes(), f"127.0.0.1:{port}") as ch:
            with pytest.raises(grpc.aio.AioRpcError) as info:
                await ch.unary_unary(WHO)(b"", timeout=10)
        assert info.value.code() is grpc.StatusCode.UNAVAILABLE

        # No client certificate at all: refused too (require_client_auth).
        async with _client(ca_pem, None, None, f"127.0.0.1:{port}") as ch:
            with pytest.raises(grpc.aio.AioRpcError) as info:
                await ch.unary_unary(WHO)(b"", timeout=10)
        assert info.value.code() is grpc.StatusCode.UNAVAILABLE

        # A plaintext client: no TLS, no call.
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as ch:
            with pytest.raises(grpc.aio.AioRpcError) as info:
                await ch.unary_unary(WHO)(b"", timeout=10)
        assert info.value.code() is grpc.StatusCode.UNAVAILABLE

        # The handshake knows no CRL: a revoked certificate gets through it, and the
        # application's verify (node.pki) is what refuses it.
        ca.revoke(identity=Identity.of_province("44"))
        async with _client(ca_pem, key.read_bytes(), crt.read_bytes(), f"127.0.0.1:{port}") as ch:
            with pytest.raises(grpc.aio.AioRpcError) as info:
                await ch.unary_unary(WHO)(b"", timeout=10)
        assert info.value.code() is grpc.StatusCode.UNAUTHENTICATED
        assert "revoked" in (info.value.details() or "")
    finally:
        await server.stop(None)


async def test_grpc_checks_the_server_name(tmp_path):
    """gRPC's client checks the dialled host against the server certificate's SAN: a node
    certificate for another address fails, unless the client names the identity's DNS
    name (``grpc.ssl_target_name_override``)."""
    ca = CertificateAuthority.create(tmp_path / "nation", clock=SystemClock())
    key_path, crt_path = ca.issue(Identity.of_province("31"), hosts=["10.31.0.1"])
    server = grpc.aio.server()

    async def me(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        return b"ok"

    server.add_generic_rpc_handlers(
        [
            grpc.method_handlers_generic_handler(
                "ecnet.test.Who", {"Me": grpc.unary_unary_rpc_method_handler(me)}
            )
        ]
    )
    creds = grpc.ssl_server_credentials(
        [(key_path.read_bytes(), crt_path.read_bytes())],
        root_certificates=ca.cert_path.read_bytes(),
        require_client_auth=True,
    )
    port = server.add_secure_port("127.0.0.1:0", creds)
    await server.start()
    try:
        key, crt = ca.issue(Identity.national(), folder=tmp_path / "client")
        args = (ca.cert_path.read_bytes(), key.read_bytes(), crt.read_bytes(), f"127.0.0.1:{port}")
        async with _client(*args) as ch:
            with pytest.raises(grpc.aio.AioRpcError) as info:
                await ch.unary_unary(WHO)(b"", timeout=10)
        assert info.value.code() is grpc.StatusCode.UNAVAILABLE
        async with _client(*args, **{"grpc.ssl_target_name_override": "p31.ecnet"}) as ch:
            assert await ch.unary_unary(WHO)(b"", timeout=10) == b"ok"
    finally:
        await server.stop(None)


def test_pem_round_trip(ca):
    cert = leaf(ca, Identity.operator("admin"))
    again = x509.load_pem_x509_certificate(pem(cert))
    assert identity_of(again) == Identity.operator("admin")


def test_concurrent_signing_keeps_every_row(tmp_path, clock):
    """Two operators (or a script) signing at once: each keeps its own handle on the CA,
    as two ``ecnet ca sign`` processes do, and the index still lists every certificate."""
    from concurrent.futures import ThreadPoolExecutor

    data = tmp_path / "nation"
    CertificateAuthority.create(data, clock=clock)
    requests = [
        make_request(Identity.of_province(p), new_key()) for p in ("11", "31", "44", "51") * 4
    ]

    def sign(request):
        ca = CertificateAuthority.open(data, clock=clock)
        cert = ca.sign(request)
        if cert.serial_number % 2:
            ca.revoke(serial=cert.serial_number)
        return cert

    with ThreadPoolExecutor(8) as pool:
        certs = list(pool.map(sign, requests))
    ca = CertificateAuthority.open(data, clock=clock)
    assert sorted(r.serial for r in ca.issued()) == sorted(c.serial_number for c in certs)
    odd = sorted(c.serial_number for c in certs if c.serial_number % 2)
    assert sorted(r.serial for r in ca.issued() if r.revoked_at) == odd
    assert sorted(r.serial_number for r in ca.crl()) == odd


async def test_renewed_server_certificate_without_restart(tmp_path):
    """How the wiring can pick up a renewed node certificate: gRPC's
    ``dynamic_ssl_server_credentials`` asks its fetcher at each new handshake, and the
    fetcher answers a new configuration when the certificate file changed. Here the
    first certificate names another host (the handshake fails the client's name check);
    once ``pki/nodes/national.crt`` is issued again for 127.0.0.1, new connections work,
    with the server never restarted."""
    ca = CertificateAuthority.create(tmp_path / "nation", clock=SystemClock())
    key, crt = ca.issue(Identity.national(), hosts=["10.9.9.9"])
    ca_pem = ca.cert_path.read_bytes()

    # Written atomically (a rename), a renewed file is a new inode.
    def version(path):
        st = path.stat()
        return (st.st_ino, st.st_mtime_ns)

    loaded = {"crt": version(crt)}

    def configuration():
        pair = [(key.read_bytes(), crt.read_bytes())]
        return grpc.ssl_server_certificate_configuration(pair, root_certificates=ca_pem)

    def fetch():
        now = version(crt)
        if now == loaded["crt"]:
            return None  # gRPC keeps what it has
        loaded["crt"] = now
        return configuration()

    creds = grpc.dynamic_ssl_server_credentials(
        configuration(), fetch, require_client_authentication=True
    )

    async def me(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        return b"ok"

    server = grpc.aio.server()
    server.add_generic_rpc_handlers(
        [
            grpc.method_handlers_generic_handler(
                "ecnet.test.Who", {"Me": grpc.unary_unary_rpc_method_handler(me)}
            )
        ]
    )
    port = server.add_secure_port("127.0.0.1:0", creds)
    await server.start()
    try:
        ckey, ccrt = ca.issue(Identity.of_province("44"), folder=tmp_path / "p44")

        async def call():
            args = (ca_pem, ckey.read_bytes(), ccrt.read_bytes(), f"127.0.0.1:{port}")
            async with _client(*args) as ch:
                return await ch.unary_unary(WHO)(b"", timeout=10)

        with pytest.raises(grpc.aio.AioRpcError) as info:
            await call()
        assert info.value.code() is grpc.StatusCode.UNAVAILABLE
        ca.issue(Identity.national(), hosts=["127.0.0.1"])
        assert await call() == b"ok"
    finally:
        await server.stop(None)


def test_terminal_identities():
    t = Identity.parse("ecnet://terminal/H44010012345/44202400000000000001")
    assert (t.role, t.org_id, t.terminal_id, t.uri, t.stem) == (
        Role.TERMINAL,
        "H44010012345",
        "44202400000000000001",
        "ecnet://terminal/H44010012345/44202400000000000001",
        "terminal-44202400000000000001",
    )
    assert t == Identity.terminal("H44010012345", "44202400000000000001")
    for bad in (
        "ecnet://terminal/H44010012345",  # no number
        "ecnet://terminal/H44010012345/4420240000000000001",  # 19 digits
        "ecnet://terminal/H44010012345/99202400000000000001",  # no province 99
        "ecnet://terminal/H44010012345/4420240000000000000a",
        "ecnet://terminal//44202400000000000001",  # no orgId
        "ecnet://terminal/-H440/44202400000000000001",
        f"ecnet://terminal/{'H' * 41}/44202400000000000001",  # orgId over 40
        "ecnet://terminal/H440/44202400000000000001/x",
    ):
        with pytest.raises(IdentityError):
            Identity.parse(bad)
    with pytest.raises(IdentityError):
        Identity(Role.OPERATOR, name="admin", terminal_id="44202400000000000001")


def test_a_terminal_certificate_names_its_terminal(ca, clock):
    terminal = Identity.terminal("H44010012345", "44202400000000000001")
    _, cert_path = ca.issue(terminal, hosts=(), folder=ca.folder / "terminals", stem="t")
    assert ca.verify(read_certificate(cert_path)) == terminal
