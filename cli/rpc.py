"""Synchronous calls from the CLI to nodes, with errors turned into one clear line.

Nodes serve over mutual TLS: the CLI calls as the nation's operator, with the
certificate ``nation up`` made (``DIR/pki/ca.crt``, ``DIR/pki/operator.{crt,key}``), or,
when the folder has none, the files named by ``ECNET_CA``, ``ECNET_CERT`` and
``ECNET_KEY`` (an operator of a nation whose folder is elsewhere); a nation started
``--insecure`` is called in plaintext. ``ecnet --as NAME`` (or ``ECNET_OPERATOR=NAME``)
calls as the operator ``ecnet operators add NAME`` made instead
(``DIR/pki/operators/NAME.{crt,key}``).
A terminal's calls (scan, token check, settle,
trans) are made with the terminal's own certificate (``--terminal T``):
``DIR/pki/terminals/T.{crt,key}`` (``nation up`` issues them for the seeded terminals,
``ecnet terminals register`` for a new one), or the folder ``ECNET_TERMINALS`` names;
on an ``--insecure`` nation the number travels in the ``ec-terminal-id`` metadata.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TypeVar

import grpc
from google.protobuf import descriptor_pool, json_format, message_factory
from google.protobuf.message import Message
from grpc_health.v1 import health_pb2

import ecnet.v1.qr_service_pb2
import ecnet.v1.voucher_service_pb2  # noqa: F401  (their services in the descriptor pool)
from cli.nationfile import NationFile
from ecnet.v1.admin_service_pb2_grpc import AdminServiceStub
from node.domain.channelsig import SigningInterceptor, key_file, load_key
from node.errors import from_rpc_error

__all__ = [
    "CliError",
    "NodeHandle",
    "Metadata",
    "health_of",
    "national_address",
    "credentials_for",
    "open_channel",
    "operator_files",
    "use_operator",
    "terminal_files",
    "terminal_metadata",
    "terminals_folder",
    "channel_key",
    "request_of",
]

# The operator ``--as`` named (empty: $ECNET_OPERATOR, else the nation's administrator).
_chosen_operator = ""


def use_operator(name: str) -> None:
    """Call as the operator ``name`` of ``DIR/pki/operators`` (``ecnet --as NAME``)."""
    global _chosen_operator
    _chosen_operator = name


def operator_files(data_dir: Path, name: str) -> tuple[Path, Path]:
    """(key, certificate) of the operator ``name`` (``ecnet operators add``)."""
    if not name or "/" in name or name.startswith("."):
        raise CliError(f"{name!r} is not an operator's name", -2)
    folder = data_dir / "pki" / "operators"
    return folder / f"{name}.key", folder / f"{name}.crt"


Request = TypeVar("Request")
Response = TypeVar("Response")
# What a call sends as gRPC metadata, e.g. (("ec-channel-id", "WECHAT"),).
Metadata = tuple[tuple[str, str], ...]


class CliError(Exception):
    """A failure to report as one line (with its C.4 code when there is one)."""

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


def credentials_for(data_dir: Path) -> grpc.ChannelCredentials | None:
    """How the CLI calls the nodes of the nation in ``data_dir``: its operator's
    certificate (None: the nation is ``--insecure``, plaintext)."""
    try:
        if NationFile.load(data_dir).insecure:
            return None
    except FileNotFoundError:
        pass
    pki = data_dir / "pki"
    files = (pki / "ca.crt", pki / "operator.crt", pki / "operator.key")
    env = [os.environ.get(n) for n in ("ECNET_CA", "ECNET_CERT", "ECNET_KEY")]
    chosen = _chosen_operator or os.environ.get("ECNET_OPERATOR", "")
    if chosen:
        key_path, cert_path = operator_files(data_dir, chosen)
        if not cert_path.exists():
            raise CliError(
                f"no operator {chosen} in {pki / 'operators'}: `ecnet operators add {chosen} "
                f"--role ROLE --data {data_dir}` makes one",
                -2,
            )
        files = (pki / "ca.crt", cert_path, key_path)
    elif not files[1].exists() and all(env):
        files = (Path(env[0] or ""), Path(env[1] or ""), Path(env[2] or ""))
    try:
        ca, cert, key = (f.read_bytes() for f in files)
    except OSError as exc:
        raise CliError(
            f"no operator certificate to call the nodes with ({exc.filename}: "
            f"{exc.strerror}): `ecnet nation up --data {data_dir}` makes one in "
            f"{data_dir / 'pki'}, or set ECNET_CA, ECNET_CERT and ECNET_KEY",
            -2,
        ) from None
    return grpc.ssl_channel_credentials(ca, key, cert)


def channel_key(data_dir: Path, app_id: str) -> bytes:
    """The private signing key of channel ``app_id`` in the nation's folder."""
    path = key_file(data_dir / "pki", app_id)
    if not path.exists():
        raise CliError(
            f"no signing key of channel {app_id} in {path.parent}: `ecnet nation up` makes "
            "those of the seeded channels; an approved channel keeps its own",
            -2,
        )
    try:
        return load_key(path).private_key
    except ValueError as exc:
        raise CliError(str(exc), -2) from None


