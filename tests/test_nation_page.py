"""What the operator opens the Nation page for each morning (issue 15): when each node's
certificate expires and how far each province's delivery lags, learnt by national from the
certificates provinces call with and from its own outbox, and shown on the console
(node.console.app.nation_page) against real nodes."""

from __future__ import annotations

import re
import time

import pytest
from consolekit import first_login, start_console_nation
from scankit import eventually

from ecnet.v1 import admin_service_pb2 as apb
from node.console.app import LATE_SECONDS, CertExpiry, _age, _lag
from node.pki import Identity, read_certificate
from node.tls import INSECURE_CLAIM

DAY = 86400


def _not_after_ms(path) -> int:
    return round(read_certificate(path).not_valid_after_utc.timestamp() * 1000)


def _row(page: str, province: str) -> str:
    """The Nation page's table row of province ``province``."""
    found = re.search(rf"<tr><td>p{province}</td>.*?</tr>", page)
    assert found, f"no row of p{province} in the page"
    return found.group(0)


async def _nodes(stubs) -> dict[str, apb.NodeEntry]:
    listed = await stubs.admin.ListNodes(apb.ListNodesRequest(), timeout=10)
    return {n.province: n for n in listed.nodes}


async def test_each_nodes_certificate_expiry_is_known_and_a_renewed_one_from_its_heartbeat(
    cluster, tmp_path
):
    national = await cluster.start_national()
    await cluster.start_province("44")
    # province 51 on a certificate of its own, 10 days long, renewed in place later
    ca, folder = cluster.pki.ca, tmp_path / "p51-pki"
    key, cert = ca.issue(Identity.of_province("51"), days=10, folder=folder)
    p51 = await cluster.start_province("51", cert=cert, key=key)
    short = _not_after_ms(cert)
    s = cluster.stubs(national)
    nodes = await _nodes(s)
    assert nodes["44"].certNotAfter.ToMilliseconds() == _not_after_ms(cluster.pki.files("p44").cert)
    assert nodes["51"].certNotAfter.ToMilliseconds() == short
    assert 9 * DAY < short / 1000 - time.time() < 10 * DAY
    # each node says when its own certificate expires
    info = await s.admin.GetNodeInfo(apb.GetNodeInfoRequest(), timeout=10)
    assert info.certNotAfter.ToMilliseconds() == _not_after_ms(cluster.pki.files("national").cert)
    own = await cluster.stubs(p51).admin.GetNodeInfo(apb.GetNodeInfoRequest(), timeout=10)
    assert own.certNotAfter.ToMilliseconds() == short

    ca.issue(Identity.of_province("51"), days=365, folder=folder)  # renewed in place
    renewed = _not_after_ms(cert)
    assert renewed > short

    async def learnt() -> bool:
        return (await _nodes(s))["51"].certNotAfter.ToMilliseconds() == renewed

    await eventually(learnt, what="national to learn p51's renewed certificate")
    own = await cluster.stubs(p51).admin.GetNodeInfo(apb.GetNodeInfoRequest(), timeout=10)
    assert own.certNotAfter.ToMilliseconds() == renewed


async def test_insecure_nodes_have_no_certificate_expiry(cluster):
    national = await cluster.start_national(insecure=True)
    p44 = await cluster.start_province("44", insecure=True)
    claim = ((INSECURE_CLAIM, Identity.operator("tester").uri),)
    s = cluster.stubs(national, claim)
    listed = await s.admin.ListNodes(apb.ListNodesRequest(), metadata=s.metadata, timeout=10)
    [entry] = listed.nodes
    assert entry.province == "44" and not entry.HasField("certNotAfter")
    for node in (national, p44):
        t = cluster.stubs(node, claim)
        info = await t.admin.GetNodeInfo(apb.GetNodeInfoRequest(), metadata=t.metadata, timeout=10)
        assert info.transport.startswith("INSECURE") and not info.HasField("certNotAfter")


