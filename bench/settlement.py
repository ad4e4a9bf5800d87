"""Scenarios of settlement (standard 6.4 b–c, 6.5): ``SettlementService/Settle``.

* "local settlement": at province 44 for persons insured in 44: the token read, then
  one durable write transaction (group-committed) that checks the key, uses the token,
  applies the policy, moves the account and the accumulators and records the row.
* "remote settlement": at province 31 for persons insured in 44: 31 writes the pending
  row and uses the token (one transaction), asks 44 through national (``RouteSettle``),
  44 settles (one transaction), 31 records the answer (one transaction).

Every call uses one ecToken (one settlement per token), so the setup writes a pool of
tokens straight into the serving province's ``ec_tokens`` for the official
authorizations of a few persons insured in 44 (the scan path is measured by the scan
scenarios). Each call settles two items (甲 and 乙) under a fresh requestId.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import math
import sqlite3
import time
from pathlib import Path
from typing import Any

from bench.env import Env
from bench.load import Call
from bench.pool import node_keys, pool, pool_seconds, wait_for_rows
from bench.scan import _holders
from bench.scenarios import TIMEOUT, scenario
from ecnet.v1 import admin_service_pb2 as admin_pb
from ecnet.v1 import settlement_service_pb2 as pb
from ecnet.v1 import settlement_service_pb2_grpc
from node.clock import SystemEntropy
from node.domain.ectoken import new_token
from node.pki import Identity

__all__ = ["local_settlement", "remote_settlement"]

# Tokens prepared per measured second (the pool must outlast every round's warm-up and
# window).
TOKENS_PER_SECOND = 2500
ITEMS = [
    pb.FeeItem(
        code="250101001", name="血常规", category=pb.ITEM_CATEGORY_A, unitPrice=2_500, quantity=1
    ),
    pb.FeeItem(
        code="XJ01CA01",
        name="阿莫西林胶囊",
        category=pb.ITEM_CATEGORY_B,
        unitPrice=1_280,
        quantity=2,
    ),
]


def _persons_at_44(db44: Path, auth_codes: list[str], deadline: float) -> list[tuple[Any, ...]]:
    """(ec_card_no, id_type, id_no, user_name, insuOrg) of the holders, once 44 has them all."""
    marks = ",".join("?" * len(auth_codes))
    rows = wait_for_rows(
        db44,
        "SELECT v.ec_card_no, v.id_type, v.id_no, v.user_name, v.insured_regions "
        "FROM channel_auths a "
        f"JOIN voucher_cache v USING (ec_card_no) WHERE a.code_hash IN ({marks})",
        [node_keys(db44).code_hash(c) for c in auth_codes],
        len(auth_codes),
        deadline,
        "vouchers",
    )
    return [(*r[:4], json.loads(r[4])[0]["insuOrg"]) for r in rows]


def _write_tokens(
    db: Path, serving: str, persons: list[tuple[Any, ...]], org_id: str, count: int
) -> list[str]:
    entropy = SystemEntropy()
    now = int(time.time() * 1000)
    tokens = [new_token(serving, entropy) for _ in range(count)]
    conn = sqlite3.connect(db, timeout=30, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(
            "INSERT INTO ec_tokens (token, ec_card_no, org_id, business_type, insu_org, "
            "id_type, id_no, user_name, issued_at, expires_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
            [
                (t, p[0], org_id, "02101", p[4], p[1], p[2], p[3], now, now + 3_600_000)
                for t, p in zip(tokens, itertools.cycle(persons), strict=False)
            ],
        )
        conn.execute("COMMIT")
        return tokens
    finally:
        conn.close()


async def _setup(env: Env, serving: str) -> Call:
    p44 = await env.province("44")
    node = p44 if serving == "44" else await env.province(serving)
    holders = await _holders(env)
    persons = await asyncio.to_thread(
        _persons_at_44, p44.data_dir / "provincial-44.db", holders, time.monotonic() + 30
    )
    terminals = await (await env.national()).admin.ListTerminals(
        admin_pb.ListTerminalsRequest(province=serving), timeout=TIMEOUT
    )
    terminal = terminals.terminals[0]
    org_id = terminal.orgId
    count = math.ceil(pool_seconds(env.params) * TOKENS_PER_SECOND)
    tokens = await asyncio.to_thread(
        _write_tokens, node.data_dir / f"provincial-{serving}.db", serving, persons, org_id, count
    )
    # Settle is a terminal's call: with the terminal's own certificate.
    channel, metadata = node.channel_as(Identity.terminal(org_id, terminal.terminalId))
    stub = settlement_service_pb2_grpc.SettlementServiceStub(channel)
    # Built beforehand, as the scan scenarios' requests are (bench.scan).
    take = pool(
        [
            pb.SettleRequest(
                ecToken=token,
                orgId=org_id,
                requestId=f"bench-{serving}-{i}",
                medType=pb.MEDICAL_TYPE_OUTPATIENT,
                items=ITEMS,
            )
            for i, token in enumerate(tokens)
        ],
        "tokens",
        "TOKENS_PER_SECOND",
    )

    async def call() -> None:
        s = (await stub.Settle(take(), timeout=TIMEOUT, metadata=metadata)).settlement
        if (
            s.state != pb.SETTLEMENT_STATE_SETTLED
            or s.feeSumamt != s.fundPay + s.psnAcctPay + s.ownPayAmt
        ):
            raise RuntimeError(f"settlement answered {s}")

    await call()  # fails the setup, not the measurement, when something is wrong
    return call


@scenario("local settlement (Settle at 44, insured in 44)")
async def local_settlement(env: Env) -> Call:
    return await _setup(env, "44")


@scenario("remote settlement (Settle at 31, insured in 44, via national)")
async def remote_settlement(env: Env) -> Call:
    return await _setup(env, "31")
