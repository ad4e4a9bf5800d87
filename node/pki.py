"""Trust between nodes: the national CA, node and operator certificates, revocation, and
the identity a program reads from a verified certificate.

Identities are not free-text common names: a certificate names exactly one, as a URI in
its subjectAltName, and :func:`identity_of` parses it into an :class:`Identity`:

* ``ecnet://national``: the national node;
* ``ecnet://province/NN``: the provincial node of province ``NN`` (a code of
  :mod:`node.domain.regions`, ``"66"`` included);
* ``ecnet://operator/<name>``: a person or program administering the nation (the
  national administrator);
* ``ecnet://operator/<duty>/<name>``: an operator of the management center with one
  duty (:data:`OPERATOR_DUTIES`): ``admin``, ``auditor``, ``support``, or ``pNN`` (the
  operator of province ``NN``).
* ``ecnet://terminal/<orgId>/<terminalId>``: an acceptance terminal (7.2.1.1) of the
  institution ``orgId`` with its 20-digit number, registered at the management center.

Keys and certificates are ECDSA P-256 with SHA-256: gRPC's TLS (BoringSSL) takes no SM2
certificate, so SM2/SM3/SM4 stay at the application layer, as the standard has them.

:func:`verify` is what a node does with a peer's certificate after the TLS handshake:
signed by this CA, valid now, not on the CA's CRL, a leaf for the purpose, one identity.
Each refusal is a :class:`Refused` with its :class:`Reason`.

On disk (:class:`CertificateAuthority`), under the nation's data folder, mode 0700::

    DIR/pki/ca.crt  ca.key              the national CA (self-signed)
    DIR/pki/crl.pem                     the revoked serials, signed by the CA
    DIR/pki/index.json                  every certificate the CA issued
    DIR/pki/.lock                       held while signing or revoking (flock)
    DIR/pki/nodes/national.crt .key     the national node
    DIR/pki/nodes/p44.crt .key          a province (its key made there: :func:`make_request`)
    DIR/pki/operator.crt .key           the national operator
    DIR/pki/terminals/<T>.crt .key      the terminal numbered T (simulated nation)

Keys are PEM (PKCS#8, unencrypted: a node starts unattended), mode 0600, and every file
is written atomically (a temporary file, fsync, rename).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import ipaddress
import json
import os
import re
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from node.clock import Clock, Entropy, SystemClock, SystemEntropy
from node.domain.regions import is_province
from node.domain.terminal_no import ORG_ID_PATTERN, is_terminal_number

__all__ = [
    "CA_DAYS",
    "CRL_DAYS",
    "LEAF_DAYS",
    "DEFAULT_HOSTS",
    "Role",
    "OPERATOR_DUTIES",
    "is_operator_duty",
    "Identity",
    "PkiError",
    "IdentityError",
    "Reason",
    "Refused",
    "Issued",
    "CertificateAuthority",
    "new_key",
    "make_request",
    "identity_of",
    "verify",
    "crl_of",
    "crl_number",
    "write_private",
    "write_public",
    "read_certificate",
    "read_key",
    "read_request",
    "read_crl",
    "pem",
]

SCHEME = "ecnet"
CA_DAYS = 3650
LEAF_DAYS = 365
#: How long a CRL is announced as current (its nextUpdate); every revocation renews it.
CRL_DAYS = 30
#: The names a node certificate answers to when no --host is given: what a client on the
#: same machine dials (gRPC checks the target's host against the SAN's DNS or IP names).
DEFAULT_HOSTS = ("localhost", "127.0.0.1")

_OPERATOR_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
_APP_ID = re.compile(r"[A-Z0-9][A-Z0-9_-]{1,31}")
_HOST_NAME = re.compile(r"(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.?)+")


#: The duties of a management-center operator besides ``pNN`` (standard 4.8, 5.2.1).
OPERATOR_DUTIES = ("admin", "auditor", "support")


def is_operator_duty(duty: str) -> bool:
    """``admin``, ``auditor``, ``support``, or ``pNN`` with ``NN`` a province code."""
    return duty in OPERATOR_DUTIES or (len(duty) == 3 and duty[0] == "p" and is_province(duty[1:]))


class PkiError(Exception):
    """A PKI operation that cannot be done, said in a sentence a person understands."""


class IdentityError(PkiError, ValueError):
    """A text that is not an ecnet identity."""


class Role(StrEnum):
    NATIONAL = "national"
    PROVINCE = "province"
    OPERATOR = "operator"
    TERMINAL = "terminal"
    CHANNEL = "channel"


@dataclass(frozen=True, slots=True)
class Identity:
    """Who a certificate speaks for: national, a province (``province``), an operator
    (``name``; ``duty``: its role at the management center, None for the national
    administrator of the form ``ecnet://operator/NAME``) or a terminal (``org_id``,
    ``terminal_id``). Build one with :meth:`national`, :meth:`of_province`,
    :meth:`operator`, :meth:`terminal` or :meth:`parse`; each checks its fields."""

    role: Role
    province: str | None = None
    name: str | None = None
    duty: str | None = None
    org_id: str | None = None
    terminal_id: str | None = None

    def __post_init__(self) -> None:
        if self.role is not Role.TERMINAL and (self.org_id or self.terminal_id):
            raise IdentityError("only a terminal identity has an orgId and a terminal number")
        if self.role is Role.TERMINAL:
            if self.province is not None or self.name is not None:
                raise IdentityError("a terminal identity has an orgId and a number only")
            if self.org_id is None or not ORG_ID_PATTERN.fullmatch(self.org_id):
                raise IdentityError(
                    f"{self.org_id!r} is not an orgId (letters, digits, '-' and '_', at most "
                    "40, starting with a letter or digit)"
                )
            if self.terminal_id is None or not is_terminal_number(self.terminal_id):
                raise IdentityError(
                    f"{self.terminal_id!r} is not a terminal number (20 digits, the first two "
                    "a province code)"
                )
        if self.role is Role.NATIONAL and (self.province or self.name):
            raise IdentityError("the national identity has neither province nor name")
        if self.role is Role.PROVINCE:
            if self.name is not None or self.province is None:
                raise IdentityError("a province identity has a province code and no name")
            if not is_province(self.province):
                raise IdentityError(
                    f"{self.province!r} is not a province code (two digits of GB/T 2260, "
                    "11…65, or 66)"
                )
        if self.duty is not None and (
            self.role is not Role.OPERATOR or not is_operator_duty(self.duty)
        ):
            raise IdentityError(
                f"{self.duty!r} is not an operator's duty: admin, auditor, support or pNN "
                "(the operator of province NN)"
            )
        if self.role is Role.OPERATOR:
            if self.province is not None or self.name is None:
                raise IdentityError("an operator identity has a name and no province")
            if not _OPERATOR_NAME.fullmatch(self.name):
                raise IdentityError(
                    f"{self.name!r} is not an operator name (lower-case letters, digits and "
                    "dashes, at most 63, not starting with a dash)"
                )
        if self.role is Role.CHANNEL:
            if self.province is not None or self.name is None:
                raise IdentityError("a channel identity has an appId and no province")
            if not _APP_ID.fullmatch(self.name):
                raise IdentityError(
                    f"{self.name!r} is not an appId (2-32 capital letters, digits, '-' or '_')"
                )

    @classmethod
    def national(cls) -> Identity:
        return cls(Role.NATIONAL)

    @classmethod
    def of_province(cls, code: str) -> Identity:
        return cls(Role.PROVINCE, province=code)

    @classmethod
    def operator(cls, name: str, duty: str | None = None) -> Identity:
        return cls(Role.OPERATOR, name=name, duty=duty)

    @property
    def operator_duty(self) -> str | None:
        """An operator's duty (``ecnet://operator/NAME`` is ``admin``); None for a node."""
        if self.role is not Role.OPERATOR:
            return None
        return self.duty or "admin"

    @classmethod
    def terminal(cls, org_id: str, terminal_id: str) -> Identity:
        return cls(Role.TERMINAL, org_id=org_id, terminal_id=terminal_id)

    @classmethod
    def channel(cls, app_id: str) -> Identity:
        """A channel (4.3): ``ecnet://channel/APPID``, issued when national approves it."""
        return cls(Role.CHANNEL, name=app_id)

    @classmethod
    def parse(cls, uri: str) -> Identity:
        """``ecnet://national``, ``ecnet://province/NN``, ``ecnet://operator/NAME``,
        ``ecnet://operator/DUTY/NAME``, ``ecnet://terminal/ORGID/TERMINALID``."""
        prefix = f"{SCHEME}://"
        if not uri.startswith(prefix):
            raise IdentityError(f"{uri!r} is not an ecnet identity (ecnet://…)")
        parts = uri[len(prefix) :].split("/")
        if parts == ["national"]:
            return cls.national()
        if len(parts) == 2 and parts[0] == "province":
            return cls.of_province(parts[1])
        if len(parts) == 2 and parts[0] == "operator":
            return cls.operator(parts[1])
        if len(parts) == 3 and parts[0] == "operator":
            return cls.operator(parts[2], duty=parts[1])
        if len(parts) == 3 and parts[0] == "terminal":
            return cls.terminal(parts[1], parts[2])
        if len(parts) == 2 and parts[0] == "channel":
            return cls.channel(parts[1])
        raise IdentityError(
            f"{uri!r} is not an ecnet identity: ecnet://national, ecnet://province/NN, "
            "ecnet://operator/NAME, ecnet://operator/ROLE/NAME, "
            "ecnet://terminal/ORGID/TERMINALID or ecnet://channel/APPID"
        )

    @property
    def uri(self) -> str:
        if self.role is Role.NATIONAL:
            return f"{SCHEME}://national"
        if self.role is Role.PROVINCE:
            return f"{SCHEME}://province/{self.province}"
        if self.role is Role.CHANNEL:
            return f"{SCHEME}://channel/{self.name}"
        if self.duty is not None:
            return f"{SCHEME}://operator/{self.duty}/{self.name}"
        if self.role is Role.TERMINAL:
            return f"{SCHEME}://terminal/{self.org_id}/{self.terminal_id}"
        return f"{SCHEME}://operator/{self.name}"

    @property
    def stem(self) -> str:
        """The file name of its key and certificate: ``national``, ``p44``, ``operator-NAME``,
        ``terminal-T`` (T its 20-digit number)."""
        if self.role is Role.NATIONAL:
            return "national"
        if self.role is Role.PROVINCE:
            return f"p{self.province}"
        if self.role is Role.CHANNEL:
            return f"channel-{self.name.lower() if self.name else ''}"
        if self.duty is not None:
            return f"operator-{self.duty}-{self.name}"
        if self.role is Role.TERMINAL:
            return f"terminal-{self.terminal_id}"
        return f"operator-{self.name}"

    @property
    def dns_name(self) -> str:
        """A DNS name every certificate of this identity carries (``p44.ecnet``), so that a
        client may check the server by identity (gRPC's ``grpc.ssl_target_name_override``)
        whatever address it dials."""
        return f"{self.stem}.{SCHEME}"

    def __str__(self) -> str:
        return self.uri


