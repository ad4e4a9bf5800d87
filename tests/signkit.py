"""Signing in tests as a node signs (``node.wire.signing``): events sent by hand to a
node carry the signature of the node they claim to come from, or deliberately not."""

from __future__ import annotations

from ecnet.v1 import federation_service_pb2 as fed_pb
from node.app import Node
from node.domain.sm import sm2_generate_keypair
from node.wire.signing import EventSigner

__all__ = ["signed", "stranger", "public_key", "relayed"]


def _signer(node: Node) -> EventSigner:
    assert node.signer is not None, f"{node.config.name} is not started"
    return node.signer


def signed(node: Node, *events: fed_pb.Event) -> list[fed_pb.Event]:
    """``events`` signed by ``node`` as it signs its outbox (in place; returned)."""
    return [_signer(node).sign(e) for e in events]


def public_key(node: Node) -> bytes:
    return _signer(node).public_key


def stranger(origin: str) -> EventSigner:
    """A key that is no node's, signing as ``origin``: what a forger has."""
    return EventSigner(origin, sm2_generate_keypair().private_key)


def relayed(national: Node, origin: Node, *events: fed_pb.Event) -> list[fed_pb.Event]:
    """Notices of province ``origin`` as national delivers them on: signed by the
    province, with its key and national's endorsement of it."""
    out = []
    for e in signed(origin, *events):
        e.originKey = public_key(origin)
        e.originKeyEndorsement = _signer(national).endorse(e.origin, e.originKey)
        out.append(e)
    return out
