"""Shared set-up of the settlement tests: a scan nation whose provinces settle under a
small test policy (amounts easy to work by hand), tokens from real scans, and
SettlementService stubs."""

from __future__ import annotations

from pathlib import Path

from scankit import ScanKit, start_scan_nation

from ecnet.v1 import settlement_service_pb2 as pb
from ecnet.v1 import settlement_service_pb2_grpc

# Every region: outpatient deductible 100 yuan, fund 70 %, 乙 first self-pay 10 %,
# yearly cap 1 000 yuan, personal account of 50 yuan covering the in-catalogue share.
POLICY = """
[default]
b_self_pay_bp = 1000
yearly_cap = 100_000
account_enabled = true
account_covers = "catalogue"
account_opening = 5_000

[default.deductible]
outpatient = 10_000
inpatient = 50_000
pharmacy = 0

[default.ratio_bp]
outpatient = 7000
inpatient = 9000
pharmacy = 5000
"""

A, B, C = pb.ITEM_CATEGORY_A, pb.ITEM_CATEGORY_B, pb.ITEM_CATEGORY_C
OUTPATIENT = pb.MEDICAL_TYPE_OUTPATIENT


def item(code: str, category: int, unit_price: int, quantity: int = 1) -> pb.FeeItem:
    return pb.FeeItem(
        code=code, name=f"项目{code}", category=category, unitPrice=unit_price, quantity=quantity
    )


async def start_settle_nation(cluster, root: Path, provinces=("44", "31"), **kw) -> ScanKit:
    policy = root / "policy.toml"
    policy.write_text(POLICY)
    extra = {"policy": str(policy), **kw.pop("extra", {})}
    return await start_scan_nation(cluster, root, provinces, extra=extra, **kw)


def settlement_stub(
    sk: ScanKit, province: str, terminal=None
) -> settlement_service_pb2_grpc.SettlementServiceStub:
    """SettlementService of ``province`` as ``terminal`` (default: its first) calls it,
    with that terminal's certificate: Settle is a terminal's call."""
    t = terminal or sk.terminals[province][0]
    who = sk.cluster.pki.terminal(t.terminal_id, t.org_id)
    return settlement_service_pb2_grpc.SettlementServiceStub(
        sk.cluster.stubs(sk.provinces[province], as_=who).channel
    )


async def token_for(sk: ScanKit, auth: str, scan_in: str, issued_by: str | None = None):
    """A fresh ecToken for ``auth``: a code displayed by ``issued_by`` (default: the
    scanning province), scanned by a terminal of ``scan_in``. Returns (token, terminal)."""
    code = await sk.issue(issued_by or scan_in, auth)
    scanner = sk.scanner(scan_in)
    got = await scanner.query(code)
    return got.ecToken, scanner.terminal


def settle_request(
    token: str, org_id: str, request_id: str, items, med_type: int = OUTPATIENT
) -> pb.SettleRequest:
    return pb.SettleRequest(
        ecToken=token, orgId=org_id, requestId=request_id, medType=med_type, items=items
    )
