"""Delivered events and voucher snapshots: from their protos to the provincial store's rows.

Kept at the edge so that ``node.storage.provincial`` never sees a proto type; the
fetch path of a later issue (``FetchVoucher``) turns its ``VoucherData`` into the same
:class:`~node.storage.provincial.VoucherSnapshot`.
"""

from __future__ import annotations

from google.protobuf.timestamp_pb2 import Timestamp

from ecnet.v1 import common_pb2
from ecnet.v1 import federation_service_pb2 as fed_pb
from node.errors import invalid
from node.storage.provincial import AuthRow, InboundEvent, VoucherSnapshot

__all__ = ["snapshot_from_proto", "inbound_from_proto"]


def _ms(msg: common_pb2.Authorization, field: str) -> int | None:
    if not msg.HasField(field):
        return None
    ts: Timestamp = getattr(msg, field)
    return ts.ToMilliseconds()


def snapshot_from_proto(v: common_pb2.VoucherData, version: int | None = None) -> VoucherSnapshot:
    """``version`` overrides ``v.version`` (an event's own version is authoritative)."""
    return VoucherSnapshot(
        ec_card_no=v.ecCardNo,
        state=v.state,
        user_name=v.userName,
        id_type=v.idType,
        id_no=v.idNo,
        gender=v.gender,
        birthday=v.birthday,
        nationality=v.nationality,
        insured_regions=tuple((r.insuOrg, r.insuType) for r in v.insuredRegions),
        version=version if version is not None else v.version,
        authorizations=tuple(
            AuthRow(
                auth_code=a.authCode,
                channel_id=a.channelId,
                channel_name=a.channelName,
                authorized_at=_ms(a, "authorizedAt"),
                revoked=a.revoked,
                revoked_at=_ms(a, "revokedAt"),
            )
            for a in v.authorizations
        ),
    )


def inbound_from_proto(e: fed_pb.Event) -> InboundEvent:
    """Check one delivered event and convert it; raises -2 for a malformed one."""
    if not e.eventId or e.sequence <= 0 or e.version <= 0:
        raise invalid(f"event {e.eventId or '?'} needs an eventId, a positive sequence and version")
    if not e.HasField("voucher") or e.voucher.ecCardNo != e.ecCardNo:
        raise invalid(f"event {e.eventId} must carry the snapshot of voucher {e.ecCardNo[:8]}…")
    return InboundEvent(e.eventId, e.sequence, e.kind, snapshot_from_proto(e.voucher, e.version))
