"""Signed events (issue 12, part 4; ``node.wire.signing``): every event is signed by the
node that originated it and checked by each receiver against the originator's key from
the directory, so a relay cannot alter what it passes on and a caller that merely
claims to be a node cannot plant anything.

The attacks of issue 12 run against real nodes: a notice "from p44" altered or forged
on its way to national (a made-up 999,999-yuan settlement), and a voucher planted at
province 44 "as national". Each is refused (-2), logged once with its origin, id and
reason, and nothing of it is stored or passed on.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import stat
import time

import pytest
from signkit import public_key, relayed, signed, stranger
from test_delivery import (
    card,
    enqueue,
    event,
    eventually,
    rpc_error,
    scalar,
)
from test_settlement_notices import ID_NO, ID_TYPE, as_event, list_notices, notice, received, send

from ecnet.v1 import federation_service_pb2 as fed_pb
from federation.inbox import wait_applied
from node.__main__ import build_parser
from node.app import Node, NodeStartError
from node.config import NodeConfig
from node.domain.sm import DEFAULT_UID, sm2_generate_keypair, sm2_sign, sm2_verify
from node.storage import outbox
from node.storage.outbox import OutboxStore
from node.wire.signing import canonical


def refusals(caplog) -> list[logging.LogRecord]:
    return [
        r for r in caplog.records if r.getMessage() == "event refused: its signature does not hold"
    ]


def with_amount(e: fed_pb.Event, fen: int) -> fed_pb.Event:
    """``e`` with its notice's amounts changed, its signature kept (altered in flight)."""
    out = fed_pb.Event()
    out.CopyFrom(e)
    payload = json.loads(e.payloadJson)
    payload.update(fee_sumamt=fen, fund_pay=fen, psn_acct_pay=0, own_pay_amt=0)
    out.payloadJson = json.dumps(payload, ensure_ascii=False, sort_keys=True)
    return out


async def test_a_notice_altered_or_forged_on_its_way_is_refused_by_national(cluster, caplog):
    caplog.set_level(logging.INFO)
    national = await cluster.start_national()
    p11 = await cluster.start_province("11")
    p44 = await cluster.start_province("44")
    s = cluster.stubs(national, as_="p44")
    genuine = as_event(notice("S-9"), "11", 1, p44)

    forged_with_another_key = as_event(notice("S-9"), "11", 1)
    stranger("p44").sign(forged_with_another_key)
    unsigned = as_event(notice("S-9"), "11", 1)
    unsigned.origin = "p44"
    attacks = {
        "the amount changed": with_amount(genuine, 99_999_900),
        "signed with a key that is not p44's": forged_with_another_key,
        "no signature": unsigned,
    }
    for what, e in attacks.items():
        request = fed_pb.DeliverEventsRequest(origin="p44", batchId=what, events=[e])
        code, message = await rpc_error(s.federation.DeliverEvents(request))
        assert code == -2 and "signature" in message and "S-9" in message, (what, message)

    # One log line each, naming origin, event and why.
    lines = refusals(caplog)
    assert len(lines) == len(attacks)
    assert {line.fields["origin"] for line in lines} == {"p44"}
    assert {line.fields["event_id"] for line in lines} == {"notice:S-9:settled"}
    assert [line.fields["reason"] for line in lines] == [
        "signature does not verify with p44's key",
        "signature does not verify with p44's key",
        "no signature",
    ]
    # Nothing was queued, the position did not move, and the insured province heard nothing.
    assert await scalar(national, "SELECT count(*) FROM outbox") == 0
    assert await national.store.load_inbox_position("p44") == 0

    # The genuine notice goes through, alone: the made-up amount never reached p11.
    request = fed_pb.DeliverEventsRequest(origin="p44", batchId="real", events=[genuine])
    assert (await s.federation.DeliverEvents(request)).appliedPosition == 1
    [got] = await received(p11)
    assert got.feeSumamt == 12_345 and got.settlementId == "S-9"
    assert await scalar(p11, "SELECT count(*) FROM settlement_notices") == 1


