"""Routed calls multiplexed on one Link stream (federation/link.py), against real
``grpc.aio`` servers on ephemeral ports: answers out of order, many callers at once,
failures that read exactly as the unary call's, deadlines, the caller's identity, a
peer that stops or lacks Link, oversized requests, and a node that drains its links."""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from dataclasses import dataclass

import grpc
import pytest

import federation.link as link_module
from conftest import free_port
from ecnet.v1 import federation_service_pb2 as pb
from ecnet.v1 import federation_service_pb2_grpc
from ecnet.v1 import settlement_service_pb2 as spb
from federation.link import Link, LinkServer
from node.clock import SystemClock
from node.config import ConfigError
from node.errors import EcError, from_rpc_error, node_answer, transport_failure
from node.interceptor import CallInterceptor, current_caller
from node.tls import ServerTls, Trust

CALLER = ()  # the caller is p31, by the certificate of its channel (Setup)
BOUND = 5.0  # seconds a step may take before the test fails instead of hanging


@dataclass(frozen=True)
class Seen:
    """One call as the handler saw it."""

    method: str
    key: str
    caller: str
    remaining: float | None
    via_link: bool


class Peer(federation_service_pb2_grpc.FederationServiceServicer):
    """The answering node. What a call does is chosen by its key (``terminalId`` of a
    RouteQuery, ``settlementId`` of a RouteSettle / RouteReverse):

    ``hold:NAME`` waits for :meth:`release` (NAME); ``ec500005`` raises that EcError;
    ``boom`` raises a RuntimeError; anything else answers with an echo of the request.
    """

    ERROR_MESSAGE = "the code was already used"

    def __init__(self) -> None:
        self.links_entered = 0
        self.seen: list[Seen] = []
        self.started: defaultdict[str, asyncio.Event] = defaultdict(asyncio.Event)
        self._released: defaultdict[str, asyncio.Event] = defaultdict(asyncio.Event)
        self.links = LinkServer(
            "test",
            False,
            {
                "RouteQuery": self.RouteQuery,
                "RouteSettle": self.RouteSettle,
                "RouteReverse": self.RouteReverse,
            },
        )

    def release(self, name: str) -> None:
        self._released[name].set()

    def release_all(self) -> None:
        for event in list(self._released.values()):
            event.set()

    async def _behave(self, method: str, key: str, context) -> None:
        self.seen.append(
            Seen(
                method,
                key,
                current_caller().node,
                context.time_remaining(),
                isinstance(context, link_module._MessageContext),
            )
        )
        self.started[key].set()
        if key.startswith("hold:"):
            await self._released[key.removeprefix("hold:")].wait()
        elif key == "ec500005":
            raise EcError(500005, self.ERROR_MESSAGE)
        elif key == "boom":
            raise RuntimeError("a bug in the handler")

    async def RouteQuery(self, request, context):
        await self._behave("RouteQuery", request.terminalId, context)
        return pb.RouteQueryResponse(insuOrg=f"{request.servingProvince}/{request.terminalId}")

    async def RouteSettle(self, request, context):
        await self._behave("RouteSettle", request.settlementId, context)
        return pb.RouteSettleResponse(
            settlement=spb.Settlement(
                settlementId=request.settlementId, insuOrg=str(len(request.userName))
            )
        )

    async def RouteReverse(self, request, context):
        await self._behave("RouteReverse", request.settlementId, context)
        return pb.RouteReverseResponse(settlement=spb.Settlement(settlementId=request.settlementId))

    async def Link(self, request_iterator, context):
        self.links_entered += 1
        await self.links.serve(request_iterator, context)


class PeerWithoutLink(Peer):
    """A node of an older version: the generated base answers Link with UNIMPLEMENTED."""

    Link = federation_service_pb2_grpc.FederationServiceServicer.Link


async def serve(
    servicer: Peer, pki, port: int | None = None
) -> tuple[Peer, grpc.aio.Server, int, object]:
    """``servicer`` answering on 127.0.0.1 over mutual TLS as province 44 (on a port no
    other test takes, so that it can be restarted there, unless ``port``)."""
    files = pki.files("p44")
    tls = ServerTls(files, SystemClock())
    trust = Trust(tls.ca, SystemClock(), crl_path=files.crl)
    server = grpc.aio.server(interceptors=[CallInterceptor("test", False, trust=trust)])
    federation_service_pb2_grpc.add_FederationServiceServicer_to_server(servicer, server)
    address = f"127.0.0.1:{free_port() if port is None else port}"
    port = server.add_secure_port(address, tls.credentials())
    await server.start()
    return servicer, server, port, pki