async def test_the_nation_page_shows_expiry_backlog_and_lag(cluster, tmp_path):
    cn = await start_console_nation(cluster, tmp_path, provinces=("44", "31"))
    key, cert = cluster.pki.ca.issue(
        Identity.of_province("51"), days=10, folder=tmp_path / "p51-pki"
    )
    await cluster.start_province("51", cert=cert, key=key)
    s = cluster.stubs(cn.national)

    async def taken(*provinces: str) -> bool:
        nodes = await _nodes(s)
        return all(nodes[p].pendingEvents == 0 for p in provinces)

    await eventually(lambda: taken("44", "31", "51"), what="the provinces to be up to date")
    p31 = next(n for n in cluster.nodes if n.config.province == "31")
    await p31.stop()
    # national queues a channel.status event for every province: p31 is not there to take it
    queued_at = cn.kit.clock.now_ms()
    await s.admin.SetChannelStatus(
        apb.SetChannelStatusRequest(channelId="WECHAT", status="suspended", reason="test"),
        timeout=10,
    )
    await eventually(lambda: taken("44", "51"), what="p44 and p51 to take the event")
    nodes = await _nodes(s)
    backlog = nodes["31"].pendingEvents
    assert backlog == 1
    assert nodes["31"].oldestPendingAt.ToMilliseconds() == queued_at
    assert not nodes["44"].HasField("oldestPendingAt")
    cn.kit.clock.advance(LATE_SECONDS + 30)  # national's clock: the event is 90 s old

    cn.enrol("root", "admin")
    async with cn.client() as http:
        await first_login(cn, http, "root")
        page = (await http.get("/console/")).text
        row31, row44, row51 = _row(page, "31"), _row(page, "44"), _row(page, "51")
        assert "stopped" in row31
        assert '<span class="backlog">1</span>' in row31
        assert re.search(r'<span class="lag late"[^>]*>90 s</span>', row31), row31
        assert '<span class="backlog">0</span>' in row44 and 'class="lag none"' in row44
        # p51's certificate ends in 10 days less the CA's 5 minutes of slack: 9 days left
        date51 = time.strftime("%Y-%m-%d", time.gmtime(_not_after_ms(cert) / 1000))
        expiring = rf'<span class="cert expiring"[^>]*>{date51} \(9 days left\)</span>'
        assert re.search(expiring, row51), row51
        assert 'class="cert valid"' in row44 and 'class="cert valid"' in row31
        # national's own certificate, in its summary
        mine = cluster.pki.files("national").cert
        date = time.strftime("%Y-%m-%d", time.gmtime(_not_after_ms(mine) / 1000))
        national = re.search(r'<dd id="national-cert">(.*?)</dd>', page)
        assert national and 'class="cert valid"' in national.group(1)
        assert date in national.group(1)
        # and, first, what needs attention
        attention = _attention(page)
        assert "p51: certificate 9 days left" in attention
        assert "p31: 1 event(s) waiting, the oldest for 90 s" in attention
        assert "p44" not in attention and "national" not in attention

        # p31 back: its backlog is delivered and its lag gone
        await cluster.start_province("31")
        await eventually(lambda: taken("31"), what="p31 to take its backlog")
        page = (await http.get("/console/")).text
        row31 = _row(page, "31")
        assert '<span class="backlog">0</span>' in row31 and 'class="lag none"' in row31
        assert "p31" not in _attention(page) and "p51" in _attention(page)


def _attention(page: str) -> str:
    found = re.search(r'<section id="attention".*?</section>', page)
    return found.group(0) if found else ""


@pytest.mark.parametrize(
    ("left", "state", "words"),
    [
        (400 * DAY, "valid", "400 days left"),
        (30 * DAY + 60, "valid", "30 days left"),
        (30 * DAY - 60, "expiring", "29 days left"),
        (DAY + 60, "expiring", "1 day left"),
        (60, "expiring", "0 days left"),
        (-60, "expired", "EXPIRED"),
        (-3 * DAY - 60, "expired", "EXPIRED 3 day(s) ago"),
    ],
)
def test_a_certificate_is_expiring_under_30_days_and_expired_past_its_end(left, state, words):
    now = 1_800_000_000.0
    cert = CertExpiry(round((now + left) * 1000), now)
    assert (cert.state, cert.words()) == (state, words)
    assert f'class="cert {state}"' in cert.html()
    assert CertExpiry(0, now).state == "none" and "—" in CertExpiry(0, now).html()


def test_lag_is_late_over_a_minute_and_reads_as_an_operator_reads_it():
    now = 1_800_000_000_000
    assert _lag(0, now) == (-1, '<span class="lag none">—</span>')
    age, cell = _lag(now - 12_000, now)
    assert age == 12 and 'class="lag ok"' in cell and ">12 s<" in cell
    age, cell = _lag(now - 61_000, now)
    assert age == 61 and 'class="lag late"' in cell
    assert [_age(s) for s in (0, 119, 120, 7199, 7200, 172_799, 172_800)] == [
        "0 s",
        "119 s",
        "2 min",
        "119 min",
        "2 h",
        "47 h",
        "2 d",
    ]
