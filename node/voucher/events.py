"""Every change of a voucher becomes an outbox event, in the transaction of the change.

An event carries a random ``eventId``, its ``kind``, the voucher number, the voucher's
new ``version`` and the full :class:`ecnet.v1.VoucherData` snapshot (state, insured
regions, every authorization with its code and revoked flag), so a province applies
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

import json
import sqlite3
from collections.abc import Iterable

from ecnet.v1 import common_pb2
from ecnet.v1 import federation_service_pb2 as fed_pb
from node.clock import Entropy, timestamp
from node.domain.regions import region_name
from node.storage import national as q
from node.storage import outbox
from node.storage.national import PersonRow, VoucherRow

__all__ = ["emit", "snapshot"]


def _region_name(code: str) -> str:
    try:
        return region_name(code)
    except KeyError:
        return ""


def snapshot(conn: sqlite3.Connection, v: VoucherRow, person: PersonRow) -> common_pb2.VoucherData:
    """The voucher data as provinces keep it (identity as the voucher was issued to)."""
    auths = []
    for a in q.q_authorizations(conn, v.ec_card_no):
        auth = common_pb2.Authorization(
            channelId=a.channel_id,
            channelName=a.channel_name,
            authorizedAt=timestamp(a.created_at),
            revoked=a.revoked_at is not None,
            authCode=a.auth_code,
        )
        if a.revoked_at is not None:
            auth.revokedAt.CopyFrom(timestamp(a.revoked_at))
        auths.append(auth)
    return common_pb2.VoucherData(
        ecCardNo=v.ec_card_no,
        state=v.state,
        userName=person.user_name,
        idType=person.id_type,
        idNo=person.id_no,
        gender=person.gender,
        birthday=person.birthday,
        nationality=person.nationality,
        insuredRegions=[
            common_pb2.InsuredRegion(
                insuOrg=r.insu_org, insuType=r.insu_type, insuOrgName=_region_name(r.insu_org)
            )
            for r in person.insured
        ],
        version=v.version,
        updatedAt=timestamp(v.updated_at),
        authorizations=auths,
    )


def emit(
    conn: sqlite3.Connection,
    entropy: Entropy,
    kind: str,
    v: VoucherRow,
    person: PersonRow,
    now_ms: int,
    business_province: str = "",
    payload: dict | None = None,
    extra: Iterable[str] = (),
) -> set[str]:
    """Queue one event for every province concerned; returns the destinations."""
    if business_province:
        q.q_add_voucher_province(conn, v.ec_card_no, business_province)
    destinations = {r.insu_org[:2] for r in person.insured}
    destinations |= q.q_voucher_provinces(conn, v.ec_card_no)
    destinations |= set(extra)
    event = fed_pb.Event(
        eventId=entropy.token_hex(16),
        kind=kind,
        ecCardNo=v.ec_card_no,
        version=v.version,
        voucher=snapshot(conn, v, person),
        payloadJson=json.dumps(payload or {}, ensure_ascii=False, sort_keys=True),
        createdAt=timestamp(now_ms),
    )
    outbox.enqueue(conn, event, destinations, now_ms)
    return destinations
