"""The events of the outbox (``ecnet.v1.Event``), made by their senders and checked and
converted at their receivers, so that ``node.storage.provincial`` never sees a proto type.

Three kinds of event travel: voucher events (a snapshot and the voucher's version,
:func:`voucher_event`);
settlement notices (``NOTICE_KIND``, 6.3.2 d): no snapshot, the notice as
``payloadJson`` (:func:`notice_payload`), version 1 for settled and 2 for reversed,
and the final destination province in the payload (national relays on it); and a
channel's status (``CHANNEL_KIND``, node.voucher.channels): to every province, the
channel id in ``ecCardNo`` (the event's subject), the record's version, and
``{"channelId", "status", "reason", "publicKey", "scopes", "sm4Key"}`` as the payload
(``sm4Key``: the channel's SM4 key in hexadecimal, derived by national, so that a
province decrypts the channel's encrypted fields and envelopes; it travels in the event
signed by national over the nodes' mutual TLS, and a province keeps it sealed).
"""

from __future__ import annotations

import json
from typing import Any

from ecnet.v1 import common_pb2
from ecnet.v1 import federation_service_pb2 as fed_pb
from node.clock import timestamp
from node.domain.codes import MED_TYPES
from node.errors import invalid
from node.storage.provincial import (
    NOTICE_VERSIONS,
    ChannelStatus,
    InboundEvent,
    Notice,
)
from node.wire.voucher import snapshot_of

__all__ = [
    "voucher_event",
    "inbound_from_proto",
    "NOTICE_KIND",
    "notice_event",
    "notice_payload",
    "notice_from_event",
    "notice_destination",
    "CHANNEL_KIND",
    "CHANNEL_STATUSES",
    "channel_event",
    "channel_from_event",
]

NOTICE_KIND = "settlement.notice"
CHANNEL_KIND = "channel.status"
CHANNEL_STATUSES = ("approved", "suspended")
_NOTICE_STR = (
    "settlement_id",
    "ec_card_no",
    "id_type",
    "id_no",
    "insu_org",
    "settled_by",
    "med_type",
    "state",
)
_NOTICE_INT = ("fee_sumamt", "fund_pay", "psn_acct_pay", "own_pay_amt", "at_ms")


def voucher_event(
    event_id: str,
    kind: str,
    data: common_pb2.VoucherData,
    payload: dict[str, object],
    now_ms: int,
) -> fed_pb.Event:
    """The outbox event of a change of a voucher: its whole new data (a province applies
    the newest snapshot it has and needs no history) and the version it became."""
    return fed_pb.Event(
        eventId=event_id,
        kind=kind,
        ecCardNo=data.ecCardNo,
        version=data.version,
        voucher=data,
        payloadJson=json.dumps(payload, ensure_ascii=False, sort_keys=True),
        createdAt=timestamp(now_ms),
    )


def notice_payload(notice: Notice, destination: str) -> str:
    """The ``payloadJson`` of a notice event for one destination province."""
    fields = {name: getattr(notice, name) for name in (*_NOTICE_STR, *_NOTICE_INT)}
    return json.dumps({**fields, "destination": destination}, ensure_ascii=False, sort_keys=True)


def notice_event(notice: Notice, destination: str, now_ms: int) -> fed_pb.Event:
    """The outbox event telling ``destination`` of ``notice``."""
    return fed_pb.Event(
        eventId=f"notice:{notice.settlement_id}:{notice.state}",
        kind=NOTICE_KIND,
        ecCardNo=notice.ec_card_no,
        version=NOTICE_VERSIONS[notice.state],
        payloadJson=notice_payload(notice, destination),
        createdAt=timestamp(now_ms),
    )


def channel_event(
    channel_id: str,
    status: str,
    reason: str,
    version: int,
    now_ms: int,
    public_key: str = "",
    scopes: str = "",
    sm4_key: bytes = b"",
) -> fed_pb.Event:
    """The outbox event telling a province of a channel's record (one id per version):
    its status, the SM2 public key (hexadecimal) and scopes its signed calls are
    checked with, and the SM4 key of its encrypted fields and envelopes."""
    return fed_pb.Event(
        eventId=f"channel:{channel_id}:{version}",
        kind=CHANNEL_KIND,
        ecCardNo=channel_id,
        version=version,
        payloadJson=json.dumps(
            {
                "channelId": channel_id,
                "status": status,
                "reason": reason,
                "publicKey": public_key,
                "scopes": scopes,
                "sm4Key": sm4_key.hex(),
            },
            ensure_ascii=False,
            sort_keys=True,
        ),
        createdAt=timestamp(now_ms),
    )


