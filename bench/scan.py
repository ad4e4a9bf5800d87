"""Scenarios of scanning (standard 6.3, 6.4 a): ec.query at a provincial node.

* "local ec.query": one call is ``AcceptanceService/Trans`` (``transType`` ec.query,
  the Appendix B envelope a terminal sends) at province 44 for a code issued by 44:
  terminal check (in memory), keyed check of the value, one write transaction that
  claims the code, reads the cached voucher and records the ecToken.
* "routed ec.query": the same call at province 31 for a code issued by 44: 31 →
  national (``RouteQuery``, forwarded unread) → 44 (claim, one transaction) → back to
  31, which caches the visitor's voucher and records the token (one transaction).

Every call spends one code, so the setup prepares a pool of live codes beforehand:
written straight into province 44's ``qr_codes`` (the bench holds the province's
``qr_key``, read from — or, first, written into — its ``meta``), for the official
authorizations of a few persons insured in 44. IssueQrCode keeps one live code per
authorization, so going through it would allow one code in flight per person; the
issue path is measured by its own scenario ("Code issue").
"""

from __future__ import annotations

import asyncio
import json
import math
import sqlite3
import time
from pathlib import Path

from bench.env import Env
from bench.http import HttpConnections
from bench.lifecycle import PASSWORD, _activate, _persons
from bench.load import Call
from bench.pool import node_keys, pool, pool_seconds, wait_for_rows
from bench.scenarios import TIMEOUT, scenario
from ecnet.v1 import acceptance_service_pb2 as acc_pb
from ecnet.v1 import acceptance_service_pb2_grpc, voucher_service_pb2_grpc
from ecnet.v1 import admin_service_pb2 as admin_pb
from ecnet.v1 import voucher_service_pb2 as pb
from ecnet.v1.common_pb2 import Terminal
from node.clock import SystemEntropy
from node.domain.qrcode import new_code
from node.pki import Identity
from node.qr.issuer import QR_KEY

__all__ = ["local_query", "local_query_https", "routed_query"]

POOL = 8
# Codes prepared per measured second (the pool must outlast every round's warm-up and
# window).
CODES_PER_SECOND = 4000  # twice the most seen (local ec.query, quiet machine)


async def _holders(env: Env) -> list[str]:
    """Official authorization codes of ``POOL`` persons insured (only) in 44, signed in
    once per run: the scan and the settlement scenarios share them (a second sign-in
    would kill the codes of the first, and the first one's prepared codes with them)."""
    return await env.shared("holders in 44", lambda: _sign_in_holders(env))