def request_of(method: str, json_body: str) -> Message:
    """The request message of ``method`` (``ecnet.v1.QrService/IssueQrCode``) from the
    JSON grpcurl's ``-d`` would send."""
    service_name, _, name = method.lstrip("/").partition("/")
    try:
        service = descriptor_pool.Default().FindServiceByName(service_name)
        found = service.FindMethodByName(name)
    except KeyError:
        found = None
    if found is None:
        raise CliError(f"{method!r} is not a method of the contract (SERVICE/METHOD)", -2)
    request = message_factory.GetMessageClass(found.input_type)()
    try:
        json_format.Parse(json_body, request)
    except json_format.ParseError as exc:
        raise CliError(f"the JSON body is not a {found.input_type.name}: {exc}", -2) from None
    return request


def terminals_folder(data_dir: Path) -> Path:
    """Where the nation in ``data_dir`` keeps its terminals' keys and certificates."""
    return data_dir / "pki" / "terminals"


def terminal_files(data_dir: Path, terminal_id: str) -> tuple[Path, Path, Path]:
    """(CA, certificate, key) of terminal ``terminal_id``: in ``DIR/pki/terminals``, else
    in the folder ``ECNET_TERMINALS`` names (with ``ECNET_CA``)."""
    if not (terminal_id.isascii() and terminal_id.isdigit() and len(terminal_id) == 20):
        raise CliError(f"--terminal {terminal_id[:24]!r} is not a 20-digit terminal number", -2)
    folder, ca = terminals_folder(data_dir), data_dir / "pki" / "ca.crt"
    other = os.environ.get("ECNET_TERMINALS")
    if not (folder / f"{terminal_id}.crt").exists() and other:
        folder, ca = Path(other), Path(os.environ.get("ECNET_CA", "") or ca)
    cert, key = folder / f"{terminal_id}.crt", folder / f"{terminal_id}.key"
    if not (cert.exists() and key.exists()):
        raise CliError(
            f"no certificate of terminal {terminal_id} ({cert} and .key): a terminal calls "
            "with its own certificate; `ecnet terminals register` issues one (`nation up` "
            "for the seeded terminals)",
            -2,
        )
    return ca, cert, key


def terminal_credentials(data_dir: Path, terminal_id: str) -> grpc.ChannelCredentials | None:
    """How terminal ``terminal_id`` calls the nodes of the nation in ``data_dir``: its
    certificate (None: the nation is ``--insecure``, plaintext)."""
    try:
        if NationFile.load(data_dir).insecure:
            return None
    except FileNotFoundError:
        pass
    ca, cert, key = terminal_files(data_dir, terminal_id)
    try:
        return grpc.ssl_channel_credentials(ca.read_bytes(), key.read_bytes(), cert.read_bytes())
    except OSError as exc:
        raise CliError(f"{exc.filename}: {exc.strerror}", -2) from None