class Reason(StrEnum):
    """Why :func:`verify` refuses a certificate."""

    EXPIRED = "expired"
    NOT_YET_VALID = "not yet valid"
    REVOKED = "revoked"
    FOREIGN_CA = "not signed by this CA"
    NO_IDENTITY = "no ecnet identity"
    SEVERAL_IDENTITIES = "several ecnet identities"
    BAD_IDENTITY = "malformed ecnet identity"
    KEY_USAGE = "wrong key usage"
    BAD_CRL = "CRL not signed by this CA"


class Refused(PkiError):
    """A certificate :func:`verify` (or :func:`identity_of`) does not accept, and why."""

    def __init__(self, reason: Reason, detail: str) -> None:
        super().__init__(f"certificate refused ({reason.value}): {detail}")
        self.reason = reason
        self.detail = detail


# -- keys, requests, reading and writing ---------------------------------------------
def new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _serial(entropy: Entropy) -> int:
    """A random positive serial below 2**159 (RFC 5280: at most 20 octets, positive)."""
    return (int.from_bytes(entropy.token_bytes(20), "big") >> 1) or 1


def _utc(seconds: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(seconds, dt.UTC)


def _subject(identity: Identity) -> x509.Name:
    # A label for people; programs read the identity from the SAN URI only.
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "ecnet"),
            x509.NameAttribute(NameOID.COMMON_NAME, identity.stem),
        ]
    )