class Setup:
    """A peer's server, and a client channel with a Link and a unary stub to it."""

    def __init__(self, peer: Peer, server: grpc.aio.Server, port: int, pki) -> None:
        self.peer, self.server, self.port, self.pki = peer, server, port, pki
        self.servers = [server]
        self.address = f"127.0.0.1:{port}"
        self.channel = pki.channel(self.address, "p31", peer="p44")
        self.link = Link(self.channel, CALLER, self.address)
        self.stub = federation_service_pb2_grpc.FederationServiceStub(self.channel)

    async def restart(self, peer: Peer) -> None:
        """A new server (and peer) on the same port."""
        self.peer = peer
        _, self.server, port, _ = await serve(peer, self.pki, self.port)
        assert port == self.port
        self.servers.append(self.server)

    async def close(self) -> None:
        self.peer.release_all()
        await self.link.close()
        await self.channel.close()
        for server in self.servers:
            await server.stop(0)


@pytest.fixture
async def setup(test_pki):
    s = Setup(*await serve(Peer(), test_pki))
    try:
        yield s
    finally:
        await s.close()


@pytest.fixture
async def old_setup(test_pki):
    s = Setup(*await serve(PeerWithoutLink(), test_pki))
    try:
        yield s
    finally:
        await s.close()


def query(key: str, province: str = "44") -> pb.RouteQueryRequest:
    return pb.RouteQueryRequest(servingProvince=province, terminalId=key)


async def started(peer: Peer, key: str) -> None:
    await asyncio.wait_for(peer.started[key].wait(), BOUND)


async def until(condition, what: str) -> None:
    deadline = time.monotonic() + BOUND
    while not condition():
        assert time.monotonic() < deadline, f"waited {BOUND} s for {what}"
        await asyncio.sleep(0.005)


async def fails(call) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as info:
        await asyncio.wait_for(call, BOUND)
    return info.value


# -- tests ---------------------------------------------------------------------------------


async def test_answers_come_back_out_of_order_on_one_stream(setup):
    """A slow call does not hold up a fast one behind it; both travel on one stream."""
    slow = asyncio.create_task(setup.link.RouteQuery(query("hold:a"), timeout=BOUND))
    await started(setup.peer, "hold:a")
    fast = await asyncio.wait_for(setup.link.RouteQuery(query("t2"), timeout=BOUND), BOUND)
    assert fast.insuOrg == "44/t2"
    assert not slow.done()
    setup.peer.release("a")
    assert (await asyncio.wait_for(slow, BOUND)).insuOrg == "44/hold:a"
    assert setup.peer.links_entered == 1
    assert [s.via_link for s in setup.peer.seen] == [True, True]


async def test_many_concurrent_callers_each_get_their_own_answer(setup):
    """200 calls in flight at once: every caller gets the answer to its own request."""
    calls = [
        setup.link.RouteQuery(query(f"t{i}", province=str(i % 7)), timeout=BOUND)
        for i in range(200)
    ]
    answers = await asyncio.wait_for(asyncio.gather(*calls), BOUND)
    assert [a.insuOrg for a in answers] == [f"{i % 7}/t{i}" for i in range(200)]
    assert setup.peer.links_entered == 1
    assert len(setup.peer.seen) == 200 and all(s.via_link for s in setup.peer.seen)


async def test_all_three_methods_are_carried(setup):
    """RouteSettle and RouteReverse go on the link too, each decoded as its own response type."""
    settled = await setup.link.RouteSettle(
        pb.RouteSettleRequest(settlementId="s1", userName="abc"), timeout=BOUND
    )
    assert isinstance(settled, pb.RouteSettleResponse)
    assert (settled.settlement.settlementId, settled.settlement.insuOrg) == ("s1", "3")
    reversed_ = await setup.link.RouteReverse(
        pb.RouteReverseRequest(settlementId="s2"), timeout=BOUND
    )
    assert (
        isinstance(reversed_, pb.RouteReverseResponse) and reversed_.settlement.settlementId == "s2"
    )
    assert [(s.method, s.via_link) for s in setup.peer.seen] == [
        ("RouteSettle", True),
        ("RouteReverse", True),
    ]
    assert setup.peer.links_entered == 1