async def test_a_real_notice_is_relayed_with_its_origins_signature(cluster):
    national = await cluster.start_national()
    p11 = await cluster.start_province("11")
    p44 = await cluster.start_province("44")
    await send(p44, notice(), ["11"])
    [got] = await received(p11)
    assert got.settledBy == "44"

    # National's outbox holds p44's event as p44 signed it, with the key it checked.
    body = await national.store.db.read(
        lambda conn: conn.execute("SELECT body FROM outbox WHERE destination = '11'").fetchone()[0]
    )
    stored = fed_pb.Event.FromString(body)
    assert stored.origin == "p44" and stored.originKey == public_key(p44)
    assert sm2_verify(public_key(p44), canonical(stored), stored.signature)
    # p44's own outbox row carries the same signature: signed once, at the origin.
    mine = await p44.store.db.read(
        lambda conn: conn.execute("SELECT body FROM outbox").fetchone()[0]
    )
    assert fed_pb.Event.FromString(mine).signature == stored.signature


async def test_an_event_planted_at_a_province_as_national_is_refused(cluster, caplog):
    caplog.set_level(logging.WARNING)
    national = await cluster.start_national()
    p31 = await cluster.start_province("31")
    p44 = await cluster.start_province("44")
    s = cluster.stubs(p44, as_="national")
    code_of_attacker = "A77ACCE55C0DE0000000000000000001"

    def planted() -> fed_pb.Event:
        return event(card(1), 1, auths=(("thirdparty07", code_of_attacker, False),))

    unsigned = planted()
    unsigned.origin = "national"
    by_stranger = stranger("national").sign(planted())
    altered = signed(national, planted())[0]  # national's signature over another voucher
    altered.voucher.authorizations[0].authCode = "B" * 32
    # A notice "relayed from p31" with a key of the attacker's, endorsed by the attacker.
    fake_p31, fake_national = stranger("p31"), stranger("national")
    fake_notice = fake_p31.sign(as_event(notice(settled_by="31"), "44", 1))
    fake_notice.originKey = fake_p31.public_key
    fake_notice.originKeyEndorsement = fake_national.endorse("p31", fake_p31.public_key)
    # A genuine p31 notice whose endorsement is missing.
    bare_notice = signed(p31, as_event(notice(settled_by="31"), "44", 1))[0]
    bare_notice.originKey = public_key(p31)
    # A voucher event presented as relayed from a province: only notices are.
    from_p31 = relayed(national, p31, planted())[0]
    attacks = {
        "unsigned": (unsigned, "no signature"),
        "signed by another key": (by_stranger, "does not verify with national's key"),
        "altered after signing": (altered, "does not verify with national's key"),
        "notice with a forged key": (fake_notice, "endorsement of p31's key does not verify"),
        "notice without endorsement": (bare_notice, "without national's endorsement"),
        "voucher relayed from a province": (from_p31, "only a settlement notice"),
    }
    for what, (e, why) in attacks.items():
        e.sequence = 1
        request = fed_pb.DeliverEventsRequest(origin="national", batchId=what, events=[e])
        code, message = await rpc_error(s.federation.DeliverEvents(request))
        assert code == -2 and why in message, (what, message)
    assert len(refusals(caplog)) == len(attacks)

    # Nothing stored: no voucher, no authorization code, no notice, no position.
    assert await p44.store.get_voucher(card(1)) is None
    assert await p44.store.get_by_auth_code(code_of_attacker) is None
    assert await scalar(p44, "SELECT count(*) FROM inbox_events") == 0
    assert await scalar(p44, "SELECT count(*) FROM settlement_notices") == 0
    assert await p44.store.load_applied_position() == 0

    # What national signs, and a notice it relays with its endorsement, are applied.
    good = signed(national, planted())
    good[0].sequence = 1
    request = fed_pb.DeliverEventsRequest(origin="national", batchId="ok", events=good)
    assert (await s.federation.DeliverEvents(request)).appliedPosition == 1
    assert (await p44.store.get_voucher(card(1))).version == 1
    notice31 = relayed(national, p31, as_event(notice(settled_by="31"), "44", 2))
    request = fed_pb.DeliverEventsRequest(origin="national", batchId="ok2", events=notice31)
    assert (await s.federation.DeliverEvents(request)).appliedPosition == 2
    assert len(await list_notices(p44, ID_TYPE, ID_NO)) == 1


