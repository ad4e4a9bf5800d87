"""Synchronous calls from the CLI to nodes, with errors turned into one clear line."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TypeVar

import grpc
from grpc_health.v1 import health_pb2

from cli.nationfile import NationFile
from ecnet.v1.admin_service_pb2_grpc import AdminServiceStub
from node.errors import from_rpc_error

__all__ = ["CliError", "NodeHandle", "Metadata", "health_of", "national_address"]

Request = TypeVar("Request")
Response = TypeVar("Response")
# What a call sends as gRPC metadata, e.g. (("ec-channel-id", "WECHAT"),).
Metadata = tuple[tuple[str, str], ...]


class CliError(Exception):
    """A failure to report as one line (with its C.4 code when there is one)."""

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class NodeHandle:
    address: str

    def __post_init__(self) -> None:
        self.channel = grpc.insecure_channel(self.address)
        self.admin = AdminServiceStub(self.channel)

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


def health_of(address: str, timeout: float = 1.0) -> str:
    """SERVING, NOT_SERVING, or DOWN when the node does not answer."""
    with grpc.insecure_channel(address) as channel:
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
