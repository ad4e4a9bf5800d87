"""Settlement at a provincial node (standard 6.4 b–c, 6.5): the token checked, the
policy applied, local or through national to the insured province.

Who does what:

* the **serving province** (the institution's) takes ``Settle``: checks the input and
  the ecToken it issued (unknown or expired 500067; bound to the same orgId; one
  settlement per token). Insured here (the token's region is this province's): settled
  here in one transaction (:func:`~node.settlement.ledger.settle_here_tx`). Insured
  elsewhere: a ``pending`` row and the token's use commit first, then
  ``FederationService/RouteSettle`` goes through national to the insured province;
  its answer completes the row.
* **national** forwards ``RouteSettle`` / ``RouteReverse`` to the province named by the
  region (``federation.hub``); it keeps no settlement data.
* the **insured province** settles under its own policy, debits its fund and the
  personal account, and keeps the row (kind ``insured``), idempotently by the same key.

Exactly once across a time-out or a kill -9: nothing is acknowledged before it is
committed; the serving row is durable before the insured province is asked, and the
insured province's settlement is idempotent by ``(serving province, orgId,
requestId)``. A call that times out leaves the row ``pending`` and answers -3: a retry
with the same ``requestId`` (or the node's reconciler, every ``reconcile_interval``)
asks again and gets the one settlement that was made, or makes it. A refusal by the
insured province removes the pending row (and gives the token back, unless the holder
must scan again), so nothing is half-written.
"""

from __future__ import annotations

import asyncio
import logging
import re
import sqlite3
import time
from collections.abc import Callable
from typing import Protocol, TypeVarTuple, overload

import grpc

from ecnet.v1 import federation_service_pb2 as fed_pb
from node.clock import Clock, Entropy
from node.domain.regions import province_name
from node.errors import EcError, Problems, from_rpc_error, invalid, transport_failure
from node.settlement.ledger import (
    Person,
    SettleInput,
    abandon_remote_tx,
    confirm_remote_tx,
    mark_reversed_tx,
    reverse_here_tx,
    serve_tx,
    settle_here_tx,
)
from node.settlement.notice import Outgoing, list_notices
from node.settlement.policy import Item, Policies, validate_items, validate_med_type
from node.settlement.settings import SettlementSettings
from node.settlement.statement import DayPage, Statement, day_settlements, day_statement
from node.settlement.wire import (
    input_from_proto,
    input_to_proto,
    row_from_proto,
    settlement_to_proto,
)
from node.storage.acceptance import q_cached_version, q_get_voucher, q_put_voucher
from node.storage.batch import WriteBatcher
from node.storage.provincial import ProvincialStore, ReceivedNotice, VoucherSnapshot
from node.storage.settlement import (
    SettlementRow,
    q_begin_reversal,
    q_end_reversal,
    q_get_settlement,
    q_pending,
    q_reversals_pending,
)
from node.wire.signing import EventSigner
from node.wire.voucher import cached_voucher_data, snapshot_of

__all__ = ["InsuredPort", "Settlements"]

log = logging.getLogger("ecnet.settlement")

Ts = TypeVarTuple("Ts")

_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


def check_input(inp: SettleInput) -> SettleInput:
    """Self when acceptable; else one refusal naming every field missing or wrong:
    500098 when orgId is missing, else 500067 when ecToken is, else -2."""
    p = Problems()
    org = "the institution code (机构 ID) asking for the settlement"
    if p.require("orgId", inp.org_id, code=500098, hint=org) and len(inp.org_id) > 40:
        p.wrong("orgId", f"has {len(inp.org_id)} characters; at most 40 are allowed")
    rule = (
        "1 to 64 letters, digits or . _ : - chosen by the institution, the same on every "
        "retry of one settlement"
    )
    if p.require("requestId", inp.request_id, hint=rule) and not _REQUEST_ID.fullmatch(
        inp.request_id
    ):
        p.wrong("requestId", rule)
    p.require(
        "ecToken", inp.ec_token, code=500067, hint="the token of the holder's scan (ec.query)"
    )
    med = "MEDICAL_TYPE_OUTPATIENT, MEDICAL_TYPE_INPATIENT or MEDICAL_TYPE_PHARMACY"
    if p.require("medType", inp.med_type, hint=med):
        try:
            validate_med_type(inp.med_type)
        except EcError as err:
            p.wrong("medType", err.message)
    if p.require("items", inp.items, hint="at least one fee item"):
        try:
            validate_items(inp.items)
        except EcError as err:
            p.wrong("items", err.message)
    p.check()
    return inp


