"""``ecnet operators`` and ``ecnet audit``: the management center's people and what the
nodes recorded of them.

``operators add NAME --role ROLE`` issues an operator certificate from the nation's CA
(``ecnet://operator/ROLE/NAME``) into ``DIR/pki/operators/NAME.{crt,key}`` and gives the
operator a one-time password of the management console (``node.console``), kept at
national (an administrator also a TOTP secret, printed as its provisioning URI); the other
commands call as that operator with ``ecnet --as NAME …`` (or ``ECNET_OPERATOR=NAME``),
and as the nation's administrator (``DIR/pki/operator.{crt,key}``) without. ``audit
show`` prints the newest records of a node's audit log; ``audit verify`` checks the
chain of every node's log (or one's) and exits non-zero naming the first record changed
or removed.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from cli.ca import pki_errors
from cli.common import (
    UNCODED,
    DataOpt,
    JsonOpt,
    err,
    examples,
    out,
    print_json,
    print_message,
    reports_errors,
)
from cli.common import data_dir as _data
from cli.nationfile import NationFile
from cli.rpc import CliError, NodeHandle, national_address, operator_files
from ecnet.v1 import admin_service_pb2 as pb
from node.console.enrol import Enrolment, enrol, has_operator, withdraw
from node.pki import (
    CertificateAuthority,
    Identity,
    PkiError,
    identity_of,
    is_operator_duty,
    read_certificate,
)
from node.storage.errors import StorageError
from node.vault import MasterKeyError

__all__ = ["operators_app", "audit_app"]

operators_app = typer.Typer(
    help="The management center's operators and their roles.", no_args_is_help=True
)
audit_app = typer.Typer(help="Each node's audit log.", no_args_is_help=True)

NodeOpt = Annotated[
    str | None, typer.Option("--node", help="HOST:PORT of the node [default: national]")
]
ProvinceOpt = Annotated[
    str | None, typer.Option("--province", help="the provincial node of province NN")
]
ROLES = "admin (national administrator), auditor (read-only), support (masked data only), pNN"


@operators_app.command(
    "add",
    epilog=examples(
        "ecnet operators add wang --role auditor",
        "ecnet operators add chen --role p44",
        "ecnet --as wang persons list --reveal --reason 'complaint 2026-118'",
    ),
)
@reports_errors
@pki_errors
def operators_add(
    name: Annotated[str, typer.Argument(help="the operator's name (a-z, 0-9, -)")],
    role: Annotated[str, typer.Option("--role", help=ROLES)],
    data: DataOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Issue an operator's certificate from the nation's CA, in DIR/pki/operators, and
    print its one-time password of the management console (and an administrator's TOTP
    provisioning URI)."""
    if not is_operator_duty(role):
        raise CliError(f"--role {role!r} is not a role: {ROLES}", UNCODED)
    identity = Identity.operator(name, duty=role)
    ca = CertificateAuthority.open(_data(data))
    folder = ca.folder / "operators"
    key, crt = operator_files(_data(data), name)
    if crt.exists():
        held = identity_of(read_certificate(crt))
        if held != identity:
            raise CliError(
                f"operator {name} exists already as {held.uri} ({crt}): `ecnet operators "
                f"revoke {name}` first to give the name another role",
                UNCODED,
            )
        out.print(f"operator {identity.uri} exists already: {crt}, {key}", highlight=False)
        given = console_password(_data(data), name, role, only_new=True)
        if given is not None:
            _print_password(given)
        return
    key, crt = ca.issue(identity, hosts=(), folder=folder, stem=name)
    given = console_password(_data(data), name, role)
    if json_:
        print_json(
            {
                "identity": identity.uri,
                "cert": str(crt),
                "key": str(key),
                "consolePassword": given.password if given else "",
                "totpUri": given.totp_uri if given else "",
            }
        )
        return
    out.print(f"operator {identity.uri}: {crt}, {key}", highlight=False)
    out.print(f"call as it with `ecnet --as {name} …` (or ECNET_OPERATOR={name})", highlight=False)
    if given is not None:
        _print_password(given)
    else:
        out.print(
            "no nation in this folder yet: `ecnet operators add` again after `ecnet nation up` "
            "gives the console password",
            highlight=False,
        )


NationalFiles = tuple[Path, Path, str | None]


def _national_files(data: Path) -> NationalFiles | None:
    """National's database file, master key and PostgreSQL URL (None: its data is the
    file; nation up --db), when the nation was made (nation up)."""
    try:
        national = NationFile.load(data).national
    except (FileNotFoundError, KeyError):
        return None
    db = Path(national.data) / "national.db"
    if national.db:
        return (db, national.master_key, national.db) if national.master_key.exists() else None
    return (db, national.master_key, None) if db.exists() else None


def console_password(
    data: Path,
    name: str,
    role: str,
    only_new: bool = False,
    files: NationalFiles | None = None,
) -> Enrolment | None:
    """A one-time console password for operator ``name`` at national (None: no nation
    yet; ``only_new``: or it has one already). ``files``: national's database file,
    master key and PostgreSQL URL (by default those of DIR/nation.json)."""
    files = files or _national_files(data)
    if files is None:
        return None
    db, key, url = files
    try:
        if only_new and has_operator(db, key, name, url=url):
            return None
        return enrol(db, key, name, role, url=url)
    except MasterKeyError as exc:
        raise CliError(f"national: {exc}", UNCODED) from None
    except StorageError as exc:
        raise CliError(f"national: {exc}", -3) from None


def _print_password(given: Enrolment) -> None:
    out.print(
        f"console password of {given.name} (one-time: the first login sets another): "
        f"{given.password}",
        highlight=False,
        soft_wrap=True,
    )
    if given.totp_uri:
        out.print(
            f"second factor (TOTP), for the authenticator app: {given.totp_uri}",
            highlight=False,
            soft_wrap=True,
        )


