"""Settlements survive a kill -9 of the serving province and of national (6.5 with real
processes; the insured province's kill is in test_settlement_durability.py).

A stream of remote settlements (a person insured in 44, treated in 31) runs while one
node is killed with SIGKILL and restarted at once on the same data folder, database and
address (on PostgreSQL too: ``pytest.mark.backends``; there the killed process's
sessions are left for the server to end, and the restart must not wait on them). The
caller retries every request with the same requestId until it is answered (-3, or a
transport failure while the node is down). Then: every settlement acknowledged before
the kill is answered identically after it; each requestId has exactly one row at 31 and
one at 44, with the same settlement id and amounts; none is left pending; and 44's
personal account and yearly accumulators moved by exactly what the rows say. When
national is the one killed, the voucher events it queued just before the kill reach the
provinces after its restart: its outbox delivers everything.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from chankit import QR, signed
from pgkit import fetch
from scankit import (
    QUERY_FIELDS,
    ScanKit,
    Terminal,
    eventually,
    insured_in,
    start_scan_nation,
    terminals_of,
)
from settlekit import POLICY, A, B, item, settle_request, settlement_stub, token_for
from voucherkit import FAST, OFFICIAL, PROVINCES, SEED, ChannelStub, Kit, activate

from bench.nodes import START_TIMEOUT, NodeProcess
from cli.seed import seed_national
from conftest import free_port
from ecnet.v1 import acceptance_service_pb2 as acc_pb
from ecnet.v1 import (
    acceptance_service_pb2_grpc,
    admin_service_pb2_grpc,
    qr_service_pb2_grpc,
    settlement_service_pb2_grpc,
)
from ecnet.v1 import qr_service_pb2 as qr_pb
from ecnet.v1 import settlement_service_pb2 as pb
from node.clock import SystemClock, SystemEntropy
from node.errors import from_rpc_error, transport_failure
from node.pki import Identity
from node.population import generate
from node.vault import NodeKeys, load_master_key

STREAM = 24
POPULATION = 300
# What an integrator's system allows itself to keep retrying one settlement.
RETRY_FOR_S = 90.0
# Reconciler of the serving province: eager, so that it races the callers' retries.
RECONCILE = {"reconcile_interval": "0.3", "reconcile_after": "0.3"}
# Voucher events national queues just before it is killed (activations of persons
# insured in 44, doing business in 31): its outbox must deliver them after the restart.
QUEUED_AT_KILL = 3

pytestmark = pytest.mark.backends

# A node's database, read from outside the node: its SQLite file or PostgreSQL URL.
Db = Path | str


class SamePortNode(NodeProcess):
    """A node process that comes back on the address it had (``--national HOST:PORT``
    of the provinces, and the callers' address, stay valid across a restart)."""

    def __init__(self, *args, **kw) -> None:
        super().__init__(*args, **kw)
        self.old_channels: list[grpc.aio.Channel] = []

    async def start(self, timeout: float = START_TIMEOUT) -> SamePortNode:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        credentials = self.credentials()
        if not self.port:  # a port no other test takes while this node is down
            self.port = free_port()
            self.address = f"127.0.0.1:{self.port}"
        if self._channel is not None:  # to the killed process: closed at the end (closing
            self.old_channels.append(self._channel)  # it now would cancel the calls on it)
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                self.command(),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self._channel = grpc.aio.secure_channel(
            self.address,
            credentials,
            options=[
                ("grpc.initial_reconnect_backoff_ms", 100),
                ("grpc.max_reconnect_backoff_ms", 500),
            ],
        )
        await self._wait_serving(timeout)
        return self

    async def stop(self) -> None:
        await super().stop()
        while self.old_channels:
            with contextlib.suppress(Exception):
                await self.old_channels.pop().close()


@dataclass
class ProcessKit(Kit):
    """A voucherkit Kit whose national is a child process (VoucherService, AdminService)."""

    process: NodeProcess | None = None

    def channel(self, channel_id: str) -> ChannelStub:
        return ChannelStub(self.process.channel, channel_id, self.root, self.clock)

    def admin(self) -> admin_service_pb2_grpc.AdminServiceStub:
        return admin_service_pb2_grpc.AdminServiceStub(self.process.channel)


# -- reading the ledgers --------------------------------------------------------------


def _rows(db: Db) -> list[tuple]:
    """(request_id, settlement_id, kind, state, fee_sumamt, fund_pay, psn_acct_pay,
    own_pay_amt, deductible_part, acct_balance) of every settlement of ``db``."""
    return fetch(
        db,
        "SELECT request_id, settlement_id, kind, state, fee_sumamt, fund_pay, psn_acct_pay, "
        "own_pay_amt, deductible_part, acct_balance FROM settlements ORDER BY request_id",
    )


def _count(db: Db, sql: str, *args) -> int:
    return fetch(db, sql, *args)[0][0]


def _account(db: Db) -> tuple[int, int, int]:
    """44's (balance, deductible_paid, fund_paid) of the one person who settled."""
    ((balance,),) = fetch(db, "SELECT balance FROM personal_accounts")
    ((deductible, fund),) = fetch(db, "SELECT deductible_paid, fund_paid FROM accumulators")
    return balance, deductible, fund


def _undelivered(db: Db) -> dict[str, int]:
    """National's outbox rows beyond each destination's acknowledged position."""
    return dict(
        fetch(
            db,
            "SELECT o.destination, count(*) FROM outbox o LEFT JOIN delivery d "
            "ON d.destination = o.destination WHERE o.seq > coalesce(d.acked_seq, 0) "
            "GROUP BY o.destination",
        )
    )


# -- the caller -----------------------------------------------------------------------


async def _settled_with_retries(stub_of, request: pb.SettleRequest, retries: list) -> pb.Settlement:
    """Retry the same requestId while the answer is -3 or the node does not answer."""
    deadline = time.monotonic() + RETRY_FOR_S
    while True:
        try:
            return (await stub_of().Settle(request, timeout=5)).settlement
        except grpc.aio.AioRpcError as exc:
            code, _ = from_rpc_error(exc)
            if not (code == -3 or transport_failure(exc)) or time.monotonic() > deadline:
                raise
            retries.append((request.requestId, code))
            await asyncio.sleep(0.2)


def _slow_answers(monkeypatch, node44, seconds: float = 0.4) -> None:
    """44 (in-process) answers each RouteSettle ``seconds`` after committing it: a window
    in which a settlement is made at 44 and still pending at 31, for the kill to hit."""
    s44 = node44.provincial.settlements
    settle_routed = s44.settle_routed

    async def slow(req):
        resp = await settle_routed(req)
        await asyncio.sleep(seconds)
        return resp

    monkeypatch.setattr(s44, "settle_routed", slow)


def _in_between(db31: Db, db44: Db) -> set[str]:
    """The requestIds settled at 44 whose row at 31 is still pending."""
    pending = {
        r[0] for r in fetch(db31, "SELECT request_id FROM settlements WHERE state = 'pending'")
    }
    return pending & {r[0] for r in _rows(db44)}


async def _stream_with_kill(stub_of, requests, db31: Db, db44: Db, kill, restart, before_kill=None):
    """Send ``requests`` 50 ms apart, each retried until answered; once a few are
    acknowledged and some are settled at 44 but pending at 31, await ``before_kill()``
    (if given), ``kill()``, and ``restart()`` at once. Returns (answers, answered before
    the kill, retries, the requestIds settled at 44 and pending at 31 at the kill).
    With ``before_kill``, the second half of the stream waits for it to end, so that
    settlements are in flight after it however long it took (seconds on a busy machine,
    more than the first half's)."""
    answers: dict[str, pb.Settlement] = {}
    retries: list = []
    second_half = asyncio.Event()
    if before_kill is None:
        second_half.set()

    async def one(r):
        answers[r.requestId] = await _settled_with_retries(stub_of, r, retries)

    async def stream():
        tasks = []
        for n, r in enumerate(requests):
            if n == len(requests) // 2:
                await second_half.wait()
            tasks.append(asyncio.create_task(one(r)))
            await asyncio.sleep(0.05)
        await asyncio.gather(*tasks)

    async def ready():
        return len(answers) >= 2 and await asyncio.to_thread(_in_between, db31, db44)

    running = asyncio.create_task(stream())
    try:
        await eventually(ready, timeout=30, what="settlements acknowledged and others in flight")
        if before_kill is not None:
            await before_kill()  # then still a settlement caught between 44 and 31
            second_half.set()
            await eventually(ready, timeout=30, what="a settlement in flight again")
        before = dict(answers)  # acknowledged to the caller, then the kill (no await between)
        kill()
        in_between = _in_between(db31, db44)
        await restart()  # at once: nothing the killed process held may stand in the way
        await asyncio.wait_for(asyncio.shield(running), RETRY_FOR_S + 30)
    finally:
        if not running.done():
            running.cancel()
            with contextlib.suppress(BaseException):
                await running
    return answers, before, retries, in_between


async def _check(
    stub_of, requests, answers, before, retries, db31: Db, db44: Db, expect_retries: bool = True
) -> None:
    """``expect_retries``: the kill must have hit the stream (not so for a national
    replica killed while the routed calls may be on the other one)."""
    ids = sorted(r.requestId for r in requests)
    # the kill hit the stream: some requests were answered -3 or not at all, and retried
    assert retries or not expect_retries, "the kill did not hit the stream"
    assert sorted(answers) == ids
    assert all(
        s.state == pb.SETTLEMENT_STATE_SETTLED and s.settledBy == "44" and s.servingProvince == "31"
        for s in answers.values()
    )
    assert all(s.feeSumamt == s.fundPay + s.psnAcctPay + s.ownPayAmt for s in answers.values())
    assert len({s.settlementId for s in answers.values()}) == len(requests)
    # every answer, and first those acknowledged before the kill, is the same when asked again
    again = {r.requestId: (await stub_of().Settle(r, timeout=10)).settlement for r in requests}
    for rid, s in before.items():
        assert again[rid] == s, (
            f"{rid}: acknowledged before the kill as\n{s}\nanswered after it as\n{again[rid]}"
        )
    for rid, s in answers.items():
        assert again[rid] == s, f"{rid}: answered\n{s}\nthen\n{again[rid]}"
    # exactly one row per requestId at each end, the same settlement, none pending
    rows31, rows44 = _rows(db31), _rows(db44)
    assert [r[0] for r in rows31] == ids, "31 has a missing or doubled settlement"
    assert [r[0] for r in rows44] == ids, "44 has a missing or doubled settlement"
    assert {r[2] for r in rows31} == {"serving"} and {r[2] for r in rows44} == {"insured"}
    assert {r[3] for r in rows31} == {"settled"}, [r[:4] for r in rows31 if r[3] != "settled"]
    assert {r[3] for r in rows44} == {"settled"}
    for r31, r44 in zip(rows31, rows44, strict=True):
        assert r31[:2] + r31[3:] == r44[:2] + r44[3:], (r31, r44)
        assert answers[r31[0]].settlementId == r31[1] and answers[r31[0]].fundPay == r31[5]
    # the money adds up: the account and the year moved by exactly what the rows say
    balance, deductible, fund = _account(db44)
    assert balance == 5_000 - sum(r[6] for r in rows44)
    assert deductible == sum(r[8] for r in rows44)
    assert fund == sum(r[5] for r in rows44)
    # the balances the rows carry are one chain: each settlement saw the one before it
    chain = 5_000
    for r in sorted(rows44, key=lambda r: (-r[9], -r[6])):
        assert r[9] == chain - r[6], (r, chain)
        chain = r[9]
    assert chain == balance
    # the tokens: one used per settlement at 31, none twice
    assert _count(db31, "SELECT count(*) FROM ec_tokens WHERE settled_at IS NOT NULL") == len(
        requests
    )


def _requests(tokens: list[tuple[str, Terminal]], prefix: str) -> list[pb.SettleRequest]:
    return [
        settle_request(
            t, term.org_id, f"{prefix}-{n:02d}", [item("A1", A, 3_000), item("B1", B, 1_000)]
        )
        for n, (t, term) in enumerate(tokens)
    ]


# -- kill -9 of the serving province ---------------------------------------------------


async def _token_at(node: NodeProcess, auth: str, terminal: Terminal) -> tuple[str, Terminal]:
    """A code of ``auth`` issued by ``node`` and scanned there by ``terminal``: the ecToken."""
    qr = qr_service_pb2_grpc.QrServiceStub(node.channel)
    request = qr_pb.IssueQrCodeRequest(authCode=auth)
    md = signed(Path("."), OFFICIAL, QR + "IssueQrCode", request)
    code = (await qr.IssueQrCode(request, metadata=md, timeout=10)).ecQrCode
    channel, metadata = node.channel_as(Identity.terminal(terminal.org_id, terminal.terminal_id))
    try:
        acceptance = acceptance_service_pb2_grpc.AcceptanceServiceStub(channel)
        got = await acceptance.Query(
            acc_pb.QueryRequest(orgId=terminal.org_id, ecQrCode=code, **QUERY_FIELDS),
            metadata=metadata,
            timeout=10,
        )
    finally:
        await channel.close()
    assert got.ecToken, got
    return got.ecToken, terminal


async def test_kill_9_of_the_serving_province_during_a_stream(cluster, tmp_path, monkeypatch):
    policy = tmp_path / "policy.toml"
    policy.write_text(POLICY)
    monkeypatch.setenv("ECNET_SETTLEMENT_POLICY", str(policy))
    # a stream of retried settlements from one terminal: its rate limit out of the way
    monkeypatch.setenv("ECNET_LIMITS_TERMINAL_PER_SECOND", "0")
    for name, value in RECONCILE.items():  # read by the child process 31
        monkeypatch.setenv(f"ECNET_SETTLEMENT_{name.upper()}", value)
    sk = await start_scan_nation(cluster, tmp_path, ("44",))
    p31 = SamePortNode(
        "p31",
        "provincial",
        tmp_path / "p31",
        province="31",
        national=sk.kit.national.address,
        heartbeat=0.2,
        nation=cluster.pki.root,
        db=cluster.db_url("p31", tmp_path / "p31") or "",
    )
    await p31.start()
    db31: Db = p31.db or p31.data_dir / "provincial-31.db"
    db44 = sk.provinces["44"].db_target
    # 31 runs in a process of its own: its keys from its master key (node.vault).
    keys31 = NodeKeys(
        load_master_key(p31.data_dir / "master.key", SystemEntropy()), SystemEntropy()
    )
    terminal_channels: dict[int, grpc.aio.Channel] = {}
    try:
        p = insured_in(sk.kit, "44")[0]
        auth = (await activate(sk.kit, p, business_province="31")).authCode

        async def at_both():
            return (
                _count(
                    db31,
                    "SELECT count(*) FROM channel_auths a JOIN voucher_cache v USING (ec_card_no) "
                    "WHERE a.code_hash = ? AND v.state = 2",
                    keys31.code_hash(auth),
                )
                > 0
                and _count(db44, "SELECT count(*) FROM voucher_cache") > 0
            )

        await eventually(at_both, what="the voucher at 31 and 44")

        terminal = (await terminals_of(sk.kit, "31"))[0]
        # the tokens are issued before the kill: they live in 31's database and survive it
        tokens = [await _token_at(p31, auth, terminal) for _ in range(STREAM)]
        requests = _requests(tokens, "kill31")

        as_terminal = Identity.terminal(terminal.org_id, terminal.terminal_id)

        def stub_of():
            # Settle is the terminal's call: a channel with its certificate, a new one
            # for each start of 31 (as p31.channel is)
            key = id(p31.channel)
            if key not in terminal_channels:
                terminal_channels[key] = p31.channel_as(as_terminal)[0]
            return settlement_service_pb2_grpc.SettlementServiceStub(terminal_channels[key])

        _slow_answers(monkeypatch, sk.provinces["44"])
        answers, before, retries, in_between = await _stream_with_kill(
            stub_of, requests, db31, db44, p31.kill, p31.start
        )
        # the kill hit 31 between 44's settlement and 31's record of it
        assert before and in_between
        await _check(stub_of, requests, answers, before, retries, db31, db44)
    finally:
        for channel in terminal_channels.values():
            await channel.close()
        await p31.stop()


# -- kill -9 of national -----------------------------------------------------------------


async def test_kill_9_of_national_during_a_stream(cluster, tmp_path, monkeypatch):
    policy = tmp_path / "policy.toml"
    policy.write_text(POLICY)
    for name, value in FAST.items():  # cheap password hashes in the child process too
        monkeypatch.setenv(f"ECNET_VOUCHER_{name.upper()}", value)
    # a stream of retried settlements from one terminal: its rate limit out of the way
    monkeypatch.setenv("ECNET_LIMITS_TERMINAL_PER_SECOND", "0")
    url = cluster.db_url("national")  # None on SQLite
    seed_national(tmp_path / "national" / "national.db", POPULATION, SEED, PROVINCES, db=url)
    national = SamePortNode(
        "national",
        "national",
        tmp_path / "national",
        heartbeat=0.5,
        nation=cluster.pki.root,
        db=url or "",
    )
    db_national: Db = url or tmp_path / "national" / "national.db"
    await national.start()
    try:
        kit = ProcessKit(
            cluster,
            tmp_path,
            SystemClock(),
            list(generate(POPULATION, SEED, PROVINCES)),
            dict(FAST),
            process=national,
        )
        sk = ScanKit(kit)
        extra = {"policy": str(policy), "settle_deadline": "2", **RECONCILE}
        for code in ("44", "31"):
            config = cluster.config(
                "provincial", code, national=national.address, extra=dict(extra)
            )
            sk.provinces[code] = await cluster.start(config)
            sk.terminals[code] = await terminals_of(kit, code)
        db31, db44 = sk.provinces["31"].db_target, sk.provinces["44"].db_target

        p = insured_in(kit, "44")[0]
        auth = await sk.activated(p, "31")

        async def at_44():
            return _count(db44, "SELECT count(*) FROM voucher_cache") > 0

        await eventually(at_44, what="the voucher at 44")

        tokens = [await token_for(sk, auth, "31") for _ in range(STREAM)]
        requests = _requests(tokens, "killnat")
        stub = settlement_stub(sk, "31")

        others = insured_in(kit, "44")[1 : 1 + QUEUED_AT_KILL]

        async def queue_events():  # committed at national, delivered or not at the kill
            for person in others:
                await activate(kit, person, business_province="31")

        _slow_answers(monkeypatch, sk.provinces["44"])
        answers, before, retries, in_between = await _stream_with_kill(
            lambda: stub, requests, db31, db44, national.kill, national.start, queue_events
        )
        # the kill hit national between 44's settlement and its answer to 31
        assert before and in_between
        await _check(lambda: stub, requests, answers, before, retries, db31, db44)

        # national's outbox, after the restart: every event for a running province
        # (44, 31; the persons' other insured provinces run no node here) is delivered
        async def delivered():
            return (
                _undelivered(db_national).keys().isdisjoint({"44", "31"})
                and _count(db44, "SELECT count(*) FROM voucher_cache") == 1 + QUEUED_AT_KILL
            )

        await eventually(delivered, timeout=15, what="national's outbox delivered to 44 and 31")
        assert _count(db_national, "SELECT count(*) FROM outbox WHERE destination = '44'") > 0
    finally:
        await national.stop()
