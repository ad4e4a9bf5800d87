"""Issue 13, parts 5 and 8: rate limits and input limits, each attack run against real
nodes (node.ratelimit, node.inputcheck, node.storage.db)."""

from __future__ import annotations

import asyncio
import secrets
import shutil
import sqlite3
from pathlib import Path

import grpc
import pytest
from google.protobuf import struct_pb2
from google.rpc import error_details_pb2
from google.rpc.error_details_pb2 import RetryInfo
from grpc_status import rpc_status
from scankit import insured_in, start_scan_nation
from settlekit import A, settle_request, settlement_stub, start_settle_nation, token_for
from test_node_program import EXIT_CONFIG, assert_one_line, run_node
from voucherkit import OFFICIAL, WECHAT, activate, fails, identity, start_nation

from ecnet.v1 import acceptance_service_pb2 as xpb
from ecnet.v1 import acceptance_service_pb2_grpc, settlement_service_pb2_grpc
from ecnet.v1 import admin_service_pb2 as admin_pb
from ecnet.v1 import federation_service_pb2 as fpb
from ecnet.v1 import settlement_service_pb2 as spb
from ecnet.v1 import voucher_service_pb2 as vpb
from node.app import Node, NodeStartError
from node.clock import FakeClock
from node.errors import EcError, from_rpc_error, node_answer
from node.interceptor import Caller
from node.pki import Identity
from node.ratelimit import LimitSettings, RateLimiter


def info_of(exc: grpc.aio.AioRpcError) -> dict[str, str]:
    status = rpc_status.from_call(exc)
    for detail in status.details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            return dict(info.metadata)
    return {}


# -- the buckets ------------------------------------------------------------------------


def test_a_bucket_cuts_a_burst_off_and_refills_by_its_clock():
    clock = FakeClock()
    limits = RateLimiter(LimitSettings(terminal_per_second=2.0, terminal_burst=5), clock)
    terminal = Caller(terminal_id="T1")
    for _ in range(5):
        limits.admit("/ecnet.v1.AcceptanceService/Query", terminal, None)
    with pytest.raises(EcError) as refused:
        limits.admit("/ecnet.v1.AcceptanceService/Query", terminal, None)
    err = refused.value
    assert err.code == -6 and err.metadata["retryAfterMs"] == "500", err
    assert err.metadata["limit"] == "terminal"
    limits.admit("/ecnet.v1.AcceptanceService/Query", Caller(terminal_id="T2"), None)
    clock.advance(0.5)  # one token back
    limits.admit("/ecnet.v1.AcceptanceService/Query", terminal, None)
    with pytest.raises(EcError):
        limits.admit("/ecnet.v1.AcceptanceService/Query", terminal, None)


def test_person_limits_answer_500084_and_a_refusal_takes_no_token():
    clock = FakeClock()
    limits = RateLimiter(
        LimitSettings(password_per_minute=1.0, password_burst=2, channel_burst=3), clock
    )
    authorize = "/ecnet.v1.VoucherService/Authorize"
    caller = Caller(channel_id="WECHAT")
    request = vpb.AuthorizeRequest(idNo="11010519491231002x")
    limits.admit(authorize, caller, request)
    limits.admit(authorize, caller, vpb.AuthorizeRequest(idNo="11010519491231002X"))
    with pytest.raises(EcError) as refused:
        limits.admit(authorize, caller, request)
    assert refused.value.code == 500084
    assert refused.value.metadata["retryAfterMs"] == "60000"
    assert "11010519491231002" not in str(refused.value)  # no id number in the answer
    # the refused call took no channel token: one is still there for another person
    limits.admit(authorize, caller, vpb.AuthorizeRequest(idNo="110105194912310037"))


def test_nodes_are_not_limited_and_zero_turns_a_limit_off():
    limits = RateLimiter(LimitSettings(operator_burst=1, channel_per_second=0.0), FakeClock())
    national = Caller(identity=Identity.national())
    for _ in range(5):
        limits.admit("/ecnet.v1.FederationService/RouteQuery", national, None)
        limits.admit("/x", Caller(channel_id="WECHAT"), None)
    operator = Caller(identity=Identity.operator("tester"))
    limits.admit("/ecnet.v1.AdminService/ListPersons", operator, None)
    with pytest.raises(EcError) as refused:
        limits.admit("/ecnet.v1.AdminService/ListPersons", operator, None)
    assert refused.value.code == -6


