"""Shared set-up of the voucher lifecycle tests: a seeded national node on a FakeClock,
channel-bound VoucherService stubs, and the activation flow as one helper."""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import pytest
from chankit import VOUCHER, signed

from cli.seed import seed_national
from ecnet.v1 import admin_service_pb2 as admin_pb
from ecnet.v1 import admin_service_pb2_grpc, voucher_service_pb2_grpc
from ecnet.v1 import voucher_service_pb2 as pb
from node.clock import FakeClock
from node.errors import from_rpc_error
from node.population import SyntheticPerson, enrolled_face_template, generate
from node.voucher.biometric import make_liveness_sample

OFFICIAL = "NHSA-OFFICIAL"
WECHAT = "WECHAT"
ALIPAY = "ALIPAY"
PASSWORD = "135792"
SEED = 11
PROVINCES = ["44", "31", "11"]
# Cheap hashes in tests; production uses the default of node.voucher.settings.
FAST = {"password_iterations": "10", "freeze_seconds": "3600"}


class ChannelStub:
    """VoucherService as one channel calls it (every call signed with the channel's key,
    at the node's time; no channel: unsigned)."""

    def __init__(self, channel: grpc.aio.Channel, channel_id: str, root: Path, clock) -> None:
        self._stub = voucher_service_pb2_grpc.VoucherServiceStub(channel)
        self.channel_id = channel_id
        self.root, self.clock = root, clock

    def __getattr__(self, name: str):
        method = getattr(self._stub, name)

        def call(request):
            md = ()
            if self.channel_id:
                md = signed(self.root, self.channel_id, VOUCHER + name, request, self.clock)
            return method(request, metadata=md, timeout=10)

        return call


@dataclass
class Kit:
    cluster: object
    root: Path
    clock: FakeClock
    population: list[SyntheticPerson]
    extra: dict = field(default_factory=dict)
    # id number now -> id number at enrolment: a face does not change with the registry
    faces: dict[str, str] = field(default_factory=dict)

    @property
    def national(self):
        return self.cluster.national

    def channel(self, channel_id: str) -> ChannelStub:
        return ChannelStub(
            self.cluster.stubs(self.national).channel, channel_id, self.root, self.clock
        )

    def admin(self) -> admin_service_pb2_grpc.AdminServiceStub:
        return self.cluster.stubs(self.national).admin

    def person(self, index: int = 0, *, regions: int = 1) -> SyntheticPerson:
        """The ``index``-th seeded person insured in exactly ``regions`` regions."""
        matching = [p for p in self.population if len(p.insured) == regions]
        return matching[index]

    def changed(self, person: SyntheticPerson, **changes) -> SyntheticPerson:
        """``person`` after a registry change (same face, new name or id)."""
        after = dataclasses.replace(person, **changes)
        self.faces[after.id_no] = self.faces.get(person.id_no, person.id_no)
        return after

    def sample(self, person: SyntheticPerson, challenge: str, *, age_ms: int = 0) -> bytes:
        """The simulated camera in front of ``person``."""
        template = enrolled_face_template(SEED, self.faces.get(person.id_no, person.id_no))
        return make_liveness_sample(template, challenge, self.clock.now_ms() - age_ms)

    async def restart(self):
        """Stop national and start a new Node on the same data folder and clock."""
        await self.national.stop(grace=0)
        self.cluster.nodes.remove(self.national)
        return await self.cluster.start_national(self.clock, extra=dict(self.extra))

    async def outbox(self) -> list[tuple[str, str, str, int]]:
        """(destination, kind, ecCardNo, version) of every row in national's outbox but
        the channel records national announces at its start (channel.status)."""

        def read(conn):
            return [
                tuple(r)
                for r in conn.execute(
                    "SELECT destination, kind, ec_card_no, version FROM outbox "
                    "WHERE kind <> 'channel.status' ORDER BY seq"
                )
            ]

        return await self.national.store.query(read)


async def start_nation(
    cluster,
    root: Path,
    population: int = 300,
    extra: dict | None = None,
    before_start=None,
    clock=None,
    https: bool = False,
) -> Kit:
    """Seed a registry of ``population`` persons and start national on a FakeClock (or
    on ``clock``: the real one where another process stamps times, as the CLI does);
    ``https``: with its HTTPS doors."""
    db = root / "national" / "national.db"
    url = cluster.db_url("national")  # on PostgreSQL; None on SQLite
    seed_national(db, population, SEED, PROVINCES, db=url)
    if before_start is not None:  # given national's database: its file, or its URL
        before_start(url or db)
    clock = clock or FakeClock(t=time.time())
    settings = {**FAST, **(extra or {})}
    doors = {"https": "127.0.0.1:0"} if https else {}
    await cluster.start_national(clock, extra=dict(settings), **doors)
    return Kit(cluster, root, clock, list(generate(population, SEED, PROVINCES)), settings)


async def fails(call, code: int) -> str:
    """Await ``call``; it must fail with table C.4 ``code``. Returns the message."""
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await call
    got, message = from_rpc_error(info.value)
    assert got == code, f"expected {code}, got {got}: {message}"
    return message


def identity(p: SyntheticPerson, **kw) -> dict:
    return {"userName": p.user_name, "idType": p.id_type, "idNo": p.id_no, **kw}


async def real_person(
    kit: Kit, stub: ChannelStub, p: SyntheticPerson
) -> pb.RealPersonCheckResponse:
    rn = await stub.RealNameCheck(pb.RealNameCheckRequest(**identity(p)))
    return await stub.RealPersonCheck(
        pb.RealPersonCheckRequest(
            realNameSerial=rn.realNameSerial, livenessSample=kit.sample(p, rn.livenessChallenge)
        )
    )


async def activate(
    kit: Kit,
    p: SyntheticPerson,
    channel_id: str = OFFICIAL,
    password: str = PASSWORD,
    business_province: str = "",
) -> pb.ActivateResponse:
    """The whole activation flow on one channel (the page session for a third party)."""
    stub = kit.channel(channel_id)
    rp = await real_person(kit, stub, p)
    if channel_id == OFFICIAL:
        pw = await stub.SetPassword(
            pb.SetPasswordRequest(
                realPersonSerial=rp.realPersonSerial, password=password, passwordConfirm=password
            )
        )
    else:
        page = await stub.OpenPasswordPage(
            pb.OpenPasswordPageRequest(realPersonSerial=rp.realPersonSerial)
        )
        pw = await stub.SetPassword(
            pb.SetPasswordRequest(
                pageSession=page.pageSession, password=password, passwordConfirm=password
            )
        )
    return await stub.Activate(
        pb.ActivateRequest(
            realPersonSerial=rp.realPersonSerial,
            passwordSerial=pw.passwordSerial,
            businessProvince=business_province,
        )
    )


async def update_person(kit: Kit, p: SyntheticPerson, **kw) -> admin_pb.UpdatePersonResponse:
    return await kit.admin().UpdatePerson(
        admin_pb.UpdatePersonRequest(idType=p.id_type, idNo=p.id_no, **kw)
    )