def open_channel(address: str, data_dir: Path, terminal: str = "") -> grpc.Channel:
    """A channel to the node at ``address`` of the nation in ``data_dir``, as its
    operator, or as the terminal numbered ``terminal``."""
    if terminal:
        credentials = terminal_credentials(data_dir, terminal)
    else:
        credentials = credentials_for(data_dir)
    if credentials is None:
        return grpc.insecure_channel(address)
    return grpc.secure_channel(address, credentials)


def terminal_metadata(data_dir: Path, terminal: str) -> Metadata:
    """What a terminal's call carries besides its certificate: on an ``--insecure``
    nation (no certificates) its number in ``ec-terminal-id``; else nothing."""
    try:
        insecure = NationFile.load(data_dir).insecure
    except FileNotFoundError:
        insecure = False
    return (("ec-terminal-id", terminal),) if insecure and terminal else ()


@dataclass
class NodeHandle:
    """Calls to the node at ``address``, as the operator of the nation in ``data``, or as
    its terminal numbered ``terminal`` (``metadata`` then carries what such a call needs
    besides the certificate)."""

    address: str
    data: Path
    terminal: str = ""

    def __post_init__(self) -> None:
        self.channel = open_channel(self.address, self.data, self.terminal)
        self.metadata = terminal_metadata(self.data, self.terminal)
        self.admin = AdminServiceStub(self.channel)

    def signed(self, app_id: str) -> grpc.Channel:
        """This node's channel with every call signed as the channel ``app_id``, with its
        key from the nation's folder (``DIR/pki/channels/<APPID>.sign.key``)."""
        return grpc.intercept_channel(
            self.channel, SigningInterceptor(app_id, channel_key(self.data, app_id))
        )

    def call(
        self,
        method: grpc.UnaryUnaryMultiCallable[Request, Response],
        request: Request,
        timeout: float = 10.0,
        metadata: Metadata | None = None,
    ) -> Response:
        try:
            return method(request, timeout=timeout, metadata=(metadata or ()) + self.metadata)
        except grpc.RpcError as exc:
            code, message = from_rpc_error(exc)
            if code == -3:
                message = f"node {self.address} did not answer: is the nation running? ({message})"
            raise CliError(message, code) from None

    def close(self) -> None:
        self.channel.close()

    def __enter__(self) -> NodeHandle:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def health_of(address: str, data_dir: Path, timeout: float = 1.0) -> str:
    """SERVING, NOT_SERVING, or DOWN when the node does not answer."""
    with open_channel(address, data_dir) as channel:
        try:
            resp = health_check(channel)(health_pb2.HealthCheckRequest(), timeout=timeout)
        except grpc.RpcError:
            return "DOWN"
    return health_pb2.HealthCheckResponse.ServingStatus.Name(resp.status)


def national_address(data_dir: Path, node: str | None) -> str:
    """``--node`` if given, else the national node of the nation in ``data_dir``."""
    if node:
        return node
    try:
        return NationFile.load(data_dir).national.address
    except FileNotFoundError as exc:
        raise CliError(str(exc)) from None


def health_check(
    channel: grpc.Channel,
) -> grpc.UnaryUnaryMultiCallable[health_pb2.HealthCheckRequest, health_pb2.HealthCheckResponse]:
    """grpc.health.v1.Health/Check on ``channel``. grpc_health's ``HealthStub`` sets its
    methods in ``__init__``, and its stubs (types-grpcio-health-checking) declare only the
    constructor; this is the same call made through the typed ``Channel.unary_unary``."""
    return channel.unary_unary(
        "/grpc.health.v1.Health/Check",
        request_serializer=health_pb2.HealthCheckRequest.SerializeToString,
        response_deserializer=health_pb2.HealthCheckResponse.FromString,
    )
