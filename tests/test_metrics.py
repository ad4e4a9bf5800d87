"""``/metrics`` on the nodes' HTTPS port (``node.metrics``, ``node.doors.metrics``),
against real nodes: the calls made are counted exactly, under their method, C.4 code and
door; a rate-limit refusal under its terminal; the backlog of a stopped province grows
and ages; no person is named; only operators and nodes may scrape; the Grafana
dashboard queries only metrics a node exposes."""

from __future__ import annotations

import json
import re
from pathlib import Path

import grpc
import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from scankit import insured_in, start_scan_nation
from test_delivery import card, enqueue, event
from voucherkit import WECHAT, identity, start_nation

from ecnet.v1 import admin_service_pb2 as admin_pb
from ecnet.v1 import admin_service_pb2_grpc
from ecnet.v1 import voucher_service_pb2 as vpb
from node.errors import from_rpc_error
from node.ratelimit import LimitSettings

ROOT = Path(__file__).resolve().parent.parent
DASHBOARD = ROOT / "docs" / "grafana" / "ecnet-nodes.json"
PING = "/ecnet.v1.AdminService/Ping"
NODES = "/ecnet.v1.AdminService/ListNodes"
TRANS = "/ecnet.v1.AcceptanceService/Trans"

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def scrape(cluster, node, who="operator") -> str:
    async with cluster.pki.https(node, who) as http:
        r = await http.get("/metrics")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    return r.text


def samples(text: str) -> Samples:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(s: Samples, name: str, **labels: str) -> float:
    return s.get((name, frozenset(labels.items())), 0.0)


def calls(s: Samples, node: str, method: str, code: int, door: str) -> float:
    return value(s, "ecnet_calls_total", node=node, method=method, code=str(code), door=door)


def timed(s: Samples, node: str, method: str, code: int, door: str) -> float:
    labels = {"node": node, "method": method, "code": str(code), "door": door}
    return value(s, "ecnet_call_duration_seconds_count", **labels)


async def test_calls_are_counted_by_method_code_and_door_and_refusals_by_key(cluster, tmp_path):
    sk = await start_scan_nation(
        cluster,
        tmp_path,
        ("44",),
        https=True,
        extra={"limits_terminal_burst": "3", "limits_terminal_per_second": "0.01"},
    )
    national, p44 = cluster.national, sk.provinces["44"]
    t44 = sk.terminals["44"][0]
    who = cluster.pki.terminal(t44.terminal_id, t44.org_id)
    before_n = samples(await scrape(cluster, national))
    before_p = samples(await scrape(cluster, p44))

    # three pings over gRPC as the operator; a terminal's certificate may not list the
    # nodes (-4)
    admin = cluster.stubs(national).admin
    for _ in range(3):
        await admin.Ping(admin_pb.PingRequest(), timeout=10)
    stranger = admin_service_pb2_grpc.AdminServiceStub(cluster.stubs(national, as_=who).channel)
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stranger.ListNodes(admin_pb.ListNodesRequest(), timeout=10)
    assert from_rpc_error(info.value)[0] == -4

    # five envelopes through p44's terminal door: three answered, two over the limit (-6)
    body = {"orgId": t44.org_id, "transType": "ec.query", "data": {"ecQrCode": "1" * 28}}
    codes = []
    async with cluster.pki.https(p44, who) as http:
        for _ in range(5):
            codes.append((await http.post("/ec/v1/trans", json=body)).json()["code"])
    assert codes[3:] == [-6, -6] and -6 not in codes[:3], codes

    after_n = samples(await scrape(cluster, national))
    after_p = samples(await scrape(cluster, p44))
    for fn in (calls, timed):

        def moved(before: Samples, after: Samples, *key) -> float:
            return fn(after, *key) - fn(before, *key)  # noqa: B023 - used in this loop only

        assert moved(before_n, after_n, "national", PING, 0, "grpc") == 3
        assert moved(before_n, after_n, "national", NODES, -4, "grpc") == 1
        assert fn(after_n, "national", PING, 0, "https") == 0
        for code in set(codes):
            assert moved(before_p, after_p, "p44", TRANS, code, "https") == codes.count(code)
        assert moved(before_p, after_p, "p44", TRANS, codes[0], "grpc") == 0
    # every call landed in one bucket: the +Inf bucket is the count
    inf = {"node": "national", "method": PING, "code": "0", "door": "grpc", "le": "+Inf"}
    assert value(after_n, "ecnet_call_duration_seconds_bucket", **inf) == timed(
        after_n, "national", PING, 0, "grpc"
    )
    limited = {"node": "p44", "kind": "terminal", "key": t44.terminal_id}
    assert (
        value(after_p, "ecnet_rate_limit_refusals_total", **limited)
        - value(before_p, "ecnet_rate_limit_refusals_total", **limited)
        == 2
    )
    # the database's writes were timed (the scans' QR bookkeeping, the activation)
    assert value(after_n, "ecnet_db_write_seconds_count", node="national") > 0
    # build info, certificate expiry (the test CA's certificates last a year or more)
    assert (
        value(
            after_p, "ecnet_build_info", node="p44", role="provincial", version=p44.config.version
        )
        == 1
    )
    assert value(after_p, "ecnet_certificate_expiry_seconds", node="p44") > 86_400
    # the scrapes themselves are no calls: nothing counted them
    assert not any(
        name == "ecnet_calls_total" and ("method", "/metrics") in labels for name, labels in after_p
    )