def channel_from_event(e: fed_pb.Event) -> ChannelStatus:
    """The channel status an event carries; raises -2 for a malformed one."""
    try:
        data = json.loads(e.payloadJson)
    except ValueError:
        data = None
    if not isinstance(data, dict) or not all(
        isinstance(data.get(k), str) for k in ("channelId", "status", "reason")
    ):
        raise invalid(
            f"channel event {e.eventId} needs channelId, status and reason in payloadJson"
        )
    if data["status"] not in CHANNEL_STATUSES:
        raise invalid(f"channel event {e.eventId}: unknown status {data['status']!r}")
    if (
        data["channelId"] != e.ecCardNo
        or e.eventId != f"channel:{e.ecCardNo}:{e.version}"
        or e.version <= 0
    ):
        raise invalid(f"channel event {e.eventId} does not match its payload")
    if e.HasField("voucher"):
        raise invalid(f"channel event {e.eventId} must not carry a voucher snapshot")
    key, scopes = data.get("publicKey", ""), data.get("scopes", "")
    if not isinstance(key, str) or not isinstance(scopes, str):
        raise invalid(f"channel event {e.eventId}: publicKey and scopes must be text")
    sm4 = data.get("sm4Key", "")
    try:
        sm4_key = bytes.fromhex(sm4) if isinstance(sm4, str) else b"?"
    except ValueError:
        sm4_key = b"?"
    if len(sm4_key) not in (0, 16):
        raise invalid(f"channel event {e.eventId}: sm4Key must be 32 hexadecimal digits")
    return ChannelStatus(
        e.ecCardNo, data["status"], data["reason"], e.version, key, scopes, sm4_key
    )


def _notice_fields(e: fed_pb.Event) -> dict[str, Any]:
    try:
        data = json.loads(e.payloadJson)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise invalid(f"notice {e.eventId} needs a JSON object as payloadJson")
    return data


def notice_destination(e: fed_pb.Event) -> str:
    """The final destination province a notice event names (checked by the caller)."""
    dest = _notice_fields(e).get("destination")
    return dest if isinstance(dest, str) else ""


def notice_from_event(e: fed_pb.Event) -> Notice:
    """The notice an event carries; raises -2 for a malformed one."""
    data = _notice_fields(e)
    bad = [k for k in _NOTICE_STR if not isinstance(data.get(k), str) or not data[k]]
    bad += [k for k in _NOTICE_INT if type(data.get(k)) is not int]
    if bad:
        raise invalid(f"notice {e.eventId} lacks or has malformed {', '.join(bad)}")
    notice = Notice(**{k: data[k] for k in (*_NOTICE_STR, *_NOTICE_INT)})
    if notice.state not in NOTICE_VERSIONS or e.version != NOTICE_VERSIONS[notice.state]:
        raise invalid(f"notice {e.eventId}: state {notice.state!r} with version {e.version}")
    if notice.med_type not in MED_TYPES:
        raise invalid(f"notice {e.eventId}: unknown medType {notice.med_type!r}")
    if (
        notice.ec_card_no != e.ecCardNo
        or e.eventId != f"notice:{notice.settlement_id}:{notice.state}"
    ):
        raise invalid(f"notice {e.eventId} does not match its payload")
    return notice


def inbound_from_proto(e: fed_pb.Event) -> InboundEvent:
    """Check one delivered event and convert it; raises -2 for a malformed one."""
    if e.kind == NOTICE_KIND:
        if not e.eventId or e.sequence <= 0:
            raise invalid(f"event {e.eventId or '?'} needs an eventId and a positive sequence")
        if e.HasField("voucher"):
            raise invalid(f"notice {e.eventId} must not carry a voucher snapshot")
        return InboundEvent(e.eventId, e.sequence, e.kind, notice=notice_from_event(e))
    if e.kind == CHANNEL_KIND:
        if not e.eventId or e.sequence <= 0:
            raise invalid(f"event {e.eventId or '?'} needs an eventId and a positive sequence")
        return InboundEvent(e.eventId, e.sequence, e.kind, channel=channel_from_event(e))
    if not e.eventId or e.sequence <= 0 or e.version <= 0:
        raise invalid(f"event {e.eventId or '?'} needs an eventId, a positive sequence and version")
    if not e.HasField("voucher") or e.voucher.ecCardNo != e.ecCardNo:
        raise invalid(f"event {e.eventId} must carry the snapshot of voucher {e.ecCardNo[:8]}…")
    return InboundEvent(e.eventId, e.sequence, e.kind, snapshot_of(e.voucher, e.version))
