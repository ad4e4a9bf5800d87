"""A node driven by the real grpcurl binary, through server reflection only."""

from __future__ import annotations

import asyncio
import json
import shutil
import sys
from pathlib import Path

import pytest
from clikit import tls_flags

from cli.seed import seed_national

GRPCURL = shutil.which("grpcurl", path=str(Path(sys.executable).parent)) or shutil.which("grpcurl")
pytestmark = pytest.mark.skipif(
    GRPCURL is None, reason="grpcurl binary not installed (make setup installs it)"
)


async def grpcurl(*args: str) -> str:
    proc = await asyncio.create_subprocess_exec(
        GRPCURL, *tls_flags(), *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, err.decode()
    return out.decode()


async def test_list_describe_health_and_call(cluster, tmp_path):
    seed_national(tmp_path / "national" / "national.db", 200, 7, ["44", "31"])
    national = await cluster.start_national()
    addr = national.address

    services = (await grpcurl(addr, "list")).split()
    for name in (
        "AcceptanceService",
        "AdminService",
        "FederationService",
        "QrService",
        "SettlementService",
        "VoucherService",
    ):
        assert f"ecnet.v1.{name}" in services
    assert "grpc.health.v1.Health" in services

    described = await grpcurl(addr, "describe", "ecnet.v1.AcceptanceService")
    assert "rpc Trans ( .ecnet.v1.TransRequest )" in described

    health = json.loads(await grpcurl(addr, "grpc.health.v1.Health/Check"))
    assert health == {"status": "SERVING"}

    body = json.loads(
        await grpcurl(
            "-d",
            '{"insuredProvince": "44", "pageSize": 3}',
            addr,
            "ecnet.v1.AdminService/ListPersons",
        )
    )
    assert len(body["persons"]) == 3 and body["nextPageToken"]
    person = body["persons"][0]
    assert {"userName", "idType", "idNo", "insuredRegions"} <= set(person)
    assert person["insuredRegions"][0]["insuOrg"].startswith("44")


async def test_errors_carry_the_c4_code(cluster):
    national = await cluster.start_national()
    proc = await asyncio.create_subprocess_exec(
        GRPCURL,
        *tls_flags(),
        "-d",
        '{"insuredProvince": "4"}',
        national.address,
        "ecnet.v1.AdminService/ListPersons",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    text = (out + err).decode()
    assert proc.returncode != 0
    assert "InvalidArgument" in text and '"code":"-2"' in text and "ecnet" in text


async def test_describe_shows_the_proto_comments(cluster):
    """Reflection serves the comments of proto/ (ecnet/v1/descriptor_set.binpb, through
    node/reflection.py): a service, an RPC, a field, and field_behavior REQUIRED."""
    national = await cluster.start_national()
    addr = national.address

    service = await grpcurl(addr, "describe", "ecnet.v1.SettlementService")
    assert "// Settlement (结算) at the province of the institution" in service  # the service
    assert "// Settles one business. Idempotent by (orgId, requestId)" in service  # an RPC
    assert "rpc Settle ( .ecnet.v1.SettleRequest ) returns ( .ecnet.v1.SettleResponse );" in (
        service
    )

    message = await grpcurl(addr, "describe", "ecnet.v1.QueryRequest")
    assert "// The scanned QR value (电子凭证二维码码值): 28 digits" in message  # a field
    assert "string orgId = 1 [(.google.api.field_behavior) = REQUIRED];" in message
    assert "string businessInfo = 3;" in message  # optional in table B.3: no option

    field = await grpcurl(addr, "describe", "ecnet.v1.InsuredRegion.insuOrgName")
    assert "[(.google.api.field_behavior) = OUTPUT_ONLY]" in field

    # Files the descriptor set does not hold still come from the default pool.
    health = await grpcurl(addr, "describe", "grpc.health.v1.Health")
    assert "rpc Check ( .grpc.health.v1.HealthCheckRequest )" in health
