"""A scan at the serving province (standard 6.3, 6.4 a): check the terminal and the
input, have the issuer decode the code, issue the ecToken, keep the cache consistent.

The serving province is the one of the terminal. It checks the request against table
B.3 (:mod:`.inputs`) and the terminal against national's registry (:mod:`.terminals`),
then reads the issuing province from the value (``issuer_of``, no key needed):

* its own code: decoded here (:mod:`.decode`), the token recorded in the same write
  transaction as the claim;
* another province's code: ``FederationService/RouteQuery`` to national, which forwards
  it to the issuer's address without decoding it (4.9); the issuer claims the code and
  answers with its cached voucher, the code's insured region and its stale flag. The
  whole round trip has ``route_deadline`` seconds (default 2); an unknown, stopped or
  silent issuer is -3 within it.

Consistency (6.3.2 c), decided on voucher versions. Every change of a voucher at
national (activation, authorization, revocation, freeze, regions, supersession) gives
it a new version, delivered to the insured provinces and to the business-place
provinces, so the issuer's cache holds the newest version modulo delivery lag. Let
``Vc`` be the version the code was issued for (``qr_codes.voucher_version``), ``Vi``
the issuer's cached version at the scan, and ``Vs`` the serving province's cached
version (none when this province does not hold the voucher):

1. ``Vi > Vc``, or the code's insured region is no longer one of the person's: the
   voucher changed after the code was displayed → 500023;
2. routed scans only, ``Vs`` present and ``Vs != Vi``: the serving province's copy
   disagrees with the issuer's. The newer of the two stays in the serving cache (a
   snapshot never replaces a newer one) → 500023. ``Vs > Vi`` means the issuer had not
   yet received a change the serving province already has: the code was displayed
   from outdated data, so this is case 1 seen from the other side;
3. no ``Vs``: nothing disagrees and the scan succeeds. The serving province keeps no
   copy of a visitor it did not hold: national would not know of that copy, so it
   would never be updated, and its authorizations would let this province's QR issuer
   answer from data no one keeps current (a copy made by ``FetchVoucher`` is known to
   national and kept informed). The token row holds what a token check needs.

On 500023 the code is spent, no token is issued, the serving province's cache holds
the fresh data (the issuer's snapshot, applied when its own copy is older), and the
message tells the channel to display a new code. A code displayed after the change
carries the new version and scans normally. Any change counts (a new channel
authorization too): version numbers are what every node has, and a refused scan costs
the holder one refresh of a code that lives a minute anyway.

State and authorization refusals (500002, 500079, 500022, 500040) come before the
consistency check: displaying a new code would not help there.
"""

from __future__ import annotations

import dataclasses
import sqlite3
from dataclasses import dataclass
from typing import Protocol

import grpc

from ecnet.v1 import admin_service_pb2 as admin_pb
from ecnet.v1 import federation_service_pb2 as fed_pb
from node.acceptance.decode import Decoded, TokenDraft, decode_tx
from node.acceptance.inputs import QueryInput, TokenCheckInput
from node.acceptance.settings import AcceptanceSettings
from node.acceptance.terminals import TerminalRegistry
from node.acceptance.tokens import TokenCheck, mismatches
from node.acceptance.wire import query_to_proto
from node.clock import Clock, Entropy
from node.domain import qrcode as codes
from node.domain.codes import CHECK_FAIL, CHECK_OK
from node.domain.ectoken import looks_like_token, new_token
from node.domain.regions import province_name
from node.errors import EcError, from_rpc_error, transport_failure
from node.storage.acceptance import (
    TerminalRow,
    TokenRow,
    q_cached_version,
    q_get_token,
    q_insert_token,
    q_put_voucher,
)
from node.storage.provincial import CachedVoucher, ProvincialStore, VoucherSnapshot
from node.wire.voucher import snapshot_of

__all__ = ["Acceptance", "NationalPort", "ScanResult"]