async def test_a_tampered_event_in_national_outbox_is_parked_and_the_rest_applied(cluster):
    # National's own outbox with a row altered after it was signed (a corrupted or
    # tampered database): the province refuses that event only; the ones before it are
    # applied, the position stops below it, and once it is parked the rest follow.
    national = await cluster.start_national(
        extra={"park_after_refusals": "2"}, delivery_scan_interval=0.2
    )
    national.national.delivery.backoff_base_s = 0.01
    national.national.delivery.backoff_cap_s = 0.05
    p44 = await cluster.start_province("44")
    first, bad, last = signed(national, *(event(card(n), 1) for n in (1, 2, 3)))
    tampered = fed_pb.Event()
    tampered.CopyFrom(bad)
    tampered.voucher.userName = "李四"  # after national signed it
    now = national.clock.now_ms()

    def write(conn):
        for e in (first, tampered, last):
            outbox.enqueue(conn, e, ["44"], now)

    await national.store.db.write(write)
    national.national.delivery.wake()
    seq = await OutboxStore(national.store.db).last_seq("44")
    await wait_applied(p44.provincial.inbox, seq)
    assert (await p44.store.get_voucher(card(1))).version == 1
    assert await p44.store.get_voucher(card(2)) is None
    assert (await p44.store.get_voucher(card(3))).version == 1
    rows = await national.store.db.read(
        lambda conn: conn.execute("SELECT event_id, error FROM outbox_parked").fetchall()
    )
    assert [r[0] for r in rows] == [bad.eventId] and "signature" in rows[0][1]


async def test_a_province_key_that_changes_is_taken_and_logged(cluster, caplog):
    caplog.set_level(logging.INFO)
    national = await cluster.start_national()
    p11 = await cluster.start_province("11")
    p44 = await cluster.start_province("44")
    old = public_key(p44)
    await p44.stop()
    os.unlink(p44.config.sign_key_path)  # the operator rotates p44's key
    again = await cluster.start_province("44")
    assert public_key(again) != old
    row = await national.store.get_node("44")
    assert row.sign_key == public_key(again)
    [line] = [r for r in caplog.records if r.getMessage().startswith("province's signing key")]
    assert line.fields["province"] == "44"
    # Its notices are verified with the new key; one signed with the old is refused.
    await send(again, notice(), ["11"])
    await received(p11)
    stale = p44.signer.sign(as_event(notice("S-2"), "11", 5))  # the old key
    s = cluster.stubs(national, as_="p44")
    request = fed_pb.DeliverEventsRequest(origin="p44", events=[stale])
    code, _ = await rpc_error(s.federation.DeliverEvents(request))
    assert code == -2


async def test_national_key_reaches_the_provinces_and_a_new_one_is_taken(cluster):
    national = await cluster.start_national(delivery_scan_interval=0.2)
    p44 = await cluster.start_province("44")
    assert p44.provincial.inbox.verifier.national_key == public_key(national)
    assert await p44.store.national_sign_key() == public_key(national)
    address = national.address
    await national.stop(grace=0)
    os.unlink(national.config.sign_key_path)
    national = await cluster.start_national(listen=address, delivery_scan_interval=0.2)

    # The next heartbeat brings the new key; national's events verify with it.
    async def learned():
        return p44.provincial.inbox.verifier.national_key == public_key(national)

    await eventually(learned, what="national's new key at p44")
    seq = await enqueue(national, [event(card(5), 1)])
    await wait_applied(p44.provincial.inbox, seq)
    assert (await p44.store.get_voucher(card(5))).version == 1


