"""Scenarios of the voucher lifecycle (standard 6.1): complete activations per second and
authorizations per second at the national node.

* "Activation, complete": one call is the whole official-channel flow, four RPCs
  (RealNameCheck → RealPersonCheck → SetPassword → Activate) for a fresh person of the
  seeded registry; the liveness sample is made locally from the population seed (the
  bench is the simulated camera). Each activation hashes a password (PBKDF2-HMAC-SM3
  at the node's ``password_iterations``, 100,000 by default, on a worker thread).
* "Authorize": one call is ``Authorize`` with the password on the official channel
  for one of 32 persons activated during the setup: a password verification, a write
  transaction (new code, new version) and an outbox event. The official channel is
  used because it may authorize again (a new sign-in replaces its code), so a small
  pool of persons serves any duration; a third party's first authorization runs the
  same code path plus one indexed lookup (500088).

Both depend on the password hash cost: set ``ECNET_VOUCHER_PASSWORD_ITERATIONS`` in the
environment of ``make bench`` to measure another cost (the node processes inherit it).
"""

from __future__ import annotations

import asyncio
import itertools
import sqlite3
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.env import Env
from bench.load import Call
from bench.nodes import NodeProcess
from bench.scenarios import TIMEOUT, scenario
from ecnet.v1 import voucher_service_pb2 as pb
from ecnet.v1 import voucher_service_pb2_grpc
from node.population import SyntheticPerson, enrolled_face_template, generate
from node.voucher.biometric import make_liveness_sample

if TYPE_CHECKING:
    from ecnet.v1.voucher_service_pb2_grpc import VoucherServiceAsyncStub

__all__ = ["activation", "authorization"]

PASSWORD = "135792"
AUTHORIZE_POOL = 32


def _stub(node: NodeProcess) -> VoucherServiceAsyncStub:
    """VoucherService as the official channel: every call signed with its key."""
    return voucher_service_pb2_grpc.VoucherServiceStub(node.signed())


async def _activate(
    stub: VoucherServiceAsyncStub, seed: int, p: SyntheticPerson
) -> pb.ActivateResponse:
    rn = await stub.RealNameCheck(
        pb.RealNameCheckRequest(userName=p.user_name, idType=p.id_type, idNo=p.id_no),
        timeout=TIMEOUT,
    )
    sample = make_liveness_sample(
        enrolled_face_template(seed, p.id_no), rn.livenessChallenge, int(time.time() * 1000)
    )
    rp = await stub.RealPersonCheck(
        pb.RealPersonCheckRequest(realNameSerial=rn.realNameSerial, livenessSample=sample),
        timeout=TIMEOUT,
    )
    pw = await stub.SetPassword(
        pb.SetPasswordRequest(
            realPersonSerial=rp.realPersonSerial, password=PASSWORD, passwordConfirm=PASSWORD
        ),
        timeout=TIMEOUT,
    )
    return await stub.Activate(
        pb.ActivateRequest(realPersonSerial=rp.realPersonSerial, passwordSerial=pw.passwordSerial),
        timeout=TIMEOUT,
    )


def _persons(env: Env) -> list[SyntheticPerson]:
    return list(generate(env.population, env.seed, env.provinces))


@scenario("Activation, complete (4 RPCs, password hash)")
async def activation(env: Env) -> Call:
    node = await env.national()
    stub = _stub(node)
    # the first persons of the registry; the authorization pool is taken from its end
    fresh = iter(_persons(env)[: env.population - AUTHORIZE_POOL])

    async def call() -> None:
        person = next(fresh, None)
        if person is None:
            raise RuntimeError(
                "every person of the bench registry is activated; raise --population"
            )
        await _activate(stub, env.seed, person)

    return call