def make_request(
    identity: Identity, key: ec.EllipticCurvePrivateKey
) -> x509.CertificateSigningRequest:
    """A certificate request (CSR) of ``key`` for ``identity`` (its URI in the SAN)."""
    san = x509.SubjectAlternativeName([x509.UniformResourceIdentifier(identity.uri)])
    return (
        x509.CertificateSigningRequestBuilder()
        .subject_name(_subject(identity))
        .add_extension(san, critical=False)
        .sign(key, hashes.SHA256())
    )


def pem(
    item: x509.Certificate | x509.CertificateSigningRequest | x509.CertificateRevocationList,
) -> bytes:
    return item.public_bytes(serialization.Encoding.PEM)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _write_atomic(path: Path, data: bytes, mode: int) -> None:
    """``data`` to ``path`` with ``mode`` from its first byte: a temporary file in the same
    folder (created with ``mode``), fsync, rename over ``path``, fsync of the folder."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)


def write_private(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    """A private key, PEM, mode 0600, atomically."""
    _write_atomic(path, _key_pem(key), 0o600)


def write_public(path: Path, data: bytes) -> None:
    """A certificate, request or CRL (PEM bytes), mode 0644, atomically."""
    _write_atomic(path, data, 0o644)


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise PkiError(f"{path}: no such file ({what})") from None
    except OSError as exc:
        raise PkiError(f"{path}: cannot read the {what}: {exc.strerror or exc}") from None


def read_certificate(path: Path) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(_read(path, "certificate"))
    except ValueError:
        raise PkiError(f"{path} is not a PEM certificate") from None


def read_request(path: Path) -> x509.CertificateSigningRequest:
    try:
        return x509.load_pem_x509_csr(_read(path, "certificate request"))
    except ValueError:
        raise PkiError(f"{path} is not a PEM certificate request (CSR)") from None


def read_crl(path: Path) -> x509.CertificateRevocationList:
    try:
        return x509.load_pem_x509_crl(_read(path, "CRL"))
    except ValueError:
        raise PkiError(f"{path} is not a PEM CRL") from None


def read_key(path: Path) -> ec.EllipticCurvePrivateKey:
    try:
        key = serialization.load_pem_private_key(_read(path, "private key"), password=None)
    except (ValueError, TypeError):
        raise PkiError(f"{path} is not an unencrypted PEM private key") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise PkiError(f"{path} is not an ECDSA P-256 key")
    return key


# -- identities and verification -----------------------------------------------------
def _identity_in(extensions: x509.Extensions, what: str) -> Identity:
    try:
        san = extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        raise Refused(Reason.NO_IDENTITY, f"the {what} has no subjectAltName") from None
    uris = [
        u
        for u in san.get_values_for_type(x509.UniformResourceIdentifier)
        if u.lower().startswith(f"{SCHEME}:")
    ]
    if not uris:
        raise Refused(Reason.NO_IDENTITY, f"the {what} names no ecnet://… identity in its SAN")
    if len(uris) > 1:
        raise Refused(
            Reason.SEVERAL_IDENTITIES,
            f"the {what} names {len(uris)} ecnet identities ({', '.join(uris)}); one is allowed",
        )
    try:
        return Identity.parse(uris[0])
    except IdentityError as exc:
        raise Refused(Reason.BAD_IDENTITY, str(exc)) from None


def identity_of(cert: x509.Certificate | x509.CertificateSigningRequest) -> Identity:
    """The one ecnet identity in the SAN of ``cert`` (unverified: see :func:`verify`)."""
    what = "certificate" if isinstance(cert, x509.Certificate) else "request"
    return _identity_in(cert.extensions, what)


def verify(
    cert: x509.Certificate,
    ca: x509.Certificate,
    crl: x509.CertificateRevocationList | None,
    now: float,
    purpose: Literal["client", "server"] = "client",
) -> Identity:
    """The identity of ``cert`` if the CA ``ca`` vouches for it at ``now`` (seconds since
    the epoch) for ``purpose`` (``client``: a peer that called; ``server``: a peer called);
    otherwise :class:`Refused` with the first reason found, in this order: foreign CA, CRL
    not of the CA, validity, revoked, key usage, identity. Without a ``crl`` (a province
    that has not yet had one from national) nothing counts as revoked."""
    try:
        cert.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        raise Refused(
            Reason.FOREIGN_CA,
            f"issued by {cert.issuer.rfc4514_string()!r}, not by this CA "
            f"({ca.subject.rfc4514_string()!r}), or its signature does not verify",
        ) from None
    if crl is not None and not crl_of(crl, ca):
        raise Refused(Reason.BAD_CRL, "the CRL given is not signed by this CA")
    at = _utc(now)
    if at < cert.not_valid_before_utc:
        raise Refused(
            Reason.NOT_YET_VALID,
            f"valid from {cert.not_valid_before_utc.isoformat()}, now {at.isoformat()}",
        )
    if at > cert.not_valid_after_utc:
        raise Refused(
            Reason.EXPIRED, f"expired {cert.not_valid_after_utc.isoformat()}, now {at.isoformat()}"
        )
    entry = (
        None if crl is None else crl.get_revoked_certificate_by_serial_number(cert.serial_number)
    )
    if entry is not None:
        raise Refused(
            Reason.REVOKED,
            f"serial {cert.serial_number:x} revoked {entry.revocation_date_utc.isoformat()}",
        )
    _check_leaf_usage(cert, purpose)
    return identity_of(cert)


def crl_of(crl: x509.CertificateRevocationList, ca: x509.Certificate) -> bool:
    """Whether ``crl`` is issued and signed by the CA ``ca``."""
    return crl.issuer == ca.subject and crl.is_signature_valid(ca.public_key())  # type: ignore[arg-type]


def crl_number(crl: x509.CertificateRevocationList) -> int:
    """The CRL's number (0 when it has none): a later CRL of the CA has a higher one."""
    try:
        return crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
    except x509.ExtensionNotFound:
        return 0


