"""The management center's terminal registry at national (7.2.1.1, table 1).

An institution registers each acceptance terminal with the fields of table 1; national
allocates its number (``node.domain.terminal_no``: province, year, 9 random digits, a
serial) and the date of registration (系统备案日期, Beijing time). The province where the
terminal stands copies its terminals from national (``AdminService/ListTerminals``,
``node.acceptance.terminals``) and accepts a scan only from one of them.

A revoked terminal stays in the registry, marked with when and why, and is no longer
copied to its province; its certificate goes on the national CA's CRL
(``ecnet terminals revoke`` does both), which refuses its calls on every node.
"""

from __future__ import annotations

import datetime as dt
import sqlite3

from node.clock import BEIJING
from node.domain.regions import is_province
from node.domain.terminal_no import (
    MAC_PATTERN,
    ORG_ID_PATTERN,
    VERSION_PATTERN,
    is_terminal_number,
    terminal_number,
)
from node.errors import EcError, Problems, invalid
from node.storage import national as q
from node.storage.national import TerminalRow
from node.voucher.context import Lifecycle

__all__ = ["TerminalRegistration", "register_terminal", "revoke_terminal", "MAX_REASON"]

MAX_REASON = 200
# Longest text of each field of table 1 (characters).
_MAX = {"orgName": 100, "name": 50, "purpose": 200, "developer": 100}
# Tries of a fresh random part when a number is taken (1 in 10**9 each).
_TRIES = 5


class TerminalRegistration:
    """The fields an institution gives (table 1 without number and date), checked."""

    def __init__(
        self,
        province: str,
        org_id: str,
        org_name: str,
        name: str,
        purpose: str,
        version: str,
        developer: str,
        mac: str,
    ) -> None:
        self.province = province.strip()
        self.org_id = org_id.strip()
        self.org_name = org_name.strip()
        self.name = name.strip()
        self.purpose = purpose.strip()
        self.version = version.strip()
        self.developer = developer.strip()
        self.mac = mac.strip().lower()

    def check(self) -> None:
        """-2 naming every field missing or wrong."""
        p = Problems()
        if p.require("province", self.province, hint="2 digits") and not is_province(self.province):
            p.wrong("province", f"{self.province[:8]!r} is not a province code (2 digits)")
        if p.require("orgId", self.org_id) and not ORG_ID_PATTERN.fullmatch(self.org_id):
            p.wrong("orgId", "letters, digits, '-' and '_', at most 40 characters")
        texts = {
            "orgName": self.org_name,
            "name": self.name,
            "purpose": self.purpose,
            "developer": self.developer,
        }
        for field, value in texts.items():
            if p.require(field, value):
                if len(value) > _MAX[field]:
                    p.wrong(field, f"has {len(value)} characters; at most {_MAX[field]}")
                elif any(ord(c) < 32 or ord(c) == 127 for c in value):
                    p.wrong(field, "holds a control character")
        if p.require("version", self.version, hint="X.Y") and not VERSION_PATTERN.fullmatch(
            self.version
        ):
            p.wrong("version", f"{self.version[:20]!r} is not X.Y (e.g. 1.2)")
        if p.require("mac", self.mac, hint="f8:34:41:bd:e1:88") and not MAC_PATTERN.fullmatch(
            self.mac
        ):
            p.wrong("mac", f"{self.mac[:20]!r} is not six hexadecimal pairs separated by ':'")
        p.check()


async def register_terminal(
    lc: Lifecycle, reg: TerminalRegistration, scope: str = ""
) -> TerminalRow:
    """The terminal registered, with its allocated number and date. ``scope``: the
    province a province operator is limited to (-4 for a terminal of another)."""
    reg.check()
    if scope and reg.province != scope:
        raise EcError(
            -4,
            f"the operator of province {scope} may register terminals of province {scope} "
            f"only, not of {reg.province}",
        )
    now = lc.now_ms()
    day = dt.datetime.fromtimestamp(now / 1000, BEIJING).date()
    randoms = [lc.entropy.randbelow(10**9) for _ in range(_TRIES)]

    def tx(conn: sqlite3.Connection) -> TerminalRow:
        serial = q.q_terminal_count(conn, reg.province) + 1
        if serial >= 10**5:
            raise EcError(
                -2, f"province {reg.province} has used every terminal serial (99999) of its numbers"
            )
        for random9 in randoms:
            number = terminal_number(reg.province, day.year, random9, serial)
            if q.q_terminal(conn, number) is None:
                break
        else:  # pragma: no cover - five collisions in 10**9
            raise EcError(-1, "could not allocate a free terminal number; try again")
        row = TerminalRow(
            number,
            reg.province,
            reg.org_id,
            reg.org_name,
            reg.name,
            reg.purpose,
            reg.version,
            reg.developer,
            day.isoformat(),
            reg.mac,
        )
        q.q_insert_terminals(conn, [row])
        return row

    return await lc.store.transact(tx)


async def revoke_terminal(
    lc: Lifecycle, terminal_id: str, reason: str, scope: str = ""
) -> tuple[TerminalRow, bool]:
    """The terminal after the revocation, and whether it was revoked before. ``scope``:
    the province a province operator is limited to (-4 for a terminal of another)."""
    terminal_id, reason = terminal_id.strip(), reason.strip()
    p = Problems()
    if p.require("terminalId", terminal_id, hint="20 digits") and not is_terminal_number(
        terminal_id
    ):
        p.wrong("terminalId", f"{terminal_id[:24]!r} is not a 20-digit terminal number")
    if len(reason) > MAX_REASON:
        p.wrong("reason", f"must be at most {MAX_REASON} characters")
    p.check()
    now = lc.now_ms()

    def tx(conn: sqlite3.Connection) -> tuple[TerminalRow, bool]:
        row = q.q_terminal(conn, terminal_id)
        if row is None:
            raise EcError(
                500100, f"terminal {terminal_id} is not registered with the management center"
            )
        if scope and row.province != scope:
            raise EcError(
                -4,
                f"terminal {terminal_id} is of province {row.province}: the operator of "
                f"province {scope} may revoke terminals of province {scope} only",
            )
        if row.revoked_at is not None:
            return row, True
        q.q_revoke_terminal(conn, terminal_id, now, reason)
        revoked = q.q_terminal(conn, terminal_id)
        if revoked is None:  # pragma: no cover - read in the same transaction
            raise invalid(f"terminal {terminal_id} vanished")
        return revoked, False

    return await lc.store.transact(tx)