async def test_an_ec_error_reads_exactly_as_the_unary_calls(setup):
    """A handler's EcError reaches the caller as the unary call's status: same code, message."""
    over_link = await fails(setup.link.RouteQuery(query("ec500005"), timeout=BOUND))
    unary = await fails(setup.stub.RouteQuery(query("ec500005"), timeout=BOUND, metadata=CALLER))
    assert from_rpc_error(over_link) == (500005, Peer.ERROR_MESSAGE)
    assert not transport_failure(over_link)
    assert from_rpc_error(over_link) == from_rpc_error(unary)
    assert node_answer(over_link) == node_answer(unary)
    assert over_link.code() == unary.code()
    assert over_link.details() == unary.details()
    assert [s.via_link for s in setup.peer.seen] == [True, False]


async def test_a_bug_in_the_handler_is_minus_1_and_the_stream_goes_on(setup):
    """A RuntimeError in the handler answers -1 (as the unary call would); the next call works."""
    err = await fails(setup.link.RouteQuery(query("boom"), timeout=BOUND))
    code, message = from_rpc_error(err)
    assert code == -1 and "test" in message
    assert not transport_failure(err)
    unary = await fails(setup.stub.RouteQuery(query("boom"), timeout=BOUND, metadata=CALLER))
    assert from_rpc_error(unary) == (code, message) and unary.code() == err.code()
    assert (await setup.link.RouteQuery(query("t2"), timeout=BOUND)).insuOrg == "44/t2"
    assert setup.peer.links_entered == 1


async def test_no_answer_within_the_timeout_is_deadline_exceeded(setup):
    """A call not answered within its timeout fails DEADLINE_EXCEEDED (-3, a transport
    failure), on time; the handler saw the caller's deadline in ``time_remaining()``."""
    begun = time.monotonic()
    err = await fails(setup.link.RouteQuery(query("hold:never"), timeout=0.2))
    assert time.monotonic() - begun < 1.0
    assert err.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert from_rpc_error(err)[0] == -3
    assert transport_failure(err)
    (seen,) = setup.peer.seen
    assert seen.via_link and 0 < seen.remaining <= 0.2
    # the stream is still good for the next call
    assert (await setup.link.RouteQuery(query("t2"), timeout=BOUND)).insuOrg == "44/t2"
    assert setup.peer.links_entered == 1


async def test_a_call_without_timeout_has_no_deadline_at_the_handler(setup):
    """No timeout: the message carries none and the handler's ``time_remaining()`` is None."""
    assert (await asyncio.wait_for(setup.link.RouteQuery(query("t1")), BOUND)).insuOrg == "44/t1"
    assert setup.peer.seen[0].remaining is None


async def test_the_handler_sees_the_streams_caller(setup):
    """Every message on the stream runs as the node its connection's certificate names."""
    await asyncio.gather(*(setup.link.RouteQuery(query(f"t{i}"), timeout=BOUND) for i in range(3)))
    assert [s.caller for s in setup.peer.seen] == ["p31"] * 3
    assert all(s.via_link for s in setup.peer.seen)


async def test_a_stopped_peer_fails_calls_in_flight_and_a_new_stream_follows(setup):
    """The peer stops while a call is held: its caller gets UNAVAILABLE at once (not at its
    timeout); once a peer serves on that port again, the same Link opens a new stream."""
    held = asyncio.create_task(setup.link.RouteQuery(query("hold:a"), timeout=10))
    await started(setup.peer, "hold:a")
    begun = time.monotonic()
    await setup.server.stop(0)
    err = await fails(held)
    assert time.monotonic() - begun < 2.0
    assert err.code() == grpc.StatusCode.UNAVAILABLE
    assert from_rpc_error(err)[0] == -3 and transport_failure(err)

    await setup.restart(Peer())
    answer = await asyncio.wait_for(setup.link.RouteQuery(query("t2"), timeout=BOUND), BOUND)
    assert answer.insuOrg == "44/t2"
    assert setup.peer.links_entered == 1 and setup.peer.seen[0].via_link