@operators_app.command("list", epilog=examples("ecnet operators list --json"))
@reports_errors
@pki_errors
def operators_list(data: DataOpt = None, json_: JsonOpt = False) -> None:
    """The operators of DIR/pki/operators and the nation's administrator."""
    pki = _data(data) / "pki"
    rows: list[dict[str, str]] = []
    default = pki / "operator.crt"
    if default.exists():
        rows.append(_operator_row("(default)", default))
    folder = pki / "operators"
    for crt in sorted(folder.glob("*.crt")) if folder.is_dir() else []:
        rows.append(_operator_row(crt.stem, crt))
    if json_:
        print_json(rows)
        return
    table = Table()
    for col in ("name", "identity", "role", "valid until"):
        table.add_column(col)
    for r in rows:
        table.add_row(r["name"], r["identity"], r["role"], r["notAfter"])
    out.print(table)


def _operator_row(name: str, crt: Path) -> dict[str, str]:
    cert = read_certificate(crt)
    identity = identity_of(cert)
    return {
        "name": name,
        "identity": identity.uri,
        "role": identity.operator_duty or "",
        "notAfter": cert.not_valid_after_utc.isoformat(),
    }


@operators_app.command("revoke", epilog=examples("ecnet operators revoke wang"))
@reports_errors
@pki_errors
def operators_revoke(
    name: Annotated[str, typer.Argument(help="the operator's name")],
    data: DataOpt = None,
) -> None:
    """Revoke an operator's certificate (every node refuses it once the CRL reaches it)
    and remove its files."""
    key, crt = operator_files(_data(data), name)
    try:
        identity = identity_of(read_certificate(crt))
    except PkiError as exc:
        raise CliError(f"no operator {name}: {exc}", UNCODED) from None
    revoked = CertificateAuthority.open(_data(data)).revoke(identity=identity)
    crt.unlink()
    key.unlink(missing_ok=True)
    out.print(f"revoked {identity.uri} ({len(revoked)} certificate(s))", highlight=False)
    files = _national_files(_data(data))
    try:
        had = files is not None and withdraw(files[0], files[1], name, url=files[2])
    except StorageError as exc:
        raise CliError(f"national: {exc}", -3) from None
    if had:
        out.print(f"{name}'s console password and sessions removed", highlight=False)


# -- audit ---------------------------------------------------------------------------
def _address(data: Path | None, node: str | None, province: str | None) -> str:
    if province:
        nation = NationFile.load(_data(data))
        entry = nation.nodes.get(f"p{province}")
        if entry is None:
            raise CliError(f"province {province} is not part of the nation", UNCODED)
        return entry.address
    return national_address(_data(data), node)


def _when(r: pb.AuditRecord) -> str:
    at = dt.datetime.fromtimestamp(r.at.seconds + r.at.nanos / 1e9, dt.UTC)
    return at.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@audit_app.command(
    "show",
    epilog=examples(
        "ecnet audit show",
        "ecnet audit show --province 44 --limit 50",
        "ecnet audit show --json",
    ),
)
@reports_errors
def audit_show(
    limit: Annotated[int, typer.Option(help="how many of the newest records")] = 20,
    data: DataOpt = None,
    node: NodeOpt = None,
    province: ProvinceOpt = None,
    json_: JsonOpt = False,
) -> None:
    """The newest records of a node's audit log: who, from where, what, the outcome."""
    if limit <= 0:
        raise CliError("--limit must be positive", UNCODED)
    with NodeHandle(_address(data, node, province), _data(data)) as h:
        answer = h.call(h.admin.ListAudit, pb.ListAuditRequest(limit=limit))
    if json_:
        print_message(answer)
        return
    table = Table()
    for col in ("seq", "at (UTC)", "who", "peer", "method", "subject", "outcome"):
        table.add_column(col)
    for r in answer.records:
        outcome = r.outcome if r.code == 0 else f"{r.outcome} {r.code}"
        table.add_row(
            str(r.sequence),
            _when(r),
            r.who,
            r.peer,
            r.method.rsplit("/", 1)[-1],
            r.subject,
            outcome,
        )
    out.print(table)


@audit_app.command(
    "verify",
    epilog=examples("ecnet audit verify", "ecnet audit verify --province 44 --json"),
)
@reports_errors
def audit_verify(
    data: DataOpt = None,
    node: NodeOpt = None,
    province: ProvinceOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Check the chain of each node's audit log (every node of the nation, or the one
    given); exit 1 naming the first record changed or removed."""
    if node or province:
        targets = [(node or f"p{province}", _address(data, node, province))]
    else:
        nation = NationFile.load(_data(data))
        targets = [(entry.name, entry.address) for entry in nation.nodes.values()]
    results: dict[str, pb.VerifyAuditResponse] = {}
    for name, address in targets:
        with NodeHandle(address, _data(data)) as h:
            results[name] = h.call(h.admin.VerifyAudit, pb.VerifyAuditRequest())
    broken = [n for n, r in results.items() if not r.intact]
    if json_:
        print_json(
            {
                n: {
                    "intact": r.intact,
                    "records": r.records,
                    "firstBadSequence": r.firstBadSequence,
                    "problem": r.problem,
                }
                for n, r in results.items()
            }
        )
    else:
        for name, r in results.items():
            if r.intact:
                out.print(f"{name}: intact, {r.records} records", highlight=False)
            else:
                err.print(f"[red]{name}: BROKEN[/red] at record {r.firstBadSequence}: {r.problem}")
    if broken:
        raise typer.Exit(1)
