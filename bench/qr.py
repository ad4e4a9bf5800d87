"""Scenarios of QR display (standard 6.2) at a provincial node.

* "Code issue": one call is ``QrService/IssueQrCode`` at province 44 on the official
  channel, for one of 32 persons insured in 44 whose voucher the province holds (pushed
  by national, or fetched once during the setup). Each call is a cache lookup by
  authorization code, the keyed SM3 check digits of a new value and one write
  transaction (the previous live code of the authorization replaced, the new one
  inserted, a bounded prune). National is not involved once the cache is warm.

The pool is activated during the setup on the official channel; a person an earlier
scenario of the run already activated signs in again (``Authorize``) for a fresh code.
"""

from __future__ import annotations

import itertools

from bench.env import Env
from bench.lifecycle import OFFICIAL, PASSWORD, _activate, _persons
from bench.load import Call
from bench.scenarios import TIMEOUT, scenario
from ecnet.v1 import qr_service_pb2 as qr_pb
from ecnet.v1 import qr_service_pb2_grpc, voucher_service_pb2_grpc
from ecnet.v1 import voucher_service_pb2 as pb

__all__ = ["code_issue"]

POOL = 32


async def _auth_codes(env: Env, province: str) -> list[str]:
    """Official authorization codes of ``POOL`` persons insured (only) in ``province``."""
    stub = voucher_service_pb2_grpc.VoucherServiceStub((await env.national()).channel)
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
        status = await stub.GetVoucherStatus(
            pb.GetVoucherStatusRequest(**who), timeout=TIMEOUT, metadata=OFFICIAL
        )
        if status.state == 2:  # VOUCHER_STATE_ACTIVATED by an earlier scenario: sign in again
            signed_in = await stub.Authorize(
                pb.AuthorizeRequest(**who, password=PASSWORD), timeout=TIMEOUT, metadata=OFFICIAL
            )
            codes.append(signed_in.authCode)
        else:
            codes.append((await _activate(stub, env.seed, p)).authCode)
    return codes


@scenario("Code issue (IssueQrCode at province 44, voucher cached)")
async def code_issue(env: Env) -> Call:
    province = await env.province("44")
    qr = qr_service_pb2_grpc.QrServiceStub(province.channel)
    requests = [qr_pb.IssueQrCodeRequest(authCode=code) for code in await _auth_codes(env, "44")]
    for req in requests:  # warm the cache (a fetch from national if the push is not there yet)
        resp = await qr.IssueQrCode(req, timeout=TIMEOUT, metadata=OFFICIAL)
        if len(resp.ecQrCode) != 28:
            raise RuntimeError(f"IssueQrCode answered no code: {resp}")
    cycle = itertools.cycle(requests)
    return lambda: qr.IssueQrCode(next(cycle), timeout=TIMEOUT, metadata=OFFICIAL)