async def test_a_peer_without_link_is_called_with_unary_calls(old_setup):
    """A peer that answers Link UNIMPLEMENTED still answers every call, the first one too,
    through the unary methods (a real gRPC context, the caller set by the interceptor)."""
    link, peer = old_setup.link, old_setup.peer
    assert (
        await asyncio.wait_for(link.RouteQuery(query("t1"), timeout=BOUND), BOUND)
    ).insuOrg == "44/t1"
    assert (
        await asyncio.wait_for(link.RouteQuery(query("t2"), timeout=BOUND), BOUND)
    ).insuOrg == "44/t2"
    more = await asyncio.wait_for(
        asyncio.gather(*(link.RouteQuery(query(f"t{i}"), timeout=BOUND) for i in range(3, 8))),
        BOUND,
    )
    assert [a.insuOrg for a in more] == [f"44/t{i}" for i in range(3, 8)]
    assert len(peer.seen) == 7
    assert not any(s.via_link for s in peer.seen)
    assert all(s.caller == "p31" for s in peer.seen)
    # application errors still read as the node's answer
    err = await fails(link.RouteQuery(query("ec500005"), timeout=BOUND))
    assert from_rpc_error(err) == (500005, Peer.ERROR_MESSAGE)


async def test_concurrent_first_calls_to_a_peer_without_link_all_succeed(old_setup):
    """Calls already waiting on the refused stream are made again as unary calls."""
    calls = [old_setup.link.RouteQuery(query(f"t{i}"), timeout=BOUND) for i in range(20)]
    answers = await asyncio.wait_for(asyncio.gather(*calls), BOUND)
    assert [a.insuOrg for a in answers] == [f"44/t{i}" for i in range(20)]
    assert not any(s.via_link for s in old_setup.peer.seen)


async def test_calls_joining_the_refused_stream_of_a_peer_without_link_go_unary_too(old_setup):
    """Calls made while the first stream to a peer without Link is being refused are made
    again as unary calls: none fails (one more call per turn of the event loop, so some
    join the stream after its first frame went out)."""
    await old_setup.channel.channel_ready()
    failures = []
    for _ in range(5):
        link = Link(old_setup.channel, CALLER, old_setup.address)
        first = asyncio.create_task(link.RouteQuery(query("t0"), timeout=BOUND))
        later = []
        for i in range(1, 200):
            if first.done():
                break
            await asyncio.sleep(0)
            later.append(asyncio.create_task(link.RouteQuery(query(f"t{i}"), timeout=BOUND)))
        results = await asyncio.wait_for(
            asyncio.gather(first, *later, return_exceptions=True), BOUND
        )
        failures += [r for r in results if isinstance(r, BaseException)]
        await link.close()
    assert not failures, f"{len(failures)} calls failed, e.g. {failures[0]!r}"


async def test_an_oversized_request_goes_as_a_unary_call(setup, monkeypatch):
    """A request larger than MAX_PAYLOAD is sent as a unary call and answered; smaller
    ones still use the link."""
    monkeypatch.setattr(link_module, "MAX_PAYLOAD", 1000)
    big = pb.RouteSettleRequest(settlementId="big", userName="x" * 5000)
    answer = await asyncio.wait_for(setup.link.RouteSettle(big, timeout=BOUND), BOUND)
    assert (answer.settlement.settlementId, answer.settlement.insuOrg) == ("big", "5000")
    small = pb.RouteSettleRequest(settlementId="small", userName="x" * 10)
    assert (await setup.link.RouteSettle(small, timeout=BOUND)).settlement.insuOrg == "10"
    assert [(s.key, s.via_link, s.caller) for s in setup.peer.seen] == [
        ("big", False, "p31"),
        ("small", True, "p31"),
    ]


async def test_calls_beyond_max_in_flight_go_as_unary_calls(setup, monkeypatch):
    """With MAX_IN_FLIGHT calls waiting on the stream, the next one is a unary call."""
    monkeypatch.setattr(link_module, "MAX_IN_FLIGHT", 2)
    held = [
        asyncio.create_task(setup.link.RouteQuery(query(f"hold:{n}"), timeout=BOUND)) for n in "ab"
    ]
    await started(setup.peer, "hold:a")
    await started(setup.peer, "hold:b")
    assert (
        await asyncio.wait_for(setup.link.RouteQuery(query("t3"), timeout=BOUND), BOUND)
    ).insuOrg == "44/t3"
    setup.peer.release("a")
    setup.peer.release("b")
    assert [a.insuOrg for a in await asyncio.wait_for(asyncio.gather(*held), BOUND)] == [
        "44/hold:a",
        "44/hold:b",
    ]
    assert {s.key: s.via_link for s in setup.peer.seen} == {
        "hold:a": True,
        "hold:b": True,
        "t3": False,
    }


