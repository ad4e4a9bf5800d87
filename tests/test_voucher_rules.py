"""The rules of the lifecycle without a node: passwords, the simulated face verifier,
settings; and the pluggable verifier seen through a node."""

from __future__ import annotations

import pytest
from voucherkit import OFFICIAL, SEED, activate, fails, identity, start_nation

from ecnet.v1 import common_pb2
from ecnet.v1 import voucher_service_pb2 as pb
from node.clock import SeededEntropy
from node.config import ConfigError
from node.domain.voucher_state import VoucherState
from node.errors import EcError
from node.population import enrolled_face_template
from node.voucher.biometric import (
    LivenessRefused,
    LivenessVerifier,
    SimulatedFaceVerifier,
    make_liveness_sample,
)
from node.voucher.password import HashedPassword, PasswordHasher, check_new_password, trivial_reason
from node.voucher.settings import LifecycleSettings


def test_states_are_the_numbers_of_the_api():
    api = {
        name.removeprefix("VOUCHER_STATE_"): number
        for name, number in common_pb2.VoucherState.items()
        if number
    }
    assert {s.name: s.value for s in VoucherState} == api


@pytest.mark.parametrize(
    "password",
    [
        "000000",
        "999999",
        "123456",
        "234567",
        "012345",
        "890123",
        "654321",
        "210987",
        "121212",
        "909090",
        "123123",
        "917917",
        "199711",
        "193519",
    ],
)
def test_trivial_passwords(password):
    assert trivial_reason(password, "350582199711193519")


@pytest.mark.parametrize("password", ["135792", "246813", "902741", "112358", "314159"])
def test_fine_passwords(password):
    assert trivial_reason(password, "350582199711193519") is None
    check_new_password(password, password, "350582199711193519")


def test_password_errors_carry_their_codes():
    with pytest.raises(EcError) as e:
        check_new_password("13579", "13579")
    assert e.value.code == -2
    with pytest.raises(EcError) as e:
        check_new_password("１３５７９２", "１３５７９２")  # full-width digits are not ASCII digits
    assert e.value.code == -2
    with pytest.raises(EcError) as e:
        check_new_password("135792", "135729")
    assert e.value.code == 500089
    with pytest.raises(EcError) as e:
        check_new_password("123456", "123456")
    assert e.value.code == -2 and "123456" in e.value.message and "1357" not in e.value.message


async def test_hash_is_salted_and_verifies():
    hasher = PasswordHasher(50, SeededEntropy(1))
    a, b = await hasher.hash("135792"), await hasher.hash("135792")
    assert a.salt != b.salt and a.hash != b.hash and len(a.hash) == 32 and a.iterations == 50
    assert await hasher.verify("135792", a) and not await hasher.verify("135793", a)
    assert not await hasher.verify("", a)
    assert "135792" not in repr(a) and a.hash.hex() not in repr(a)
    assert isinstance(HashedPassword(b"", b"", 1), HashedPassword)


async def test_simulated_face_verifier():
    v = SimulatedFaceVerifier(window_ms=60_000)
    assert isinstance(v, LivenessVerifier) and v.simulated
    template = enrolled_face_template(SEED, "350582199711193519")
    now = 1_767_225_600_000
    await v.verify(
        template, "ab" * 16, make_liveness_sample(template, "ab" * 16, now - 59_000), now
    )
    bad = [
        make_liveness_sample(b"x" * 32, "ab" * 16, now),  # another face
        make_liveness_sample(template, "cd" * 16, now),  # another challenge
        make_liveness_sample(template, "ab" * 16, now - 61_000),  # stale
        make_liveness_sample(template, "ab" * 16, now + 60_000),  # from the future
        make_liveness_sample(template, "ab" * 16, now)[:-1],  # malformed
        b"",
    ]
    for sample in bad:
        with pytest.raises(LivenessRefused):
            await v.verify(template, "ab" * 16, sample, now)


def test_settings_from_config_and_environment():
    assert LifecycleSettings.from_config({}, {}).password_iterations == 100_000
    s = LifecycleSettings.from_config(
        {"freeze_seconds": "60"}, {"ECNET_VOUCHER_PASSWORD_ITERATIONS": "7"}
    )
    assert (s.freeze_seconds, s.password_iterations) == (60, 7)
    with pytest.raises(ConfigError):
        LifecycleSettings.from_config({"page_ttl": "soon"}, {})
    with pytest.raises(ConfigError):
        LifecycleSettings.from_config({"page_ttl": "0"}, {})


class AcceptAnyFace:
    """A stand-in for a production verifier (a face comparison service)."""

    simulated = False

    def __init__(self) -> None:
        self.seen: list[bytes] = []

    async def verify(self, template: bytes, challenge: str, sample: bytes, now_ms: int) -> None:
        self.seen.append(sample)
        if sample != b"live face":
            raise LivenessRefused("no face in the picture")


async def test_the_verifier_is_pluggable_and_the_simulation_endpoint_follows_it(cluster, tmp_path):
    kit = await start_nation(cluster, tmp_path)
    p = kit.person(0)
    official = kit.channel(OFFICIAL)
    face = await official.GetSimulatedFaceTemplate(
        pb.GetSimulatedFaceTemplateRequest(**identity(p))
    )
    assert face.faceTemplate == enrolled_face_template(SEED, p.id_no)
    await fails(
        official.GetSimulatedFaceTemplate(
            pb.GetSimulatedFaceTemplateRequest(**identity(p, userName="别人"))
        ),
        500057,
    )
    await fails(
        kit.channel("NOBODY").GetSimulatedFaceTemplate(
            pb.GetSimulatedFaceTemplateRequest(**identity(p))
        ),
        500012,
    )

    verifier = AcceptAnyFace()
    kit.national.national.lifecycle.verifier = verifier  # a real camera's verifier plugged in
    await fails(
        official.GetSimulatedFaceTemplate(pb.GetSimulatedFaceTemplateRequest(**identity(p))), -5
    )
    rn = await official.RealNameCheck(pb.RealNameCheckRequest(**identity(p)))
    await fails(
        official.RealPersonCheck(
            pb.RealPersonCheckRequest(realNameSerial=rn.realNameSerial, livenessSample=b"a photo")
        ),
        500096,
    )
    rp = await official.RealPersonCheck(
        pb.RealPersonCheckRequest(realNameSerial=rn.realNameSerial, livenessSample=b"live face")
    )
    assert rp.realPersonSerial and verifier.seen == [b"a photo", b"live face"]


async def test_provinces_do_not_serve_the_voucher_service(cluster, tmp_path):
    kit = await start_nation(cluster, tmp_path)
    await activate(kit, kit.person(0))
    province = await cluster.start_province("44")
    from voucherkit import ChannelStub

    stub = ChannelStub(cluster.stubs(province).channel, OFFICIAL, tmp_path, kit.clock)
    await fails(stub.RealNameCheck(pb.RealNameCheckRequest(**identity(kit.person(1)))), -5)
