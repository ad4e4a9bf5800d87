"""QR issue and refresh at the business-place province (6.2.2), as typed functions.

1. The channel (``ec-channel-id``) presents the holder's authorization code. The
   province looks it up in its voucher cache (authorizations pushed by national). A
   code it does not know (a visitor, or an authorization not delivered yet) is fetched
   from national (``FederationService/FetchVoucher``, deadline ``fetch_timeout_seconds``;
   no answer → -3) and cached as ``fetched`` with its version. A cached freeze is
   confirmed with national (it may have ended); if national does not answer, the cache
   stands. The rules and their codes: :mod:`node.domain.display`.
2. The insured region: the only one, or the ``insuOrg`` the channel chose. A person
   insured in several regions who chose none is refused with 500054 (参保地为空: the
   request's insured region is empty), the message naming the regions and the
   ``insuOrgs`` metadata of the ``ErrorInfo`` listing them: a call that answers
   success always carries a code, so a script cannot carry on with an empty one.
3. The code (:mod:`node.domain.qrcode`, keyed with the province's ``qr_key``) is stored
   ``live`` with ``expires_at = now + ttl_seconds`` and the cached voucher version; every
   earlier live code of the same authCode is ``replaced`` in the same transaction (one
   live code per authorization, as payment codes do), so a refresh and a second issue
   both kill the code shown before.

Refresh names the code it replaces (optional): it must be a code of this province for
the same authCode (else 500049), and its region is kept unless the channel chooses
another. A ``requestId`` makes issue and refresh idempotent (the first call's code).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import grpc

from ecnet.v1 import federation_service_pb2 as fed_pb
from node.clock import Clock, Entropy
from node.domain.codes import ERRORS
from node.domain.display import check_display, choose_region, parse_auth_code, unknown_code
from node.domain.qrcode import check, new_code
from node.domain.sm import sm3_hex
from node.domain.voucher_state import FROZEN
from node.errors import EcError, Problems, from_rpc_error, invalid
from node.qr.settings import QrSettings
from node.storage.provincial import AuthMatch, ProvincialStore
from node.storage.qrcodes import QrRow, QrStore, RequestKey
from node.wire.voucher import region_display_name, snapshot_of

__all__ = ["QrIssuer", "Issued", "VoucherSource", "QR_KEY"]

# The name of the province's QR key in its ``meta`` table (``ProvincialStore.secret``):
# made once from the node's entropy; the issuer checks its codes with it, and so does
# the scan (``node.acceptance``).
QR_KEY = "qr_key"

MAX_REQUEST_ID = 128


@dataclass(frozen=True, slots=True)
class Issued:
    """A live code, its expiry (epoch ms) and its insured region."""

    code: str
    expires_at: int
    insu_org: str


class VoucherSource(Protocol):
    """What QR issue needs of national: a voucher this province lacks (6.2.2 b 2)."""

    def ready(self) -> bool:
        """Whether national has accepted this province's registration."""
        ...

    async def fetch_voucher(
        self, request: fed_pb.FetchVoucherRequest, timeout: float
    ) -> fed_pb.FetchVoucherResponse: ...