def test_the_buckets_are_bounded():
    clock = FakeClock()
    limits = RateLimiter(LimitSettings(max_keys=100), clock)
    for i in range(1000):
        limits.admit("/x", Caller(terminal_id=f"T{i}"), None)
    assert len(limits) <= 100


async def test_limits_are_set_per_node(cluster, monkeypatch):
    monkeypatch.setenv("ECNET_LIMITS_TERMINAL_BURST", "7")
    assert LimitSettings.from_config({}).terminal_burst == 7
    assert LimitSettings.from_config({"limits_terminal_burst": "3"}).terminal_burst == 3
    node = Node(cluster.config("national", extra={"limits_channel_burst": "lots"}))
    with pytest.raises(NodeStartError, match="limits_channel_burst"):
        await node.start()


# -- against real nodes -------------------------------------------------------------------


async def _count(calls, concurrency: int = 64) -> tuple[int, list[grpc.aio.AioRpcError]]:
    """Run the call factories ``calls``; (answers that were not -6, the -6 refusals)."""
    served = 0
    limited: list[grpc.aio.AioRpcError] = []
    queue = list(calls)

    async def worker():
        nonlocal served
        while queue:
            call = queue.pop()
            try:
                await call()
                served += 1
            except grpc.aio.AioRpcError as exc:
                if from_rpc_error(exc)[0] == -6:
                    limited.append(exc)
                else:
                    served += 1

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return served, limited


async def test_2000_qr_guesses_from_one_terminal_are_cut_off(cluster, tmp_path):
    sk = await start_scan_nation(cluster, tmp_path, ("44",))
    scanner = sk.scanner("44", 0)
    other = sk.scanner("44", 1)
    defaults = LimitSettings()
    # the buckets' clock stands still: the burst is all there is, however long the
    # calls take on this machine (the refill by the clock: the test at the end)
    sk.provinces["44"].limiter.clock = FakeClock()
    served, limited = await _count(
        [
            (lambda: scanner.query("".join(str(secrets.randbelow(10)) for _ in range(28))))
            for _ in range(2000)
        ]
    )
    allowed = defaults.terminal_burst
    assert served <= allowed, served
    assert len(limited) >= 2000 - allowed
    exc = limited[0]
    assert exc.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    meta = info_of(exc)
    assert meta["limit"] == "terminal" and int(meta["retryAfterMs"]) > 0, meta
    retry = [d for d in rpc_status.from_call(exc).details if d.Is(RetryInfo.DESCRIPTOR)]
    assert len(retry) == 1  # google.rpc.RetryInfo too, for clients that know it
    info = RetryInfo()
    retry[0].Unpack(info)
    assert info.retry_delay.ToMilliseconds() == int(meta["retryAfterMs"])
    # another terminal is not slowed by this one's guesses
    with pytest.raises(grpc.aio.AioRpcError) as other_answer:
        await other.query("1" * 28)
    assert from_rpc_error(other_answer.value)[0] != -6


async def test_3000_lookups_from_one_channel_are_slowed(cluster, tmp_path):
    kit = await start_nation(cluster, tmp_path, population=20)
    stub = kit.channel(WECHAT)
    p = kit.person(0)
    defaults = LimitSettings()
    cluster.national.limiter.clock = FakeClock()  # the burst is all there is (above)
    served, limited = await _count(
        [
            (lambda: stub.GetVoucherStatus(vpb.GetVoucherStatusRequest(**identity(p))))
            for _ in range(3000)
        ]
    )
    allowed = defaults.channel_burst
    assert served <= allowed, served
    assert len(limited) >= 3000 - allowed
    assert info_of(limited[0])["limit"] == "channel"


