"""Changes of the base registry (``AdminService.UpdatePerson``, standard 4.4).

A change of name, id type or id number supersedes the person's voucher: its state
becomes SUPERSEDED (pointing at the new number), every authorization code dies, flows in
progress end (500058), and the person must activate again, under a new number
(``voucher.superseded``). A change of insured regions gives the voucher data a new
version (``voucher.regions_changed``). Both events also reach the provinces the person
just left. A person without an active voucher is simply updated.
"""

from __future__ import annotations

import dataclasses
import sqlite3

from node.domain.idno import ID_TYPES, normalize_id, validate_id
from node.domain.regions import is_pooling_region
from node.domain.voucher_no import voucher_number
from node.domain.voucher_state import SUPERSEDED
from node.errors import EcError, invalid
from node.storage import national as q
from node.storage.national import RegionRow
from node.voucher.context import Lifecycle, parse_identity
from node.voucher.events import emit
from node.voucher.idempotency import fingerprint, recall, remember
from node.voucher.model import PersonUpdate, UpdateResult

__all__ = ["INSURANCE_TYPES", "update_person"]

INSURANCE_TYPES = {"310": "职工基本医疗保险", "390": "城乡居民基本医疗保险"}
MAX_NAME = 64


def _new_values(upd: PersonUpdate) -> tuple[str, str, str, tuple[RegionRow, ...]]:
    name = upd.new_user_name.strip()
    if upd.new_user_name and not name:
        raise invalid("newUserName must not be blank")
    if len(name) > MAX_NAME:
        raise invalid(f"newUserName must be at most {MAX_NAME} characters")
    if upd.new_id_type and upd.new_id_type not in ID_TYPES:
        raise invalid(f"newIdType {upd.new_id_type!r} is not a code of table C.2")
    new_type = upd.new_id_type or upd.id_type
    new_no = ""
    if upd.new_id_type or upd.new_id_no:
        new_no = normalize_id(new_type, upd.new_id_no or upd.id_no)
        problem = validate_id(new_type, new_no)
        if problem:
            raise invalid(f"newIdNo is not a valid number of id type {new_type}: {problem}")
    regions: list[RegionRow] = []
    for r in upd.insured:
        if not is_pooling_region(r.insu_org):
            raise invalid(f"insuOrg {r.insu_org!r} is not a pooling region code (e.g. 440100)")
        if r.insu_type not in INSURANCE_TYPES:
            raise invalid(f"insuType {r.insu_type!r} is not 310 or 390")
        if any(x.insu_org == r.insu_org for x in regions):
            raise invalid(f"insuOrg {r.insu_org} is listed twice")
        regions.append(RegionRow(r.insu_org, r.insu_type))
    if not (name or upd.new_id_type or upd.new_id_no or regions):
        raise invalid("nothing to change: give newUserName, newIdType, newIdNo or insuredRegions")
    return name, (new_type if upd.new_id_type or upd.new_id_no else ""), new_no, tuple(regions)


def _within(province: str, regions: list[str], what: str) -> None:
    outside = sorted({r for r in regions if r[:2] != province})
    if outside:
        raise EcError(
            -4,
            f"the operator of province {province} changes only persons insured in it; this "
            f"person {what} {', '.join(outside)}",
        )


async def update_person(
    lc: Lifecycle, caller: str, upd: PersonUpdate, request_id: str = "", province: str = ""
) -> UpdateResult:
    """Apply a registry change; supersede or re-version the voucher as 4.4 requires.
    ``province``: the caller is the operator of that province only: the person must be
    insured there alone, and stay so (-4 otherwise)."""
    cur = parse_identity("", upd.id_type, upd.id_no, need_name=False)
    name, new_type, new_no, regions = _new_values(upd)
    now = lc.now_ms()
    key = await lc.key()
    fp = fingerprint(cur.id_type, cur.id_no, name, new_type, new_no, regions)

    def tx(conn: sqlite3.Connection) -> UpdateResult:
        prior = recall(conn, caller, "UpdatePerson", request_id, fp, UpdateResult)
        if prior is not None:
            return prior
        before = q.q_person(conn, cur.id_type, cur.id_no)
        if before is None:
            raise EcError(500050, "no person with this id type and id number in the base registry")
        if province:
            _within(province, [r.insu_org for r in before.insured], "is insured in")
            _within(province, [r.insu_org for r in regions], "would be insured in")
        after_ident = (name or before.user_name, new_type or before.id_type, new_no or before.id_no)
        identity_changed = after_ident != (before.user_name, before.id_type, before.id_no)
        if after_ident[1:] != (before.id_type, before.id_no):
            other = q.q_person(conn, after_ident[1], after_ident[2])
            if other is not None:
                raise invalid(
                    "another person is already registered with the new id type and id number"
                )
        regions_changed = bool(regions) and set(regions) != set(before.insured)
        if regions_changed:
            q.q_replace_regions(conn, before.person_id, regions, now)
        if identity_changed:
            q.q_update_identity(conn, before.person_id, *after_ident, now)
        after = q.q_person_by_id(conn, before.person_id)
        assert after is not None  # the person read above, in this transaction
        left = {r.insu_org[:2] for r in before.insured}
        number = voucher_number(after.id_type, after.id_no, after.user_name, key)
        v = q.q_live_voucher(conn, before.person_id)
        superseded, old_number, version = False, "", 0
        if v is not None and identity_changed:
            q.q_revoke_all(conn, v.ec_card_no, now)
            row = dataclasses.replace(
                v,
                state=SUPERSEDED,
                version=v.version + 1,
                updated_at=now,
                superseded_by=number,
                frozen_until=None,
            )
            q.q_put_voucher(conn, row)
            # The old voucher as issued (old identity), with the regions of now.
            emit(
                conn,
                lc,
                "voucher.superseded",
                row,
                dataclasses.replace(before, insured=after.insured),
                now,
                payload={"supersededBy": number},
                extra=left,
            )
            superseded, old_number, version = True, v.ec_card_no, row.version
        elif v is not None and regions_changed:
            row = dataclasses.replace(v, version=v.version + 1, updated_at=now)
            q.q_put_voucher(conn, row)
            emit(
                conn,
                lc,
                "voucher.regions_changed",
                row,
                after,
                now,
                payload={"previousInsuOrgs": [r.insu_org for r in before.insured]},
                extra=left,
            )
            version = row.version
        elif v is not None:
            version = v.version
        result = UpdateResult(after, number, superseded, old_number, version)
        remember(conn, caller, "UpdatePerson", request_id, fp, result, now)
        return result

    result = await lc.store.transact(tx)
    lc.wake()
    return result