@dataclass(frozen=True, slots=True)
class ScanResult:
    """The answer of a good scan, table B.4."""

    userName: str
    idNo: str
    idType: str
    ecToken: str
    insuOrg: str
    gender: str = ""
    birthday: str = ""
    nationality: str = ""
    ecIndexNo: str = ""
    email: str = ""
    extra: str = ""

    @classmethod
    def of(cls, v: CachedVoucher | VoucherSnapshot, token: TokenRow) -> ScanResult:
        return cls(
            userName=token.user_name,
            idNo=token.id_no,
            idType=token.id_type,
            ecToken=token.token,
            insuOrg=token.insu_org,
            gender=v.gender,
            birthday=v.birthday,
            nationality=v.nationality,
        )

    def as_dict(self) -> dict[str, str]:
        return {name: getattr(self, name) for name in self.__slots__}


def _stale_message(code_version: int, issuer_version: int) -> str:
    return (
        "the holder's voucher data changed after this code was displayed "
        f"(version {code_version} → {issuer_version}): display a new code"
    )


def _serve_tx(
    conn: sqlite3.Connection,
    snap: VoucherSnapshot,
    insu_org: str,
    issuer_stale: bool,
    draft: TokenDraft,
    now_ms: int,
) -> TokenRow | tuple[int | None, int]:
    """Serving side of a routed scan: refresh the cached voucher if this province holds
    an older one, and record the token unless the versions disagree (then
    ``(serving version, issuer version)``)."""
    mine = q_cached_version(conn, snap.ec_card_no)
    if mine is not None and snap.version > mine:
        q_put_voucher(conn, snap, "fetched", now_ms)
    if issuer_stale or (mine is not None and mine != snap.version):
        return (mine, snap.version)
    token = draft.bind(snap, insu_org)
    q_insert_token(conn, token)
    return token


class NationalPort(Protocol):
    """What a serving province needs of national: routed scans and the terminal registry."""

    async def route_query(
        self, request: fed_pb.RouteQueryRequest, timeout: float
    ) -> fed_pb.RouteQueryResponse: ...

    async def list_terminals(
        self, request: admin_pb.ListTerminalsRequest, timeout: float
    ) -> admin_pb.ListTerminalsResponse: ...