@scenario("Authorize (password check, new code, outbox event)")
async def authorization(env: Env) -> Call:
    node = await env.national()
    stub = _stub(node)
    pool = _persons(env)[-AUTHORIZE_POOL:]
    for p in pool:
        status = await stub.GetVoucherStatus(
            pb.GetVoucherStatusRequest(userName=p.user_name, idType=p.id_type, idNo=p.id_no),
            timeout=TIMEOUT,
        )
        if status.state != 2:  # VOUCHER_STATE_ACTIVATED: not from an earlier setup of this run
            await _activate(stub, env.seed, p)
    requests = itertools.cycle(
        [
            pb.AuthorizeRequest(
                userName=p.user_name, idType=p.id_type, idNo=p.id_no, password=PASSWORD
            )
            for p in pool
        ]
    )
    return lambda: stub.Authorize(next(requests), timeout=TIMEOUT)


@scenario("Activation delivered to province 44 (4 RPCs, outbox, push)")
async def activation_delivered(env: Env) -> Call:
    """Complete activations of persons insured in 44 while province 44 runs; the lag
    from national's commit to applied at 44 is read afterwards from both databases
    (``outbox.created_at`` at national, ``inbox_events.applied_at`` at 44, same clock)."""
    national = await env.national()
    p44 = await env.province("44")
    stub = _stub(national)
    # The back half of the registry: the plain activation scenario takes the front.
    pool = _persons(env)[env.population // 2 : env.population - AUTHORIZE_POOL]
    fresh = iter([p for p in pool if p.insured[0].insu_org.startswith("44")])
    cards: list[str] = []

    async def call() -> None:
        person = next(fresh, None)
        if person is None:
            raise RuntimeError("every person insured in 44 is activated; raise --population")
        cards.append((await _activate(stub, env.seed, person)).ecCardNo)

    async def report_lag() -> None:
        env.figures["delivery lag, activation → applied at province 44"] = await _delivery_lag(
            national.data_dir / "national.db", p44.data_dir / "provincial-44.db", cards
        )

    env.on_close(report_lag)
    return call


async def _delivery_lag(
    national_db: Path, province_db: Path, cards: list[str], wait_s: float = 10.0
) -> dict[str, Any]:
    """Per activation event to 44: applied_at (province) − created_at (national), in ms."""

    def created() -> dict[str, int]:
        with sqlite3.connect(f"file:{national_db}?mode=ro", uri=True) as conn:
            rows = conn.execute(
                "SELECT event_id, created_at, ec_card_no FROM outbox "
                "WHERE destination = '44' AND kind = 'voucher.activated'"
            ).fetchall()
        mine = set(cards)
        return {event_id: at for event_id, at, card in rows if card in mine}

    def applied(ids: list[str]) -> dict[str, int]:
        with sqlite3.connect(f"file:{province_db}?mode=ro", uri=True) as conn:
            marks = ",".join("?" * len(ids))
            return dict(
                conn.execute(
                    f"SELECT event_id, applied_at FROM inbox_events WHERE event_id IN ({marks})",
                    ids,
                )
            )

    sent = await asyncio.to_thread(created)
    got: dict[str, int] = {}
    deadline = time.monotonic() + wait_s
    while sent and time.monotonic() < deadline:  # the last ones may still be in flight
        got = await asyncio.to_thread(applied, list(sent))
        if len(got) == len(sent):
            break
        await asyncio.sleep(0.1)
    lags = sorted(got[e] - sent[e] for e in got)
    if not lags:
        return {"events": len(sent), "applied": 0, "text": f"{len(sent)} events, none applied"}

    def pct(q: float) -> int:
        return lags[min(len(lags) - 1, int(q * len(lags)))]

    return {
        "events": len(sent),
        "applied": len(lags),
        "p50_ms": pct(0.5),
        "p99_ms": pct(0.99),
        "max_ms": lags[-1],
        "text": f"{len(lags)}/{len(sent)} events applied; "
        f"lag p50 {pct(0.5)} ms, p99 {pct(0.99)} ms, max {lags[-1]} ms",
    }
