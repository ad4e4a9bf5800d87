"""``ecnet scan``, ``ecnet token check``, ``ecnet trans``: an acceptance terminal (6.3,
6.4 a, Appendix B) at its provincial node.

``scan`` submits a QR value as a terminal would: typed in (``--code``) or read from a
picture with a real barcode reader (``--image``, zxing-cpp), to
``AcceptanceService/Query`` of the terminal's province (``--province NN`` in the
nation's ``nation.json``, or ``--node HOST:PORT``) as the terminal ``--terminal`` (with
its certificate, ``DIR/pki/terminals/T.{crt,key}``: ``cli.rpc``), for the institution
``--org`` it is bound to. The answer
is table B.4 with the ecToken. ``token check`` is the medical-insurance system's check
of that token (flag of table C.3). ``trans`` sends one raw Appendix B envelope through
:func:`cli.ectrans.nation_ec_trans` to the province's terminal door (``--province NN``:
the ``https`` of its entry in ``nation.json``, or ``--url``) and prints the answer
(``OutData``).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from google.protobuf.message import Message

from cli.common import (
    DataOpt,
    JsonOpt,
    ProvincialNodeOpt,
    data_dir,
    err,
    examples,
    out,
    print_message,
    province_address,
    province_entry,
    reports_errors,
)
from cli.ectrans import TERMINAL_ENV, nation_ec_trans
from cli.rpc import CliError, NodeHandle
from ecnet.v1 import acceptance_service_pb2 as pb
from ecnet.v1.acceptance_service_pb2_grpc import AcceptanceServiceStub
from node.domain.codes import CHECK_RESULTS
from node.domain.qrcode import looks_like_code

__all__ = ["scan", "scan_app", "token_app", "trans", "trans_app", "read_code"]

token_app = typer.Typer(
    help="ecTokens (6.4): check one for the medical-insurance system.", no_args_is_help=True
)

ProvinceOpt = Annotated[str, typer.Option("--province", help="the terminal's province (NN)")]


def read_code(image: Path) -> str:
    """The QR value in a picture, read with zxing-cpp (the first code that is a voucher
    value, else the first code found)."""
    import zxingcpp  # deferred: only --image reads a picture
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(image) as picture:
            picture.load()
            found = zxingcpp.read_barcodes(picture)
    except FileNotFoundError:
        raise CliError(f"no such picture: {image}", -2) from None
    except (UnidentifiedImageError, OSError) as exc:
        raise CliError(f"{image} is not a picture this reader can open ({exc})", -2) from None
    texts = [r.text for r in found if r.text]
    if not texts:
        raise CliError(f"no QR code found in {image}", -2)
    return next((t for t in texts if looks_like_code(t)), texts[0])


def _show(answer: Message, as_json: bool, lines: list[str]) -> None:
    """The RPC's answer as grpcurl prints it (``--json``), else ``lines``."""
    if as_json:
        print_message(answer)
    else:
        for line in lines:
            out.print(line, highlight=False)


