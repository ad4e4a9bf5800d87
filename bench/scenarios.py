"""The scenarios: what one call is, and what must exist before it can be made.

A scenario is a name and an async ``setup(env)`` that starts or finds the nodes it
needs (:class:`bench.env.Env`), prepares data, and returns the call to repeat (an async
callable making one RPC). Adding one is a decorated function::

    @scenario("ListChannels (a small table read)")
    async def list_channels(env: Env) -> Call:
        stub = (await env.national()).admin
        req = admin_pb.ListChannelsRequest()
        return lambda: stub.ListChannels(req, timeout=TIMEOUT)

Every scenario is run by the same load generator and printed as a ratio to
:data:`BASELINE` (``AdminService/Ping``, which does nothing), measured just before and
just after each of its rounds (:mod:`bench.runner`). Every setup runs before the first
measurement, and each scenario is measured ``--rounds`` times, so a call that uses up
something (a person to activate, a code to scan) must have enough prepared for every
round (:func:`bench.pool.pool_seconds`), and setups must not undo one another. A setup
may build a call that varies (a counter, a list of persons prepared in the setup,
``itertools.cycle``); each call should stay independent of the others in flight. Rows
appear in registration order.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bench.env import Env
from bench.load import Call
from ecnet.v1 import admin_service_pb2 as admin_pb
from ecnet.v1 import federation_service_pb2 as fed_pb
from ecnet.v1 import federation_service_pb2_grpc
from node.pki import Identity

__all__ = ["Scenario", "SCENARIOS", "BASELINE", "scenario", "select", "TIMEOUT"]

# Deadline of every benchmarked call: a stuck node shows up as errors, not as a hang.
TIMEOUT = 10.0

Setup = Callable[[Env], Awaitable[Call]]


@dataclass(frozen=True)
class Scenario:
    name: str
    setup: Setup
    # Calls in flight; None: the run's --concurrency.
    concurrency: int | None = None


SCENARIOS: list[Scenario] = []


def scenario(name: str, *, concurrency: int | None = None) -> Callable[[Setup], Setup]:
    """Register ``setup`` as a scenario named ``name`` (see the module docstring)."""

    def register(setup: Setup) -> Setup:
        if any(s.name == name for s in SCENARIOS):
            raise ValueError(f"a scenario named {name!r} is already registered")
        SCENARIOS.append(Scenario(name, setup, concurrency))
        return setup

    return register


def select(only: str | None) -> list[Scenario]:
    """The scenarios whose name contains ``only`` (case-insensitive); all without it."""
    if not only:
        return list(SCENARIOS)
    needle = only.lower()
    return [s for s in SCENARIOS if needle in s.name.lower()]


# -- the baseline ----------------------------------------------------------------------
async def _ping(env: Env) -> Call:
    stub = (await env.national()).admin
    req = admin_pb.PingRequest()
    return lambda: stub.Ping(req, timeout=TIMEOUT)


BASELINE = Scenario("no-op (AdminService/Ping)", _ping)


# -- stage 1: the registry and the directory --------------------------------------------
# The province the bench registers as for the Heartbeat scenario (Xinjiang: not in the
# bench's provinces, bench.env.DEFAULT_PROVINCES).
HEARTBEAT_PROVINCE = "65"


@scenario("no-op, call log on")
async def ping_logged(env: Env) -> Call:
    # How nodes run by default: one JSON log line per call, into the node's log file.
    stub = (await env.national(log_calls=True)).admin
    req = admin_pb.PingRequest()
    return lambda: stub.Ping(req, timeout=TIMEOUT)


@scenario("GetNodeInfo (counts over the registry)")
async def get_node_info(env: Env) -> Call:
    stub = (await env.national()).admin
    req = admin_pb.GetNodeInfoRequest()
    info = await stub.GetNodeInfo(req, timeout=TIMEOUT)
    if info.counts.get("persons", 0) != env.population:
        raise RuntimeError(
            f"national counts {info.counts.get('persons', 0)} persons, expected {env.population}"
        )
    return lambda: stub.GetNodeInfo(req, timeout=TIMEOUT)


@scenario("ListPersons page of 20, insured province 44")
async def list_persons(env: Env) -> Call:
    stub = (await env.national()).admin
    req = admin_pb.ListPersonsRequest(insuredProvince="44", pageSize=20)
    first = await stub.ListPersons(req, timeout=TIMEOUT)
    if len(first.persons) != 20:
        raise RuntimeError(
            f"ListPersons returned {len(first.persons)} persons insured in 44, expected 20"
        )
    return lambda: stub.ListPersons(req, timeout=TIMEOUT)


@scenario("Heartbeat (a committed SQLite write)")
async def heartbeat(env: Env) -> Call:
    # The bench registers as a province itself (no provincial process competing for
    # the CPU); each Heartbeat is then one write transaction on national's writer thread.
    # The province is one no node of the bench serves and none of the registry's persons
    # is insured in: provinces 44 and 31 run during every measurement, and one of them
    # registering would replace the bench's instance (its heartbeats would then write
    # nothing), while events for a province at the bench's dead address would keep
    # national retrying deliveries.
    channel = (await env.national()).channel_as(Identity.of_province(HEARTBEAT_PROVINCE))
    env.on_close(channel.close)
    federation = federation_service_pb2_grpc.FederationServiceStub(channel)
    metadata: tuple[tuple[str, str], ...] = ()
    instance_id = uuid.uuid4().hex
    await federation.Register(
        fed_pb.RegisterRequest(
            province=HEARTBEAT_PROVINCE,
            address="127.0.0.1:9",
            version="bench",
            instanceId=instance_id,
        ),
        timeout=TIMEOUT,
        metadata=metadata,
    )
    req = fed_pb.HeartbeatRequest(
        province=HEARTBEAT_PROVINCE, instanceId=instance_id, appliedPosition=0
    )
    if not (await federation.Heartbeat(req, timeout=TIMEOUT, metadata=metadata)).known:
        raise RuntimeError("national does not know the instance the bench just registered")

    async def deregister() -> None:
        await federation.Deregister(
            fed_pb.DeregisterRequest(province=HEARTBEAT_PROVINCE, instanceId=instance_id),
            timeout=5,
            metadata=metadata,
        )

    env.on_close(deregister)
    return lambda: federation.Heartbeat(req, timeout=TIMEOUT, metadata=metadata)
