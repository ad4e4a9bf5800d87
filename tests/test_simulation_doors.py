"""The simulation's doors (issue 13, part 6), attacked against a real national node:
GetSimulatedFaceTemplate answers an operator (or a channel with the simulation scope)
on a node whose verifier is the simulation, and nobody else; a real-person check lifts
a password freeze only as often as the person's bucket allows."""

from __future__ import annotations

from voucherkit import (
    ALIPAY,
    OFFICIAL,
    PASSWORD,
    WECHAT,
    ChannelStub,
    activate,
    fails,
    identity,
    real_person,
    start_nation,
)

from ecnet.v1 import common_pb2
from ecnet.v1 import voucher_service_pb2 as pb
from node.interceptor import Caller
from node.pki import Identity
from node.population import enrolled_face_template
from node.services.voucher import SIMULATION_SCOPE, channel_scopes, may_simulate

FROZEN = common_pb2.VOUCHER_STATE_FROZEN
ACTIVATED = common_pb2.VOUCHER_STATE_ACTIVATED


class RealCamera:
    """A production verifier (a face comparison service) plugged in."""

    simulated = False

    async def verify(self, template: bytes, challenge: str, sample: bytes, now_ms: int) -> None:
        return None


def template_request(p) -> pb.GetSimulatedFaceTemplateRequest:
    return pb.GetSimulatedFaceTemplateRequest(**identity(p))


async def test_the_face_template_answers_operators_only_and_only_on_a_simulated_node(
    cluster, tmp_path
):
    kit = await start_nation(cluster, tmp_path)
    p = kit.person(0)
    # the attack: a holder of another certificate (here a province's) claims the
    # official channel in metadata and asks for the face that passes the check
    claimed = ChannelStub(
        cluster.stubs(kit.national, as_="p44").channel, OFFICIAL, kit.root, kit.clock
    )
    message = await fails(claimed.GetSimulatedFaceTemplate(template_request(p)), -4)
    assert SIMULATION_SCOPE in message and "ecnet://province/44" in message
    # a terminal's certificate is no better
    terminal = Identity.terminal("H44010012345", "44202400000000000001")
    as_terminal = ChannelStub(
        cluster.stubs(kit.national, as_=terminal.uri).channel, OFFICIAL, kit.root, kit.clock
    )
    await fails(as_terminal.GetSimulatedFaceTemplate(template_request(p)), -4)

    # the operator (the CLI, the tests) is answered
    face = await kit.channel(OFFICIAL).GetSimulatedFaceTemplate(template_request(p))
    assert face.faceTemplate == enrolled_face_template(11, p.id_no)

    # a node with a real camera answers nobody, not even the operator
    kit.national.national.lifecycle.verifier = RealCamera()
    await fails(kit.channel(OFFICIAL).GetSimulatedFaceTemplate(template_request(p)), -5)
    await fails(claimed.GetSimulatedFaceTemplate(template_request(p)), -4)


def test_a_claimed_channel_has_no_scope_until_channels_sign_their_calls():
    claimed = Caller(Identity.of_province("44"), channel_id=OFFICIAL)
    assert channel_scopes(claimed) == frozenset()
    assert not may_simulate(claimed)
    assert may_simulate(Caller(Identity.operator("admin"), channel_id=OFFICIAL))


def authorize(stub, p, password: str = PASSWORD):
    return stub.Authorize(pb.AuthorizeRequest(**identity(p), password=password))


async def freeze(kit, p) -> None:
    alipay = kit.channel(ALIPAY)
    for _ in range(4):
        await fails(authorize(alipay, p, "999990"), 500004)
    await fails(authorize(alipay, p, "999990"), 500079)


async def test_the_freeze_is_lifted_no_more_often_than_the_bucket_allows(cluster, tmp_path):
    kit = await start_nation(
        cluster,
        tmp_path,
        # the per-person password and real-person limits (node.ratelimit) out of the way:
        # this test is about the unfreeze bucket
        extra={
            "unfreeze_burst": "2",
            "unfreeze_refill_seconds": "600",
            "limits_password_burst": "100",
            "limits_realperson_burst": "100",
        },
    )
    p = kit.person(2)
    done = await activate(kit, p, WECHAT)
    official = kit.channel(OFFICIAL)
    # the attack: five guesses, lift the freeze with a real-person check, again
    for _ in range(2):
        await freeze(kit, p)
        assert (await real_person(kit, official, p)).unfrozen
    await freeze(kit, p)
    message = await fails(real_person(kit, official, p), 500084)
    assert "try again in 600 s" in message
    status = await kit.channel(WECHAT).GetVoucherStatus(
        pb.GetVoucherStatusRequest(authCode=done.authCode)
    )
    assert status.state == FROZEN  # still frozen: the guesses stop here
    await fails(authorize(kit.channel(ALIPAY), p), 500079)

    # another person's bucket is their own
    q = kit.person(3)
    await activate(kit, q, WECHAT)
    await freeze(kit, q)
    assert (await real_person(kit, official, q)).unfrozen

    # a token comes back after the refill time
    kit.clock.advance(599)
    await fails(real_person(kit, official, p), 500084)
    kit.clock.advance(1)
    assert (await real_person(kit, official, p)).unfrozen
    status = await kit.channel(WECHAT).GetVoucherStatus(
        pb.GetVoucherStatusRequest(authCode=done.authCode)
    )
    assert status.state == ACTIVATED


def test_a_signed_channel_simulates_only_with_the_simulation_scope():
    signed_with = Caller(Identity.channel("ALIPAY"), channel_id="ALIPAY", channel_scopes=("x",))
    assert not may_simulate(signed_with)
    allowed = Caller(Identity.channel("LAB"), channel_id="LAB", channel_scopes=(SIMULATION_SCOPE,))
    assert may_simulate(allowed)
    # scopes without a verified channel (no channel_id) count for nothing
    assert not may_simulate(Caller(Identity.channel("LAB"), channel_scopes=(SIMULATION_SCOPE,)))
