"""National's answer to a province that lacks a voucher (6.2.2 b 2): ``FetchVoucher``.

The business-place province asks with the channel's authorization code. National
applies the display rules of :mod:`node.domain.display` to its own (authoritative) data, so a
province gets the same answer from its cache or from here; a freeze whose time is over
is lifted first (a new version, told to every province concerned). On success national
records the province in ``voucher_provinces`` in the same transaction as it reads the
snapshot, so every later change of the voucher is delivered to that province too: the
fetched copy never goes stale silently.
"""

from __future__ import annotations

import sqlite3

from ecnet.v1 import common_pb2
from node.domain.display import check_display, parse_auth_code, unknown_code
from node.domain.regions import is_province
from node.errors import EcError, invalid
from node.storage import national as q
from node.voucher.context import Lifecycle, check_channel
from node.voucher.events import snapshot
from node.voucher.freeze import lift_lapsed_freeze

__all__ = ["fetch_voucher"]


async def fetch_voucher(
    lc: Lifecycle, province: str, channel_id: str, auth_code: str
) -> common_pb2.VoucherData:
    """The voucher behind ``auth_code`` for ``province``, after the display checks."""
    if not is_province(province):
        raise invalid(f"province {province!r} is not a 2-digit province code")
    code = parse_auth_code(auth_code)
    code_hash = lc.keys.code_hash(code)
    now = lc.now_ms()
    lifted = False

    def tx(conn: sqlite3.Connection) -> common_pb2.VoucherData:
        nonlocal lifted
        channel = check_channel(conn, channel_id)
        auth = q.q_authorization(conn, code_hash)
        if auth is None:
            raise unknown_code()
        v = q.q_voucher(conn, auth.ec_card_no)
        person = q.q_person_by_id(conn, v.person_id) if v is not None else None
        if v is None or person is None:
            raise EcError(500001, "the voucher of this authorization does not exist")
        after = lift_lapsed_freeze(conn, lc, v, person, now)
        lifted = after is not v
        check_display(auth.channel_id, auth.revoked_at is not None, after.state, channel.channel_id)
        q.q_add_voucher_province(conn, after.ec_card_no, province)
        return snapshot(conn, lc, after, person)

    data = await lc.store.transact(tx)
    if lifted:
        lc.wake()
    return data
