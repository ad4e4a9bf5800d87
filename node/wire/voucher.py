"""The voucher data (``ecnet.v1.VoucherData``, ``Authorization``, ``InsuredRegion``,
``Person``) to and from the rows of each role.

National sends a voucher's whole data to the provinces concerned, in events and in
``FetchVoucher``: every authorization with the digest of its code (``authCodeDigest``,
never the code: ``node.vault``) and its revoked flag, the insured regions, the version.
An issuer sends its cached copy back in a routed scan or a routed settlement without
any code or digest: the serving province needs the voucher to serve the scan, not the
means to find it by a channel's code. The receiver keeps a :class:`VoucherSnapshot`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Literal, Protocol, cast

from google.protobuf.timestamp_pb2 import Timestamp

from ecnet.v1 import common_pb2
from node.clock import timestamp
from node.domain.regions import region_name
from node.storage.national import AuthRow as NationalAuthRow
from node.storage.national import PersonRow, VoucherRow
from node.storage.provincial import AuthRow, CachedVoucher, VoucherSnapshot
from node.vault import code_digest

__all__ = [
    "authorization_pb",
    "cached_voucher_data",
    "national_voucher_data",
    "person_pb",
    "region_display_name",
    "regions_pb",
    "snapshot_of",
    "without_codes",
]


class RegionLike(Protocol):
    @property
    def insu_org(self) -> str: ...

    @property
    def insu_type(self) -> str: ...


def region_display_name(code: str) -> str:
    """The region's name, or "" for a code the region data does not know."""
    try:
        return region_name(code)
    except KeyError:
        return ""


def regions_pb(regions: Iterable[RegionLike | tuple[str, str]]) -> list[common_pb2.InsuredRegion]:
    """Insured regions (rows, or ``(insuOrg, insuType)`` pairs) with their names."""
    out = []
    for r in regions:
        org, kind = r if isinstance(r, tuple) else (r.insu_org, r.insu_type)
        out.append(
            common_pb2.InsuredRegion(
                insuOrg=org, insuType=kind, insuOrgName=region_display_name(org)
            )
        )
    return out


def authorization_pb(
    *,
    channel_id: str,
    channel_name: str,
    authorized_at: int | None,
    revoked_at: int | None,
    revoked: bool | None = None,
    auth_code_digest: str = "",
) -> common_pb2.Authorization:
    """A channel authorization (never with its code: the digest of it between nodes);
    ``revoked`` defaults to whether ``revoked_at`` is set."""
    msg = common_pb2.Authorization(
        channelId=channel_id,
        channelName=channel_name,
        revoked=revoked_at is not None if revoked is None else revoked,
        authCodeDigest=auth_code_digest,
    )
    if authorized_at is not None:
        msg.authorizedAt.CopyFrom(timestamp(authorized_at))
    if revoked_at is not None:
        msg.revokedAt.CopyFrom(timestamp(revoked_at))
    return msg


def person_pb(p: PersonRow) -> common_pb2.Person:
    """A person of the base registry."""
    return common_pb2.Person(
        userName=p.user_name,
        idType=p.id_type,
        idNo=p.id_no,
        gender=p.gender,
        birthday=p.birthday,
        nationality=p.nationality,
        phone=p.phone,
        insuredRegions=regions_pb(p.insured),
    )


def national_voucher_data(
    v: VoucherRow,
    person: PersonRow,
    auths: Sequence[NationalAuthRow],
    digest_of: Callable[[NationalAuthRow], str],
) -> common_pb2.VoucherData:
    """National's voucher as the provinces keep it (the identity the voucher was issued
    to, every authorization of it, revoked ones too, with the digest of its code that
    ``digest_of`` opens)."""
    return common_pb2.VoucherData(
        ecCardNo=v.ec_card_no,
        state=cast(common_pb2.VoucherState, v.state),  # a number of ecnet.v1.VoucherState
        userName=person.user_name,
        idType=person.id_type,
        idNo=person.id_no,
        gender=person.gender,
        birthday=person.birthday,
        nationality=person.nationality,
        insuredRegions=regions_pb(person.insured),
        version=v.version,
        updatedAt=timestamp(v.updated_at),
        authorizations=[
            authorization_pb(
                channel_id=a.channel_id,
                channel_name=a.channel_name,
                authorized_at=a.created_at,
                revoked_at=a.revoked_at,
                auth_code_digest=digest_of(a),
            )
            for a in auths
        ],
    )


def cached_voucher_data(v: CachedVoucher) -> common_pb2.VoucherData:
    """A province's cached voucher for the serving province of a routed scan or
    settlement: its data and its authorizations' channels and flags, no code and no
    digest of one (a snapshot the receiver caches without its authorizations)."""
    return common_pb2.VoucherData(
        ecCardNo=v.ec_card_no,
        state=cast(common_pb2.VoucherState, v.state),  # a number of ecnet.v1.VoucherState
        userName=v.user_name,
        idType=v.id_type,
        idNo=v.id_no,
        gender=v.gender,
        birthday=v.birthday,
        nationality=v.nationality,
        insuredRegions=regions_pb(v.insured_regions),
        version=v.version,
        updatedAt=timestamp(v.updated_at),
        authorizations=[
            authorization_pb(
                channel_id=a.channel_id,
                channel_name=a.channel_name,
                authorized_at=a.authorized_at,
                revoked_at=a.revoked_at,
                revoked=a.revoked,
            )
            for a in v.authorizations
        ],
    )


def without_codes(v: common_pb2.VoucherData) -> None:
    """Clear every authorization code and digest of ``v`` (in place): what national
    passes on of a routed answer."""
    for a in v.authorizations:
        a.ClearField("authCode")
        a.ClearField("authCodeDigest")


def _ms(msg: common_pb2.Authorization, field: Literal["authorizedAt", "revokedAt"]) -> int | None:
    if not msg.HasField(field):
        return None
    ts: Timestamp = getattr(msg, field)
    return ts.ToMilliseconds()


def snapshot_of(v: common_pb2.VoucherData, version: int | None = None) -> VoucherSnapshot:
    """The data a province keeps; ``version`` overrides ``v.version`` (an event's own
    version is authoritative)."""
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
                code_hash="",
                # A sender of an older version sent the code itself: kept as its digest.
                code_digest=a.authCodeDigest or (code_digest(a.authCode) if a.authCode else ""),
                channel_id=a.channelId,
                channel_name=a.channelName,
                authorized_at=_ms(a, "authorizedAt"),
                revoked=a.revoked,
                revoked_at=_ms(a, "revokedAt"),
            )
            for a in v.authorizations
        ),
    )
