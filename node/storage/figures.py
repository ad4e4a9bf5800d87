"""The management center's figures (5.2.1): every query that counts what a node did, per
hour, from its own records (tables of national m017 and provincial m017, and the
ledgers they index; :mod:`node.storage.migrations`).

What is counted where:

* **National**: activations (``vouchers.activated_at``; the channel is the one of the
  voucher's first authorization, made by the activation; the province is the person's
  first insured province, the lowest ``insu_org``), authorizations (``authorizations``,
  by ``created_at``, activation's included).
* **A province**: QR codes issued and refreshed (``qr_issued``, a count per hour and
  channel kept in the issue's own transaction, since the codes themselves are deleted
  after their retention), scans answered with an ecToken (``ec_tokens.issued_at``; the
  other province is the person's insured one), settlements by the hour they were
  settled and reversals by the hour of the reversal, with their sums in fen
  (``settlements``, its rows made here as the serving province: local and remote).
* **Both**: the calls answered, per hour, method, C.4 code and calling channel or
  terminal (``call_tally``), and each terminal's and channel's last call
  (``callers_seen``), added by :func:`q_tally_add` from the counts kept in memory
  (``node.figures.CallTally``).

Hours are UTC-aligned instants (those of China Standard Time begin at the same
instants); a day is read as ``[start, end)`` milliseconds.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

__all__ = [
    "HOUR_MS",
    "Figure",
    "TallyKey",
    "hour_of",
    "q_count_qr",
    "q_tally_add",
    "q_last_seen",
    "q_national_figures",
    "q_provincial_figures",
]

HOUR_MS = 3_600_000

#: (hour, method, code, channel, terminal): a call counted.
TallyKey = tuple[int, str, int, str, str]


def hour_of(ms: int) -> int:
    """The first instant of the hour that holds ``ms``."""
    return ms - ms % HOUR_MS


@dataclass(frozen=True, slots=True)
class Figure:
    """How many of ``kind`` in the hour at one node, and their sums in fen
    (settlements and reversals)."""

    hour: int
    kind: str  # activation, authorization, qr_code, scan, settlement, reversal, call
    count: int
    peer_province: str = ""
    channel: str = ""
    method: str = ""
    code: int = 0
    terminal: str = ""
    fee_sumamt: int = 0
    fund_pay: int = 0
    psn_acct_pay: int = 0
    own_pay_amt: int = 0


def q_count_qr(conn: sqlite3.Connection, at_ms: int, channel_id: str) -> None:
    """One more code issued in ``at_ms``'s hour for ``channel_id`` (in the issue's
    transaction)."""
    conn.execute(
        "INSERT INTO qr_issued (hour, channel_id, count) VALUES (?, ?, 1) "
        "ON CONFLICT (hour, channel_id) DO UPDATE SET count = qr_issued.count + 1",
        (hour_of(at_ms), channel_id),
    )


def q_tally_add(
    conn: sqlite3.Connection, counts: Mapping[TallyKey, int], seen: Mapping[str, int]
) -> None:
    """Add the calls counted since the last time, and move each caller's last call on."""
    conn.executemany(
        "INSERT INTO call_tally (hour, method, code, channel_id, terminal_id, count) "
        "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (hour, method, code, channel_id, terminal_id) "
        "DO UPDATE SET count = call_tally.count + excluded.count",
        [(*key, n) for key, n in counts.items()],
    )
    conn.executemany(
        "INSERT INTO callers_seen (caller, last_at) VALUES (?, ?) ON CONFLICT (caller) "
        "DO UPDATE SET last_at = max(callers_seen.last_at, excluded.last_at)",
        list(seen.items()),
    )


def q_last_seen(conn: sqlite3.Connection, callers: Iterable[str]) -> dict[str, int]:
    """The last call of each of ``callers`` that ever called this node."""
    wanted = sorted(set(callers))
    if not wanted:
        return {}
    marks = ",".join("?" * len(wanted))
    return dict(
        conn.execute(
            f"SELECT caller, last_at FROM callers_seen WHERE caller IN ({marks})", wanted
        ).fetchall()
    )


