"""Scanning (6.3, 6.4 a) at real provincial nodes with a real national between them:
a local scan, a code of one province scanned in another (routed through national),
one business per code, expiry under an injected clock, forged values, the terminal and
input checks of table B.3, the ecToken and its check."""

from __future__ import annotations

import asyncio
import dataclasses
import re

import pytest
from scankit import Scanner, Terminal, code_row, insured_in, start_scan_nation
from voucherkit import fails

from node.clock import SeededEntropy
from node.domain.qrcode import new_code

TOKEN = re.compile(r"^(\d{6})ec[0-9a-z]{30}$")


@pytest.fixture
async def nation(cluster, tmp_path):
    return await start_scan_nation(cluster, tmp_path, ("44", "31"), fake_clock=("44", "31"))


@pytest.mark.backends  # and on PostgreSQL (tests/conftest.py)
async def test_local_scan_answers_table_b4_and_a_token(nation):
    p = insured_in(nation.kit, "44")[0]
    auth = await nation.activated(p, "44")
    code = await nation.issue("44", auth)
    scanner = nation.scanner("44")

    got = await scanner.query(code)
    assert (got.userName, got.idType, got.idNo) == (p.user_name, p.id_type, p.id_no)
    assert got.insuOrg == p.insured[0].insu_org
    assert (got.gender, got.birthday, got.nationality) == (p.gender, p.birthday, p.nationality)
    m = TOKEN.match(got.ecToken)
    assert m and m.group(1) == "440000" and len(got.ecToken) == 38

    row = await code_row(nation.provinces["44"], code)
    assert row["state"] == "used" and row["used_by"] == scanner.terminal.terminal_id

    # one business per code (4.11): the same terminal, another terminal, both refused
    await fails(scanner.query(code), 500005)
    await fails(nation.scanner("44", 1).query(code), 500005)


@pytest.mark.backends  # and on PostgreSQL (tests/conftest.py)
async def test_a_code_of_44_scanned_in_31_is_routed_through_national(nation):
    p = insured_in(nation.kit, "44")[1]
    auth = await nation.activated(p, "44")
    code = await nation.issue("44", auth)
    scanner = nation.scanner("31")

    got = await scanner.query(code)
    assert (got.userName, got.idNo, got.insuOrg) == (p.user_name, p.id_no, p.insured[0].insu_org)
    # the serving province (31) issues the token; it keeps no copy of a visitor it did
    # not hold (national would not keep such a copy current)
    assert got.ecToken.startswith("310000ec")
    p31 = nation.provinces["31"]
    row = await code_row(nation.provinces["44"], code)
    assert row["state"] == "used" and row["used_by"] == scanner.terminal.terminal_id
    assert await p31.store.get_by_auth_code(auth) is None
    assert (await scanner.check_token(got.ecToken, p)).flag == 1
    # the token is the serving province's: the issuer does not know it
    await fails(nation.scanner("44").check_token(got.ecToken, p), 500067)

    await fails(scanner.query(code), 500005)
    await fails(nation.scanner("44").query(code), 500005)


@pytest.mark.backends  # and on PostgreSQL (tests/conftest.py)
async def test_an_expired_code_is_refused(nation):
    p = insured_in(nation.kit, "44")[2]
    auth = await nation.activated(p, "44")
    first = await nation.issue("44", auth)
    nation.clocks["44"].advance(61)  # codes live 60 s by default
    await fails(nation.scanner("44").query(first), 500005)
    second = await nation.issue("44", auth)
    nation.clocks["44"].advance(61)
    message = await fails(nation.scanner("31").query(second), 500005)
    assert "expired" in message


@pytest.mark.backends  # and on PostgreSQL (tests/conftest.py)
async def test_a_refreshed_code_is_dead(nation):
    p = insured_in(nation.kit, "44")[3]
    auth = await nation.activated(p, "44")
    old = await nation.issue("44", auth)
    new = await nation.issue("44", auth)
    message = await fails(nation.scanner("44").query(old), 500005)
    assert "replaced" in message
    assert (await nation.scanner("44").query(new)).ecToken


async def test_a_forged_value_is_refused_before_any_database_access(nation):
    p = insured_in(nation.kit, "44")[4]
    auth = await nation.activated(p, "44")
    scanner = nation.scanner("44")
    await scanner.query(await nation.issue("44", auth))  # warm: key and terminals loaded

    p44 = nation.provinces["44"]
    db = p44.store.db
    touched = []
    real_read, real_write = db.read, db.write

    async def read(fn, *args):
        touched.append(("read", fn.__name__))
        return await real_read(fn, *args)

    async def write(fn, *args):
        touched.append(("write", fn.__name__))
        return await real_write(fn, *args)

    db.read, db.write = read, write
    try:
        forged = new_code(b"not the province key", "44", SeededEntropy(5))
        assert "check of its issuer" in await fails(scanner.query(forged), 500049)
        genuine = await nation.issue("44", auth)
        touched.clear()
        tampered = genuine[:10] + str((int(genuine[10]) + 1) % 10) + genuine[11:]
        await fails(scanner.query(tampered), 500049)
        await fails(scanner.query("4241234567890123456789990000"), 500049)  # no province 99
        assert touched == []
    finally:
        db.read, db.write = real_read, real_write
    # a forged value of another province is refused by that province (routed)
    forged31 = new_code(b"not the province key", "44", SeededEntropy(6))
    await fails(nation.scanner("31").query(forged31), 500049)


