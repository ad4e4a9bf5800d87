"""Acceptance values to and from their protos, kept at the edge (the rest of
:mod:`node.acceptance` never sees a proto type)."""

from __future__ import annotations

from ecnet.v1 import acceptance_service_pb2 as acc_pb
from ecnet.v1 import common_pb2
from node.acceptance.inputs import QueryInput
from node.clock import timestamp
from node.domain.regions import region_name
from node.storage.provincial import CachedVoucher

__all__ = ["voucher_to_proto", "query_to_proto", "query_from_proto"]


def _region_name(code: str) -> str:
    try:
        return region_name(code)
    except KeyError:
        return ""


def voucher_to_proto(v: CachedVoucher) -> common_pb2.VoucherData:
    """The issuer's cached voucher, whole (authorizations with their codes: node to node
    only), so the serving province caches exactly what the issuer holds."""
    auths = []
    for a in v.authorizations:
        msg = common_pb2.Authorization(
            channelId=a.channel_id,
            channelName=a.channel_name,
            revoked=a.revoked,
            authCode=a.auth_code,
        )
        if a.authorized_at is not None:
            msg.authorizedAt.CopyFrom(timestamp(a.authorized_at))
        if a.revoked_at is not None:
            msg.revokedAt.CopyFrom(timestamp(a.revoked_at))
        auths.append(msg)
    return common_pb2.VoucherData(
        ecCardNo=v.ec_card_no,
        state=v.state,
        userName=v.user_name,
        idType=v.id_type,
        idNo=v.id_no,
        gender=v.gender,
        birthday=v.birthday,
        nationality=v.nationality,
        insuredRegions=[
            common_pb2.InsuredRegion(insuOrg=o, insuType=t, insuOrgName=_region_name(o))
            for o, t in v.insured_regions
        ],
        version=v.version,
        updatedAt=timestamp(v.updated_at),
        authorizations=auths,
    )


_QUERY_FIELDS = tuple(QueryInput.__dataclass_fields__)


def query_to_proto(q: QueryInput) -> acc_pb.QueryRequest:
    return acc_pb.QueryRequest(**{name: getattr(q, name) for name in _QUERY_FIELDS})


def query_from_proto(msg: acc_pb.QueryRequest) -> QueryInput:
    return QueryInput(**{name: getattr(msg, name) for name in _QUERY_FIELDS})