@reports_errors
def scan(
    terminal: Annotated[
        str,
        typer.Option(
            "--terminal",
            help="the terminal's 20-digit number; it calls with its certificate "
            "(DIR/pki/terminals/T.crt)",
        ),
    ],
    org: Annotated[
        str, typer.Option("--org", help="orgId of the institution the terminal is bound to")
    ],
    province: ProvinceOpt = "",
    code: Annotated[
        str,
        typer.Option(
            "--code", help="the scanned value (28 digits); give exactly one of --code and --image"
        ),
    ] = "",
    image: Annotated[
        Path | None,
        typer.Option(
            "--image",
            help="a picture (PNG, JPEG…) of the QR code, read by a barcode reader; "
            "exclusive with --code",
        ),
    ] = None,
    business_type: Annotated[
        str, typer.Option("--business-type", help="table C.1, e.g. 01101 registration")
    ] = "01101",
    operator_id: Annotated[
        str, typer.Option("--operator-id", help="operatorId (table B.3)")
    ] = "ecnet-cli",
    operator_name: Annotated[
        str, typer.Option("--operator-name", help="operatorName (table B.3)")
    ] = "ecnet scan",
    office_id: Annotated[str, typer.Option("--office-id", help="officeId (table B.3)")] = "",
    office_name: Annotated[str, typer.Option("--office-name", help="officeName (table B.3)")] = "",
    data: DataOpt = None,
    node: ProvincialNodeOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Scan a QR code (ec.query) as a terminal: the person of table B.4 and an ecToken.
    The code is typed in (--code) or read from a picture (--image): exactly one of them."""
    if code and image is not None:
        raise CliError(
            "--code and --image are exclusive: give the value with --code or a picture of it "
            "with --image, not both",
            -2,
        )
    if not code and image is None:
        raise CliError(
            "no code to scan: give the value with --code V or a picture of it with --image FILE "
            "(exactly one of them)",
            -2,
        )
    value = read_code(image) if image is not None else code
    request = pb.QueryRequest(
        orgId=org,
        businessType=business_type,
        operatorId=operator_id,
        operatorName=operator_name,
        officeId=office_id,
        officeName=office_name,
        ecQrCode=value,
    )
    with NodeHandle(province_address(data, node, province), data_dir(data), terminal) as h:
        r = h.call(AcceptanceServiceStub(h.channel).Query, request)
    _show(
        r,
        json_,
        [
            f"scanned {value}",
            f"userName {r.userName}   idType {r.idType}   idNo {r.idNo}",
            f"insuOrg {r.insuOrg}   gender {r.gender}   birthday {r.birthday}   "
            f"nationality {r.nationality}",
            f"ecToken {r.ecToken}",
        ],
    )


@token_app.command(
    "check",
    epilog=examples(
        'ecnet token check --province 31 --terminal "$T31" --token "$TOKEN" --name 李桂珍 '
        "--id-no 441523199111180565",
        'ecnet token check --province 44 --terminal "$T44" --token "$TOKEN" --name 李桂珍 '
        '--id-no 441523199111180565 --org "$ORG44" --json',
    ),
)
@reports_errors
def token_check(
    token: Annotated[str, typer.Option("--token", help="the ecToken of the scan")],
    id_no: Annotated[str, typer.Option("--id-no", help="idNo of the person")],
    name: Annotated[str, typer.Option("--name", help="userName of the person")],
    province: ProvinceOpt = "",
    terminal: Annotated[
        str,
        typer.Option(
            "--terminal",
            help="the checking terminal's 20-digit number, required; it calls with its certificate",
        ),
    ] = "",
    id_type: Annotated[str, typer.Option("--id-type", help="idType, table C.2")] = "01",
    org: Annotated[
        str,
        typer.Option(
            "--org", help="orgId the token must have been issued to [default: the terminal's]"
        ),
    ] = "",
    data: DataOpt = None,
    node: ProvincialNodeOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Check an ecToken against a person: flag 1 (valid) or 0 (table C.3), with the
    fields that did not match."""
    if not terminal:
        raise CliError(
            "a token check is a terminal's call: give --terminal T (it calls with its "
            "certificate, DIR/pki/terminals/T.crt)",
            -2,
        )
    request = pb.CheckTokenRequest(
        ecToken=token, idType=id_type, idNo=id_no, userName=name, orgId=org
    )
    with NodeHandle(province_address(data, node, province), data_dir(data), terminal) as h:
        r = h.call(AcceptanceServiceStub(h.channel).CheckToken, request)
    _show(
        r,
        json_,
        [
            f"flag {r.flag} ({CHECK_RESULTS[r.flag]})"
            + (f"   insuOrg {r.insuOrg}" if r.flag else "")
            + (f"   did not match: {', '.join(r.mismatches)}" if r.mismatches else "")
        ],
    )


def door_of(data: Path, province: str) -> str:
    """The terminal door (HOST:PORT) of province NN in the nation's ``nation.json``."""
    if not province:
        raise CliError(
            "give --province NN (or --url https://HOST:PORT/ec/v1/trans of its terminal door)",
            -2,
        )
    entry = province_entry(data, province)
    if not entry.https:
        raise CliError(
            f"province {province} has no HTTPS door in {data / 'nation.json'} (a nation started "
            "before the doors: `ecnet nation down` and `ecnet nation up` again), or give "
            "--url https://HOST:PORT/ec/v1/trans",
            -2,
        )
    return entry.https


@reports_errors
def trans(
    in_data: Annotated[
        str, typer.Option("--in", help="the request JSON (InData); - reads it from stdin")
    ],
    url: Annotated[
        str | None,
        typer.Option(
            "--url",
            help="the terminal door, https://HOST:PORT/ec/v1/trans (or HOST:PORT) "
            "[default: the door of --province in nation.json]",
        ),
    ] = None,
    province: ProvinceOpt = "",
    terminal: Annotated[
        str | None,
        typer.Option(
            "--terminal",
            help="the terminal's number; it calls with its certificate "
            "[default: $ECNET_TERMINAL_ID]",
        ),
    ] = None,
    data: DataOpt = None,
) -> None:
    """NationEcTrans: one Appendix B envelope in, the answer (OutData) out, posted to the
    province's terminal door; exits 1 unless the transaction succeeded (code 0)."""

    folder = data_dir(data)
    target = url or door_of(folder, province)
    text = sys.stdin.read() if in_data == "-" else in_data
    ret, out_data = nation_ec_trans(
        target,
        text,
        terminal_id=terminal or os.environ.get(TERMINAL_ENV, ""),
        data_dir=folder,
    )
    sys.stdout.write(out_data + "\n")
    if ret != "0000":
        err.print(f"NationEcTrans returned {ret}", highlight=False)
        raise typer.Exit(1)


# ``ecnet scan``: one command, no group (the top level loads it by name, cli.main)
scan_app = typer.Typer(add_completion=False)
scan_app.command(
    "scan",
    epilog=examples(
        'ecnet scan --province 44 --terminal "$T44" --org "$ORG44" --code "$CODE"',
        'ecnet scan --province 31 --terminal "$T31" --org "$ORG31" --image scan.png --json',
    ),
)(scan)


# ``ecnet trans``: one command, no group (the top level loads it by name, cli.main)
trans_app = typer.Typer(add_completion=False)
trans_app.command(
    "trans",
    epilog=examples(
        'ecnet trans --province 44 --terminal "$T44" --in - < request.json',
        'ecnet trans --url https://127.0.0.1:51044/ec/v1/trans --terminal "$T44" --in '
        '\'{"orgId": "H44…", "transType": "ec.query", "data": {…}}\'',
    ),
)(trans)
