"""``ecnet ca``: the national CA of a nation (:mod:`node.pki`), kept in ``DIR/pki``.

``init`` makes the CA, national's node certificate and the operator's; a province that
makes its own key runs ``request`` and sends the CSR to national, whose operator runs
``sign``; ``revoke`` puts a certificate (or every one of a province) on the CRL; ``list``
shows what the CA issued. Nothing here talks to a node: the files are the answer.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, ParamSpec, TypeVar

import typer
from rich.table import Table

from cli.common import UNCODED, DataOpt, JsonOpt, examples, out, print_json, reports_errors
from cli.common import data_dir as _data
from cli.rpc import CliError
from node.pki import (
    DEFAULT_HOSTS,
    LEAF_DAYS,
    CertificateAuthority,
    Identity,
    Issued,
    PkiError,
    make_request,
    new_key,
    pem,
    read_certificate,
    read_request,
    write_private,
    write_public,
)

__all__ = ["ca_app"]

ca_app = typer.Typer(
    help="The national CA: node and operator certificates for mutual TLS, and their revocation.",
    no_args_is_help=True,
)

P = ParamSpec("P")
R = TypeVar("R")

HostOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--host",
        help="a host name or IP address the node is dialled at (repeat it) "
        f"[default: {' '.join(DEFAULT_HOSTS)}]",
    ),
]
DaysOpt = Annotated[int, typer.Option("--days", help="validity in days")]


def pki_errors(fn: Callable[P, R]) -> Callable[P, R]:
    """A :class:`node.pki.PkiError` as the one-line failure of every command (code -2:
    the parameters, as given, do not work)."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except PkiError as exc:
            raise CliError(str(exc), UNCODED) from None
        except PermissionError as exc:
            raise CliError(f"{exc.filename}: permission denied", UNCODED) from None

    return wrapper


def _row(issued: Issued) -> dict[str, object]:
    return dict(issued.to_json())


@ca_app.command(
    "init",
    epilog=examples(
        "ecnet ca init",
        "ecnet ca init --data /tmp/nation --host hub.example --host 10.0.0.1",
        "ecnet ca init --force --json",
    ),
)
@reports_errors
@pki_errors
def ca_init(
    data: DataOpt = None,
    host: HostOpt = None,
    operator: Annotated[str, typer.Option(help="the operator's name (ecnet://operator/NAME)")] = (
        "admin"
    ),
    days: DaysOpt = LEAF_DAYS,
    force: Annotated[
        bool, typer.Option(help="replace an existing CA (what it issued stops verifying)")
    ] = False,
    json_: JsonOpt = False,
) -> None:
    """Make the CA in DIR/pki, national's node certificate and the operator's."""
    data_dir = _data(data)
    try:
        who = Identity.operator(operator)
    except PkiError as exc:
        raise CliError(f"--operator: {exc}", UNCODED) from None
    hosts = host or list(DEFAULT_HOSTS)
    ca = CertificateAuthority.create(data_dir, force=force)
    national = ca.issue(Identity.national(), days=days, hosts=hosts)
    operator_files = ca.issue(who, days=days, hosts=(), folder=ca.folder, stem="operator")
    files = {
        "ca": str(ca.cert_path),
        "caKey": str(ca.key_path),
        "crl": str(ca.crl_path),
        "index": str(ca.index_path),
        "national": str(national[1]),
        "nationalKey": str(national[0]),
        "operator": str(operator_files[1]),
        "operatorKey": str(operator_files[0]),
    }
    if json_:
        print_json({"issued": [_row(r) for r in ca.issued()], "files": files})
        return
    out.print(f"national CA made in {ca.folder}", highlight=False)
    for name, path in files.items():
        out.print(f"  {name:12} {path}", highlight=False)
    out.print(
        "a province makes its key with `ecnet ca request --role provincial --province NN`; "
        "sign its request with `ecnet ca sign FILE.csr`",
        highlight=False,
    )


@ca_app.command(
    "request",
    epilog=examples(
        "ecnet ca request --role provincial --province 44",
        "ecnet ca request --role provincial --province 44 --out /var/lib/ecnet/p44/pki",
        "ecnet ca request --role operator --name alice",
    ),
)
@reports_errors
@pki_errors
def ca_request(
    role: Annotated[str, typer.Option(help="national, provincial, operator or terminal")],
    province: Annotated[
        str | None, typer.Option(help="the province code (with --role provincial)")
    ] = None,
    name: Annotated[str | None, typer.Option(help="the operator's name (--role operator)")] = None,
    org: Annotated[
        str | None, typer.Option(help="the terminal's institution, orgId (--role terminal)")
    ] = None,
    terminal: Annotated[
        str | None,
        typer.Option(help="the terminal's number national allocated (--role terminal)"),
    ] = None,
    out_dir: Annotated[
        Path | None,
        typer.Option("--out", help="folder of the key and request [default: DIR/pki/nodes]"),
    ] = None,
    data: DataOpt = None,
    force: Annotated[bool, typer.Option(help="replace a key already there")] = False,
    json_: JsonOpt = False,
) -> None:
    """Make a key (mode 0600, kept here) and a certificate request (CSR) to send to national."""
    identity = _identity(role, province, name, org, terminal)
    folder = out_dir or CertificateAuthority.folder_of(_data(data)) / "nodes"
    key_path, csr_path = folder / f"{identity.stem}.key", folder / f"{identity.stem}.csr"
    if key_path.exists() and not force:
        raise CliError(f"{key_path} already exists; --force makes a new key", UNCODED)
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)
    key = new_key()
    write_private(key_path, key)
    write_public(csr_path, pem(make_request(identity, key)))
    if json_:
        print_json({"identity": identity.uri, "key": str(key_path), "request": str(csr_path)})
        return
    out.print(f"key of {identity} in {key_path} (keep it here)", highlight=False)
    out.print(f"request in {csr_path}: national signs it with `ecnet ca sign`", highlight=False)