def _calls(conn: sqlite3.Connection, start: int, end: int) -> list[Figure]:
    return [
        Figure(hour, "call", n, method=method, code=code, channel=channel, terminal=terminal)
        for hour, method, code, channel, terminal, n in conn.execute(
            "SELECT hour, method, code, channel_id, terminal_id, count FROM call_tally "
            "WHERE hour >= ? AND hour < ?",
            (start, end),
        )
    ]


def _snapshot(conn: sqlite3.Connection) -> None:
    conn.execute("BEGIN")


def q_national_figures(conn: sqlite3.Connection, start: int, end: int) -> list[Figure]:
    """National's figures of ``[start, end)``, read in one snapshot."""
    _snapshot(conn)
    try:
        out = [
            Figure(hour, "activation", n, peer_province=province or "", channel=channel or "")
            for hour, channel, province, n in conn.execute(
                f"SELECT v.activated_at - v.activated_at % {HOUR_MS} AS h,"
                " (SELECT a.channel_id FROM authorizations a WHERE a.ec_card_no = v.ec_card_no"
                "   ORDER BY a.created_at LIMIT 1) AS channel,"
                " (SELECT substr(min(r.insu_org), 1, 2) FROM insured_regions r"
                "   WHERE r.person_id = v.person_id) AS province,"
                " COUNT(*) FROM vouchers v"
                " WHERE v.activated_at IS NOT NULL AND v.activated_at >= ? AND v.activated_at < ?"
                " GROUP BY h, channel, province",
                (start, end),
            )
        ]
        out += [
            Figure(hour, "authorization", n, peer_province=province or "", channel=channel)
            for hour, channel, province, n in conn.execute(
                f"SELECT a.created_at - a.created_at % {HOUR_MS} AS h, a.channel_id,"
                " (SELECT substr(min(r.insu_org), 1, 2) FROM vouchers v"
                "   JOIN insured_regions r ON r.person_id = v.person_id"
                "   WHERE v.ec_card_no = a.ec_card_no) AS province,"
                " COUNT(*) FROM authorizations a WHERE a.created_at >= ? AND a.created_at < ?"
                " GROUP BY h, a.channel_id, province",
                (start, end),
            )
        ]
        out += _calls(conn, start, end)
    finally:
        conn.execute("COMMIT")
    return out


def _ledger(conn: sqlite3.Connection, column: str, kind: str, start: int, end: int) -> list[Figure]:
    present = f" AND {column} IS NOT NULL" if column == "reversed_at" else ""
    return [
        Figure(
            hour,
            kind,
            n,
            peer_province=province,
            fee_sumamt=fee,
            fund_pay=fund,
            psn_acct_pay=acct,
            own_pay_amt=own,
        )
        for hour, province, n, fee, fund, acct, own in conn.execute(
            f"SELECT {column} - {column} % {HOUR_MS} AS h, substr(insu_org, 1, 2) AS p,"
            " COUNT(*), SUM(fee_sumamt), SUM(fund_pay), SUM(psn_acct_pay), SUM(own_pay_amt)"
            f" FROM settlements WHERE kind <> 'insured'{present}"
            f" AND {column} >= ? AND {column} < ? GROUP BY h, p",
            (start, end),
        )
    ]


def q_provincial_figures(conn: sqlite3.Connection, start: int, end: int) -> list[Figure]:
    """A province's figures of ``[start, end)``, read in one snapshot."""
    _snapshot(conn)
    try:
        out = [
            Figure(hour, "qr_code", n, channel=channel)
            for hour, channel, n in conn.execute(
                "SELECT hour, channel_id, count FROM qr_issued WHERE hour >= ? AND hour < ?",
                (start, end),
            )
        ]
        out += [
            Figure(hour, "scan", n, peer_province=province)
            for hour, province, n in conn.execute(
                f"SELECT issued_at - issued_at % {HOUR_MS} AS h, substr(insu_org, 1, 2) AS p,"
                " COUNT(*) FROM ec_tokens WHERE issued_at >= ? AND issued_at < ? GROUP BY h, p",
                (start, end),
            )
        ]
        out += _ledger(conn, "settled_at", "settlement", start, end)
        out += _ledger(conn, "reversed_at", "reversal", start, end)
        out += _calls(conn, start, end)
    finally:
        conn.execute("COMMIT")
    return out