async def test_drain_finishes_calls_in_flight_refuses_new_ones_and_ends_the_stream(setup):
    """drain(): the call in flight is answered; a message arriving meanwhile is answered -3
    ("stopping"); drain returns once the stream ended; a later call opens a new stream,
    which the draining node ends at once (-3 too, the node's answer or a transport failure)."""
    peer = setup.peer
    held = asyncio.create_task(setup.link.RouteQuery(query("hold:a"), timeout=BOUND))
    await started(peer, "hold:a")
    draining = asyncio.create_task(peer.links.drain())
    await asyncio.sleep(0.05)
    assert not draining.done() and not held.done()

    refused = await fails(setup.link.RouteQuery(query("t2"), timeout=BOUND))
    code, message = from_rpc_error(refused)
    assert code == -3 and "stopping" in message and not transport_failure(refused)

    peer.release("a")
    assert (await asyncio.wait_for(held, BOUND)).insuOrg == "44/hold:a"
    await asyncio.wait_for(draining, BOUND)
    assert peer.links_entered == 1

    # once the Link has seen its stream end, the next call opens a new one, which the
    # draining node ends at once: -3, as the node's answer or as a transport failure
    await until(lambda: setup.link._stream is None, "the Link to notice its stream ended")
    after = await fails(setup.link.RouteQuery(query("t3"), timeout=BOUND))
    code, message = from_rpc_error(after)
    assert code == -3
    if transport_failure(after):  # the stream ended before its message was read (or written)
        assert after.code() == grpc.StatusCode.UNAVAILABLE and "lost" in message
    else:  # the message was read and refused
        assert "stopping" in message
    assert peer.links_entered == 2
    assert [s.key for s in peer.seen] == ["hold:a"]  # the refused calls reached no handler


async def test_a_closed_link_fails_its_calls_unavailable(setup):
    """close(): a call in flight fails UNAVAILABLE at once, and so does any later call."""
    held = asyncio.create_task(setup.link.RouteQuery(query("hold:a"), timeout=BOUND))
    await started(setup.peer, "hold:a")
    await setup.link.close()
    err = await fails(held)
    assert err.code() == grpc.StatusCode.UNAVAILABLE and transport_failure(err)
    later = await fails(setup.link.RouteQuery(query("t2"), timeout=BOUND))
    assert later.code() == grpc.StatusCode.UNAVAILABLE and "closed" in later.details()
    assert setup.peer.links_entered == 1


async def test_a_very_long_timeout_works_as_with_the_unary_call(setup):
    """A timeout beyond what fits in LinkMessage.timeoutMs still gets the answer."""
    unary = await setup.stub.RouteQuery(query("t1"), timeout=5e6, metadata=CALLER)
    assert unary.insuOrg == "44/t1"
    answer = await asyncio.wait_for(setup.link.RouteQuery(query("t2"), timeout=5e6), BOUND)
    assert answer.insuOrg == "44/t2"
    assert setup.peer.seen[-1].via_link


async def test_frames_are_cut_before_the_message_that_would_overflow_them(monkeypatch):
    """A frame stays within MAX_FRAME_BYTES unless one message alone is larger; then that
    message goes alone, so whatever a unary call could carry fits in a frame."""
    monkeypatch.setattr(link_module, "MAX_FRAME_BYTES", 1000)
    frames: list[list[int]] = []

    async def write(frame: pb.LinkFrame) -> None:
        frames.append([len(m.payload) for m in frame.messages])

    sender = link_module._Sender(write, lambda exc: None)
    for size in (600, 300, 600, 2500, 10, 20):
        sender.put(pb.LinkMessage(id=size, payload=b"x" * size))
    await sender.close(BOUND)
    assert frames == [[600, 300], [600], [2500], [10, 20]]


async def _spread_calls(link: Link, count: int) -> list:
    """``count`` calls made one loop turn apart (as a busy node's callers arrive)."""
    calls = []
    for i in range(count):
        calls.append(asyncio.create_task(link.RouteQuery(query(f"t{i}"), timeout=BOUND)))
        await asyncio.sleep(0)
    return calls