def _refresh_tx(conn: sqlite3.Connection, snap: VoucherSnapshot, now_ms: int) -> None:
    """The insured province's fresher data, into this province's cache if it holds the
    voucher (a visitor it does not hold stays uncached, as after a routed scan)."""
    mine = q_cached_version(conn, snap.ec_card_no)
    if mine is not None and snap.version > mine:
        q_put_voucher(conn, snap, "fetched", now_ms)


def _stale(version: int) -> EcError:
    return EcError(
        500023,
        f"the holder's insurance data changed since the scan (now version {version}): scan "
        "a new code, then settle with the new ecToken",
    )


class InsuredPort(Protocol):
    """What a serving province needs of national for a remote settlement: the insured
    province (or the one that settled) reached through the hub."""

    async def route_settle(
        self, request: fed_pb.RouteSettleRequest, timeout: float
    ) -> fed_pb.RouteSettleResponse: ...

    async def route_reverse(
        self, request: fed_pb.RouteReverseRequest, timeout: float
    ) -> fed_pb.RouteReverseResponse: ...


class Settlements:
    """A provincial node's settlement (one per node). ``wake()`` is called after a
    commit that queued settlement notices (the province's uplink sends them at once)."""

    def __init__(
        self,
        store: ProvincialStore,
        clock: Clock,
        entropy: Entropy,
        province: str,
        settings: SettlementSettings,
        policies: Policies,
        national: InsuredPort,
        wake: Callable[[], None],
        signer: EventSigner,
    ) -> None:
        # The province's SM2 key: its settlement notices are signed with it.
        self.signer = signer
        self.store = store
        self.db = store.db
        self.clock = clock
        self.entropy = entropy
        self.province = province
        self.settings = settings
        self.policies = policies
        self.national = national
        self.wake = wake
        self.writes = WriteBatcher(store.db)

    def _new_id(self, now_ms: int) -> str:
        """``<province (2)><yyyymmdd (Beijing)><16 random digits>``, 26 digits."""
        day = time.strftime("%Y%m%d", time.gmtime(now_ms // 1000 + 8 * 3600))
        rand = int.from_bytes(self.entropy.token_bytes(8)) % 10**16
        return f"{self.province}{day}{rand:016d}"

    async def _write(
        self,
        fn: Callable[[sqlite3.Connection, *Ts], SettlementRow | EcError | tuple[str, int]],
        *args: *Ts,
    ) -> SettlementRow | tuple[str, int]:
        result = await self.writes.write(fn, *args)
        if isinstance(result, EcError):
            raise result
        return result

    # The transactions return a refusal as an EcError (raised here, after their commit),
    # else a settlement row, or ("stale", version) for a settlement whose scan is stale.
    @overload
    async def _write_notifying(
        self,
        fn: Callable[[sqlite3.Connection, *Ts, Outgoing], SettlementRow | EcError],
        *args: *Ts,
    ) -> SettlementRow: ...

    @overload
    async def _write_notifying(
        self,
        fn: Callable[
            [sqlite3.Connection, *Ts, Outgoing], SettlementRow | EcError | tuple[str, int]
        ],
        *args: *Ts,
    ) -> SettlementRow | tuple[str, int]: ...

    async def _write_notifying(
        self,
        fn: Callable[
            [sqlite3.Connection, *Ts, Outgoing], SettlementRow | EcError | tuple[str, int]
        ],
        *args: *Ts,
    ) -> SettlementRow | tuple[str, int]:
        """``_write`` of a transaction that may queue notices (its last argument is the
        list it adds their destinations to): the uplink is woken after the commit."""
        sent = Outgoing(self.signer)
        result = await self._write(fn, *args, sent)
        if sent.destinations:
            self.wake()
        return result

    # -- serving side ----------------------------------------------------------------
    async def settle(self, inp: SettleInput) -> SettlementRow:
        """One write transaction decides (:func:`~node.settlement.ledger.serve_tx`): the
        key's earlier settlement, a refusal, a local settlement, or a pending remote one,
        which the insured province is then asked to complete."""
        inp = check_input(inp)
        now = self.clock.now_ms()
        result = await self._write_notifying(
            serve_tx, inp, self.province, self._new_id(now), now, self.policies.for_region
        )
        if isinstance(result, tuple):
            raise _stale(result[1])
        return await self._complete(result) if result.state == "pending" else result

    async def _complete(self, row: SettlementRow) -> SettlementRow:
        """Ask the insured province for a pending remote settlement (again)."""
        inp = SettleInput(row.ec_token, row.org_id, row.request_id, row.med_type, _items(row))
        request = fed_pb.RouteSettleRequest(
            servingProvince=self.province,
            settle=input_to_proto(inp),
            ecCardNo=row.ec_card_no,
            insuOrg=row.insu_org,
            settlementId=row.settlement_id,
            idType=row.id_type,
            idNo=row.id_no,
            userName=row.user_name,
            voucherVersion=self.db.read_now(q_cached_version, row.ec_card_no) or 0,
        )
        deadline = self.settings.settle_deadline
        where = f"the insured province {row.settled_by} ({province_name(row.settled_by)})"
        try:
            resp = await self.national.route_settle(request, deadline)
        except grpc.RpcError as exc:
            code, message = from_rpc_error(exc)
            # -3 (national could not reach it) and -1 (a failure there) are no answer:
            # the insured province may have settled, so the row stays pending.
            if transport_failure(exc) or code in (-3, -1):
                why = f"no answer within {deadline:g} s" if transport_failure(exc) else message
                raise EcError(
                    -3,
                    f"{where} did not confirm settlement {row.settlement_id} ({why}); it is "
                    "pending: retry with the same requestId, which settles it at most once",
                ) from None
            await self.writes.write(abandon_remote_tx, row, code != 500023)
            raise EcError(code, f"{where} refused the settlement: {message}") from None
        if resp.HasField("voucher"):
            await self.writes.write(_refresh_tx, snapshot_of(resp.voucher), self.clock.now_ms())
        if not resp.HasField("settlement"):
            await self.writes.write(abandon_remote_tx, row, False)
            raise _stale(resp.voucher.version)
        return await self.writes.write(
            confirm_remote_tx, row.settlement_id, row_from_proto(resp.settlement, row)
        )

    async def reverse(self, settlement_id: str, org_id: str, request_id: str) -> SettlementRow:
        row = self.db.read_now(q_get_settlement, settlement_id)
        if row is None or row.serving_province != self.province:
            raise EcError(
                500014, f"no settlement {settlement_id!r} was made at province {self.province}"
            )
        if not org_id:
            raise EcError(
                500098,
                f"orgId is required to reverse settlement {settlement_id}: the institution "
                "that made it (only it may reverse it)",
            )
        if org_id != row.org_id:
            raise EcError(
                -4,
                f"settlement {settlement_id} was made by institution {row.org_id}; only it may "
                "reverse it",
            )
        if row.kind == "local":
            return await self._write_notifying(
                reverse_here_tx,
                settlement_id,
                self.province,
                org_id,
                self.province,
                request_id,
                self.clock.now_ms(),
            )
        if row.state == "reversed":
            return row
        if row.state == "pending":
            raise EcError(
                -3,
                f"settlement {settlement_id} is not confirmed by the insured province yet: retry "
                "the settlement with its requestId first",
            )
        await self.writes.write(q_begin_reversal, settlement_id, request_id, self.clock.now_ms())
        return await self._ask_reversal(row, request_id)

    async def _ask_reversal(self, row: SettlementRow, request_id: str) -> SettlementRow:
        """Ask the insured province to reverse a remote settlement (again). Until it
        answers, ``reversals_pending`` holds the request, so the reconciler asks again
        after a time-out nobody retried; a refusal ends it."""
        request = fed_pb.RouteReverseRequest(
            servingProvince=self.province,
            settlementId=row.settlement_id,
            settledBy=row.settled_by,
            requestId=request_id,
        )
        deadline = self.settings.settle_deadline
        try:
            resp = await self.national.route_reverse(request, deadline)
        except grpc.RpcError as exc:
            code, message = from_rpc_error(exc)
            if transport_failure(exc) or code in (-3, -1):
                raise EcError(
                    -3,
                    f"the insured province {row.settled_by} did not confirm the reversal of "
                    f"{row.settlement_id} ({message}); it may or may not have been made there: "
                    "retry the reversal (it reverses at most once); this node also asks again on "
                    "its own",
                ) from None
            await self.writes.write(q_end_reversal, row.settlement_id)
            raise EcError(code, message) from None
        return await self.writes.write(
            mark_reversed_tx, row.settlement_id, row_from_proto(resp.settlement, row)
        )

    async def get(self, settlement_id: str) -> SettlementRow:
        row = self.db.read_now(q_get_settlement, settlement_id)
        if row is None:
            raise EcError(
                500014,
                f"no settlement {settlement_id!r} at province {self.province} "
                f"({province_name(self.province)})",
            )
        return row

    # -- insured side ----------------------------------------------------------------
    async def settle_routed(self, req: fed_pb.RouteSettleRequest) -> fed_pb.RouteSettleResponse:
        if req.insuOrg[:2] != self.province:
            raise invalid(f"region {req.insuOrg!r} is not insured at province {self.province}")
        inp = check_input(input_from_proto(req.settle))
        if not req.settlementId or not req.ecCardNo:
            raise invalid("a routed settlement needs its settlementId and ecCardNo")
        who = Person(req.ecCardNo, req.idType, req.idNo, req.userName, req.insuOrg)
        result = await self._write_notifying(
            settle_here_tx,
            "insured",
            req.settlementId,
            req.servingProvince,
            self.province,
            inp,
            who,
            self.policies.for_region(req.insuOrg),
            self.clock.now_ms(),
            req.voucherVersion,
        )
        if isinstance(result, tuple):
            cached = self.db.read_now(q_get_voucher, req.ecCardNo)
            assert cached is not None  # the transaction found it stale in this cache
            return fed_pb.RouteSettleResponse(voucher=cached_voucher_data(cached))
        return fed_pb.RouteSettleResponse(settlement=settlement_to_proto(result))

    async def notices(self, id_type: str, id_no: str, limit: int) -> list[ReceivedNotice]:
        """Notices received here for one person (6.3.2 d), newest first."""
        return await list_notices(self.store, id_type, id_no, limit)

    # -- the day's reconciliation (node.settlement.statement) ----------------------
    async def day_settlements(
        self, org_id: str, date: str, page_size: int, page_token: str
    ) -> DayPage:
        """A page of the institution's settlements of the day (Beijing time)."""
        return await day_settlements(self.db, org_id, date, page_size, page_token)

    async def day_statement(self, org_id: str, date: str) -> tuple[Statement, list[Statement]]:
        """The day's statement of the institution, or of the province (orgId "") with
        its institutions'."""
        return await day_statement(self.db, self.province, org_id, date)

    async def reverse_routed(self, req: fed_pb.RouteReverseRequest) -> SettlementRow:
        return await self._write_notifying(
            reverse_here_tx,
            req.settlementId,
            self.province,
            None,  # routed by the serving province, which checked the institution
            req.servingProvince,
            req.requestId,
            self.clock.now_ms(),
        )

    # -- reconciliation --------------------------------------------------------------
    async def reconcile(self) -> int:
        """Ask again for the remote settlements and reversals left unconfirmed (a
        time-out, a restart); returns how many were resolved (made or refused)."""
        before = self.clock.now_ms() - int(self.settings.reconcile_after * 1000)
        resolved = 0
        for row in await self.db.read(q_pending, before):
            try:
                await self._complete(row)
            except EcError as err:
                if err.code == -3:
                    log.info(
                        "settlement still pending",
                        extra={"fields": {"settlement": row.settlement_id, "error": err.message}},
                    )
                    break  # the insured province (or national) is away: try the rest later
            resolved += 1
        for settlement_id, request_id in await self.db.read(q_reversals_pending, before):
            reversing = self.db.read_now(q_get_settlement, settlement_id)
            assert reversing is not None  # a pending reversal is of a settlement made here
            try:
                await self._ask_reversal(reversing, request_id)
            except EcError as err:
                if err.code == -3:
                    break
            resolved += 1
        return resolved

    async def reconcile_forever(self) -> None:
        while True:
            await asyncio.sleep(self.settings.reconcile_interval)
            try:
                await self.reconcile()
            except Exception:  # a bug, or the database gone at stop: logged, tried again next round
                log.exception("settlement reconciliation failed")


def _items(row: SettlementRow) -> tuple[Item, ...]:
    return tuple(
        Item(
            code=i["code"],
            name=i["name"],
            category=i["category"],
            unit_price=i["unitPrice"],
            quantity=i["quantity"],
        )
        for i in row.item_dicts()
    )
