"""The console's supervision of channels and terminals (5.2.1 渠道监管) at real nodes: each
channel's calls, refusals and rate-limit hits on the Channels page, gathered from every
node, and each terminal's last call on the Terminals page."""

from __future__ import annotations

import re

import grpc
import pytest
from chankit import signed
from consolekit import ConsoleNation, first_login
from scankit import insured_in, start_scan_nation
from voucherkit import OFFICIAL

from ecnet.v1 import qr_service_pb2 as qr_pb
from ecnet.v1 import qr_service_pb2_grpc


@pytest.fixture
async def nation(cluster, tmp_path):
    # province 44 lets a channel make 4 calls in a burst, then about one a minute
    limits = {"limits_channel_burst": "4", "limits_channel_per_second": "0.01"}
    sk = await start_scan_nation(cluster, tmp_path, ("44", "31"), extra=limits, https=True)
    return sk, ConsoleNation(sk.kit, tmp_path)


def _number(page: str, element: str) -> int:
    found = re.search(rf'id="{re.escape(element)}"[^>]*>(\d+)', page)
    assert found, f"no {element} on the page"
    return int(found.group(1))


async def test_channels_page_counts_each_channels_calls_refusals_and_rate_limit_hits(nation):
    sk, cn = nation
    cn.enrol("root", "admin")
    auth = await sk.activated(insured_in(sk.kit, "44")[0], "44")
    async with cn.client() as http:
        await first_login(cn, http, "root")
        before = (await http.get("/console/channels")).text
        calls0 = _number(before, f"calls-{OFFICIAL}")
        refused0 = _number(before, f"refused-{OFFICIAL}")
        limited0 = _number(before, f"limited-{OFFICIAL}")

        stub = qr_service_pb2_grpc.QrServiceStub(sk.cluster.stubs(sk.provinces["44"]).channel)
        answered = limited = other = 0
        for i in range(7):
            try:
                if i == 0:  # an authCode that is not one: refused for what it asks
                    await _issue(sk, stub, "0" * 32)
                else:
                    await _issue(sk, stub, auth)
                answered += 1
            except grpc.aio.AioRpcError as exc:
                if exc.code() == grpc.StatusCode.RESOURCE_EXHAUSTED:
                    limited += 1
                else:
                    other += 1
        assert limited >= 2 and other == 1

        after = (await http.get("/console/channels")).text
        assert _number(after, f"calls-{OFFICIAL}") - calls0 == 7
        assert _number(after, f"refused-{OFFICIAL}") - refused0 == limited + other
        assert _number(after, f"limited-{OFFICIAL}") - limited0 == limited
        assert "did not answer" not in after


async def _issue(sk, stub, auth: str) -> None:
    node = sk.provinces["44"]
    request = qr_pb.IssueQrCodeRequest(authCode=auth)
    md = signed(sk.cluster.root, OFFICIAL, "/ecnet.v1.QrService/IssueQrCode", request, node.clock)
    await stub.IssueQrCode(request, metadata=md, timeout=10)


async def test_terminals_page_shows_each_terminals_last_call(nation):
    sk, cn = nation
    cn.enrol("root", "admin")
    scanner = sk.scanner("44")
    other = next(t for t in sk.terminals["44"] if t.terminal_id != scanner.terminal.terminal_id)
    async with cn.client() as http:
        await first_login(cn, http, "root")
        page = (await http.get("/console/terminals?province=44")).text
        row = re.search(rf"{scanner.terminal.terminal_id}.*?</tr>", page, re.S)
        assert row and "never" in row.group(0)
        auth = await sk.activated(insured_in(sk.kit, "44")[0], "44")
        await scanner.query(await sk.issue("44", auth))
        page = (await http.get("/console/terminals?province=44")).text
        row = re.search(rf"{scanner.terminal.terminal_id}.*?</tr>", page, re.S)
        assert row and " s ago" in row.group(0), row
        quiet = re.search(rf"{other.terminal_id}.*?</tr>", page, re.S)
        assert quiet and "never" in quiet.group(0)
