"""Decoding at the issuer (standard 4.9, 6.3.2 a): only the province that issued a code
resolves it, and a code is good for one business.

In this order, each step refusing with its own C.4 code:

1. shape and keyed check (:func:`node.domain.qrcode.check`, the province's key held in
   memory): a value this province did not issue is 500049 before any database access;
2. the claim (:func:`node.storage.acceptance.q_claim_code`): one atomic ``UPDATE``
   moves the code from ``live`` to ``used``; an expired, used or replaced code (or one
   no longer on record) is 500005, whatever the voucher's state;
3. the voucher the code was issued for, as this province's cache holds it now:
   missing 500001; superseded or not activated 500002; frozen 500079;
4. the channel authorization the code was displayed with: revoked 500022, unknown to
   the cache 500040 (the codes QR display gives for the same cases, node.domain.display);
5. consistency (see :mod:`node.acceptance.scan`): ``stale`` when the voucher changed
   since the code was issued (a newer cached version, or the code's insured region is no
   longer one of the person's).

A claimed code stays used whatever steps 3–5 find: the channel must display a new
code in every case, and a code that reached its row cannot be tried again.

Everything from step 2 on runs in one write transaction, which also records the
ecToken when the scan is local (the serving province is the issuer), so a local scan
costs one transaction.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from dataclasses import dataclass

from node.domain.regions import province_name
from node.domain.voucher_state import ACTIVATED, FROZEN, SUPERSEDED
from node.errors import EcError
from node.storage.acceptance import Claim, TokenRow, q_claim_code, q_insert_token
from node.storage.provincial import CachedVoucher, VoucherSnapshot

__all__ = ["Decoded", "TokenDraft", "decode_tx", "judge"]


@dataclass(frozen=True, slots=True)
class TokenDraft:
    """A token to record once the person is known (everything but the person)."""

    token: str
    org_id: str
    business_type: str
    issued_at: int
    expires_at: int

    def bind(self, voucher: CachedVoucher | VoucherSnapshot, insu_org: str) -> TokenRow:
        """The token row for ``voucher``'s holder, insured in ``insu_org``."""
        v = voucher
        return TokenRow(
            self.token,
            v.ec_card_no,
            self.org_id,
            self.business_type,
            insu_org,
            v.id_type,
            v.id_no,
            v.user_name,
            self.issued_at,
            self.expires_at,
        )


@dataclass(frozen=True, slots=True)
class Decoded:
    """A code resolved by its issuer."""

    voucher: CachedVoucher
    insu_org: str
    # The voucher version the code was issued for, and whether the voucher changed since.
    code_version: int
    stale: bool
    # The token recorded in the same transaction (local scans that are not stale).
    token: TokenRow | None = None


def _ms_text(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def judge(claim: Claim, province: str) -> EcError | None:
    """Steps 2–4 above, on what the claim found; None when the scan may go on."""
    if claim.status != "claimed":
        return EcError(
            500005,
            {
                "missing": "this QR code is not (or no longer) on record: display a new code",
                "used": f"this QR code was already used at {_ms_text(claim.used_at or 0)}: "
                "a code is good for one business; display a new code",
                "replaced": "this QR code was replaced by a newer one (refreshed): "
                "scan the code on display now",
                "expired": f"this QR code expired at {_ms_text(claim.expires_at)}: "
                "display a new code",
            }[claim.status],
        )
    v = claim.voucher
    if v is None:
        return EcError(
            500001,
            f"the voucher of this code is not in the cache of province {province} "
            f"({province_name(province)})",
        )
    if v.state == SUPERSEDED:
        return EcError(
            500002,
            "this voucher was superseded by a change of name or id number: the holder "
            "must activate the new voucher",
        )
    if v.state == FROZEN:
        return EcError(500079, "this voucher is frozen after too many wrong passwords")
    if v.state != ACTIVATED:
        return EcError(500002, "this voucher is not activated")
    if claim.auth_revoked is None:
        return EcError(
            500040,
            f"the channel authorization this code was displayed with ({claim.channel_id}) "
            "is not on record here",
        )
    if claim.auth_revoked:
        return EcError(
            500022,
            f"the holder revoked the authorization of channel {claim.channel_id}, which "
            "displayed this code: authorize the channel again",
        )
    return None


def decode_tx(
    conn: sqlite3.Connection,
    code: str,
    now_ms: int,
    used_by: str,
    province: str,
    draft: TokenDraft | None = None,
) -> Decoded | EcError:
    """Claim ``code`` and resolve it (steps 2–5), recording ``draft``'s token when the
    scan is good and not stale (a local scan); without ``draft`` (a routed scan) the
    voucher comes with its authorizations, for the serving province's cache. Returns
    the refusal instead of raising it, so that the claim commits either way."""
    claim = q_claim_code(conn, code, now_ms, used_by, with_authorizations=draft is None)
    failure = judge(claim, province)
    if failure is not None:
        return failure
    v = claim.voucher
    assert v is not None
    stale = v.version > claim.voucher_version or claim.insu_org not in {
        org for org, _ in v.insured_regions
    }
    token = None
    if draft is not None and not stale:
        token = draft.bind(v, claim.insu_org)
        q_insert_token(conn, token)
    return Decoded(v, claim.insu_org, claim.voucher_version, stale, token)
