"""Channel control at national (渠道管理, standard 4.3 and the management center's
"渠道权限控制"): the management center suspends a third-party channel, or approves it
again.

A suspension takes effect at national in the transaction that records it: activation,
authorization and a province's voucher fetch check the calling channel
(``check_channel``: -4). The provinces answer QR display from their own cache, so the
change also goes to every province as a ``channel.status`` event through national's
outbox (``node.wire.events.channel_event``), in the same transaction; a province that
is down gets it when it is back, like any delivered event. A province refuses the
suspended channel's QR display once the event is applied (``node.qr.issuer``: -4).
Codes displayed before live out their minute.

The same event (at approval, key rotation, seeding) carries the channel's SM2 public
key, its scopes and its SM4 key (derived from national's master key and the key's
version, ``sm4_key_for``), which a province keeps sealed
(``node.storage.provincial.channels``): the channel's SM4-encrypted fields and
envelopes are decrypted there too. The SM4 key is in national's outbox row until that
row is pruned (``node.storage.outbox``: acknowledged, then past the retention), and
between the nodes it travels over their mutual TLS in an event national signs.

The official NHSA channel cannot be suspended. Setting the status a channel already
has, with the same reason, changes nothing and sends nothing.
"""

from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import Sequence

from node.domain.channelsig import parse_scopes, sm4_key_for, valid_app_id
from node.domain.regions import PROVINCES
from node.domain.sm import sm2_public_key_valid
from node.errors import EcError, Problems, invalid
from node.storage import national as q
from node.storage import outbox
from node.storage.national import ApplicationRow, ChannelRow
from node.voucher.context import Lifecycle
from node.voucher.model import OFFICIAL, THIRD_PARTY
from node.wire.events import CHANNEL_STATUSES, channel_event

__all__ = [
    "set_channel_status",
    "announce_channels",
    "apply_channel",
    "approve_application",
    "reject_application",
    "rotate_key",
    "MAX_REASON",
]

MAX_REASON = 200


async def set_channel_status(
    lc: Lifecycle, channel_id: str, status: str, reason: str
) -> tuple[ChannelRow, bool]:
    """The channel after the change, and whether anything changed."""
    channel_id, reason = channel_id.strip(), reason.strip()
    p = Problems()
    p.require("channelId", channel_id)
    statuses = ", ".join(CHANNEL_STATUSES)
    if p.require("status", status, hint=f"one of {statuses}") and status not in CHANNEL_STATUSES:
        p.wrong("status", f"must be one of {statuses}, not {status!r}")
    if len(reason) > MAX_REASON:
        p.wrong("reason", f"must be at most {MAX_REASON} characters")
    p.check()

    def tx(conn: sqlite3.Connection) -> tuple[ChannelRow, bool]:
        channel = q.q_channel(conn, channel_id)
        if channel is None:
            raise EcError(
                500012, f"channel {channel_id!r} is not registered with the national platform"
            )
        if channel.kind == OFFICIAL and status != "approved":
            raise invalid(
                f"{channel_id} is the official NHSA channel: it cannot be suspended", field="status"
            )
        if (channel.status, channel.status_reason) == (status, reason):
            return channel, False
        now = lc.now_ms()
        row = dataclasses.replace(
            channel,
            status=status,
            status_reason=reason,
            status_version=channel.status_version + 1,
            status_changed_at=now,
        )
        q.q_set_channel_status(conn, row)
        _announce(conn, lc, row, now)
        return row, True

    result = await lc.store.transact(tx)
    if result[1]:
        lc.wake()
    return result


def _announce(conn: sqlite3.Connection, lc: Lifecycle, row: ChannelRow, now: int) -> None:
    """Tell every province a channel's record (status, key, scopes, and the SM4 key of
    its encrypted fields and envelopes, derived from national's master key and the key's
    version), in ``conn``'s transaction."""
    event = channel_event(
        row.channel_id,
        row.status,
        row.status_reason,
        row.status_version,
        now,
        row.public_key,
        row.scopes,
        sm4_key_for(lc.keys.master, row.channel_id, row.key_version),
    )
    outbox.enqueue(conn, lc.signer.sign(event), PROVINCES, now)
    q.q_mark_announced(conn, row.channel_id, row.status_version)


async def announce_channels(lc: Lifecycle) -> int:
    """At national's start: tell the provinces every channel record they were not told
    (seeded channels, a key changed by seeding again), and again, as a new version, each
    record they were told without its SM4 key (by a national before m014). How many."""

    def tx(conn: sqlite3.Connection) -> int:
        now = lc.now_ms()
        for told in q.q_told_without_sm4(conn):
            bumped = dataclasses.replace(
                told, status_version=told.status_version + 1, status_changed_at=now
            )
            q.q_set_channel_status(conn, bumped)
        rows = q.q_unannounced_channels(conn)
        for row in rows:
            _announce(conn, lc, row, now)
        return len(rows)

    n = await lc.store.transact(tx)
    if n:
        lc.wake()
    return n


# -- applications, approval, key rotation (4.3) -----------------------------------------
MAX_NAME = 50