@pytest.mark.backends  # and on PostgreSQL (tests/conftest.py)
async def test_token_check_flag_and_expiry(nation):
    p = insured_in(nation.kit, "44")[5]
    other = insured_in(nation.kit, "44")[6]
    auth = await nation.activated(p, "44")
    scanner = nation.scanner("44")
    token = (await scanner.query(await nation.issue("44", auth))).ecToken

    ok = await scanner.check_token(token, p)
    assert (ok.flag, ok.insuOrg, list(ok.mismatches)) == (1, p.insured[0].insu_org, [])
    assert (await scanner.check_token(token, p, orgId=scanner.terminal.org_id)).flag == 1
    # flag 0 says which fields of the request are not the token's
    another = await scanner.check_token(token, other)
    assert (another.flag, list(another.mismatches)) == (0, ["idNo", "userName"])
    wrong_org = await scanner.check_token(token, p, orgId="H4400000000")
    assert (wrong_org.flag, list(wrong_org.mismatches)) == (0, ["orgId"])
    renamed = dataclasses.replace(p, user_name=p.user_name + "华", id_no=p.id_no.lower())
    named = await scanner.check_token(token, renamed)  # the id's x compares as X
    assert (named.flag, list(named.mismatches)) == (0, ["userName"])
    await fails(scanner.check_token("440000ec" + "0" * 30, p), 500067)
    await fails(scanner.check_token("not-a-token", p), 500067)

    nation.clocks["44"].advance(30 * 60 + 1)  # default lifetime: 30 minutes
    assert "expired" in await fails(scanner.check_token(token, p), 500067)


@pytest.mark.backends  # and on PostgreSQL (tests/conftest.py)
async def test_terminal_must_be_registered_here_and_bound_to_the_org(nation, cluster):
    p = insured_in(nation.kit, "44")[7]
    auth = await nation.activated(p, "44")
    code = await nation.issue("44", auth)
    p44 = nation.provinces["44"]
    t44 = nation.terminals["44"][0]
    t31 = nation.terminals["31"][0]
    other_org = next(t.org_id for t in nation.terminals["44"] if t.org_id != t44.org_id)

    # no terminal's certificate (the operator's): no terminal, whatever the metadata says
    assert "ec-terminal-id metadata alone grants nothing" in await fails(
        Scanner(cluster, p44, None).query(code, org_id=t44.org_id), -4
    )
    await fails(
        Scanner(cluster, p44, t31).query(code, org_id=t31.org_id), 500100
    )  # a terminal of 31
    await fails(nation.scanner("44").query(code, org_id=other_org), 500100)
    unregistered = type(t44)(
        "44202400000000099999", t44.org_id, "44"
    )  # a certificate, no registration
    await fails(Scanner(cluster, p44, unregistered).query(code), 500100)
    # none of these spent the code
    assert (await nation.scanner("44").query(code)).ecToken


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"org_id": ""}, 500098),
        ({"businessType": "01105"}, -2),
        ({"businessType": "1"}, -2),
        ({"businessType": ""}, -2),
        ({"operatorId": ""}, -2),
        ({"operatorName": ""}, -2),
        ({"operatorId": "x" * 21}, -2),
        ({"operatorName": "名" * 31}, -2),
        ({"officeName": "科" * 31}, -2),
        ({"businessInfo": "i" * 201}, -2),
        ({"org_id": "O" * 41}, -2),
    ],
)
async def test_table_b3_inputs_are_checked(nation, change, code):
    fields = dict(change)
    org = fields.pop("org_id", None)
    await fails(
        nation.scanner("44").query("4240000000000000000000440000", org_id=org, **fields), code
    )


async def test_the_code_itself_is_required(nation):
    assert "ecQrCode" in await fails(nation.scanner("44").query(""), -2)


@pytest.mark.backends  # and on PostgreSQL (tests/conftest.py)
async def test_a_terminal_registered_later_is_learnt_from_national(cluster, tmp_path):

    from scankit import start_scan_nation as start

    sk = await start(cluster, tmp_path, ("44",), extra={"terminal_miss_refresh": "0.1"})
    p = insured_in(sk.kit, "44")[0]
    auth = await sk.activated(p, "44")
    await sk.scanner("44").query(await sk.issue("44", auth))  # 44 has copied national's list
    new = Terminal("44202599999999900099", "H44010600001", "44")
    code = await sk.issue("44", auth)
    scanner = Scanner(cluster, sk.provinces["44"], new)
    await fails(scanner.query(code), 500100)

    def register(conn):
        conn.execute(
            "INSERT INTO terminals (terminal_id, province, org_id, org_name, name, purpose, "
            "version, developer, registered_on, mac) "
            "VALUES (?, '44', ?, '广州测试医院', '挂号自助终端', '', '1.0', '', '2025-01-01', "
            "'02:00:00:00:00:01')",
            (new.terminal_id, new.org_id),
        )

    await sk.kit.national.store.transact(register)
    await asyncio.sleep(0.15)  # past terminal_miss_refresh: an unknown terminal makes 44 ask again
    assert (await scanner.query(code)).idNo == p.id_no
