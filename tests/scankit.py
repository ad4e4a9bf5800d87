"""Shared set-up of the scan tests: a seeded nation with real provincial nodes, their
registered terminals, an activated voucher, codes issued through QrService, and
AcceptanceService stubs that call as one terminal."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from chankit import QR, signed
from voucherkit import OFFICIAL, Kit, activate, start_nation

from ecnet.v1 import acceptance_service_pb2 as pb
from ecnet.v1 import acceptance_service_pb2_grpc, qr_service_pb2_grpc
from ecnet.v1 import admin_service_pb2 as admin_pb
from ecnet.v1 import qr_service_pb2 as qr_pb
from node.clock import Clock, FakeClock

QUERY_FIELDS = {
    "businessType": "01101",
    "operatorId": "test001",
    "operatorName": "张医生",
    "officeId": "32760",
    "officeName": "消化内科",
}


async def eventually(check, timeout: float = 15.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while not (result := await check()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)
    return result


@dataclass(frozen=True)
class Terminal:
    terminal_id: str
    org_id: str
    province: str


class Scanner:
    """AcceptanceService of one province as one terminal calls it."""

    def __init__(self, cluster, node, terminal: Terminal | None) -> None:
        self.node = node
        self.terminal = terminal
        # the terminal's certificate (none: the operator's, which is no terminal)
        who = (
            cluster.pki.terminal(terminal.terminal_id, terminal.org_id) if terminal else "operator"
        )
        self.stub = acceptance_service_pb2_grpc.AcceptanceServiceStub(
            cluster.stubs(node, as_=who).channel
        )
        self.metadata: tuple[tuple[str, str], ...] = ()

    def query(self, code: str, org_id: str | None = None, **fields):
        org = org_id if org_id is not None else (self.terminal.org_id if self.terminal else "")
        request = pb.QueryRequest(orgId=org, ecQrCode=code, **{**QUERY_FIELDS, **fields})
        return self.stub.Query(request, metadata=self.metadata, timeout=10)

    def check_token(self, token: str, person, **kw):
        request = pb.CheckTokenRequest(
            ecToken=token, idType=person.id_type, idNo=person.id_no, userName=person.user_name, **kw
        )
        return self.stub.CheckToken(request, metadata=self.metadata, timeout=10)


@dataclass
class ScanKit:
    kit: Kit
    provinces: dict = field(default_factory=dict)  # code -> Node
    clocks: dict = field(default_factory=dict)  # code -> FakeClock (provinces started on one)
    terminals: dict = field(default_factory=dict)  # code -> [Terminal]

    @property
    def cluster(self):
        return self.kit.cluster

    def scanner(self, province: str, index: int = 0) -> Scanner:
        return Scanner(self.cluster, self.provinces[province], self.terminals[province][index])

    async def activated(self, person, business_province: str, channel: str = OFFICIAL) -> str:
        """Activate ``person`` and wait until the business-place province has it: the authCode."""
        act = await activate(self.kit, person, channel, business_province=business_province)
        node = self.provinces[business_province]

        async def there():
            m = await node.store.get_by_auth_code(act.authCode)
            return m is not None and m.voucher.state == 2

        await eventually(there, what=f"the voucher at {node.config.name}")
        return act.authCode

    async def issue(
        self, province: str, auth_code: str, channel: str = OFFICIAL, insu_org: str = ""
    ) -> str:
        """A live code for ``auth_code``, displayed by ``province`` (QrService/IssueQrCode)."""
        node = self.provinces[province]
        stub = qr_service_pb2_grpc.QrServiceStub(self.cluster.stubs(node).channel)
        request = qr_pb.IssueQrCodeRequest(authCode=auth_code, insuOrg=insu_org)
        md = signed(self.cluster.root, channel, QR + "IssueQrCode", request, node.clock)
        resp = await stub.IssueQrCode(request, metadata=md, timeout=10)
        assert resp.ecQrCode, resp
        return resp.ecQrCode


async def terminals_of(kit: Kit, province: str) -> list[Terminal]:
    resp = await kit.admin().ListTerminals(
        admin_pb.ListTerminalsRequest(province=province), timeout=10
    )
    return [Terminal(t.terminalId, t.orgId, t.province) for t in resp.terminals]


async def start_scan_nation(
    cluster,
    root,
    provinces=("44", "31"),
    *,
    fake_clock: tuple[str, ...] = (),
    extra: dict | None = None,
    population: int = 300,
    https: bool = False,
) -> ScanKit:
    """National (FakeClock) and ``provinces``; those in ``fake_clock`` run on their own
    FakeClock (``sk.clocks[code]``); ``https``: the provinces serve their HTTPS doors too."""
    kit = await start_nation(cluster, root, population=population, https=https)
    sk = ScanKit(kit)
    for code in provinces:
        clock: Clock | None = None
        if code in fake_clock:
            clock = sk.clocks[code] = FakeClock(t=time.time())
        more = {"https": "127.0.0.1:0"} if https else {}
        config = cluster.config("provincial", code, extra=dict(extra or {}), **more)
        sk.provinces[code] = await cluster.start(config, clock)
        sk.terminals[code] = await terminals_of(kit, code)
        for t in sk.terminals[code]:  # each holds its certificate, as in a nation
            cluster.pki.terminal(t.terminal_id, t.org_id)
    return sk


def insured_in(kit: Kit, province: str):
    return [
        p
        for p in kit.population
        if len(p.insured) == 1 and p.insured[0].insu_org.startswith(province)
    ]


async def code_row(node, code: str) -> dict | None:
    def read(conn):
        r = conn.execute("SELECT * FROM qr_codes WHERE code = ?", (code,)).fetchone()
        return dict(r) if r else None

    return await node.store.db.read(read)