def _identity(
    role: str,
    province: str | None,
    name: str | None,
    org: str | None = None,
    terminal: str | None = None,
) -> Identity:
    if role != "terminal" and (org or terminal):
        raise CliError("--org and --terminal go with --role terminal", UNCODED)
    try:
        if role == "terminal":
            if org is None or terminal is None or province or name:
                raise CliError(
                    "--role terminal needs --org ORGID and --terminal T (the number national "
                    "allocated at `ecnet terminals register`)",
                    UNCODED,
                )
            return Identity.terminal(org, terminal)
        if role == "national":
            if province or name:
                raise CliError("--role national takes neither --province nor --name", UNCODED)
            return Identity.national()
        if role == "provincial":
            if province is None or name:
                raise CliError("--role provincial needs --province NN (and no --name)", UNCODED)
            return Identity.of_province(province)
        if role == "operator":
            if name is None or province:
                raise CliError("--role operator needs --name NAME (and no --province)", UNCODED)
            return Identity.operator(name)
    except PkiError as exc:
        raise CliError(str(exc), UNCODED) from None
    raise CliError(f"--role {role!r}: national, provincial, operator or terminal", UNCODED)


@ca_app.command(
    "sign",
    epilog=examples(
        "ecnet ca sign nation/pki/nodes/p44.csr",
        "ecnet ca sign p44.csr --days 90 --host 10.0.0.44 --host p44.example --out p44.crt",
    ),
)
@reports_errors
@pki_errors
def ca_sign(
    request: Annotated[Path, typer.Argument(help="the request (CSR, PEM)")],
    days: DaysOpt = LEAF_DAYS,
    host: HostOpt = None,
    out_file: Annotated[
        Path | None,
        typer.Option(
            "--out", help="where the certificate goes [default: beside the request, .crt]"
        ),
    ] = None,
    data: DataOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Sign a request by the national CA (its SAN must name one ecnet identity)."""
    ca = CertificateAuthority.open(_data(data))
    cert = ca.sign(read_request(request), days=days, hosts=host or list(DEFAULT_HOSTS))
    target = out_file or request.with_suffix(".crt")
    write_public(target, pem(cert))
    row = next(r for r in ca.issued() if r.serial == cert.serial_number)
    if json_:
        print_json({**_row(row), "certificate": str(target)})
        return
    out.print(
        f"signed {row.identity}: serial {row.serial:x}, valid until {row.not_after}, "
        f"hosts {' '.join(row.hosts) or '-'}; certificate in {target}",
        highlight=False,
        soft_wrap=True,
    )


@ca_app.command(
    "revoke",
    epilog=examples(
        "ecnet ca revoke --province 44",
        "ecnet ca revoke --serial 5d1c0f…  (as `ecnet ca list` prints it)",
    ),
)
@reports_errors
@pki_errors
def ca_revoke(
    serial: Annotated[str | None, typer.Option(help="the serial (hexadecimal)")] = None,
    province: Annotated[str | None, typer.Option(help="every certificate of this province")] = None,
    data: DataOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Put a certificate, or every one of a province, on the CRL (DIR/pki/crl.pem)."""
    if (serial is None) == (province is None):
        raise CliError("give exactly one of --serial S and --province NN", UNCODED)
    ca = CertificateAuthority.open(_data(data))
    if serial is not None:
        try:
            number = int(serial.replace(":", ""), 16)
        except ValueError:
            raise CliError(f"--serial {serial!r} is not hexadecimal", UNCODED) from None
        done = ca.revoke(serial=number)
    else:
        assert province is not None
        done = ca.revoke(identity=_identity("provincial", province, None))
    if json_:
        print_json({"revoked": [_row(r) for r in done], "crl": str(ca.crl_path)})
        return
    if not done:
        out.print("already revoked; nothing changed", highlight=False)
        return
    for r in done:
        out.print(f"revoked {r.identity} serial {r.serial:x}", highlight=False, soft_wrap=True)
    out.print(f"CRL written: {ca.crl_path}", highlight=False)


@ca_app.command("list", epilog=examples("ecnet ca list", "ecnet ca list --json"))
@reports_errors
@pki_errors
def ca_list(data: DataOpt = None, json_: JsonOpt = False) -> None:
    """The certificates the CA issued: serial, identity, not-after, revoked."""
    rows = CertificateAuthority.open(_data(data)).issued()
    if json_:
        print_json([_row(r) for r in rows])
        return
    table = Table()
    for col in ("serial", "identity", "not after", "hosts", "revoked"):
        table.add_column(col, no_wrap=col == "serial")
    for r in rows:
        table.add_row(
            f"{r.serial:x}",
            r.identity,
            r.not_after,
            " ".join(r.hosts) or "-",
            f"[red]{r.revoked_at}[/red]" if r.revoked_at else "-",
        )
    out.print(table)


@ca_app.command(
    "verify",
    epilog=examples("ecnet ca verify nation/pki/nodes/p44.crt", "ecnet ca verify p44.crt --json"),
)
@reports_errors
@pki_errors
def ca_verify(
    certificate: Annotated[Path, typer.Argument(help="the certificate (PEM)")],
    data: DataOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Check a certificate as a node will: this CA's, valid now, not revoked, one identity."""
    ca = CertificateAuthority.open(_data(data))
    cert = read_certificate(certificate)
    identity = ca.verify(cert)
    if json_:
        print_json({"identity": identity.uri, "serial": f"{cert.serial_number:x}"})
        return
    out.print(f"{identity} (serial {cert.serial_number:x}): valid", highlight=False)
