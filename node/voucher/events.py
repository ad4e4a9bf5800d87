"""Every change of a voucher becomes an outbox event, in the transaction of the change.

An event carries a random ``eventId``, its ``kind``, the voucher number, the voucher's
new ``version`` and the full :class:`ecnet.v1.VoucherData` snapshot (state, insured
regions, every authorization with the digest of its code, never the code, and its
revoked flag: ``node.vault``), so a province applies
the newest snapshot it has and needs no history. Destinations (6.1.2 c, 6.1.3 d,
6.1.4 b): the province of every insured region, every business-place province ever
named for the voucher (kept in ``voucher_provinces``, so a revocation reaches them
too), the business province of the request, and any ``extra`` provinces (the regions a
person just left).

Kinds: ``voucher.activated``, ``voucher.authorized``, ``voucher.revoked``,
``voucher.frozen``, ``voucher.unfrozen``, ``voucher.superseded``,
``voucher.regions_changed``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from typing import TYPE_CHECKING

from ecnet.v1 import common_pb2
from node.storage import national as q
from node.storage import outbox
from node.storage.national import PersonRow, VoucherRow
from node.wire.events import voucher_event
from node.wire.voucher import national_voucher_data

if TYPE_CHECKING:
    from node.voucher.context import Lifecycle

__all__ = ["emit", "snapshot"]


def snapshot(
    conn: sqlite3.Connection, lc: Lifecycle, v: VoucherRow, person: PersonRow
) -> common_pb2.VoucherData:
    """The voucher data as provinces keep it (identity as the voucher was issued to;
    authorizations with the digests of their codes)."""
    return national_voucher_data(v, person, q.q_authorizations(conn, v.ec_card_no), lc.digest_of)


def emit(
    conn: sqlite3.Connection,
    lc: Lifecycle,
    kind: str,
    v: VoucherRow,
    person: PersonRow,
    now_ms: int,
    business_province: str = "",
    payload: dict[str, object] | None = None,
    extra: Iterable[str] = (),
) -> set[str]:
    """Queue one event, signed by national (``node.wire.signing``), for every province
    concerned; returns the destinations."""
    if business_province:
        q.q_add_voucher_province(conn, v.ec_card_no, business_province)
    destinations = {r.insu_org[:2] for r in person.insured}
    destinations |= q.q_voucher_provinces(conn, v.ec_card_no)
    destinations |= set(extra)
    event = lc.signer.sign(
        voucher_event(
            lc.entropy.token_hex(16), kind, snapshot(conn, lc, v, person), payload or {}, now_ms
        )
    )
    outbox.enqueue(conn, event, destinations, now_ms)
    return destinations
