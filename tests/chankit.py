"""Signed channel calls in tests: the project's one signing helper
(``node.domain.channelsig``) with the keys seeding made (``ROOT/pki/channels``) and the
node's clock (a FakeClock moves; a signature is good for 5 minutes of the node's time)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from node.domain.channelsig import ensure_key, key_file, load_key, sign_message
from node.domain.sm import sm2_generate_keypair

VOUCHER = "/ecnet.v1.VoucherService/"
QR = "/ecnet.v1.QrService/"


def private_key(root: Path, app_id: str) -> bytes:
    """The signing key of a seeded channel of the nation seeded under ``root``; for a
    channel national does not know, a key of its own (made now, kept nowhere)."""
    path = key_file(root / "pki", app_id)
    if not path.exists():
        return sm2_generate_keypair().private_key
    return load_key(path).private_key


def signed(root: Path, app_id: str, method: str, request, clock=None, **kw) -> tuple:
    """The metadata signing one call of ``method`` (``/ecnet.v1.QrService/IssueQrCode``)
    with ``request``, as ``app_id``, at ``clock``'s time (the real time without one)."""
    now = clock.now_ms() if clock is not None else None
    return sign_message(app_id, private_key(root, app_id), method, request, now_ms=now, **kw)


async def known(node, app_id: str = "NHSA-OFFICIAL", timeout: float = 15.0) -> None:
    """Wait until province ``node`` was told of channel ``app_id`` by national (its key
    travels in a channel.status event, delivered after the province registers)."""
    deadline = time.monotonic() + timeout
    while node.provincial.channel_key(app_id) is None:
        assert time.monotonic() < deadline, f"{node.config.name} never heard of {app_id}"
        await asyncio.sleep(0.05)


def public_key(app_id: str, root: Path = Path(".")) -> str:
    """The public key (hexadecimal) of channel ``app_id``'s signing key, made now when it
    has none: to register a channel that tests sign as."""
    return ensure_key(key_file(root / "pki", app_id)).public_key.hex()
