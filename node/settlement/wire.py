"""Settlement values to and from their protos, kept at the edge."""

from __future__ import annotations

import json
from typing import Any

from ecnet.v1 import settlement_service_pb2 as pb
from node.clock import timestamp
from node.settlement.ledger import SettleInput
from node.settlement.medtypes import MED_TYPE_OF, MED_TYPE_PROTO
from node.settlement.policy import Item
from node.settlement.statement import Part, Statement, Totals
from node.storage.provincial import Notice
from node.storage.settlement import DayRow, SettlementRow

__all__ = [
    "MED_TYPE_OF",
    "MED_TYPE_PROTO",
    "input_from_proto",
    "input_to_proto",
    "settlement_to_proto",
    "row_from_proto",
    "notice_to_proto",
    "day_row_to_proto",
    "statement_to_proto",
]

_CATEGORY_OF = {pb.ITEM_CATEGORY_A: "A", pb.ITEM_CATEGORY_B: "B", pb.ITEM_CATEGORY_C: "C"}
_CATEGORY_PROTO = {v: k for k, v in _CATEGORY_OF.items()}
_STATE_PROTO = {
    "settled": pb.SETTLEMENT_STATE_SETTLED,
    "reversed": pb.SETTLEMENT_STATE_REVERSED,
    "pending": pb.SETTLEMENT_STATE_PENDING,
}
_STATE_OF = {v: k for k, v in _STATE_PROTO.items()}


def input_from_proto(msg: pb.SettleRequest) -> SettleInput:
    """The request as the ledger takes it. A medical type or category left unspecified
    becomes "" (money is not settled on a guess), which the settlement's check refuses
    (-2) together with every other missing field (``core.check_input``)."""
    med = MED_TYPE_OF.get(msg.medType, "")
    items = [
        Item(
            code=i.code,
            name=i.name,
            category=_CATEGORY_OF.get(i.category, ""),
            unit_price=i.unitPrice,
            quantity=i.quantity,
        )
        for i in msg.items
    ]
    return SettleInput(
        ec_token=msg.ecToken,
        org_id=msg.orgId,
        request_id=msg.requestId,
        med_type=med,
        items=tuple(items),
    )


def _items_to_proto(items: list[dict[str, Any]]) -> list[pb.FeeItem]:
    return [
        pb.FeeItem(
            code=i["code"],
            name=i["name"],
            category=_CATEGORY_PROTO[i["category"]],
            unitPrice=i["unitPrice"],
            quantity=i["quantity"],
        )
        for i in items
    ]


def input_to_proto(inp: SettleInput) -> pb.SettleRequest:
    return pb.SettleRequest(
        ecToken=inp.ec_token,
        orgId=inp.org_id,
        requestId=inp.request_id,
        medType=MED_TYPE_PROTO[inp.med_type],
        items=_items_to_proto(json.loads(inp.items_json())),
    )


def settlement_to_proto(row: SettlementRow) -> pb.Settlement:
    msg = pb.Settlement(
        settlementId=row.settlement_id,
        requestId=row.request_id,
        orgId=row.org_id,
        insuOrg=row.insu_org,
        medType=MED_TYPE_PROTO[row.med_type],
        items=_items_to_proto(row.item_dicts()),
        feeSumamt=row.fee_sumamt,
        fundPay=row.fund_pay,
        psnAcctPay=row.psn_acct_pay,
        ownPayAmt=row.own_pay_amt,
        state=_STATE_PROTO[row.state],
        settledBy=row.settled_by,
        servingProvince=row.serving_province,
        acctBalance=row.acct_balance,
        deductiblePart=row.deductible_part,
        reverseRequestId=row.reverse_request_id,
    )
    if row.settled_at is not None:
        msg.settledAt.CopyFrom(timestamp(row.settled_at))
    if row.reversed_at is not None:
        msg.reversedAt.CopyFrom(timestamp(row.reversed_at))
    return msg


def row_from_proto(msg: pb.Settlement, template: SettlementRow) -> SettlementRow:
    """The insured province's answer as a row (the serving side's ``template`` gives
    what the answer does not carry)."""
    return template.with_(
        state=_STATE_OF.get(msg.state, "settled"),
        fee_sumamt=msg.feeSumamt,
        fund_pay=msg.fundPay,
        psn_acct_pay=msg.psnAcctPay,
        own_pay_amt=msg.ownPayAmt,
        deductible_part=msg.deductiblePart,
        acct_balance=msg.acctBalance,
        settled_by=msg.settledBy,
        settled_at=msg.settledAt.ToMilliseconds() if msg.HasField("settledAt") else None,
        reversed_at=msg.reversedAt.ToMilliseconds() if msg.HasField("reversedAt") else None,
        reverse_request_id=msg.reverseRequestId,
    )


def notice_to_proto(n: Notice, received_at_ms: int) -> pb.SettlementNotice:
    """A settlement notice as received here (6.3.2 d)."""
    return pb.SettlementNotice(
        settlementId=n.settlement_id,
        ecCardNo=n.ec_card_no,
        insuOrg=n.insu_org,
        settledBy=n.settled_by,
        medType=MED_TYPE_PROTO[n.med_type],
        feeSumamt=n.fee_sumamt,
        fundPay=n.fund_pay,
        psnAcctPay=n.psn_acct_pay,
        ownPayAmt=n.own_pay_amt,
        state=_STATE_PROTO[n.state],
        at=timestamp(n.at_ms),
        receivedAt=timestamp(received_at_ms),
    )


def day_row_to_proto(r: DayRow, province: str) -> pb.DaySettlement:
    """A line of the day's list of an institution of ``province``."""
    msg = pb.DaySettlement(
        settlementId=r.settlement_id,
        requestId=r.request_id,
        orgId=r.org_id,
        settledAt=timestamp(r.settled_at),
        insuredProvince=r.insu_org[:2],
        insuOrg=r.insu_org,
        userName=r.user_name,
        medType=MED_TYPE_PROTO[r.med_type],
        feeSumamt=r.fee_sumamt,
        fundPay=r.fund_pay,
        psnAcctPay=r.psn_acct_pay,
        ownPayAmt=r.own_pay_amt,
        state=_STATE_PROTO[r.state],
        locality=pb.LOCALITY_LOCAL if r.kind == "local" else pb.LOCALITY_REMOTE,
        settledBy=r.settled_by,
    )
    if r.reversed_at is not None:
        msg.reversedAt.CopyFrom(timestamp(r.reversed_at))
    return msg


def _totals(t: Totals) -> pb.Totals:
    return pb.Totals(
        count=t.count,
        feeSumamt=t.fee_sumamt,
        fundPay=t.fund_pay,
        psnAcctPay=t.psn_acct_pay,
        ownPayAmt=t.own_pay_amt,
    )


def _part(p: Part) -> pb.StatementPart:
    return pb.StatementPart(
        settled=_totals(p.settled), reversed=_totals(p.reversed), net=_totals(p.net)
    )


def statement_to_proto(s: Statement) -> pb.DayStatement:
    return pb.DayStatement(
        date=s.date,
        province=s.province,
        orgId=s.org_id,
        local=_part(s.local),
        remote=_part(s.remote),
        total=_part(s.total),
        pendingCount=s.pending,
        dayStart=timestamp(s.start_ms),
        dayEnd=timestamp(s.end_ms),
    )
