"""Settlement notices received (6.3.2 d: another insured province of a person settled
or reversed; table ``settlement_notices`` of provincial m006), one row per
(settlement, state): a reversal keeps the settled row beside it, and the current state
of a settlement is its row of highest ``version`` (settled 1, reversed 2). The notices
this province sends go through its outbox (``node/settlement/notice.py``)."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

__all__ = ["Notice", "ReceivedNotice", "NOTICE_VERSIONS", "q_put_notice", "q_list_notices"]


@dataclass(frozen=True, slots=True)
class Notice:
    """A settlement (or its reversal) of a person insured in several regions, as told to
    the person's other insured provinces (6.3.2 d). Amounts in fen; times in ms.
    Re-exported by ``node.settlement.notice``, where it is queued and listed."""

    settlement_id: str
    ec_card_no: str
    id_type: str
    id_no: str
    insu_org: str  # the insured region whose fund settled
    settled_by: str  # two-digit province code of the settling province
    med_type: str  # "outpatient" | "inpatient" | "pharmacy"
    fee_sumamt: int
    fund_pay: int
    psn_acct_pay: int
    own_pay_amt: int
    state: str  # "settled" | "reversed"
    at_ms: int  # when it was settled / reversed


@dataclass(frozen=True, slots=True)
class ReceivedNotice:
    notice: Notice
    received_at: int


# A notice event's version: a reversal supersedes the settlement.
NOTICE_VERSIONS = {"settled": 1, "reversed": 2}


def q_put_notice(conn: sqlite3.Connection, n: Notice, now_ms: int) -> bool:
    """Store a received notice unless this (settlement, state) is already here."""
    cur = conn.execute(
        "INSERT OR IGNORE INTO settlement_notices (settlement_id, state, version, ec_card_no, "
        "id_type, id_no, insu_org, settled_by, med_type, fee_sumamt, fund_pay, psn_acct_pay, "
        "own_pay_amt, at_ms, received_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        (
            n.settlement_id,
            n.state,
            NOTICE_VERSIONS[n.state],
            n.ec_card_no,
            n.id_type,
            n.id_no,
            n.insu_org,
            n.settled_by,
            n.med_type,
            n.fee_sumamt,
            n.fund_pay,
            n.psn_acct_pay,
            n.own_pay_amt,
            n.at_ms,
            now_ms,
        ),
    )
    return cur.rowcount == 1


def q_list_notices(
    conn: sqlite3.Connection, id_type: str, id_no: str, limit: int
) -> list[ReceivedNotice]:
    """Notices received for one person: each settlement's current state, newest first."""
    # The current state of each settlement: its row of highest version.
    rows = conn.execute(
        "SELECT settlement_id, ec_card_no, id_type, id_no, insu_org, settled_by, med_type, "
        "fee_sumamt, fund_pay, psn_acct_pay, own_pay_amt, state, at_ms, received_at "
        "FROM settlement_notices n "
        "WHERE id_type = ? AND id_no = ? AND NOT EXISTS (SELECT 1 FROM settlement_notices m "
        "WHERE m.settlement_id = n.settlement_id AND m.version > n.version) "
        "ORDER BY at_ms DESC, settlement_id LIMIT ?",
        (id_type, id_no, limit),
    )
    return [ReceivedNotice(Notice(*r[:13]), r[13]) for r in rows]