async def test_password_guessing_is_limited_per_person_across_channels(cluster, tmp_path):
    kit = await start_nation(cluster, tmp_path, population=20)
    p = kit.person(0)
    await activate(kit, p)
    burst = LimitSettings().password_burst
    codes = []
    for i in range(burst):
        channel = kit.channel(WECHAT if i % 2 else OFFICIAL)
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await channel.Authorize(vpb.AuthorizeRequest(**identity(p), password="000000"))
        codes.append(from_rpc_error(info.value)[0])
    assert codes[:4] == [500004] * 4 and set(codes[4:]) == {500079}, codes
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await kit.channel(WECHAT).Authorize(vpb.AuthorizeRequest(**identity(p), password="1"))
    assert from_rpc_error(info.value)[0] == 500084
    assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert int(info_of(info.value)["retryAfterMs"]) > 0
    # the real-person checks that would lift the freeze are limited per person too
    stub = kit.channel(OFFICIAL)
    answers = []
    for _ in range(LimitSettings().realperson_burst + 1):
        try:
            await stub.RealNameCheck(vpb.RealNameCheckRequest(**identity(p)))
            answers.append(0)
        except grpc.aio.AioRpcError as exc:
            answers.append(from_rpc_error(exc)[0])
    assert answers[-1] == 500084, answers
    # another person is not affected
    await stub.RealNameCheck(vpb.RealNameCheckRequest(**identity(kit.person(1))))


# -- inputs that should be refused ------------------------------------------------------


async def test_a_nul_byte_in_a_name_is_refused_and_not_stored(cluster, tmp_path):
    kit = await start_nation(cluster, tmp_path, population=20)
    p = kit.person(0)
    message = await fails(
        kit.admin().UpdatePerson(
            admin_pb.UpdatePersonRequest(idType=p.id_type, idNo=p.id_no, newUserName="杨\x00雪"),
            timeout=10,
        ),
        -2,
    )
    assert "newUserName: must not contain NUL" in message
    for bad in ("杨\x07雪", "杨\n雪"):
        await fails(
            kit.channel(WECHAT).RealNameCheck(
                vpb.RealNameCheckRequest(**identity(p, userName=bad))
            ),
            -2,
        )
    await fails(
        kit.channel(WECHAT).RealNameCheck(
            vpb.RealNameCheckRequest(**identity(p, idNo=p.id_no + "\x00"))
        ),
        -2,
    )
    # a stated reason is free text: a tab or a line break is kept, a NUL is not
    suspend = admin_pb.SetChannelStatusRequest(
        channelId="ALIPAY", status="suspended", reason="review\tline\nnext"
    )
    await kit.admin().SetChannelStatus(suspend, timeout=10)
    suspend.reason = "review\x00"
    message = await fails(kit.admin().SetChannelStatus(suspend, timeout=10), -2)
    assert "reason: must not contain a NUL character" in message
    rows = await kit.national.store.db.read(
        lambda conn: conn.execute(
            "SELECT count(*) FROM persons WHERE instr(user_name, char(0)) > 0"
        ).fetchone()[0]
    )
    assert rows == 0


async def test_huge_item_names_and_envelopes_are_refused(cluster, tmp_path):
    sk = await start_settle_nation(cluster, tmp_path, ("44",))
    node = sk.provinces["44"]
    p = insured_in(sk.kit, "44")[0]
    token, terminal = await token_for(sk, await sk.activated(p, "44"), "44")
    settle = settlement_stub(sk, "44")

    def request(name: str) -> spb.SettleRequest:
        items = [spb.FeeItem(code="A1", name=name, category=A, unitPrice=100, quantity=1)]
        return settle_request(token, terminal.org_id, "r1", items)

    # 3 MB: past the node's max receive message size, refused before decoding
    message = await fails(settle.Settle(request("药" * 1_000_000), timeout=20), -2)
    assert "larger than the node accepts" in message
    # under it, still far past an item name's 200 characters; then one of 201
    message = await fails(settle.Settle(request("药" * 300_000), timeout=20), -2)
    assert "items[0].name: must be at most 200 characters (has 300000)" in message
    await fails(settle.Settle(request("药" * 201), timeout=20), -2)
    stored = await node.store.db.read(
        lambda conn: conn.execute("SELECT count(*) FROM settlements").fetchone()[0]
    )
    assert stored == 0
    # the same token and request with a name of 200 characters settles
    done = await settle.Settle(request("药" * 200), timeout=20)
    assert done.settlement.feeSumamt == 100

    acceptance = acceptance_service_pb2_grpc.AcceptanceServiceStub(cluster.stubs(node).channel)
    md = (("ec-terminal-id", terminal.terminal_id),)
    data = struct_pb2.Struct()
    data.update({"ecQrCode": "1" * 28, "businessType": "01101"})
    extra = struct_pb2.Struct()
    extra.update({"note": "x" * 300_000})
    answer = await acceptance.Trans(
        xpb.TransRequest(orgId=terminal.org_id, transType="ec.query", data=data, extra=extra),
        metadata=md,
        timeout=20,
    )
    assert answer.code == -2 and "extra: must be at most 200K" in answer.message, answer
    big = struct_pb2.Struct()
    big.update({"note": "x" * 3_000_000})
    message = await fails(
        acceptance.Trans(
            xpb.TransRequest(orgId=terminal.org_id, transType="ec.query", data=data, extra=big),
            metadata=md,
            timeout=20,
        ),
        -2,
    )
    assert "larger than the node accepts" in message