class Acceptance:
    """A provincial node's acceptance (one per node). ``qr_key`` is the province's key
    of its QR codes' check digits (``node.domain.qrcode``), the one its issuer uses."""

    def __init__(
        self,
        store: ProvincialStore,
        clock: Clock,
        entropy: Entropy,
        province: str,
        settings: AcceptanceSettings,
        national: NationalPort,
        qr_key: bytes,
    ) -> None:
        self.store = store
        self.clock = clock
        self.entropy = entropy
        self.province = province
        self.settings = settings
        self.national = national
        self.qr_key = qr_key
        self.terminals = TerminalRegistry(
            store,
            clock,
            province,
            self._fetch_terminals,
            settings.terminal_refresh,
            settings.terminal_miss_refresh,
        )
        # Scans' writes (claim + token, or cache + token): on the loop's thread when the
        # write lock is free, else group-committed on the writer thread; not synced to
        # disk, as losing one costs a new scan, never money (node.storage.batch).
        self.writes = store.unsynced

    async def _fetch_terminals(self) -> list[TerminalRow]:
        rows: list[TerminalRow] = []
        token = ""
        while True:
            resp = await self.national.list_terminals(
                admin_pb.ListTerminalsRequest(
                    province=self.province, pageSize=1000, pageToken=token
                ),
                timeout=5,
            )
            rows += [
                TerminalRow(t.terminalId, t.orgId, t.orgName, t.name, t.mac)
                for t in resp.terminals
                if t.province == self.province and not t.HasField("revokedAt")
            ]
            token = resp.nextPageToken
            if not token:
                return rows

    def _draft(self, q: QueryInput) -> TokenDraft:
        now = self.clock.now_ms()
        return TokenDraft(
            new_token(self.province, self.entropy),
            q.orgId,
            q.businessType,
            now,
            now + int(self.settings.token_ttl * 1000),
        )

    async def _checked_code(self, code: str) -> None:
        """Step 1 of :mod:`.decode`: this province's value, by shape and key (no database)."""
        if not codes.check(self.qr_key, code):
            raise EcError(
                500049,
                "this is not a valid QR code of the medical-insurance voucher "
                f"(it fails the check of its issuer, province {self.province})",
            )

    # -- the scan --------------------------------------------------------------------
    async def query(self, terminal_id: str, q: QueryInput) -> ScanResult:
        """ec.query from a terminal of this province: B.4 data and a fresh ecToken."""
        q = q.checked()
        await self.terminals.check(terminal_id, q.orgId)
        issuer = codes.issuer_of(q.ecQrCode)
        if issuer is None:
            raise EcError(
                500049,
                "this is not a QR code of the medical-insurance voucher: a value has 28 "
                "digits, 424 … province code … 0000",
            )
        if issuer != self.province:
            return await self._routed(terminal_id, q, issuer)
        await self._checked_code(q.ecQrCode)
        result = await self.writes.write(
            decode_tx, q.ecQrCode, self.clock.now_ms(), terminal_id, self.province, self._draft(q)
        )
        if isinstance(result, EcError):
            raise result
        if result.stale or result.token is None:
            raise EcError(500023, _stale_message(result.code_version, result.voucher.version))
        return ScanResult.of(result.voucher, result.token)

    async def _routed(self, terminal_id: str, q: QueryInput, issuer: str) -> ScanResult:
        deadline = self.settings.route_deadline
        request = fed_pb.RouteQueryRequest(
            servingProvince=self.province, query=query_to_proto(q), terminalId=terminal_id
        )
        try:
            resp = await self.national.route_query(request, deadline)
        except grpc.RpcError as exc:
            code, message = from_rpc_error(exc)
            if transport_failure(exc):
                code, message = (
                    -3,
                    (
                        f"no answer within {deadline:g} s for a code of province {issuer} "
                        f"({province_name(issuer)}), routed through the national hub: {message}"
                    ),
                )
            raise EcError(code, message) from None
        if not resp.HasField("voucher") or not resp.voucher.ecCardNo or not resp.insuOrg:
            raise EcError(
                -1, f"the issuer of this code, province {issuer}, answered without the voucher"
            )
        snap = snapshot_of(resp.voucher)
        outcome = await self.writes.write(
            _serve_tx, snap, resp.insuOrg, resp.staleCache, self._draft(q), self.clock.now_ms()
        )
        if isinstance(outcome, TokenRow):
            return ScanResult.of(snap, outcome)
        mine, theirs = outcome
        if resp.staleCache or mine is None:
            raise EcError(500023, _stale_message(resp.codeVersion, theirs))
        raise EcError(
            500023,
            f"this province's copy of the holder's voucher data (version {mine}) disagreed "
            f"with the issuer's (version {theirs}); it now holds the newer one: display a "
            "new code",
        )

    async def decode_routed(self, serving: str, terminal_id: str, code: str) -> Decoded:
        """The issuer's side of a routed scan (no token: the serving province issues it)."""
        if codes.issuer_of(code) != self.province:
            raise EcError(500049, f"this code was not issued by province {self.province}")
        await self._checked_code(code)
        used_by = terminal_id or f"p{serving}"
        result = await self.writes.write(
            decode_tx, code, self.clock.now_ms(), used_by, self.province, None
        )
        if isinstance(result, EcError):
            raise result
        return result

    # -- the token check -------------------------------------------------------------
    async def check_token(self, terminal_id: str, t: TokenCheckInput) -> TokenCheck:
        """(table C.3 flag, insuOrg) for a token issued here, checked by a terminal of this
        province (500100 otherwise); ``orgId`` when given is compared with the token's,
        else the terminal's institution is; unknown or expired: 500067."""
        t = t.checked()
        bound = await self.terminals.check(terminal_id, None)
        if not t.orgId:
            t = dataclasses.replace(t, orgId=bound)
        row = (
            self.store.db.read_now(q_get_token, t.ecToken) if looks_like_token(t.ecToken) else None
        )
        if row is None:
            raise EcError(
                500067, f"ecToken {t.ecToken[:10]}… was not issued by province {self.province}"
            )
        if row.expires_at <= self.clock.now_ms():
            raise EcError(500067, "this ecToken has expired: scan the holder's code again")
        wrong = mismatches(row, t.idType, t.idNo, t.userName, t.orgId)
        return TokenCheck(CHECK_FAIL if wrong else CHECK_OK, row.insu_org, wrong)

    async def close(self) -> None:
        await self.terminals.close()