def _check_leaf_usage(cert: x509.Certificate, purpose: Literal["client", "server"]) -> None:
    ext = cert.extensions
    try:
        if ext.get_extension_for_class(x509.BasicConstraints).value.ca:
            raise Refused(Reason.KEY_USAGE, "a CA certificate is not a node's or operator's")
    except x509.ExtensionNotFound:
        pass
    try:
        if not ext.get_extension_for_class(x509.KeyUsage).value.digital_signature:
            raise Refused(Reason.KEY_USAGE, "its keyUsage lacks digitalSignature")
    except x509.ExtensionNotFound:
        raise Refused(Reason.KEY_USAGE, "it has no keyUsage") from None
    wanted = (
        ExtendedKeyUsageOID.CLIENT_AUTH if purpose == "client" else ExtendedKeyUsageOID.SERVER_AUTH
    )
    try:
        usages = list(ext.get_extension_for_class(x509.ExtendedKeyUsage).value)
    except x509.ExtensionNotFound:
        raise Refused(Reason.KEY_USAGE, "it has no extendedKeyUsage") from None
    if wanted not in usages:
        raise Refused(Reason.KEY_USAGE, f"its extendedKeyUsage lacks {purpose}Auth")


# -- the CA --------------------------------------------------------------------------
def _general_names(hosts: Iterable[str]) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            if not _HOST_NAME.fullmatch(host):
                raise PkiError(f"{host!r} is neither an IP address nor a host name") from None
            names.append(x509.DNSName(host.rstrip(".").lower()))
    return names


