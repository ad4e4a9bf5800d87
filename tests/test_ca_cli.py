"""``ecnet ca`` run as a person runs it: a CA made, a province's own key and request
signed, listed, revoked; and bad input refused in one line with its code (-2): a second
CA over the first, a province code that is not one, a request whose SAN names no ecnet
identity, a revocation of nothing."""

from __future__ import annotations

import datetime as dt
import json
import os
import stat

import pytest
from clikit import ecnet
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import NameOID

from node.pki import (
    CertificateAuthority,
    Identity,
    Reason,
    Refused,
    new_key,
    pem,
    read_certificate,
    write_public,
)


async def test_ca_session(tmp_path):
    data = tmp_path / "nation"
    d = ("--data", str(data))
    rc, out, err = await ecnet("ca", "init", *d, "--host", "localhost", "--host", "10.0.0.1")
    assert rc == 0, err
    pki = data / "pki"
    for name in ("ca.crt", "ca.key", "crl.pem", "index.json", "nodes/national.crt", "operator.crt"):
        assert (pki / name).is_file(), name
    assert stat.S_IMODE(os.stat(pki).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(pki / "nodes/national.key").st_mode) == 0o600
    assert stat.S_IMODE(os.stat(pki / "operator.key").st_mode) == 0o600

    # A second init over the first is refused, and changes nothing.
    before = (pki / "ca.crt").read_bytes()
    rc, out, err = await ecnet("ca", "init", *d)
    assert rc == 1 and err.startswith("error -2: ") and "already holds a CA" in err, err
    assert len(err.strip().splitlines()) == 1 and (pki / "ca.crt").read_bytes() == before
    rc, out, err = await ecnet("ca", "init", *d, "--json")
    assert rc == 1 and json.loads(out)["code"] == -2

    # A province makes its key and request in a folder of its own; national signs.
    p44 = tmp_path / "p44"
    rc, out, err = await ecnet(
        "ca", "request", "--role", "provincial", "--province", "44", "--out", str(p44), "--json"
    )
    assert rc == 0, err
    made = json.loads(out)
    assert made == {
        "identity": "ecnet://province/44",
        "key": str(p44 / "p44.key"),
        "request": str(p44 / "p44.csr"),
    }
    assert stat.S_IMODE(os.stat(p44 / "p44.key").st_mode) == 0o600
    rc, out, err = await ecnet(
        "ca", "sign", str(p44 / "p44.csr"), *d, "--days", "90", "--host", "10.0.0.44", "--json"
    )
    assert rc == 0, err
    signed = json.loads(out)
    assert signed["identity"] == "ecnet://province/44" and signed["hosts"] == ["10.0.0.44"]
    assert signed["certificate"] == str(p44 / "p44.crt")
    ca = CertificateAuthority.open(data)
    cert = read_certificate(p44 / "p44.crt")
    assert ca.verify(cert) == Identity.of_province("44")
    assert f"{cert.serial_number:x}" == signed["serial"]
    assert cert.not_valid_after_utc - cert.not_valid_before_utc == dt.timedelta(days=90)

    rc, out, err = await ecnet("ca", "list", *d, "--json")
    assert rc == 0, err
    rows = json.loads(out)
    assert [r["identity"] for r in rows] == [
        "ecnet://national",
        "ecnet://operator/admin",
        "ecnet://province/44",
    ]
    assert all(r["revokedAt"] is None for r in rows)
    rc, out, err = await ecnet("ca", "list", *d)
    assert rc == 0 and signed["serial"] in out and "ecnet://province/44" in out, out

    # Revoked by province: on the CRL, so verify refuses it; list says so.
    rc, out, err = await ecnet("ca", "revoke", "--province", "44", *d)
    assert rc == 0 and f"revoked ecnet://province/44 serial {signed['serial']}" in out, (out, err)
    with pytest.raises(Refused) as info:
        CertificateAuthority.open(data).verify(cert)
    assert info.value.reason is Reason.REVOKED
    rc, out, err = await ecnet("ca", "verify", str(p44 / "p44.crt"), *d)
    assert rc == 1 and "certificate refused (revoked)" in err, err
    rc, out, err = await ecnet("ca", "verify", str(pki / "nodes/national.crt"), *d, "--json")
    assert rc == 0 and json.loads(out)["identity"] == "ecnet://national", (out, err)
    rows = json.loads((await ecnet("ca", "list", *d, "--json"))[1])
    assert [r["revokedAt"] is not None for r in rows] == [False, False, True]
    rc, out, err = await ecnet("ca", "revoke", "--serial", signed["serial"], *d)
    assert rc == 0 and "already revoked; nothing changed" in out, out


async def test_ca_refuses_bad_input(tmp_path):
    data = tmp_path / "nation"
    d = ("--data", str(data))
    rc, out, err = await ecnet("ca", "list", *d)
    assert rc == 1 and "no CA in" in err and "ecnet ca init" in err, err
    # One line however long the path: not folded at the console's width (160 when piped).
    deep = tmp_path / ("a-long-folder-name-" * 10)
    rc, out, err = await ecnet("ca", "list", "--data", str(deep))
    assert rc == 1 and err.count("\n") == 1 and str(deep) in err, err
    assert (await ecnet("ca", "init", *d))[0] == 0

    cases = [
        (
            ("ca", "request", "--role", "provincial", "--province", "99", *d),
            "'99' is not a province",
        ),
        (("ca", "request", "--role", "provincial", *d), "needs --province NN"),
        (("ca", "request", "--role", "regional", "--province", "44", *d), "national, provincial"),
        (("ca", "request", "--role", "operator", "--name", "Bad Name", *d), "not an operator name"),
        (("ca", "revoke", *d), "exactly one of --serial S and --province NN"),
        (("ca", "revoke", "--serial", "xyz", *d), "not hexadecimal"),
        (("ca", "revoke", "--serial", "abc123", *d), "issued no certificate to serial abc123"),
        (("ca", "revoke", "--province", "31", *d), "issued no certificate to ecnet://province/31"),
        (("ca", "sign", str(tmp_path / "none.csr"), *d), "no such file"),
        (("ca", "init", *d, "--force", "--operator", "-x"), "not an operator name"),
    ]
    for args, says in cases:
        rc, out, err = await ecnet(*args)
        assert rc == 1 and err.startswith("error -2: ") and says in err, (args, err)
        assert len(err.strip().splitlines()) == 1, err

    # A request whose SAN is a web address, not an ecnet identity; one with a forged
    # common name and no SAN; a file that is no request.
    key = new_key()
    for name, builder in {
        "web.csr": x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "p44")]))
        .add_extension(
            x509.SubjectAlternativeName([x509.UniformResourceIdentifier("https://p44.example")]),
            critical=False,
        ),
        "cn.csr": x509.CertificateSigningRequestBuilder().subject_name(
            x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ecnet://national")])
        ),
    }.items():
        write_public(tmp_path / name, pem(builder.sign(key, hashes.SHA256())))
    (tmp_path / "junk.csr").write_text("not a request\n")
    for name, says in (
        ("web.csr", "names no ecnet://"),
        ("cn.csr", "no subjectAltName"),
        ("junk.csr", "is not a PEM certificate request"),
    ):
        rc, out, err = await ecnet("ca", "sign", str(tmp_path / name), *d, "--json")
        assert rc == 1 and json.loads(out)["code"] == -2 and says in json.loads(out)["message"]
    assert [r.identity for r in CertificateAuthority.open(data).issued()] == [
        "ecnet://national",
        "ecnet://operator/admin",
    ]