async def test_no_id_number_or_name_reaches_the_metrics(cluster, tmp_path):
    sk = await start_scan_nation(cluster, tmp_path, ("44",), https=True)
    national = cluster.national
    p = insured_in(sk.kit, "44")[0]
    await sk.activated(p, "44")
    # guessing a password until the person's limit refuses (500084): a person's key
    stub = sk.kit.channel(WECHAT)
    answers = []
    for _ in range(LimitSettings().password_burst + 1):
        try:
            await stub.Authorize(vpb.AuthorizeRequest(**identity(p), password="000000"))
        except grpc.aio.AioRpcError as exc:
            answers.append(from_rpc_error(exc)[0])
    assert answers[-1] == 500084, answers
    text = await scrape(cluster, national) + await scrape(cluster, sk.provinces["44"])
    s = samples(text)
    assert (
        value(s, "ecnet_rate_limit_refusals_total", node="national", kind="password", key="") == 1
    )
    assert calls(s, "national", "/ecnet.v1.VoucherService/Authorize", 500084, "grpc") == 1
    assert p.id_no not in text and p.user_name not in text
    for person in sk.kit.population:  # nor any other of the registry
        assert person.id_no not in text and person.user_name not in text, person.id_no


async def test_a_channels_rate_limit_refusals_are_counted_under_its_app_id(cluster, tmp_path):
    kit = await start_nation(
        cluster,
        tmp_path,
        population=20,
        https=True,
        extra={"limits_channel_burst": "2", "limits_channel_per_second": "0.01"},
    )
    national = cluster.national
    stub = kit.channel(WECHAT)
    p = kit.person(0)
    codes = []
    for _ in range(5):
        try:
            await stub.GetVoucherStatus(vpb.GetVoucherStatusRequest(**identity(p)))
            codes.append(0)
        except grpc.aio.AioRpcError as exc:
            codes.append(from_rpc_error(exc)[0])
    assert codes[2:] == [-6, -6, -6], codes
    s = samples(await scrape(cluster, national))
    assert (
        value(s, "ecnet_rate_limit_refusals_total", node="national", kind="channel", key=WECHAT)
        == 3
    )
    method = "/ecnet.v1.VoucherService/GetVoucherStatus"
    assert calls(s, "national", method, -6, "grpc") == 3
    assert sum(calls(s, "national", method, code, "grpc") for code in set(codes)) == 5


