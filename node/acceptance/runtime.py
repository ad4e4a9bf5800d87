"""Telling a transport failure (deadline, peer down) from a node's answer."""

from __future__ import annotations

import grpc
from grpc_status import rpc_status

__all__ = ["transport_failure"]


def transport_failure(exc: grpc.RpcError) -> bool:
    """True when a call failed in transport (deadline, peer down), not with a node's answer."""
    try:
        return rpc_status.from_call(exc) is None  # type: ignore[arg-type]
    except Exception:
        return True