@pytest.mark.parametrize("linger", [0.3, 0.0])
async def test_a_busy_link_lingers_to_write_fewer_frames(setup, linger):
    """With a call awaiting its answer, calls arriving one loop turn apart wait for one
    frame (linger); without linger the first goes out at once and the rest follow in
    whatever queued up during each write."""
    link = Link(setup.channel, CALLER, setup.address, linger)
    try:
        held = asyncio.create_task(link.RouteQuery(query("hold:a"), timeout=BOUND))
        await started(setup.peer, "hold:a")
        # The peer can see "hold:a" before the write of its frame has returned here (on a
        # busy machine), and a write in progress would gather all the calls below into the
        # next frame. So: one more call, and wait until its frame is written (the sender
        # writes one frame at a time): the sender is idle then, as the test means.
        sender = link._stream.sender
        write, written = sender._write, []

        async def counted(frame):
            await write(frame)
            written.append(frame)

        sender._write = counted
        await asyncio.wait_for(link.RouteQuery(query("idle"), timeout=BOUND), BOUND)
        await until(lambda: written, "the frame of the call before written")
        before = sender.frames
        answers = await asyncio.wait_for(asyncio.gather(*await _spread_calls(link, 10)), BOUND)
        assert [a.insuOrg for a in answers] == [f"44/t{i}" for i in range(10)]
        frames = sender.frames - before
        assert frames == 1 if linger else frames >= 2, f"{frames} frames"
        setup.peer.release("a")
        await asyncio.wait_for(held, BOUND)
    finally:
        await link.close()


async def test_an_idle_link_never_lingers(setup):
    """Nothing in flight: a call goes out at once, whatever the linger (30 s here)."""
    link = Link(setup.channel, CALLER, setup.address, linger=30.0)
    try:
        for key in ("t1", "t2"):
            answer = await asyncio.wait_for(link.RouteQuery(query(key), timeout=BOUND), BOUND)
            assert answer.insuOrg == f"44/{key}"
    finally:
        await link.close()


def test_link_settings():
    assert link_module.LinkSettings.from_config({}, environ={}).linger == 0.001
    assert (
        link_module.LinkSettings.from_config({}, environ={"ECNET_LINK_LINGER_MS": "0"}).linger == 0
    )
    assert link_module.LinkSettings.from_config({"linger_ms": "2.5"}, environ={}).linger == 0.0025
    for bad in ("-1", "soon"):
        with pytest.raises(ConfigError, match="linger_ms"):
            link_module.LinkSettings.from_config({"linger_ms": bad}, environ={})


async def test_a_stream_with_too_many_calls_in_flight_is_refused_minus_6(setup, monkeypatch):
    """The answering end bounds the calls it runs at once on one stream (a caller that
    ignores MAX_IN_FLIGHT cannot make it grow without bound): the excess gets -6."""
    monkeypatch.setattr(link_module, "MAX_IN_FLIGHT", 2)
    held = [
        asyncio.create_task(setup.link.call("RouteQuery", query(f"hold:{k}"), BOUND)) for k in "ab"
    ]
    for k in "ab":
        await started(setup.peer, f"hold:{k}")
    # the client end would now go unary; write a third call on the stream directly
    stream = setup.link._stream
    future = asyncio.get_running_loop().create_future()
    stream.pending[99] = future
    stream.sender.put(
        pb.LinkMessage(
            id=99, method="RouteQuery", payload=query("t3").SerializeToString(), timeoutMs=5000
        )
    )
    answer = await asyncio.wait_for(future, BOUND)
    err = link_module._error_of(answer.status)
    assert from_rpc_error(err)[0] == -6 and "in flight" in err.details()
    setup.peer.release_all()
    assert [a.insuOrg for a in await asyncio.wait_for(asyncio.gather(*held), BOUND)] == [
        "44/hold:a",
        "44/hold:b",
    ]


async def test_a_peer_without_link_is_tried_on_a_stream_again_later(old_setup):
    """A peer without Link is called unary for UNARY_RETRY seconds, then a stream is
    tried again: once the peer was upgraded, calls ride the link."""
    first = await asyncio.wait_for(old_setup.link.RouteQuery(query("t1"), timeout=BOUND), BOUND)
    assert first.insuOrg == "44/t1" and not old_setup.peer.seen[-1].via_link
    await old_setup.server.stop(0)
    await old_setup.restart(Peer())  # upgraded, on the same port
    second = await asyncio.wait_for(old_setup.link.RouteQuery(query("t2"), timeout=BOUND), BOUND)
    assert second.insuOrg == "44/t2" and not old_setup.peer.seen[-1].via_link  # within UNARY_RETRY
    old_setup.link._unary_until = 0.0  # as if UNARY_RETRY had passed
    third = await asyncio.wait_for(old_setup.link.RouteQuery(query("t3"), timeout=BOUND), BOUND)
    assert (
        third.insuOrg == "44/t3"
        and old_setup.peer.seen[-1].via_link
        and old_setup.peer.links_entered == 1
    )
