"""Scenarios of QR display (standard 6.2) at a provincial node.

* "Code issue": one call is ``QrService/IssueQrCode`` at province 44 on the official
  channel, signed by the bench with the channel's SM2 key and verified by the province
  (node.domain.channelsig: SM3 of the canonical form, SM2), for one of 32 persons
  insured in 44 whose voucher the province holds (pushed by national, or fetched once
  during the setup). Each call is a cache lookup by
  authorization code, the keyed SM3 check digits of a new value and one write
  transaction (the previous live code of the authorization replaced, the new one
  inserted, a bounded prune). National is not involved once the cache is warm.

The pool is activated during the setup on the official channel; a person an earlier
scenario of the run already activated signs in again (``Authorize``) for a fresh code.
"""

from __future__ import annotations

import itertools
import time
from typing import Any

from bench.env import Env
from bench.lifecycle import PASSWORD, _activate, _persons
from bench.load import Call
from bench.scenarios import TIMEOUT, scenario
from ecnet.v1 import qr_service_pb2 as qr_pb
from ecnet.v1 import qr_service_pb2_grpc, voucher_service_pb2_grpc
from ecnet.v1 import voucher_service_pb2 as pb
from node.domain.channelsig import (
    NONCE,
    SIGN,
    TIMESTAMP,
    message_body,
    sign_message,
    verify_signature,
)
from node.domain.sm import sm2_generate_keypair

__all__ = ["code_issue"]

POOL = 32


async def _auth_codes(env: Env, province: str) -> list[str]:
    """Official authorization codes of ``POOL`` persons insured (only) in ``province``."""
    stub = voucher_service_pb2_grpc.VoucherServiceStub((await env.national()).signed())
    people = _persons(env)
    # From the middle of the registry: the activation scenarios take its ends first.
    middle = people[len(people) // 4 : len(people) // 2]
    pool = [
        p for p in middle if len(p.insured) == 1 and p.insured[0].insu_org.startswith(province)
    ][:POOL]
    if len(pool) < POOL:
        raise RuntimeError(f"fewer than {POOL} persons insured in {province}; raise --population")
    codes = []
    for p in pool:
        who = {"userName": p.user_name, "idType": p.id_type, "idNo": p.id_no}
        status = await stub.GetVoucherStatus(pb.GetVoucherStatusRequest(**who), timeout=TIMEOUT)
        if status.state == 2:  # VOUCHER_STATE_ACTIVATED by an earlier scenario: sign in again
            signed_in = await stub.Authorize(
                pb.AuthorizeRequest(**who, password=PASSWORD), timeout=TIMEOUT
            )
            codes.append(signed_in.authCode)
        else:
            codes.append((await _activate(stub, env.seed, p)).authCode)
    return codes


@scenario("Code issue (IssueQrCode at province 44, signed, voucher cached)")
async def code_issue(env: Env) -> Call:
    province = await env.province("44")
    qr = qr_service_pb2_grpc.QrServiceStub(province.signed())
    requests = [qr_pb.IssueQrCodeRequest(authCode=code) for code in await _auth_codes(env, "44")]
    for req in requests:  # warm the cache (a fetch from national if the push is not there yet)
        resp = await qr.IssueQrCode(req, timeout=TIMEOUT)
        if len(resp.ecQrCode) != 28:
            raise RuntimeError(f"IssueQrCode answered no code: {resp}")
    env.figures["channel signature, per call"] = signature_cost(requests[0])
    cycle = itertools.cycle(requests)
    return lambda: qr.IssueQrCode(next(cycle), timeout=TIMEOUT)


def signature_cost(request: qr_pb.IssueQrCodeRequest, n: int = 400) -> dict[str, Any]:
    """What signing a call (the channel) and checking it (the node) cost, in µs of one
    core: the canonical form, its SM3 digest and the SM2 signature or verification."""
    pair = sm2_generate_keypair()
    method = "/ecnet.v1.QrService/IssueQrCode"
    start = time.perf_counter()
    signed = [sign_message("BENCH", pair.private_key, method, request) for _ in range(n)]
    sign_us = (time.perf_counter() - start) / n * 1e6
    start = time.perf_counter()
    for md in signed:
        m = dict(md)
        ok = verify_signature(
            pair.public_key,
            method,
            message_body(request),
            "BENCH",
            m[TIMESTAMP],
            m[NONCE],
            m[SIGN],
        )
        if not ok:
            raise RuntimeError("a signature the bench made does not verify")
    verify_us = (time.perf_counter() - start) / n * 1e6
    return {
        "sign_us": round(sign_us, 1),
        "verify_us": round(verify_us, 1),
        "text": f"sign {sign_us:.0f} µs, verify {verify_us:.0f} µs per call (one core; "
        "canonical form, SM3, SM2)",
    }