async def _sign_in_holders(env: Env) -> list[str]:
    stub = voucher_service_pb2_grpc.VoucherServiceStub((await env.national()).signed())
    people = _persons(env)
    # The third quarter of the registry, after the 32 persons the "Code issue" scenario takes.
    span = [
        p
        for p in people[len(people) // 4 : len(people) // 2]
        if len(p.insured) == 1 and p.insured[0].insu_org.startswith("44")
    ]
    pool = span[40 : 40 + POOL]
    if len(pool) < POOL:
        raise RuntimeError(f"fewer than {40 + POOL} persons insured in 44; raise --population")
    codes = []
    for p in pool:
        who = {"userName": p.user_name, "idType": p.id_type, "idNo": p.id_no}
        status = await stub.GetVoucherStatus(pb.GetVoucherStatusRequest(**who), timeout=TIMEOUT)
        if status.state == 2:
            signed_in = await stub.Authorize(
                pb.AuthorizeRequest(**who, password=PASSWORD), timeout=TIMEOUT
            )
            codes.append(signed_in.authCode)
        else:
            codes.append((await _activate(stub, env.seed, p)).authCode)
    return codes


def _write_codes(db: Path, auth_codes: list[str], count: int, deadline: float) -> list[str]:
    """Wait until 44 holds every authorization, then write ``count`` live codes."""
    marks = ",".join("?" * len(auth_codes))
    keys = node_keys(db)
    rows = wait_for_rows(
        db,
        "SELECT a.code_hash, a.ec_card_no, a.channel_id, v.insured_regions, v.version "
        "FROM channel_auths a "
        f"JOIN voucher_cache v USING (ec_card_no) WHERE a.code_hash IN ({marks}) AND a.revoked = 0",
        [keys.code_hash(c) for c in auth_codes],
        len(auth_codes),
        deadline,
        "authorizations",
    )
    conn = sqlite3.connect(db, timeout=30, isolation_level=None)
    try:
        # The province's QR key, sealed by the node at its start (node.storage.secrets).
        sealed = conn.execute(
            "SELECT value FROM meta WHERE key = ?", (f"{QR_KEY}_sealed",)
        ).fetchone()[0]
        key = keys.open(bytes.fromhex(sealed), QR_KEY)
        entropy = SystemEntropy()
        now = int(time.time() * 1000)
        codes = [new_code(key, "44", entropy) for _ in range(count)]
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(
            "INSERT INTO qr_codes (code, ec_card_no, code_hash, channel_id, insu_org, "
            "voucher_version, issued_at, expires_at, state) VALUES (?,?,?,?,?,?,?,?, 'live')",
            [
                (c, r[1], r[0], r[2], json.loads(r[3])[0]["insuOrg"], r[4], now, now + 3_600_000)
                for c, r in zip(codes, (rows[i % len(rows)] for i in range(count)), strict=True)
            ],
        )
        conn.execute("COMMIT")
        return codes
    finally:
        conn.close()


async def _codes(env: Env, serving: str) -> tuple[Terminal, list[str]]:
    """A terminal of ``serving`` and the pool of live codes of 44 it scans."""
    p44 = await env.province("44")
    holders = await _holders(env)
    terminals = await (await env.national()).admin.ListTerminals(
        admin_pb.ListTerminalsRequest(province=serving), timeout=TIMEOUT
    )
    count = math.ceil(pool_seconds(env.params) * CODES_PER_SECOND)
    codes = await asyncio.to_thread(
        _write_codes, p44.data_dir / "provincial-44.db", holders, count, time.monotonic() + 30
    )
    return terminals.terminals[0], codes


async def _setup(env: Env, serving: str) -> Call:
    node = await env.province(serving)
    terminal, codes = await _codes(env, serving)
    # The terminal calls with its own certificate (its number is read from it).
    channel, metadata = node.channel_as(Identity.terminal(terminal.orgId, terminal.terminalId))
    stub = acceptance_service_pb2_grpc.AcceptanceServiceStub(channel)
    fields = {
        "orgId": terminal.orgId,
        "businessType": "01101",
        "operatorId": "bench",
        "operatorName": "bench",
    }
    # Built beforehand, as a load generator does: the measured process should spend its
    # share of the 2 cores on calls, not on assembling envelopes.
    requests = []
    for code in codes:
        request = acc_pb.TransRequest(orgId=terminal.orgId, transType="ec.query")
        request.data.update({**fields, "ecQrCode": code})
        requests.append(request)
    take = pool(requests, "codes", "CODES_PER_SECOND")

    async def call() -> None:
        resp = await stub.Trans(take(), timeout=TIMEOUT, metadata=metadata)
        if resp.code != 0:
            raise RuntimeError(f"ec.query answered {resp.code}: {resp.message}")

    await call()  # fails the setup, not the measurement, when something is wrong
    return call


@scenario("local ec.query over HTTPS (POST /ec/v1/trans at 44, a code of 44)")
async def local_query_https(env: Env) -> Call:
    """The terminal door: the same transaction as "local ec.query", posted as JSON over
    HTTPS (HTTP/1.1 kept alive, the terminal's certificate; bench.http's client)."""
    node = await env.province("44")
    terminal, codes = await _codes(env, "44")
    ctx = node.https_context(Identity.terminal(terminal.orgId, terminal.terminalId))
    host, _, port = node.https.rpartition(":")
    client = HttpConnections(host, int(port), ctx)
    env.on_close(client.close)
    # a plaintext node reads the terminal from ec-terminal-id (ignored over TLS)
    headers = {"content-type": "application/json", "ec-terminal-id": terminal.terminalId}
    fields = {
        "orgId": terminal.orgId,
        "businessType": "01101",
        "operatorId": "bench",
        "operatorName": "bench",
    }
    bodies = [
        json.dumps(
            {"orgId": terminal.orgId, "transType": "ec.query", "data": {**fields, "ecQrCode": c}}
        ).encode()
        for c in codes
    ]
    take = pool(bodies, "codes", "CODES_PER_SECOND")

    async def call() -> None:
        r = await client.post("/ec/v1/trans", take(), headers)
        answer = r.json()
        if r.status != 200 or answer["code"] != 0:
            raise RuntimeError(f"ec.query over HTTPS answered {r.status}: {answer}")

    await call()
    return call


@scenario("local ec.query (Trans at 44, a code of 44)")
async def local_query(env: Env) -> Call:
    return await _setup(env, "44")


@scenario("routed ec.query (Trans at 31, a code of 44, via national)")
async def routed_query(env: Env) -> Call:
    return await _setup(env, "31")
