"""Property tests: generated requests to every method of every service, on a real national
and a real province (started once for the module), never answer -1 (nor UNKNOWN or
INTERNAL): whatever a caller sends, a node answers with a code of table C.4 that says
what was wrong, or serves it.

Requests are built from the methods' descriptors (hypothesis): every text field gets
anything from the empty string to long, control-character and non-BMP texts, numbers
their extremes, enums unknown values, Structs nested values; a share of the calls sends
raw bytes instead of a message. The nodes' rate limits are raised so that the requests
reach the handlers (a -6 would hide what they answer).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import grpc
import pytest
from google.protobuf import struct_pb2
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from voucherkit import FAST, OFFICIAL, PROVINCES, SEED

from cli.seed import seed_national
from conftest import Cluster
from ecnet.v1 import acceptance_service_pb2
from node.app import SERVICE_NAMES
from node.errors import from_rpc_error

UNLIMITED = {f"limits_{k}_burst": "1000000000" for k in ("channel", "terminal", "operator")}
UNLIMITED |= {f"limits_{k}_burst": "1000000000" for k in ("password", "realperson")}

_POOL = acceptance_service_pb2.DESCRIPTOR.pool
METHODS = [
    (service, method)
    for service in SERVICE_NAMES
    for method in _POOL.FindServiceByName(service).methods
    if not method.client_streaming and not method.server_streaming  # Link: a stream
]


class Nation:
    """A national node and province 44 on an event loop of their own thread."""

    def __init__(self, root, pki) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.cluster = Cluster(root, pki)
        self.pki = pki
        seed_national(root / "national" / "national.db", 30, SEED, PROVINCES)
        self.national = self.run(
            self.cluster.start_national(extra={**FAST, **UNLIMITED}, heartbeat_interval=1.0)
        )
        self.province = self.run(
            self.cluster.start_province("44", extra=dict(UNLIMITED), heartbeat_interval=1.0)
        )

    def run(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=120)

    def close(self) -> None:
        try:
            self.run(self.cluster.close())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(timeout=10)
            self.loop.close()


@pytest.fixture(scope="module")
def nation(tmp_path_factory, test_pki) -> Iterator[Nation]:
    n = Nation(tmp_path_factory.mktemp("props"), test_pki)
    channels: dict[tuple[str, str], grpc.Channel] = {}
    n.channel = lambda address, who: channels.setdefault(  # type: ignore[attr-defined]
        (address, who), test_pki.sync_channel(address, who)
    )
    try:
        yield n
    finally:
        for c in channels.values():
            c.close()
        n.close()


# -- strategies -------------------------------------------------------------------------

TEXT = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=300),
    st.sampled_from(["", "01", "44", "440100", "NHSA-OFFICIAL", "0" * 18, "1" * 28, "\x00"]),
    st.just("杨" * 5000),
)
INTS = {
    FieldDescriptor.TYPE_INT32: st.integers(-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_SINT32: st.integers(-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_SFIXED32: st.integers(-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_INT64: st.integers(-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_SINT64: st.integers(-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_SFIXED64: st.integers(-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_UINT32: st.integers(0, 2**32 - 1),
    FieldDescriptor.TYPE_FIXED32: st.integers(0, 2**32 - 1),
    FieldDescriptor.TYPE_UINT64: st.integers(0, 2**64 - 1),
    FieldDescriptor.TYPE_FIXED64: st.integers(0, 2**64 - 1),
}
JSON = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=False, allow_infinity=False) | TEXT,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)


def _struct(values: dict) -> struct_pb2.Struct:
    s = struct_pb2.Struct()
    s.update(values)
    return s


def _value(f, depth: int) -> st.SearchStrategy:
    t = f.type
    if t == FieldDescriptor.TYPE_STRING:
        return TEXT
    if t == FieldDescriptor.TYPE_BYTES:
        return st.binary(max_size=64)
    if t == FieldDescriptor.TYPE_BOOL:
        return st.booleans()
    if t in (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT):
        return st.floats(allow_nan=False, width=32 if t == FieldDescriptor.TYPE_FLOAT else 64)
    if t == FieldDescriptor.TYPE_ENUM:
        return st.integers(-3, 12)
    if t in INTS:
        return INTS[t]
    name = f.message_type.full_name
    if name == "google.protobuf.Struct":
        return st.dictionaries(st.text(max_size=12), JSON, max_size=6).map(_struct)
    return message(f.message_type, depth + 1)


def message(descriptor, depth: int = 0) -> st.SearchStrategy:
    cls = GetMessageClass(descriptor)
    if depth > 3 or descriptor.full_name.startswith("google.protobuf."):
        return st.just(cls())
    parts = {}
    for f in descriptor.fields:
        value = _value(f, depth)
        if f.is_repeated:
            if f.message_type is not None and f.message_type.GetOptions().map_entry:
                continue
            value = st.lists(value, max_size=3)
        parts[f.name] = st.none() | value

    @st.composite
    def build(draw) -> Message:
        m = cls()
        for name, strategy in parts.items():
            v = draw(strategy)
            if v is None:
                continue
            field = descriptor.fields_by_name[name]
            if field.is_repeated:
                getattr(m, name).extend(v)
            elif field.type == FieldDescriptor.TYPE_MESSAGE:
                getattr(m, name).CopyFrom(v)
            else:
                setattr(m, name, v)
        return m

    return build()


METADATA = st.tuples(
    st.sampled_from(["", OFFICIAL, "WECHAT", "ALIPAY", "NOPE"]),
    st.sampled_from(["", "44000000000000000001", "1" * 20, "x"]),
)


def _node_and_caller(nation: Nation, service: str, draw_province: bool):
    federation = service.endswith("FederationService")
    if draw_province:
        return nation.province, ("national" if federation else "operator")
    return nation.national, ("p44" if federation else "operator")


def _assert_no_minus_1(exc: grpc.RpcError, what: str) -> None:
    assert exc.code() not in (grpc.StatusCode.UNKNOWN, grpc.StatusCode.INTERNAL), (
        what,
        exc.code(),
        exc.details(),
    )
    code, text = from_rpc_error(exc)
    assert code != -1, (what, text)


@pytest.mark.parametrize(
    ("service", "method"), METHODS, ids=[f"{s.rsplit('.', 1)[1]}.{m.name}" for s, m in METHODS]
)
def test_no_generated_request_answers_minus_1(nation, service, method):
    request_cls = GetMessageClass(method.input_type)
    response_cls = GetMessageClass(method.output_type)
    path = f"/{service}/{method.name}"

    @settings(
        max_examples=10,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(
        request=message(method.input_type) | st.binary(max_size=64),
        metadata=METADATA,
        at_province=st.booleans(),
    )
    def check(request, metadata, at_province):
        node, who = _node_and_caller(nation, service, at_province)
        call = nation.channel(node.address, who).unary_unary(
            path,
            request_serializer=(lambda m: m if isinstance(m, bytes) else m.SerializeToString()),
            response_deserializer=response_cls.FromString,
        )
        channel, terminal = metadata
        md = tuple(
            (k, v) for k, v in (("ec-channel-id", channel), ("ec-terminal-id", terminal)) if v
        )
        what = f"{path} at {node.config.name}: {request!r}"[:400]
        try:
            answer = call(request, metadata=md, timeout=15)
        except grpc.RpcError as exc:
            _assert_no_minus_1(exc, what)
            return
        if hasattr(answer, "code") and isinstance(answer.code, int):  # the Trans envelope
            assert answer.code != -1, (what, answer.message)

    assert request_cls is not None
    check()


def test_every_service_is_covered():
    services = {s for s, _ in METHODS}
    assert services == set(SERVICE_NAMES)
    every = [m.name for s in SERVICE_NAMES for m in _POOL.FindServiceByName(s).methods]
    assert sorted(set(every) - {m.name for _, m in METHODS}) == ["Link"]
