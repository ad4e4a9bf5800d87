"""Transport security: every port speaks TLS 1.3, and every caller shows a certificate of
the national CA (mutual TLS), so that a node knows who calls it.

* :class:`TlsFiles` names a node's (or a client's) files: the CA certificate, its own
  certificate and key, and the CRL it starts with. :meth:`TlsFiles.in_pki` finds them in
  the nation's layout (``DIR/pki/ca.crt``, ``pki/nodes/<stem>.{crt,key}``,
  ``pki/crl.pem``).
* :class:`ServerTls` gives a gRPC server its credentials. They require a client
  certificate: gRPC's Python server cannot ask for an optional one (with
  ``require_client_auth=False`` it asks for none), so people and programs at the edge
  call with a certificate too (an operator's, ``DIR/pki/operator.{crt,key}``). The
  certificate and key are read again when the certificate file changes, before the next
  handshake: a renewed certificate is served without a restart.
* :class:`ClientTls` gives a node's outgoing channels their credentials, and notices a
  renewed certificate the same way (:attr:`ClientTls.version`). A channel to a peer checks
  that the peer's certificate names the peer (:func:`peer_options`: the DNS name
  ``p44.ecnet`` that the CA puts only in province 44's certificates).
* :class:`Trust` says who a caller is: the one ``ecnet://`` identity of its certificate,
  which the handshake verified against the CA, checked again on every call against the
  clock and the CRL in force. gRPC's handshake does not read a CRL; :class:`Trust` does.
  National reads the CRL from its file (``ecnet ca revoke`` writes it) when the file
  changes; a province is handed national's on each heartbeat (:meth:`Trust.take_crl`:
  taken only when signed by the CA and newer than its own).

``--insecure`` (development only) runs a node without any of this: plaintext, and the
caller's identity is the claim in its ``ec-insecure-identity`` metadata
(:data:`INSECURE_CLAIM`), which anyone can make. The node says so in its log and in
``nation status``.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import grpc
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from node.clock import Clock
from node.config import ConfigError
from node.pki import (
    Identity,
    PkiError,
    Reason,
    Refused,
    crl_number,
    crl_of,
    identity_of,
    read_certificate,
    read_crl,
    read_key,
    verify,
)

__all__ = [
    "INSECURE_CLAIM",
    "TlsFiles",
    "ServerTls",
    "ClientTls",
    "Trust",
    "Verified",
    "Dialer",
    "peer_options",
]

log = logging.getLogger("ecnet.tls")

# The metadata key of a caller's claimed identity on an --insecure node (a URI such as
# ecnet://province/44). A TLS node never reads it.
INSECURE_CLAIM = "ec-insecure-identity"

# How often a watched file's mtime is looked at, at most (seconds).
_WATCH_EVERY = 1.0


@dataclass(frozen=True, slots=True)
class TlsFiles:
    """The PEM files of one party: the national CA's certificate, its own certificate and
    key, and (for a node) the CRL it starts with."""

    ca: Path
    cert: Path
    key: Path
    crl: Path | None = None

    @classmethod
    def in_pki(cls, pki: Path, stem: str) -> TlsFiles:
        """A node's files in the nation's layout: ``pki/nodes/<stem>.{crt,key}``."""
        crl = pki / "crl.pem"
        return cls(
            pki / "ca.crt",
            pki / "nodes" / f"{stem}.crt",
            pki / "nodes" / f"{stem}.key",
            crl if crl.exists() else None,
        )

    def load(self) -> tuple[bytes, bytes, bytes]:
        """(CA, certificate, key) as PEM bytes, checked: each file readable and of its
        kind, the key the certificate's, the certificate the CA's. A problem is a
        :class:`~node.config.ConfigError` naming the file."""
        try:
            ca = read_certificate(self.ca)
            cert = read_certificate(self.cert)
            key = read_key(self.key)
        except PkiError as exc:
            raise ConfigError(str(exc)) from None
        if cert.public_key() != key.public_key():
            raise ConfigError(f"{self.key} is not the key of {self.cert}")
        try:
            cert.verify_directly_issued_by(ca)
        except Exception:
            raise ConfigError(f"{self.cert} is not issued by the CA of {self.ca}") from None
        return self.ca.read_bytes(), self.cert.read_bytes(), self.key.read_bytes()

    def identity(self) -> Identity:
        """The identity the certificate names."""
        try:
            return identity_of(read_certificate(self.cert))
        except PkiError as exc:
            raise ConfigError(f"{self.cert}: {exc}") from None


class _Watched:
    """The mtime and size of a set of files, looked at no more than once a second: has
    any of them changed since the last look?"""

    def __init__(self, *paths: Path) -> None:
        self.paths = paths
        self._seen = self._stat()
        self._looked = 0.0
        self._lock = threading.Lock()

    def _stat(self) -> tuple[tuple[int, int], ...]:
        marks = []
        for path in self.paths:
            try:
                st = os.stat(path)
                marks.append((st.st_mtime_ns, st.st_size))
            except OSError:
                marks.append((0, 0))
        return tuple(marks)

    def changed(self, now: float) -> bool:
        with self._lock:
            if now - self._looked < _WATCH_EVERY:
                return False
            self._looked = now
            marks = self._stat()
            if marks == self._seen:
                return False
            self._seen = marks
            return True


class ServerTls:
    """A node's server credentials: TLS with a required client certificate of the CA,
    the node's certificate read again when its file changes."""

    def __init__(self, files: TlsFiles, clock: Clock) -> None:
        self.files = files
        self.clock = clock
        self.ca, self._cert, self._key = files.load()
        self._watch = _Watched(files.cert, files.key)

    def _config(self) -> grpc.ServerCertificateConfiguration:
        return grpc.ssl_server_certificate_configuration(
            [(self._key, self._cert)], root_certificates=self.ca
        )

    def _fetch(self) -> grpc.ServerCertificateConfiguration | None:
        """Called by gRPC before each new connection's handshake."""
        if not self._watch.changed(self.clock.now()):
            return None
        try:
            _, cert, key = self.files.load()
        except ConfigError as exc:  # half-written, or a key not yet beside its certificate
            log.warning("renewed certificate not taken", extra={"fields": {"why": str(exc)}})
            return None
        self._cert, self._key = cert, key
        log.info("certificate renewed", extra={"fields": {"cert": str(self.files.cert)}})
        return self._config()

    def credentials(self) -> grpc.ServerCredentials:
        # The fetcher may answer None (no change), which the stubs do not say.
        fetch = cast("Callable[[], grpc.ServerCertificateConfiguration]", self._fetch)
        return grpc.dynamic_ssl_server_credentials(
            self._config(), fetch, require_client_authentication=True
        )


