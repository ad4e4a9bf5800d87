"""``ecnet qr`` end to end: the CLI as a process against in-process nodes found through a
``nation.json``; a PNG written by ``ecnet qr show`` read back by a real barcode reader
(zxing-cpp); and the README's "Display a QR code" session, run as written."""

from __future__ import annotations

import json
import re
import shutil
import sys
from pathlib import Path

import PIL.Image
import pytest
import zxingcpp
from clikit import ecnet, readme_session, write_nation
from voucherkit import activate, start_nation

from node.domain.qrcode import issuer_of, looks_like_code
from node.domain.regions import region_name

BIN = Path(sys.executable).parent
GRPCURL = shutil.which("grpcurl", path=str(BIN)) or shutil.which("grpcurl")


def read_qr(path: Path) -> list[str]:
    return [r.text for r in zxingcpp.read_barcodes(PIL.Image.open(path))]


async def test_cli_issues_refreshes_and_shows_codes(cluster, tmp_path):
    kit = await start_nation(cluster, tmp_path)
    p44 = await cluster.start_province("44")
    data = write_nation(tmp_path / "nation", kit.national, p44)
    p = next(
        x for x in kit.population if len(x.insured) == 1 and x.insured[0].insu_org.startswith("44")
    )
    act = await activate(kit, p)
    target = [
        "--province",
        "44",
        "--channel",
        "NHSA-OFFICIAL",
        "--auth-code",
        act.authCode,
        "--data",
        str(data),
    ]

    rc, out, err = await ecnet("qr", "issue", *target, "--json")
    assert rc == 0, err
    first = json.loads(out)
    assert looks_like_code(first["ecQrCode"]) and issuer_of(first["ecQrCode"]) == "44"
    assert first["insuOrg"] == p.insured[0].insu_org and first["expiresAt"].endswith("Z")

    rc, out, err = await ecnet("qr", "refresh", *target, "--code", first["ecQrCode"])
    assert rc == 0, err
    second = re.search(r"ecQrCode: (\d{28})", out).group(1)
    assert second != first["ecQrCode"] and "insuOrg:  " + first["insuOrg"] in out
    assert (
        await p44.store.db.read(
            lambda c: c.execute(
                "SELECT state FROM qr_codes WHERE code = ?", (first["ecQrCode"],)
            ).fetchone()[0]
        )
    ) == "replaced"

    # the terminal drawing (half blocks when piped), and pictures
    rc, out, err = await ecnet("qr", "show", "--code", second)
    assert rc == 0 and "█" in out and len(out.splitlines()) >= 12, err
    svg = tmp_path / "code.svg"
    rc, out, err = await ecnet("qr", "show", "--code", second, "--svg", str(svg))
    assert rc == 0 and svg.read_text().lstrip().startswith("<?xml") and "<svg" in svg.read_text(), (
        err
    )

    # refusals: one line with the C.4 code, exit 1
    rc, out, err = await ecnet(
        "qr", "issue", *target[:-2], "--data", str(data), "--auth-code", "0" * 32
    )
    assert rc == 1 and "error 500040" in err
    rc, out, err = await ecnet(
        "qr", "issue", "--province", "45", "--auth-code", act.authCode, "--data", str(data)
    )
    assert rc == 1 and "province 45 is not part of the nation" in err
    rc, out, err = await ecnet("qr", "show", "--code", "12345")
    assert rc == 1 and "error -2" in err
    rc, out, err = await ecnet(
        "qr", "issue", "--node", p44.address, "--channel", "WECHAT", "--auth-code", act.authCode
    )
    assert rc == 1 and "error 500003" in err


async def test_a_png_written_by_qr_show_is_read_back_by_zxing(cluster, tmp_path):
    kit = await start_nation(cluster, tmp_path)
    p31 = await cluster.start_province("31")
    act = await activate(kit, kit.person(0))
    rc, out, err = await ecnet(
        "qr", "issue", "--node", p31.address, "--auth-code", act.authCode, "--json"
    )
    assert rc == 0, err
    code = json.loads(out)["ecQrCode"]

    png = tmp_path / "code.png"
    rc, out, err = await ecnet("qr", "show", "--code", code, "--png", str(png))
    assert rc == 0 and f"wrote {png}" in out, err
    assert read_qr(png) == [code]
    # a small picture (2 pixels per module) is still read
    rc, out, err = await ecnet("qr", "show", "--code", code, "--png", str(png), "--scale", "2")
    assert rc == 0 and read_qr(png) == [code], err


@pytest.mark.skipif(
    GRPCURL is None or shutil.which("bash") is None, reason="needs grpcurl and bash"
)
async def test_the_readme_qr_session_runs_as_written(cluster, tmp_path):
    rc, text, errors = await readme_session(cluster, tmp_path, "Display a QR code", timeout=120)
    assert rc == 0, errors
    work = tmp_path / "work"
    assert re.search(r"ecQrCode: 424\d{19}440000", text)
    assert re.search(r'"ecQrCode": "424\d{19}310000"', text) and '"insuOrg": "440800"' in text
    assert "error 500054: " in errors and "110000 北京市" in errors and "441300 惠州市" in errors
    assert '"insuOrg": "441300"' in text
    assert len(read_qr(work / "qr.png")) == 1


async def test_a_person_insured_in_two_regions_gets_no_empty_code(cluster, tmp_path):
    # without --insu-org the command fails, listing the regions, and prints no code (a
    # script must not carry on with an empty one); with it, the code
    kit = await start_nation(cluster, tmp_path)
    p44 = await cluster.start_province("44")
    p = kit.person(0, regions=2)
    regions = sorted(r.insu_org for r in p.insured)
    act = await activate(kit, p)
    issue = ["qr", "issue", "--node", p44.address, "--auth-code", act.authCode]

    rc, out, err = await ecnet(*issue, "--json")
    assert rc == 1, out
    refusal = json.loads(out)
    assert refusal["code"] == 500054 and "ecQrCode" not in refusal, refusal
    assert all(f"{r} {region_name(r)}" in refusal["message"] for r in regions), refusal
    rc, out, err = await ecnet(*issue)
    assert rc == 1 and out == "" and err.startswith("error 500054: "), (out, err)
    assert all(r in err for r in regions) and "insuOrg" in err, err

    rc, out, err = await ecnet(*issue, "--insu-org", regions[1], "--json")
    assert rc == 0, err
    code = json.loads(out)
    assert code["insuOrg"] == regions[1] and looks_like_code(code["ecQrCode"])