async def test_a_stopped_provinces_backlog_grows_and_ages(cluster, tmp_path):
    kit = await start_nation(cluster, tmp_path, population=20, https=True)
    national = cluster.national
    p44 = await cluster.start_province("44")

    async def gauges() -> Samples:
        return samples(await scrape(cluster, national))

    s = await gauges()
    assert value(s, "ecnet_link_up", node="national", peer="p44") == 1
    await p44.stop()
    await enqueue(national, [event(card(n), 1) for n in range(1, 4)])
    kit.clock.advance(7)
    s = await gauges()
    assert value(s, "ecnet_outbox_backlog", node="national", peer="p44") >= 3
    first = value(s, "ecnet_outbox_backlog", node="national", peer="p44")
    assert value(s, "ecnet_outbox_oldest_age_seconds", node="national", peer="p44") >= 7
    assert value(s, "ecnet_outbox_parked", node="national", peer="p44") == 0
    await enqueue(national, [event(card(n), 1) for n in range(4, 6)])
    kit.clock.advance(60)  # past the lease: the province is down
    s = await gauges()
    assert value(s, "ecnet_outbox_backlog", node="national", peer="p44") == first + 2
    assert value(s, "ecnet_outbox_oldest_age_seconds", node="national", peer="p44") >= 67
    assert value(s, "ecnet_link_up", node="national", peer="p44") == 0


async def test_a_province_reports_its_uplink_and_its_link_to_national(cluster, tmp_path):
    await start_nation(cluster, tmp_path, population=20)
    p44 = await cluster.start_province("44", https="127.0.0.1:0")
    s = samples(await scrape(cluster, p44, "national"))
    assert value(s, "ecnet_link_up", node="p44", peer="national") == 1
    assert ("ecnet_outbox_backlog", frozenset({("node", "p44"), ("peer", "national")})) in s


async def test_only_operators_and_nodes_may_scrape(cluster, tmp_path):
    sk = await start_scan_nation(cluster, tmp_path, ("44",), https=True)
    node = sk.provinces["44"]
    t44 = sk.terminals["44"][0]
    pki = cluster.pki
    async with pki.https(node, None) as http:
        r = await http.get("/metrics")
    assert r.status_code == 403 and r.text.startswith("no client certificate")
    assert r.text.count("\n") == 1 and "ecnet_" not in r.text
    async with pki.https(node, pki.terminal(t44.terminal_id, t44.org_id)) as http:
        r = await http.get("/metrics")
    assert r.status_code == 403 and "may not read /metrics" in r.text
    assert "ecnet_" not in r.text
    for who in ("operator", "national", "p44"):
        assert "ecnet_calls_total" in await scrape(cluster, node, who) or who
    # a scrape is not rate limited: far past the operator's burst
    async with pki.https(node, "operator") as http:
        for _ in range(LimitSettings().operator_burst + 5):
            assert (await http.get("/metrics")).status_code == 200


async def test_an_insecure_node_serves_its_metrics_to_anyone(cluster):
    node = await cluster.start_national(insecure=True, https="127.0.0.1:0")
    async with httpx.AsyncClient(base_url=f"http://{node.https_address}", timeout=30) as http:
        r = await http.get("/metrics")
    assert r.status_code == 200
    assert 'ecnet_build_info{node="national"' in r.text
    assert "ecnet_certificate_expiry_seconds{" not in r.text  # no certificate


def dashboard_metrics() -> set[str]:
    board = json.loads(DASHBOARD.read_text())
    names = set()
    for panel in board["panels"]:
        for target in panel.get("targets", ()):
            names.update(re.findall(r"\becnet_[a-z_]+", target["expr"]))
    return names


async def test_the_dashboard_queries_only_what_a_node_exposes(cluster, tmp_path):
    sk = await start_scan_nation(cluster, tmp_path, ("44",), https=True)
    exposed: set[str] = set()
    for node in (cluster.national, sk.provinces["44"]):
        for family in text_string_to_metric_families(await scrape(cluster, node)):
            exposed.add(family.name)
            suffixes = {
                "counter": ("_total",),
                "histogram": ("_bucket", "_sum", "_count"),
            }.get(family.type, ("",))
            exposed.update(family.name + suffix for suffix in suffixes)
    wanted = dashboard_metrics()
    assert wanted, "the dashboard queries no ecnet_ metric"
    assert wanted <= exposed, sorted(wanted - exposed)
    # and every metric a node exposes is on the dashboard
    from node.metrics import METRIC_NAMES

    shown = {re.sub(r"_(bucket|sum|count)$", "", n) for n in wanted}
    assert set(METRIC_NAMES) - {"ecnet_build_info"} <= shown | wanted
