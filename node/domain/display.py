"""Who may display a code, and for which insured region (6.2.2): one set of rules for
the province answering from its cache and for national answering ``FetchVoucher``.

Error codes (table C.4), checked in this order:

- authCode empty → -2; not 32 hexadecimal digits → 500087 (as at national);
- no authorization with that code → 500040 (authorization record does not exist);
- the code was issued to another channel → 500003 (not authorized on this channel);
- the voucher is not activated, or superseded by a change of identity → 500002;
- the authorization was revoked → 500022 (not authorized or expired: authorize again);
- the voucher is frozen after wrong passwords → 500079.

The channel is checked first, so a channel learns nothing about another channel's code.
Region: a person with no insured region → 500054; one region → that region; several →
the channel must choose (``insuOrg``); an ``insuOrg`` not among them → -2.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from node.domain.voucher_state import ACTIVATED, FROZEN
from node.errors import EcError, Problems, invalid

__all__ = [
    "AUTH_CODE",
    "parse_auth_code",
    "check_display",
    "choose_region",
    "unknown_code",
]

AUTH_CODE = re.compile(r"[0-9A-F]{32}")


def parse_auth_code(value: str, problems: Problems | None = None) -> str:
    """The canonical (upper-case) authorization code, or -2 (missing) / 500087 (not 32
    hexadecimal digits). With ``problems`` the problem is recorded there (and "" is
    returned) for the caller to refuse once with every other field's."""
    p = problems if problems is not None else Problems()
    code = (value or "").strip().upper()
    if p.require("authCode", code, hint="the channel's authorization code") and (
        not AUTH_CODE.fullmatch(code)
    ):
        p.wrong("authCode", "must be 32 hexadecimal digits (0-9, A-F)", code=500087)
    if problems is None:
        p.check()
    return code if not p.has("authCode") else ""


def unknown_code() -> EcError:
    return EcError(
        500040, "no channel authorization with this authCode: authorize the channel first (6.1.4)"
    )


def check_display(auth_channel: str, revoked: bool, state: int, channel_id: str) -> None:
    """May ``channel_id`` display a code for this authorization? Raises the C.4 error."""
    if not channel_id:
        raise EcError(500012, "no channel: send the channel id in the ec-channel-id metadata")
    if auth_channel != channel_id:
        raise EcError(500003, f"this authCode was not issued to channel {channel_id}")
    if state not in (ACTIVATED, FROZEN):
        raise EcError(
            500002,
            "the voucher is not activated (or was superseded by a change of identity): "
            "activate it first (6.1.3)",
        )
    if revoked:
        raise EcError(
            500022, "the holder revoked this channel's authorization: authorize the channel again"
        )
    if state == FROZEN:
        raise EcError(
            500079,
            "the voucher is frozen after five wrong passwords; a real-person check on the "
            "official channel lifts it, or wait until the freeze ends",
        )


def choose_region(regions: Sequence[str], insu_org: str) -> str | None:
    """The insured region to issue for; None when the channel must choose first."""
    if not regions:
        raise EcError(500054, "the person has no insured region in the base registry")
    if insu_org:
        if insu_org not in regions:
            raise invalid(
                f"insuOrg {insu_org!r} is not one of the person's insured regions "
                f"({', '.join(regions)})"
            )
        return insu_org
    return regions[0] if len(regions) == 1 else None