def _varint(n: int) -> bytes:
    out = b""
    while True:
        byte, n = n & 0x7F, n >> 7
        if n:
            out += bytes([byte | 0x80])
        else:
            return out + bytes([byte])


def _field(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _nested(depth: int) -> bytes:
    """A Struct ``{"in": {"in": ... {"leaf": "x"}}}`` of ``depth`` objects, encoded by hand
    (the client's own protobuf would refuse to build one past its depth limit)."""
    struct = _field(1, _field(1, b"leaf") + _field(2, _field(3, b"x")))
    for _ in range(depth - 1):
        struct = _field(1, _field(1, b"in") + _field(2, _field(5, struct)))
    return struct


async def test_deep_structs_bad_utf8_and_corrupt_bytes_answer_minus_2(cluster, tmp_path):
    sk = await start_scan_nation(cluster, tmp_path, ("44",))
    node = sk.provinces["44"]
    terminal = sk.terminals["44"][0]
    md = (("ec-terminal-id", terminal.terminal_id),)
    channel = cluster.stubs(node).channel
    trans = channel.unary_unary(
        "/ecnet.v1.AcceptanceService/Trans",
        request_serializer=None,
        response_deserializer=xpb.TransResponse.FromString,
    )
    for depth in (20, 90):
        body = _field(1, terminal.org_id.encode()) + _field(2, b"ec.query")
        answer = await trans(body + _field(3, _nested(depth)), metadata=md, timeout=20)
        assert answer.code == -2, answer
        assert "nest" in answer.message, answer.message
        assert "google.protobuf" not in answer.message and "Error" not in answer.message

    for method, body in (
        ("/ecnet.v1.SettlementService/GetSettlement", b"\x0a\x03\xff\xfe\xfd"),  # bad UTF-8
        ("/ecnet.v1.AcceptanceService/Query", b"\xff\xff\xff\xff"),  # corrupt
        ("/ecnet.v1.AdminService/ListPersons", b"\x0a\x05ab"),  # truncated
    ):
        call = channel.unary_unary(method, request_serializer=None, response_deserializer=None)
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await call(body, metadata=md, timeout=10)
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT, info.value
        text = info.value.details()
        assert "could not be decoded" in text and "UTF-8" in text, text


# -- the database -----------------------------------------------------------------------


async def test_a_database_busy_past_the_timeout_answers_minus_3(cluster, tmp_path):
    kit = await start_nation(cluster, tmp_path, population=20, extra={"db_busy_timeout_ms": "300"})
    p = kit.person(0)
    holder = sqlite3.connect(kit.national.db_path, isolation_level=None, timeout=5)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        message = await fails(
            kit.admin().UpdatePerson(
                admin_pb.UpdatePersonRequest(idType=p.id_type, idNo=p.id_no, newUserName="杨雪"),
                timeout=10,
            ),
            -3,
        )
        assert "busy" in message
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    await kit.admin().UpdatePerson(
        admin_pb.UpdatePersonRequest(idType=p.id_type, idNo=p.id_no, newUserName="杨雪"),
        timeout=10,
    )


def _damage(db: Path) -> None:
    """Overwrite the middle of a data page of the persons table (a b-tree page)."""
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'persons'").fetchone()[0]
    conn.close()
    with db.open("r+b") as fh:
        fh.seek((root - 1) * page_size + 8)
        fh.write(b"\xa5" * (page_size - 16))


async def test_a_damaged_database_is_refused_at_start(cluster, tmp_path, test_pki):
    kit = await start_nation(cluster, tmp_path, population=200)
    data = kit.national.config.data_dir
    await kit.national.stop(grace=0)
    cluster.nodes.remove(kit.national)
    copy = tmp_path / "copy"
    shutil.copytree(data, copy, ignore=shutil.ignore_patterns("*.lock", "node.lock"))
    _damage(copy / "national.db")
    node = Node(cluster.config("national", data_dir=copy))
    with pytest.raises(NodeStartError, match="is damaged") as info:
        await node.start()
    assert "\n" not in str(info.value)
    proc = run_node("--role", "national", "--listen", "127.0.0.1:0", "--data", str(copy))
    assert_one_line(proc, EXIT_CONFIG, "is damaged (PRAGMA quick_check")
    assert "SERVING" not in proc.stderr


async def test_a_refusal_quoting_a_long_value_still_reaches_the_caller(cluster):
    """A node's refusal that quotes what was sent (here an insuOrg of 5,000 Chinese
    characters, between nodes, where the input limits do not apply) is clipped: unclipped,
    its trailers passed the client's 8 KiB limit and the caller saw a transport failure
    (-1) instead of the node's answer."""
    await cluster.start_national()
    p44 = await cluster.start_province("44")
    federation = cluster.stubs(p44, as_="national").federation
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await federation.RouteSettle(
            fpb.RouteSettleRequest(
                servingProvince="44", ecCardNo="x", insuOrg="杨" * 5000, settlementId="s"
            ),
            timeout=10,
        )
    answer = node_answer(info.value)
    assert answer is not None and answer[0] != -1, info.value.details()[:300]
    assert len(answer[1].encode()) <= 1200


@pytest.mark.parametrize("token", ["abc", "-5", "9" * 300, "1\x00", "杨"])
async def test_page_tokens_that_were_never_issued_answer_minus_2(cluster, tmp_path, token):
    sk = await start_scan_nation(cluster, tmp_path, ("44",))
    admin = sk.kit.admin()
    org = sk.terminals["44"][0].org_id
    await fails(admin.ListPersons(admin_pb.ListPersonsRequest(pageToken=token), timeout=10), -2)
    await fails(admin.ListTerminals(admin_pb.ListTerminalsRequest(pageToken=token), timeout=10), -2)
    day = settlement_service_pb2_grpc.SettlementServiceStub(
        cluster.stubs(sk.provinces["44"]).channel
    )
    message = await fails(
        day.ListDaySettlements(
            spb.ListDaySettlementsRequest(orgId=org, date="2026-12-01", pageToken=token),
            timeout=10,
        ),
        -2,
    )
    assert "pageToken" in message


async def test_an_envelope_over_the_terminal_limit_answers_minus_6_in_its_code(cluster, tmp_path):
    sk = await start_scan_nation(
        cluster,
        tmp_path,
        ("44",),
        extra={"limits_terminal_burst": "3", "limits_terminal_per_second": "0.01"},
    )
    terminal = sk.terminals["44"][0]
    as_terminal = cluster.pki.terminal(terminal.terminal_id, terminal.org_id)
    acceptance = acceptance_service_pb2_grpc.AcceptanceServiceStub(
        cluster.stubs(sk.provinces["44"], as_=as_terminal).channel
    )
    data = struct_pb2.Struct()
    data.update({"ecQrCode": "1" * 28, "businessType": "01101"})
    codes = []
    for _ in range(5):
        answer = await acceptance.Trans(
            xpb.TransRequest(orgId=terminal.org_id, transType="ec.query", data=data),
            timeout=10,
        )
        codes.append(answer.code)
    assert -6 not in codes[:3] and codes[3:] == [-6, -6], codes
    assert "try again in" in answer.message


async def test_a_node_refills_its_buckets_by_the_clock_it_is_given(cluster):
    clock = FakeClock()
    config = cluster.config(
        "national", extra={"limits_operator_burst": "2", "limits_operator_per_second": "1"}
    )
    node = Node(config, limits_clock=clock)
    await node.start()
    cluster.nodes.append(node)
    admin = cluster.stubs(node).admin
    await admin.Ping(admin_pb.PingRequest(), timeout=10)
    await admin.Ping(admin_pb.PingRequest(), timeout=10)
    message = await fails(admin.Ping(admin_pb.PingRequest(), timeout=10), -6)
    assert "operator ecnet://operator/tester" in message
    await asyncio.sleep(0.3)  # the wall clock moving refills nothing
    await fails(admin.Ping(admin_pb.PingRequest(), timeout=10), -6)
    clock.advance(1.0)
    await admin.Ping(admin_pb.PingRequest(), timeout=10)
