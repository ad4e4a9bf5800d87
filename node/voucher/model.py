"""The typed values the lifecycle functions take and return (no protobuf here).

Voucher states are :class:`node.domain.voucher_state.VoucherState`.
"""

from __future__ import annotations

from dataclasses import dataclass

from node.storage.national import PersonRow

__all__ = [
    "OFFICIAL",
    "THIRD_PARTY",
    "Identity",
    "Region",
    "AuthorizationView",
    "RealNameResult",
    "RealPersonResult",
    "PageResult",
    "PasswordResult",
    "ActivationResult",
    "AuthorizeResult",
    "VoucherStatus",
    "PersonUpdate",
    "UpdateResult",
]


OFFICIAL = "official"
THIRD_PARTY = "third_party"


@dataclass(frozen=True, slots=True)
class Identity:
    """Name, id type and canonical id number, as checked against the registry."""

    user_name: str
    id_type: str
    id_no: str


@dataclass(frozen=True, slots=True)
class Region:
    insu_org: str
    insu_type: str


@dataclass(frozen=True, slots=True)
class AuthorizationView:
    """One channel authorization as a holder lists it (no code: none is kept)."""

    channel_id: str
    channel_name: str
    authorized_at: int
    revoked_at: int | None = None


@dataclass(frozen=True, slots=True)
class RealNameResult:
    real_name_serial: str
    expires_at: int
    liveness_challenge: str


@dataclass(frozen=True, slots=True)
class RealPersonResult:
    real_person_serial: str
    expires_at: int
    # True when this check lifted a freeze (official channels, 500079).
    unfrozen: bool = False


@dataclass(frozen=True, slots=True)
class PageResult:
    page_session: str
    expires_at: int


@dataclass(frozen=True, slots=True)
class PasswordResult:
    password_serial: str
    expires_at: int


@dataclass(frozen=True, slots=True)
class ActivationResult:
    ec_card_no: str
    state: int
    auth_code: str
    insured: tuple[Region, ...]
    version: int


@dataclass(frozen=True, slots=True)
class AuthorizeResult:
    auth_code: str
    ec_card_no: str
    version: int


@dataclass(frozen=True, slots=True)
class VoucherStatus:
    """A voucher as one channel may see it (number hidden from an unauthorized channel)."""

    ec_card_no: str
    state: int
    version: int
    insured: tuple[Region, ...]
    authorizations: tuple[AuthorizationView, ...]
    frozen_until: int | None = None


@dataclass(frozen=True, slots=True)
class PersonUpdate:
    """A change of the base registry; empty values stay unchanged."""

    id_type: str
    id_no: str
    new_user_name: str = ""
    new_id_type: str = ""
    new_id_no: str = ""
    insured: tuple[Region, ...] = ()


@dataclass(frozen=True, slots=True)
class UpdateResult:
    person: PersonRow
    # The person's voucher number now (not activated after a supersession).
    ec_card_no: str
    superseded: bool
    superseded_ec_card_no: str = ""
    # Version of the voucher data the change produced (0: no voucher to version).
    version: int = 0