class ClientTls:
    """Credentials of outgoing channels, made again after the certificate file changed
    (:attr:`version` counts the changes: a channel made at an older version is replaced
    before its next call)."""

    def __init__(self, files: TlsFiles, clock: Clock) -> None:
        self.files = files
        self.clock = clock
        self.version = 0
        self._material = files.load()
        self._watch = _Watched(files.cert, files.key)

    def refresh(self) -> int:
        """Look at the files (at most once a second); the current :attr:`version`."""
        if self._watch.changed(self.clock.now()):
            try:
                self._material = self.files.load()
            except ConfigError as exc:
                log.warning("renewed certificate not taken", extra={"fields": {"why": str(exc)}})
            else:
                self.version += 1
                log.info("certificate renewed", extra={"fields": {"cert": str(self.files.cert)}})
        return self.version

    def credentials(self) -> grpc.ChannelCredentials:
        ca, cert, key = self._material
        return grpc.ssl_channel_credentials(
            root_certificates=ca, private_key=key, certificate_chain=cert
        )


def peer_options(peer: Identity) -> list[tuple[str, str]]:
    """Channel options that make the handshake check the server's certificate for
    ``peer``'s own DNS name (``p44.ecnet``), whatever address is dialled."""
    return [("grpc.ssl_target_name_override", peer.dns_name)]


@dataclass(frozen=True, slots=True)
class Verified:
    """A caller's certificate, parsed and checked once: its identity, its subject (for
    the log), its serial and end of validity (checked on every call)."""

    identity: Identity
    subject: str
    serial: int
    not_after: float