async def test_the_sign_key_file(cluster, tmp_path, monkeypatch):
    national = await cluster.start_national()
    path = national.config.sign_key_path
    assert path == national.config.data_dir / "sign.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    key = public_key(national)
    await national.stop(grace=0)
    again = await cluster.start_national(listen=national.address)
    assert public_key(again) == key  # kept across restarts
    await again.stop(grace=0)

    # --sign-key elsewhere; ECNET_SIGN_KEY is its default.
    elsewhere = tmp_path / "keys" / "p44.sign.key"
    monkeypatch.setenv("ECNET_SIGN_KEY", str(elsewhere))
    args = build_parser().parse_args(["--role", "national", "--data", "d"])
    assert args.sign_key == elsewhere
    args = build_parser().parse_args(["--role", "national", "--data", "d", "--sign-key", "k"])
    assert str(args.sign_key) == "k"
    config = cluster.config("national", data_dir=tmp_path / "other", sign_key=elsewhere)
    other = await cluster.start(config)
    assert elsewhere.exists() and stat.S_IMODE(elsewhere.stat().st_mode) == 0o600
    assert bytes.fromhex(elsewhere.read_text()) == other.signer.private_key
    assert not (config.data_dir / "sign.key").exists()
    await other.stop(grace=0)

    # A file that holds no key stops the start with one line that says where.
    elsewhere.write_text("not a key\n")
    node = Node(dataclasses.replace(config, listen="127.0.0.1:0"))
    with pytest.raises(NodeStartError, match="p44.sign.key is not an SM2 private key"):
        await node.start()


def test_sign_and_verify_cost():
    """The cost of one event's signature and its check (reported, and bounded loosely)."""
    keys = sm2_generate_keypair()
    e = event(card(1), 1, auths=(("official01", "A" * 32, False),))
    message = canonical(e)
    n = 200
    start = time.perf_counter()
    signatures = [sm2_sign(keys.private_key, message, DEFAULT_UID) for _ in range(n)]
    sign_us = (time.perf_counter() - start) / n * 1e6
    start = time.perf_counter()
    assert all(sm2_verify(keys.public_key, message, sig) for sig in signatures)
    verify_us = (time.perf_counter() - start) / n * 1e6
    print(f"SM2 sign {sign_us:.0f} us, verify {verify_us:.0f} us per event")
    assert sign_us < 20_000 and verify_us < 20_000


def test_the_canonical_form_covers_every_field_that_matters():
    base = event(card(1), 1, auths=(("official01", "A" * 32, False),))
    base.origin, base.payloadJson = "national", '{"x": 1}'
    base.createdAt.FromMilliseconds(1_767_225_600_000)
    changes = {
        "origin": lambda e: setattr(e, "origin", "p44"),
        "eventId": lambda e: setattr(e, "eventId", "other"),
        "kind": lambda e: setattr(e, "kind", "voucher.revoked"),
        "ecCardNo": lambda e: setattr(e, "ecCardNo", card(2)),
        "version": lambda e: setattr(e, "version", 2),
        "voucher": lambda e: setattr(e.voucher.authorizations[0], "revoked", True),
        "payloadJson": lambda e: setattr(e, "payloadJson", '{"x": 2}'),
        "createdAt": lambda e: e.createdAt.FromMilliseconds(1_767_225_600_001),
    }
    for name, change in changes.items():
        e = fed_pb.Event()
        e.CopyFrom(base)
        change(e)
        assert canonical(e) != canonical(base), name
    # Not the hop's sequence, nor what national adds when it relays.
    e = fed_pb.Event()
    e.CopyFrom(base)
    e.sequence, e.originKey, e.originKeyEndorsement = 9, b"k", b"s"
    assert canonical(e) == canonical(base)
    # Fields cannot slide into each other (each is length-prefixed).
    a, b = fed_pb.Event(), fed_pb.Event()
    a.eventId, a.kind = "ab", "c"
    b.eventId, b.kind = "a", "bc"
    assert canonical(a) != canonical(b)


@pytest.mark.parametrize("role", ["national", "provincial"])
def test_node_config_default_sign_key(role, tmp_path):
    config = NodeConfig(
        role=role,
        listen="127.0.0.1:0",
        data_dir=tmp_path,
        province="44" if role == "provincial" else "",
        national="127.0.0.1:1" if role == "provincial" else "",
    )
    assert config.sign_key_path == tmp_path / "sign.key"
