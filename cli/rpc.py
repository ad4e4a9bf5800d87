"""Synchronous calls from the CLI to nodes, with errors turned into one clear line.

Nodes serve over mutual TLS: the CLI calls as the nation's operator, with the
certificate ``nation up`` made (``DIR/pki/ca.crt``, ``DIR/pki/operator.{crt,key}``), or,
when the folder has none, the files named by ``ECNET_CA``, ``ECNET_CERT`` and
``ECNET_KEY`` (an operator of a nation whose folder is elsewhere); a nation started
``--insecure`` is called in plaintext.
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
    "channel_key",
    "request_of",
]

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
    if not files[1].exists() and all(env):
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


def open_channel(address: str, data_dir: Path) -> grpc.Channel:
    """A channel to the node at ``address`` of the nation in ``data_dir``."""
    credentials = credentials_for(data_dir)
    if credentials is None:
        return grpc.insecure_channel(address)
    return grpc.secure_channel(address, credentials)


@dataclass
class NodeHandle:
    """Calls to the node at ``address``, as the operator of the nation in ``data``."""

    address: str
    data: Path

    def __post_init__(self) -> None:
        self.channel = open_channel(self.address, self.data)
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
            return method(request, timeout=timeout, metadata=metadata)
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