class QrIssuer:
    """One per provincial node: its settings, its QR key, its code table."""

    def __init__(
        self,
        store: ProvincialStore,
        clock: Clock,
        entropy: Entropy,
        province: str,
        settings: QrSettings,
        national: VoucherSource,
        qr_key: bytes,
    ) -> None:
        self.store = store
        self.clock = clock
        self.entropy = entropy
        self.province = province
        self.settings = settings
        self.national = national
        self.qr_key = qr_key
        self.codes = QrStore(store.db, store.unsynced)

    # -- the authorization -----------------------------------------------------------
    async def authorization(self, channel_id: str, auth_code: str) -> AuthMatch:
        """The cached (or fetched) voucher behind a code this channel may display."""
        code = parse_auth_code(auth_code)
        return await self._authorization(channel_id, code, self.store.keys.code_hash(code))

    async def _authorization(self, channel_id: str, code: str, code_hash: str) -> AuthMatch:
        """:meth:`authorization` of a parsed code and its keyed hash (``node.vault``):
        the province keeps only the hash, and finds the voucher by it."""
        if not channel_id:
            raise EcError(500012, "no channel: send the channel id in the ec-channel-id metadata")
        match = self.store.get_by_code_hash_now(code_hash)
        if match is None:
            match = await self._fetch(channel_id, code, code_hash)
        elif match.voucher.state == FROZEN and match.channel_id == channel_id and not match.revoked:
            try:
                match = await self._fetch(channel_id, code, code_hash)
            except EcError as exc:
                if exc.code != -3:
                    raise
        check_display(match.channel_id, match.revoked, match.voucher.state, channel_id)
        if match.channel_status != "approved":  # as national's channel control last told us
            why = f": {match.channel_reason}" if match.channel_reason else ""
            raise EcError(
                -4,
                f"channel {channel_id} is {match.channel_status} by the national management "
                f"center{why}; it may not display codes (4.3)",
            )
        return match

    async def _fetch(self, channel_id: str, code: str, code_hash: str) -> AuthMatch:
        if not self.national.ready():
            raise EcError(
                -3, "this province is not registered with national yet; try again shortly"
            )
        timeout = self.settings.fetch_timeout_seconds
        request = fed_pb.FetchVoucherRequest(
            authCode=code, channelId=channel_id, province=self.province
        )
        try:
            resp = await self.national.fetch_voucher(request, timeout)
        except grpc.RpcError as exc:
            got, message = from_rpc_error(exc)
            if got == -3:
                message = (
                    f"national did not answer the voucher fetch within {timeout:g} s ({message})"
                )
            raise EcError(got if got in ERRORS else -1, message) from None
        await self.store.put_voucher(snapshot_of(resp.voucher), "fetched", self.clock.now_ms())
        match = await self.store.get_by_code_hash(code_hash)
        if match is None:
            raise unknown_code()
        return match

    # -- issue and refresh -------------------------------------------------------------
    async def issue(
        self, channel_id: str, auth_code: str, insu_org: str = "", request_id: str = ""
    ) -> Issued:
        """A new live code (killing the authCode's earlier ones); 500054 when the person is
        insured in several regions and none was chosen."""
        _check_inputs(auth_code, request_id)
        code = parse_auth_code(auth_code)
        auth = self.store.keys.code_hash(code)
        match = await self._authorization(channel_id, code, auth)
        key = _request_key(channel_id, "IssueQrCode", request_id, auth, insu_org)
        return await self._issue(match, auth, insu_org, key)

    async def refresh(
        self,
        channel_id: str,
        auth_code: str,
        old_code: str = "",
        insu_org: str = "",
        request_id: str = "",
    ) -> Issued:
        """A new code in place of ``old_code`` (or of the live one), in the same region."""
        _check_inputs(auth_code, request_id)
        code = parse_auth_code(auth_code)
        auth = self.store.keys.code_hash(code)
        match = await self._authorization(channel_id, code, auth)
        if old_code:
            old = self.codes.get(old_code) if check(self.qr_key, old_code) else None
            if old is None or old.code_hash != auth:
                raise EcError(
                    500049, "ecQrCode is not a code this province issued for this authCode"
                )
            previous = [old]
        else:
            previous = self.codes.live_codes(auth)
        regions = [org for org, _ in match.voucher.insured_regions]
        kept = next((r.insu_org for r in previous if r.insu_org in regions), "")
        key = _request_key(channel_id, "RefreshQrCode", request_id, auth, insu_org, old_code)
        return await self._issue(match, auth, insu_org or kept, key)

    async def _issue(
        self, match: AuthMatch, auth: str, insu_org: str, key: RequestKey | None
    ) -> Issued:
        """A new code for the authorization whose keyed hash is ``auth``."""
        v = match.voucher
        chosen = choose_region([org for org, _ in v.insured_regions], insu_org)
        if chosen is None:
            raise _choose_first(v.insured_regions)
        now = self.clock.now_ms()
        s = self.settings
        template = QrRow(
            "",
            v.ec_card_no,
            auth,
            match.channel_id,
            chosen,
            v.version,
            now,
            now + s.ttl_seconds * 1000,
        )
        qr_key, province, entropy = self.qr_key, self.province, self.entropy
        row = await self.codes.issue(
            template,
            lambda: new_code(qr_key, province, entropy),
            key,
            now - s.retention_seconds * 1000,
        )
        return Issued(row.code, row.expires_at, row.insu_org)


def _check_inputs(auth_code: str, request_id: str) -> None:
    """The request's own fields, every problem in one refusal, before any lookup."""
    p = Problems()
    parse_auth_code(auth_code, p)
    if len(request_id) > MAX_REQUEST_ID:
        p.wrong("requestId", f"must be at most {MAX_REQUEST_ID} characters")
    p.check()


def _choose_first(regions: tuple[tuple[str, str], ...]) -> EcError:
    """The refusal of a code without a region for a person insured in several."""
    listed = ", ".join(
        f"{org} {region_display_name(org)} (insuType {kind})".replace("  ", " ")
        for org, kind in regions
    )
    return EcError(
        500054,
        f"insuOrg is empty, and the person is insured in several regions: {listed}; "
        "ask again with one of them as insuOrg",
        insuOrgs=",".join(org for org, _ in regions),
    )


def _request_key(channel_id: str, method: str, request_id: str, *parts: str) -> RequestKey | None:
    if not request_id:
        return None
    if len(request_id) > MAX_REQUEST_ID:
        raise invalid(f"requestId must be at most {MAX_REQUEST_ID} characters")
    fp = sm3_hex("\x1f".join(parts).encode())
    return RequestKey(channel_id, method, request_id, fp)