class Trust:
    """Who calls: the identity of a certificate the CA issued, valid now, not revoked.

    ``crl_path``: the CRL file to follow (national); ``None`` for a node handed its CRL by
    national (:meth:`take_crl`).
    """

    _CACHE = 4096

    def __init__(
        self,
        ca_pem: bytes,
        clock: Clock,
        crl_path: Path | None = None,
        crl: x509.CertificateRevocationList | None = None,
    ) -> None:
        self.ca = x509.load_pem_x509_certificate(ca_pem)
        self.clock = clock
        self.crl_path = crl_path
        self._crl: x509.CertificateRevocationList | None = None
        self._revoked: frozenset[int] = frozenset()
        self._cache: OrderedDict[bytes, Verified] = OrderedDict()
        self._watch = _Watched(crl_path) if crl_path is not None else None
        if crl_path is not None:
            try:
                self._set(read_crl(crl_path))
            except PkiError as exc:
                raise ConfigError(str(exc)) from None
        if crl is not None:
            self.take_crl(crl)

    # -- the CRL -----------------------------------------------------------------------
    @property
    def crl(self) -> x509.CertificateRevocationList | None:
        self._follow()
        return self._crl

    @property
    def crl_number(self) -> int:
        crl = self.crl
        return crl_number(crl) if crl is not None else 0

    def _set(self, crl: x509.CertificateRevocationList) -> None:
        if not crl_of(crl, self.ca):
            raise ConfigError("the CRL is not signed by the national CA")
        self._crl = crl
        self._revoked = frozenset(r.serial_number for r in crl)

    def crl_der(self, newer_than: int = -1) -> bytes:
        """The CRL in force (DER) when its number is above ``newer_than``; else b""."""
        crl = self.crl
        if crl is None or crl_number(crl) <= newer_than:
            return b""
        return crl.public_bytes(serialization.Encoding.DER)

    def take_crl_der(self, data: bytes) -> bool:
        """:meth:`take_crl` of a DER CRL handed over by national (b"": nothing)."""
        if not data:
            return False
        try:
            crl = x509.load_der_x509_crl(data)
        except ValueError:
            log.warning("CRL refused: not a DER CRL")
            return False
        return self.take_crl(crl)

    def take_crl(self, crl: x509.CertificateRevocationList) -> bool:
        """Take ``crl`` when the CA signed it and it is newer than the one in force."""
        if not crl_of(crl, self.ca):
            log.warning("CRL refused: not signed by the national CA")
            return False
        if self._crl is not None and crl_number(crl) <= crl_number(self._crl):
            return False
        self._set(crl)
        log.info(
            "CRL taken",
            extra={"fields": {"crlNumber": crl_number(crl), "revoked": len(self._revoked)}},
        )
        return True

    def _follow(self) -> None:
        if self._watch is None or self.crl_path is None:
            return
        if self._watch.changed(self.clock.now()):
            try:
                self.take_crl(read_crl(self.crl_path))
            except PkiError as exc:
                log.warning("CRL not read", extra={"fields": {"why": str(exc)}})

    # -- callers -----------------------------------------------------------------------
    def identify(self, cert_pem: bytes) -> Verified:
        """The caller behind ``cert_pem`` (the handshake's peer certificate), or
        :class:`~node.pki.Refused` saying why not."""
        self._follow()
        now = self.clock.now()
        known = self._cache.get(cert_pem)
        if known is None:
            cert = x509.load_pem_x509_certificate(cert_pem)
            identity = verify(cert, self.ca, self._crl, now, "client")
            known = Verified(
                identity,
                cert.subject.rfc4514_string(),
                cert.serial_number,
                cert.not_valid_after_utc.timestamp(),
            )
            self._cache[cert_pem] = known
            if len(self._cache) > self._CACHE:
                self._cache.popitem(last=False)
            return known
        self.recheck(known)
        return known

    def recheck(self, known: Verified) -> None:
        """:class:`~node.pki.Refused` if ``known`` expired or was revoked since it was
        verified (a long-lived stream checks its caller again at every message)."""
        self._follow()
        if self.clock.now() > known.not_after:
            raise Refused(Reason.EXPIRED, f"{known.subject}: expired")
        if known.serial in self._revoked:
            raise Refused(Reason.REVOKED, f"serial {known.serial:x} revoked")


class Dialer:
    """How a node's channels to its peers are made: over mutual TLS with its own
    certificate (``tls``), each checking that the peer is who it dials; or, on an
    ``--insecure`` node (``tls`` None), in plaintext, claiming ``me`` in metadata."""

    def __init__(self, me: Identity, tls: ClientTls | None) -> None:
        self.me = me
        self.tls = tls
        self.metadata: tuple[tuple[str, str], ...] = (
            () if tls is not None else ((INSECURE_CLAIM, me.uri),)
        )

    def version(self) -> int:
        """Changes when the node's certificate was renewed (looked at once a second at
        most): a channel made at another version is made again before its next use."""
        return self.tls.refresh() if self.tls is not None else 0

    def channel(
        self, address: str, peer: Identity, options: list[tuple[str, Any]]
    ) -> grpc.aio.Channel:
        if self.tls is None:
            return grpc.aio.insecure_channel(address, options=options)
        self.tls.refresh()
        return grpc.aio.secure_channel(
            address, self.tls.credentials(), options=options + peer_options(peer)
        )
