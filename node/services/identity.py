"""What a node says of itself (``AdminService/GetNodeInfo``, ``FederationService/Identify``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ecnet.v1 import federation_service_pb2 as fed_pb
from node.config import Role

__all__ = ["NodeIdentity"]

_ROLE_PB = {Role.NATIONAL: fed_pb.NODE_ROLE_NATIONAL, Role.PROVINCIAL: fed_pb.NODE_ROLE_PROVINCIAL}


@dataclass(frozen=True, slots=True)
class NodeIdentity:
    role: Role
    province: str  # "" for national
    name: str  # "national" or "pNN", as other nodes call it
    version: str
    instance_id: str
    started_at_ms: int
    address: str  # HOST:PORT the node is reached at
    # "mutual TLS", or "INSECURE plaintext" (--insecure, development only)
    transport: str = "mutual TLS"
    # The node's certificate file (read again for its expiry: a renewed certificate is
    # served without a restart); None on an --insecure node
    certificate: Path | None = None

    @property
    def role_pb(self) -> fed_pb.NodeRole:
        return _ROLE_PB[self.role]

    def describe(self) -> str:
        """ "the national node" or "province 44", for messages."""
        return "the national node" if self.role is Role.NATIONAL else f"province {self.province}"