@dataclass(frozen=True, slots=True)
class Issued:
    """One line of the CA's index."""

    serial: int
    identity: str
    not_before: str  # ISO 8601, UTC
    not_after: str
    hosts: tuple[str, ...]
    revoked_at: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "serial": f"{self.serial:x}",
            "identity": self.identity,
            "notBefore": self.not_before,
            "notAfter": self.not_after,
            "hosts": list(self.hosts),
            "revokedAt": self.revoked_at,
        }

    @classmethod
    def from_json(cls, row: dict[str, Any]) -> Issued:
        return cls(
            serial=int(row["serial"], 16),
            identity=row["identity"],
            not_before=row["notBefore"],
            not_after=row["notAfter"],
            hosts=tuple(row.get("hosts", ())),
            revoked_at=row.get("revokedAt"),
        )


class CertificateAuthority:
    """The national CA kept in ``DIR/pki`` (see the module's docstring for the layout).
    :meth:`create` makes one, :meth:`open` loads one."""

    def __init__(
        self,
        folder: Path,
        key: ec.EllipticCurvePrivateKey,
        cert: x509.Certificate,
        clock: Clock,
        entropy: Entropy,
    ) -> None:
        self.folder = folder
        self.key = key
        self.cert = cert
        self.clock = clock
        self.entropy = entropy

    # paths
    @staticmethod
    def folder_of(data_dir: Path) -> Path:
        return data_dir / "pki"

    @property
    def cert_path(self) -> Path:
        return self.folder / "ca.crt"

    @property
    def key_path(self) -> Path:
        return self.folder / "ca.key"

    @property
    def crl_path(self) -> Path:
        return self.folder / "crl.pem"

    @property
    def index_path(self) -> Path:
        return self.folder / "index.json"

    @property
    def nodes(self) -> Path:
        return self.folder / "nodes"

    @classmethod
    def create(
        cls,
        data_dir: Path,
        *,
        clock: Clock | None = None,
        entropy: Entropy | None = None,
        days: int = CA_DAYS,
        force: bool = False,
    ) -> CertificateAuthority:
        """A new CA in ``data_dir/pki``, with an empty CRL and index. Refuses a folder
        that already holds a CA unless ``force`` (which starts over: every certificate
        the old CA issued stops verifying)."""
        clock = clock or SystemClock()
        entropy = entropy or SystemEntropy()
        folder = cls.folder_of(data_dir)
        if ((folder / "ca.key").exists() or (folder / "ca.crt").exists()) and not force:
            raise PkiError(
                f"{folder} already holds a CA; --force replaces it (every certificate it "
                "issued stops verifying)"
            )
        if days < 1:
            raise PkiError("the CA's validity must be at least 1 day")
        _private_folder(folder)
        _private_folder(folder / "nodes")
        key = new_key()
        name = x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "ecnet"),
                x509.NameAttribute(NameOID.COMMON_NAME, "ecnet national CA"),
            ]
        )
        start = _utc(clock.now()) - dt.timedelta(minutes=5)
        public = key.public_key()
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(public)
            .serial_number(_serial(entropy))
            .not_valid_before(start)
            .not_valid_after(start + dt.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=False,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
            .sign(key, hashes.SHA256())
        )
        ca = cls(folder, key, cert, clock, entropy)
        for stale in (ca.index_path, ca.crl_path):
            stale.unlink(missing_ok=True)
        write_private(ca.key_path, key)
        write_public(ca.cert_path, pem(cert))
        ca._save_index({"crlNumber": 0, "issued": []})
        ca.write_crl()
        return ca

    @classmethod
    def open(
        cls, data_dir: Path, *, clock: Clock | None = None, entropy: Entropy | None = None
    ) -> CertificateAuthority:
        folder = cls.folder_of(data_dir)
        if not (folder / "ca.key").exists():
            raise PkiError(f"no CA in {folder}: run `ecnet ca init --data {data_dir}` first")
        key = read_key(folder / "ca.key")
        cert = read_certificate(folder / "ca.crt")
        if cert.public_key() != key.public_key():
            raise PkiError(f"{folder}/ca.key is not the key of {folder}/ca.crt")
        return cls(folder, key, cert, clock or SystemClock(), entropy or SystemEntropy())

    # the index
    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """The CA's files to this holder alone (``pki/.lock``, flock): two ``ecnet ca``
        processes signing or revoking at once must not lose each other's index rows."""
        fd = os.open(self.folder / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def _load_index(self) -> dict[str, Any]:
        try:
            data: dict[str, Any] = json.loads(_read(self.index_path, "CA index"))
        except json.JSONDecodeError:
            raise PkiError(f"{self.index_path} is not JSON") from None
        return data

    def _save_index(self, data: dict[str, Any]) -> None:
        write_public(
            self.index_path, (json.dumps(data, ensure_ascii=False, indent=2) + "\n").encode()
        )

    def issued(self) -> list[Issued]:
        """Every certificate the CA issued, oldest first."""
        return [Issued.from_json(r) for r in self._load_index()["issued"]]

    # signing
    def sign(
        self,
        request: x509.CertificateSigningRequest,
        *,
        days: int = LEAF_DAYS,
        hosts: Sequence[str] = DEFAULT_HOSTS,
    ) -> x509.Certificate:
        """A leaf certificate for the identity in ``request`` (refused unless it names
        exactly one well-formed ecnet identity and its signature verifies), valid
        ``days`` days, answering to ``hosts`` (DNS names or IP addresses) and to the
        identity's own name (:attr:`Identity.dns_name`). Recorded in the index."""
        if not request.is_signature_valid:
            raise PkiError("the request's signature does not verify (a tampered CSR)")
        try:
            identity = identity_of(request)
        except Refused as exc:
            raise PkiError(f"the request is refused: {exc.detail}") from None
        public = request.public_key()
        if not isinstance(public, ec.EllipticCurvePublicKey) or public.curve.name != "secp256r1":
            raise PkiError("the request's key is not ECDSA P-256 (what gRPC's TLS takes)")
        if days < 1:
            raise PkiError("--days must be at least 1")
        ca_end = self.cert.not_valid_after_utc
        start = _utc(self.clock.now()) - dt.timedelta(minutes=5)
        end = min(start + dt.timedelta(days=days), ca_end)
        hosts = tuple(dict.fromkeys(hosts))
        names: list[x509.GeneralName] = [
            x509.UniformResourceIdentifier(identity.uri),
            x509.DNSName(identity.dns_name),
            *_general_names(hosts),
        ]
        ca_ski = self.cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        cert = (
            x509.CertificateBuilder()
            .subject_name(_subject(identity))
            .issuer_name(self.cert.subject)
            .public_key(public)
            .serial_number(_serial(self.entropy))
            .not_valid_before(start)
            .not_valid_after(end)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=False,
                    crl_sign=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(
                x509.ExtendedKeyUsage(
                    [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
                ),
                critical=False,
            )
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski),
                critical=False,
            )
            .sign(self.key, hashes.SHA256())
        )
        with self._locked():
            index = self._load_index()
            index["issued"].append(
                Issued(
                    serial=cert.serial_number,
                    identity=identity.uri,
                    not_before=cert.not_valid_before_utc.isoformat(),
                    not_after=cert.not_valid_after_utc.isoformat(),
                    hosts=hosts,
                ).to_json()
            )
            self._save_index(index)
        return cert

    def issue(
        self,
        identity: Identity,
        *,
        days: int = LEAF_DAYS,
        hosts: Sequence[str] = DEFAULT_HOSTS,
        folder: Path | None = None,
        stem: str | None = None,
    ) -> tuple[Path, Path]:
        """A key made here and its certificate, written as ``folder/<stem>.key`` and
        ``.crt`` (``folder``: ``pki/nodes``; ``stem``: the identity's); for national, an
        operator, or a simulated province (a real province makes its own key:
        :func:`make_request`)."""
        folder = folder or self.nodes
        _private_folder(folder)
        key = new_key()
        cert = self.sign(make_request(identity, key), days=days, hosts=hosts)
        stem = stem or identity.stem
        key_path, cert_path = folder / f"{stem}.key", folder / f"{stem}.crt"
        write_private(key_path, key)
        write_public(cert_path, pem(cert))
        return key_path, cert_path

    def ensure(
        self,
        identity: Identity,
        *,
        hosts: Sequence[str] = DEFAULT_HOSTS,
        folder: Path | None = None,
        stem: str | None = None,
    ) -> tuple[Path, Path]:
        """:meth:`issue`, unless ``folder/<stem>.crt`` exists already: its (key, cert)."""
        folder = folder or self.nodes
        stem = stem or identity.stem
        key_path, cert_path = folder / f"{stem}.key", folder / f"{stem}.crt"
        if cert_path.exists() and key_path.exists():
            return key_path, cert_path
        return self.issue(identity, hosts=hosts, folder=folder, stem=stem)

    def ensure_operator(self, name: str = "admin") -> tuple[Path, Path]:
        """The operator certificate of the nation's layout, ``pki/operator.{crt,key}``."""
        return self.ensure(Identity.operator(name), hosts=(), folder=self.folder, stem="operator")

    # revocation
    def revoke(
        self, *, serial: int | None = None, identity: Identity | None = None
    ) -> list[Issued]:
        """Revoke the certificate ``serial``, or every unrevoked one of ``identity``; the
        CRL is written again. The certificates revoked now (an empty list: none was
        still valid)."""
        if (serial is None) == (identity is None):
            raise PkiError("revoke one serial or one identity")
        with self._locked():
            return self._revoke(serial, identity)

    def _revoke(self, serial: int | None, identity: Identity | None) -> list[Issued]:
        index = self._load_index()
        rows = index["issued"]
        matches = [
            r
            for r in rows
            if (serial is not None and int(r["serial"], 16) == serial)
            or (identity is not None and r["identity"] == identity.uri)
        ]
        if not matches:
            what = f"serial {serial:x}" if serial is not None else str(identity)
            raise PkiError(f"this CA issued no certificate to {what}")
        at = _utc(self.clock.now()).replace(microsecond=0).isoformat()
        done: list[Issued] = []
        for row in matches:
            if row.get("revokedAt") is None:
                row["revokedAt"] = at
                done.append(Issued.from_json(row))
        if done:
            self._write_crl(index, CRL_DAYS)
        return done

    def crl(self) -> x509.CertificateRevocationList:
        return read_crl(self.crl_path)

    def write_crl(self, days: int = CRL_DAYS) -> x509.CertificateRevocationList:
        """The CRL of every revoked serial in the index, with a new CRL number."""
        with self._locked():
            return self._write_crl(self._load_index(), days)

    def _write_crl(self, index: dict[str, Any], days: int) -> x509.CertificateRevocationList:
        """The CRL of ``index`` written, then ``index`` saved with its new CRL number."""
        index["crlNumber"] = int(index.get("crlNumber", 0)) + 1
        now = _utc(self.clock.now())
        ca_ski = self.cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(self.cert.subject)
            .last_update(now)
            .next_update(now + dt.timedelta(days=days))
            .add_extension(x509.CRLNumber(index["crlNumber"]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski),
                critical=False,
            )
        )
        for row in index["issued"]:
            if row.get("revokedAt") is not None:
                builder = builder.add_revoked_certificate(
                    x509.RevokedCertificateBuilder()
                    .serial_number(int(row["serial"], 16))
                    .revocation_date(dt.datetime.fromisoformat(row["revokedAt"]))
                    .build()
                )
        crl = builder.sign(self.key, hashes.SHA256())
        write_public(self.crl_path, pem(crl))
        self._save_index(index)
        return crl

    def verify(
        self, cert: x509.Certificate, purpose: Literal["client", "server"] = "client"
    ) -> Identity:
        """:func:`verify` against this CA, its current CRL and its clock."""
        return verify(cert, self.cert, self.crl(), self.clock.now(), purpose)


def _private_folder(folder: Path) -> None:
    """``folder`` (and its parents) made if missing, and set to mode 0700."""
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