def _public_key(p: Problems, value: str) -> str:
    key = value.strip().lower()
    if p.require("publicKey", key, hint="130 hexadecimal digits, 04||x||y"):
        try:
            ok = sm2_public_key_valid(bytes.fromhex(key))
        except ValueError:
            ok = False
        if not ok:
            p.wrong("publicKey", "is not an SM2 public key (130 hexadecimal digits, 04||x||y)")
    return key


def _scopes(p: Problems, values: Sequence[str], required: bool = True) -> str:
    try:
        scopes = parse_scopes(list(values))
    except ValueError as exc:
        p.wrong("scopes", str(exc))
        return ""
    if required and not scopes:
        p.require("scopes", "", hint="e.g. ecnet.v1.QrService/*")
    return ",".join(scopes)


async def apply_channel(
    lc: Lifecycle, name: str, public_key: str, scopes: Sequence[str], province: str
) -> ApplicationRow:
    """A channel's application, pending until national decides."""
    name = name.strip()
    p = Problems()
    if p.require("name", name) and len(name) > MAX_NAME:
        p.wrong("name", f"must be at most {MAX_NAME} characters")
    key = _public_key(p, public_key)
    wanted = _scopes(p, scopes)
    if p.require("province", province) and province not in PROVINCES:
        p.wrong("province", f"{province!r} is not a province code")
    p.check()

    def tx(conn: sqlite3.Connection) -> ApplicationRow:
        n = q.q_count_applications(conn) + 1
        row = ApplicationRow(
            f"CA{n:010d}", province, name, key, wanted, "pending", applied_at=lc.now_ms()
        )
        q.q_insert_application(conn, row)
        return row

    return await lc.store.transact(tx)


def _pending(conn: sqlite3.Connection, application_id: str) -> ApplicationRow:
    row = q.q_application(conn, application_id)
    if row is None:
        raise invalid(f"no channel application {application_id!r}", field="applicationId")
    if row.status != "pending":
        raise invalid(
            f"application {application_id} was {row.status} already", field="applicationId"
        )
    return row


async def approve_application(
    lc: Lifecycle, application_id: str, app_id: str, scopes: Sequence[str]
) -> tuple[ChannelRow, ApplicationRow]:
    """The channel made of an application: its appId, scopes and key; every province told."""
    application_id, app_id = application_id.strip(), app_id.strip()
    p = Problems()
    p.require("applicationId", application_id)
    if p.require("appId", app_id) and not valid_app_id(app_id):
        p.wrong("appId", "must be 2-32 capital letters, digits, '-' or '_'")
    narrowed = _scopes(p, scopes, required=False)
    p.check()

    def tx(conn: sqlite3.Connection) -> tuple[ChannelRow, ApplicationRow]:
        application = _pending(conn, application_id)
        if q.q_channel(conn, app_id) is not None:
            raise invalid(f"appId {app_id} is taken by another channel", field="appId")
        now = lc.now_ms()
        row = ChannelRow(
            app_id,
            application.name,
            THIRD_PARTY,
            "approved",
            application.public_key,
            status_version=1,
            status_changed_at=now,
            scopes=narrowed or application.scopes,
            key_version=1,
        )
        q.q_put_channel(conn, row, now)
        decided = dataclasses.replace(application, status="approved", app_id=app_id, decided_at=now)
        q.q_decide_application(conn, decided)
        _announce(conn, lc, row, now)
        return row, decided

    result = await lc.store.transact(tx)
    lc.wake()
    return result


async def reject_application(lc: Lifecycle, application_id: str, reason: str) -> ApplicationRow:
    application_id, reason = application_id.strip(), reason.strip()
    p = Problems()
    p.require("applicationId", application_id)
    if p.require("reason", reason) and len(reason) > MAX_REASON:
        p.wrong("reason", f"must be at most {MAX_REASON} characters")
    p.check()

    def tx(conn: sqlite3.Connection) -> ApplicationRow:
        decided = dataclasses.replace(
            _pending(conn, application_id),
            status="rejected",
            reason=reason,
            decided_at=lc.now_ms(),
        )
        q.q_decide_application(conn, decided)
        return decided

    return await lc.store.transact(tx)


async def rotate_key(lc: Lifecycle, app_id: str, public_key: str) -> ChannelRow:
    """A channel's new key: the old one is refused from now on (each province once told)."""
    app_id = app_id.strip()
    p = Problems()
    p.require("appId", app_id)
    key = _public_key(p, public_key)
    p.check()

    def tx(conn: sqlite3.Connection) -> ChannelRow:
        channel = q.q_channel(conn, app_id)
        if channel is None:
            raise EcError(
                500012, f"channel {app_id!r} is not registered with the national platform"
            )
        if channel.public_key == key:
            raise invalid(f"that is channel {app_id}'s key already", field="publicKey")
        now = lc.now_ms()
        row = dataclasses.replace(
            channel,
            public_key=key,
            key_version=channel.key_version + 1,
            status_version=channel.status_version + 1,
            status_changed_at=now,
        )
        q.q_put_channel(conn, row, now)
        _announce(conn, lc, row, now)
        return row

    result = await lc.store.transact(tx)
    lc.wake()
    return result
