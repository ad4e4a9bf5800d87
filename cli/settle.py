"""``ecnet settle``, ``ecnet settlement show|reverse|notices|list|statement``: an
institution's medical-insurance system settling a business (6.4 b–c, 6.5) at its
provincial node, and closing its day (对账).

``settle`` sends ``SettlementService/Settle`` to the institution's province
(``--province NN`` in the nation's ``nation.json``, or ``--node HOST:PORT``) with the
ecToken of a scan (``ecnet scan``) made for that institution (``--org``) and the fee
items of a JSON file. A person insured in another province is settled there, through
national, transparently (``settledBy``). ``--request-id`` is the idempotency key: a
retry with the same id answers the same settlement, and after a ``-3`` (a remote
settlement not confirmed yet, or a node that did not answer) the retry is how to
finish it. Without one, a fresh id is made; it is named where a retry can help (the
``-3`` message, an interrupted call) and in the settlement shown, and nowhere else: a
refused token or bad items are not fixed by a retry. A value that is not an ecToken at
all, or a token of another province than ``--province``, is refused before any call,
with what to do instead. Money is integer fen; the human output shows yuan too.

``settlement list`` and ``settlement statement`` close a day (a calendar day in Beijing
time, ``--date``, today by default): the institution's settlements of the day, and the
day's statement (settled, reversed, net; local and remote apart) of an institution or,
without ``--org``, of every institution of the province. Their ``--json`` prints the
node's answer as grpcurl prints it; the statement's ``--csv`` one row per scope and part.
"""

from __future__ import annotations

import csv
import datetime
import json
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import grpc
import typer
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from rich.table import Table

from cli.common import (
    DataOpt,
    JsonOpt,
    ProvincialNodeOpt,
    data_dir,
    examples,
    out,
    print_message,
    province_address,
    reports_errors,
)
from cli.rpc import CliError, NodeHandle
from ecnet.v1 import settlement_service_pb2 as pb
from ecnet.v1.settlement_service_pb2_grpc import SettlementServiceStub
from node.clock import BEIJING
from node.domain import ectoken
from node.domain.regions import is_province, province_name
from node.errors import from_rpc_error, node_answer
from node.settlement.medtypes import MED_TYPE_OF, MED_TYPE_PROTO

__all__ = ["settle", "settle_app", "settlement_app", "read_items", "yuan", "statement_rows"]

settlement_app = typer.Typer(
    help="Settlements (6.4 b–c, 6.5): show, reverse, notices; a day's list and statement.",
    no_args_is_help=True,
)

ProvinceOpt = Annotated[str, typer.Option("--province", help="the institution's province (NN)")]

# --med-type names and the contract's enum, as the node converts them.
MED_TYPES = MED_TYPE_PROTO
MED_NAMES = MED_TYPE_OF
CATEGORIES = {
    "A": pb.ITEM_CATEGORY_A,
    "B": pb.ITEM_CATEGORY_B,
    "C": pb.ITEM_CATEGORY_C,
    "甲": pb.ITEM_CATEGORY_A,
    "乙": pb.ITEM_CATEGORY_B,
    "丙": pb.ITEM_CATEGORY_C,
    "ITEM_CATEGORY_A": pb.ITEM_CATEGORY_A,
    "ITEM_CATEGORY_B": pb.ITEM_CATEGORY_B,
    "ITEM_CATEGORY_C": pb.ITEM_CATEGORY_C,
}
CATEGORY_NAMES = {
    pb.ITEM_CATEGORY_A: "A 甲",
    pb.ITEM_CATEGORY_B: "B 乙",
    pb.ITEM_CATEGORY_C: "C 丙",
}
STATES = {
    pb.SETTLEMENT_STATE_SETTLED: "SETTLED",
    pb.SETTLEMENT_STATE_REVERSED: "REVERSED",
    pb.SETTLEMENT_STATE_PENDING: "PENDING",
}
ITEM_FIELDS = ("code", "name", "category", "unitPrice", "quantity")
INT64_MAX = 2**63 - 1
# A remote settlement may take the node's settle_deadline (5 s by default) end to end.
SETTLE_TIMEOUT = 15.0


# -- the items file ----------------------------------------------------------------
def _int_field(value: Any, where: str, name: str, minimum: int, meaning: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise CliError(
            f"{where}: {name} must be {meaning}, got {json.dumps(value, ensure_ascii=False)}", -2
        )
    if not minimum <= value <= INT64_MAX:
        raise CliError(f"{where}: {name} {value} is out of range (at least {minimum})", -2)
    return value


def _item(raw: Any, n: int, source: str) -> pb.FeeItem:
    where = f"{source}: item {n}"
    if not isinstance(raw, dict):
        raise CliError(
            f"{where} is not an object like "
            '{"code": "A1", "name": "…", "category": "A", "unitPrice": 30000, "quantity": 1}',
            -2,
        )
    code = raw.get("code")
    if isinstance(code, str) and code.strip():
        where = f"{source}: item {n} ({code!r})"
    unknown = sorted(set(raw) - set(ITEM_FIELDS))
    if unknown:
        raise CliError(
            f"{where}: unknown field {unknown[0]!r} (an item has {', '.join(ITEM_FIELDS)})", -2
        )
    for name in ("code", "name"):
        value = raw.get(name)
        if not isinstance(value, str) or not value.strip():
            raise CliError(f"{where}: {name} must be a non-empty string", -2)
    category = raw.get("category")
    key = category.strip() if isinstance(category, str) else ""
    kind = CATEGORIES.get(key) or CATEGORIES.get(key.upper())
    if kind is None:
        raise CliError(
            f"{where}: category {json.dumps(category, ensure_ascii=False)} is not "
            "A (甲), B (乙) or C (丙)",
            -2,
        )
    unit_price = _int_field(
        raw.get("unitPrice"), where, "unitPrice", 0, "an integer number of fen (30000 = 300 yuan)"
    )
    quantity = _int_field(raw.get("quantity"), where, "quantity", 1, "a whole number, at least 1")
    return pb.FeeItem(
        code=code, name=raw["name"], category=kind, unitPrice=unit_price, quantity=quantity
    )


def read_items(source: str) -> list[pb.FeeItem]:
    """The fee items of a JSON file (``-``: stdin): a list of {"code", "name",
    "category" A|B|C (甲|乙|丙), "unitPrice" in fen, "quantity"}. Anything else is a
    -2 naming the item and the field."""
    if source == "-":
        text, name = sys.stdin.read(), "stdin"
    else:
        path = Path(source)
        name = str(path)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise CliError(f"no such items file: {path}", -2) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise CliError(f"cannot read the items file {path}: {exc}", -2) from None
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CliError(
            f"{name} is not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}", -2
        ) from None
    if isinstance(raw, dict) and isinstance(raw.get("items"), list):
        raw = raw["items"]  # a SettleRequest-like object is fine too
    if not isinstance(raw, list):
        raise CliError(
            f"{name}: expected a JSON list of items, got a JSON {type(raw).__name__}", -2
        )
    if not raw:
        raise CliError(
            f"{name}: the list of items is empty (a settlement needs at least one item)", -2
        )
    return [_item(r, n, name) for n, r in enumerate(raw, 1)]


# -- calls -------------------------------------------------------------------------
def _answered(exc: grpc.RpcError) -> bool:
    """Whether the node itself answered with a C.4 code (not a transport failure)."""
    return node_answer(exc) is not None


Request = TypeVar("Request")
Response = TypeVar("Response")


def _call(
    data: Path | None,
    node: str | None,
    province: str,
    method: Callable[[SettlementServiceStub], grpc.UnaryUnaryMultiCallable[Request, Response]],
    request: Request,
    retry_id: str = "",
    timeout: float = 10.0,
    terminal: str = "",
) -> Response:
    """One SettlementService call (``method``, e.g. ``lambda s: s.Settle``). A -3 from
    the node (a remote settlement not confirmed in time) keeps its message; a node that
    does not answer says so. Either way, the request id to retry with (``retry_id``) is
    named. ``terminal``: call as that terminal (its certificate), else as the operator."""
    with NodeHandle(province_address(data, node, province), data_dir(data), terminal) as h:
        stub = SettlementServiceStub(h.channel)
        try:
            return method(stub)(request, timeout=timeout, metadata=h.metadata)
        except KeyboardInterrupt:
            if not retry_id:
                raise
            raise CliError(
                f"interrupted before the answer came: the settlement may have been made; "
                f"retry with --request-id {retry_id}: it takes effect at most once",
                -3,
            ) from None
        except grpc.RpcError as exc:
            code, message = from_rpc_error(exc)
            if code == -3 and not _answered(exc):
                message = f"node {h.address} did not answer: is the nation running? ({message})"
                if retry_id:
                    message += f"; retry with --request-id {retry_id}: it takes effect at most once"
            elif code == -3 and retry_id:
                message += f" (--request-id {retry_id})"
            raise CliError(message, code) from None


# -- output ------------------------------------------------------------------------
def yuan(fen: int) -> str:
    sign = "-" if fen < 0 else ""
    return f"{sign}{abs(fen) // 100}.{abs(fen) % 100:02d}"


def _money(label: str, fen: int) -> str:
    return f"{label:<14} {fen:>10} ({yuan(fen)} yuan)"


def _ts(msg: Message, name: str) -> str:
    """The timestamp field ``name`` of ``msg`` as RFC 3339, or "" when it is not set."""
    if not msg.HasField(name):
        return ""
    stamp: Timestamp = getattr(msg, name)
    return stamp.ToJsonString()


def _lines(s: pb.Settlement) -> list[str]:
    state = STATES.get(s.state, str(s.state))
    lines = [
        f"settlement {s.settlementId}   state {state}   requestId {s.requestId}",
        f"orgId {s.orgId}   insuOrg {s.insuOrg}   settledBy {s.settledBy}   "
        f"servingProvince {s.servingProvince}   medType {MED_NAMES.get(s.medType, s.medType)}",
    ]
    for item in s.items:
        lines.append(
            f"  item {item.code} {item.name} ({CATEGORY_NAMES.get(item.category, item.category)}) "
            f"{item.unitPrice} fen × {item.quantity}"
        )
    lines += [
        _money("feeSumamt", s.feeSumamt),
        _money("fundPay", s.fundPay),
        _money("psnAcctPay", s.psnAcctPay),
        _money("ownPayAmt", s.ownPayAmt),
        _money("deductiblePart", s.deductiblePart) + "  to the yearly deductible (起付线)",
        _money("acctBalance", s.acctBalance) + "  personal account balance after",
    ]
    if s.HasField("settledAt"):
        lines.append(f"settledAt {_ts(s, 'settledAt')}")
    if s.state == pb.SETTLEMENT_STATE_REVERSED:
        lines.append(f"reversedAt {_ts(s, 'reversedAt')}   reverseRequestId {s.reverseRequestId}")
    if s.state == pb.SETTLEMENT_STATE_PENDING:
        lines.append(
            f"not confirmed by the insured province {s.settledBy} yet: "
            f"retry `ecnet settle` with --request-id {s.requestId}"
        )
    return lines


def _show(
    answer: pb.SettleResponse | pb.GetSettlementResponse | pb.ReverseResponse,
    as_json: bool,
    note: str = "",
) -> None:
    """The answer as grpcurl prints it (``--json``), else the settlement's lines."""
    if as_json:
        print_message(answer)
        return
    if note:
        out.print(note, highlight=False)
    for line in _lines(answer.settlement):
        out.print(line, highlight=False)


def _check_token(token: str, province: str) -> None:
    """What ``--token`` must be before a province is asked: an ecToken (its shape), of
    ``province`` (its first digits) when the province is named. Both refusals are
    500067, as the province would answer, with what to do instead."""
    if not ectoken.looks_like_token(token):
        shown = token if len(token) <= 48 else token[:45] + "…"
        raise CliError(
            f"--token {shown!r} is not an ecToken: an ecToken is {ectoken.LENGTH} characters, "
            "the region of the province that scanned the code (6 digits, e.g. 440000), 'ec' "
            "and 30 lowercase letters or digits; pass the ecToken that `ecnet scan` printed "
            "for this institution",
            500067,
        )
    issuer = token[:2]
    if province and token[:6] != ectoken.region_of(province) and is_province(issuer):
        raise CliError(
            f"this ecToken was issued by province {issuer} ({province_name(issuer)}), not "
            f"{province}: a token is settled at the province whose terminal scanned the code; "
            f"settle with --province {issuer}",
            500067,
        )


# -- commands ----------------------------------------------------------------------
@reports_errors
def settle(
    token: Annotated[str, typer.Option("--token", help="the ecToken of the scan (ecnet scan)")],
    org: Annotated[
        str, typer.Option("--org", help="orgId of the institution the token was issued to")
    ],
    items: Annotated[
        str,
        typer.Option(
            "--items",
            help="JSON list of fee items (code, name, category A|B|C, "
            "unitPrice in fen, quantity); - reads stdin",
        ),
    ],
    province: ProvinceOpt = "",
    terminal: Annotated[
        str,
        typer.Option(
            "--terminal",
            help="the institution's terminal (20 digits) that settles, required; it calls "
            "with its certificate (DIR/pki/terminals/T.crt)",
        ),
    ] = "",
    request_id: Annotated[
        str,
        typer.Option(
            "--request-id",
            help="idempotency key: a retry with it answers the "
            "same settlement (default: a fresh one, printed)",
        ),
    ] = "",
    med_type: Annotated[
        str, typer.Option("--med-type", help="outpatient, inpatient or pharmacy")
    ] = "outpatient",
    data: DataOpt = None,
    node: ProvincialNodeOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Settle a business with the ecToken of a scan: fund, personal account, own pay."""
    med = MED_TYPES.get(med_type.strip().lower())
    if med is None:
        raise CliError(f"--med-type {med_type!r} is not one of {', '.join(MED_TYPES)}", -2)
    fee_items = read_items(items)
    address = province_address(data, node, province)
    _check_token(token.strip(), "" if node else province)
    if not terminal:
        raise CliError(
            "a settlement is a terminal's call: give --terminal T, the institution's terminal "
            "(it calls with its certificate, DIR/pki/terminals/T.crt)",
            -2,
        )
    # A fresh id is named only where a retry helps: a -3, an interrupted call (_call).
    request_id = request_id or uuid.uuid4().hex
    request = pb.SettleRequest(
        ecToken=token.strip(), orgId=org, requestId=request_id, medType=med, items=fee_items
    )
    answer = _call(
        data, address, province, lambda s: s.Settle, request, request_id, SETTLE_TIMEOUT, terminal
    )
    _show(answer, json_)


@settlement_app.command(
    "show",
    epilog=examples(
        'ecnet settlement show "$SID" --province 44',
        'ecnet settlement show "$SID" --province 44 --json',
    ),
)
@reports_errors
def show(
    settlement_id: Annotated[str, typer.Argument(help="the settlementId")],
    province: ProvinceOpt = "",
    data: DataOpt = None,
    node: ProvincialNodeOpt = None,
    json_: JsonOpt = False,
) -> None:
    """A settlement made at (or for) this province, by its id."""
    answer = _call(
        data,
        node,
        province,
        lambda s: s.GetSettlement,
        pb.GetSettlementRequest(settlementId=settlement_id),
    )
    _show(answer, json_)


@settlement_app.command(
    "reverse",
    epilog=examples(
        'ecnet settlement reverse "$SID" --province 44 --org "$ORG44"',
        'ecnet settlement reverse "$SID" --province 44 --org "$ORG44" --request-id undo-0001',
    ),
)
@reports_errors
def reverse(
    settlement_id: Annotated[str, typer.Argument(help="the settlementId")],
    province: ProvinceOpt = "",
    org: Annotated[
        str,
        typer.Option(
            "--org", help="orgId of the institution that settled it (required: only it may)"
        ),
    ] = "",
    request_id: Annotated[
        str, typer.Option("--request-id", help="this reversal's id (default: a fresh one)")
    ] = "",
    data: DataOpt = None,
    node: ProvincialNodeOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Reverse a settlement, once: the personal account and the year's totals restored."""
    request_id = request_id or uuid.uuid4().hex
    request = pb.ReverseRequest(settlementId=settlement_id, orgId=org, requestId=request_id)
    answer = _call(data, node, province, lambda s: s.Reverse, request, timeout=SETTLE_TIMEOUT)
    s = answer.settlement
    if s.state == pb.SETTLEMENT_STATE_REVERSED and s.reverseRequestId != request_id:
        note = (
            f"already reversed at {_ts(s, 'reversedAt')} (reverseRequestId {s.reverseRequestId}); "
            "nothing restored again"
        )
    else:
        note = "reversed"
    _show(answer, json_, note)


@settlement_app.command(
    "notices",
    epilog=examples(
        "ecnet settlement notices --province 31 --id-no 441324197406055709",
        "ecnet settlement notices --province 31 --id-no 441324197406055709 --json",
    ),
)
@reports_errors
def notices(
    id_no: Annotated[str, typer.Option("--id-no", help="idNo of the person")],
    province: ProvinceOpt = "",
    id_type: Annotated[str, typer.Option("--id-type", help="idType, table C.2")] = "01",
    limit: Annotated[int, typer.Option("--limit", help="at most this many (1-500)")] = 50,
    data: DataOpt = None,
    node: ProvincialNodeOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Settlements of a multi-insured person made by their other insured provinces (6.3.2 d)."""
    if not 1 <= limit <= 500:
        raise CliError("--limit must be between 1 and 500", -2)
    request = pb.ListNoticesRequest(idType=id_type, idNo=id_no, limit=limit)
    answer = _call(data, node, province, lambda s: s.ListNotices, request)
    if json_:
        print_message(answer)
        return
    got = answer.notices
    if not got:
        out.print(f"no settlement notices for {id_type} {id_no} here", highlight=False)
        return
    table = Table()
    for col in (
        "at",
        "settlementId",
        "insuOrg",
        "settledBy",
        "medType",
        "state",
        "feeSumamt",
        "fundPay",
        "psnAcctPay",
        "ownPayAmt",
    ):
        table.add_column(
            col,
            justify="right"
            if col in ("feeSumamt", "fundPay", "psnAcctPay", "ownPayAmt")
            else "left",
        )
    for n in got:
        table.add_row(
            _ts(n, "at"),
            n.settlementId,
            n.insuOrg,
            n.settledBy,
            MED_NAMES.get(n.medType, str(n.medType)),
            STATES.get(n.state, str(n.state)),
            yuan(n.feeSumamt),
            yuan(n.fundPay),
            yuan(n.psnAcctPay),
            yuan(n.ownPayAmt),
        )
    out.print(table)
    out.print("amounts in yuan", highlight=False)


# -- the day's reconciliation (对账) -------------------------------------------------
MONEY = ("feeSumamt", "fundPay", "psnAcctPay", "ownPayAmt")
SCOPES = ("local", "remote", "total")
PARTS = ("settled", "reversed", "net")
LOCALITIES = {pb.LOCALITY_LOCAL: "local", pb.LOCALITY_REMOTE: "remote 异地"}

DateOpt = Annotated[
    str,
    typer.Option("--date", help="the day, YYYY-MM-DD in Beijing time [default: today there]"),
]


def _today() -> str:
    return datetime.datetime.now(BEIJING).date().isoformat()


def _province_of(org: str, province: str) -> str:
    """``--province``, else the province in an institution code (H/P + 6-digit region +
    5 digits: H44010091111 is of 44)."""
    if province or not (len(org) == 12 and org[1:3].isdigit()):
        return province
    return org[1:3]


def _clock(stamp: Timestamp) -> str:
    """A timestamp as Beijing wall time, YYYY-MM-DD HH:MM:SS."""
    at = stamp.ToDatetime(tzinfo=datetime.UTC).astimezone(BEIJING)
    return at.strftime("%Y-%m-%d %H:%M:%S")


@settlement_app.command(
    "list",
    epilog=examples(
        "ecnet settlement list --org H44010600001 --date 2026-12-01",
        "ecnet settlement list --org H44010600001 --all --json",
    ),
)
@reports_errors
def day_list(
    org: Annotated[str, typer.Option("--org", help="orgId of the institution (12 characters)")],
    date: DateOpt = "",
    province: Annotated[
        str, typer.Option("--province", help="its province [default: from the orgId]")
    ] = "",
    page_size: Annotated[
        int, typer.Option("--page-size", help="settlements per page (1-500)")
    ] = 100,
    page_token: Annotated[
        str, typer.Option("--page-token", help="the next page's token, as printed")
    ] = "",
    all_pages: Annotated[bool, typer.Option("--all", help="every page, as one")] = False,
    data: DataOpt = None,
    node: ProvincialNodeOpt = None,
    json_: JsonOpt = False,
) -> None:
    """An institution's settlements of a day: settled on it, or reversed on it."""
    date = date or _today()
    if not 1 <= page_size <= 500:
        raise CliError("--page-size must be between 1 and 500", -2)
    where = _province_of(org, province)
    request = pb.ListDaySettlementsRequest(
        orgId=org, date=date, pageSize=page_size, pageToken=page_token
    )
    got = _call(data, node, where, lambda s: s.ListDaySettlements, request)
    while all_pages and got.nextPageToken:
        request.pageToken = got.nextPageToken
        more = _call(data, node, where, lambda s: s.ListDaySettlements, request)
        got.settlements.extend(more.settlements)
        got.nextPageToken = more.nextPageToken
    if json_:
        print_message(got)
        return
    if not got.settlements:
        out.print(f"no settlements of {org} on {date} (Beijing time)", highlight=False)
        return
    table = Table(title=f"settlements of {org} on {date} (Beijing time)")
    for col in ("settledAt", "settlementId", "insured", "name", "medType", "where", "state"):
        table.add_column(col)
    for col in MONEY:
        table.add_column(col, justify="right")
    for r in got.settlements:
        state = STATES.get(r.state, str(r.state))
        if r.HasField("reversedAt"):
            state += f" {_clock(r.reversedAt)}"
        table.add_row(
            _clock(r.settledAt),
            r.settlementId,
            f"{r.insuredProvince} {province_name(r.insuredProvince)}",
            r.userName,
            MED_NAMES.get(r.medType, str(r.medType)),
            LOCALITIES.get(r.locality, str(r.locality)),
            state,
            *(yuan(getattr(r, f)) for f in MONEY),
        )
    out.print(table)
    out.print("amounts in yuan; times in Beijing time (UTC+8)", highlight=False)
    if got.nextPageToken:
        out.print(f"more: --page-token {got.nextPageToken} (or --all)", highlight=False)


def statement_rows(s: pb.DayStatement) -> list[list[str]]:
    """The statement as rows: scope, part, count, then the sums in yuan."""
    rows = []
    for scope in SCOPES:
        for part in PARTS:
            t: pb.Totals = getattr(getattr(s, scope), part)
            rows.append([scope, part, str(t.count), *(yuan(getattr(t, f)) for f in MONEY)])
    return rows


def _statement_table(s: pb.DayStatement) -> Table:
    who = s.orgId or f"province {s.province} ({province_name(s.province)})"
    table = Table(title=f"statement of {who} for {s.date} (Beijing time)")
    for col in ("scope", "part"):
        table.add_column(col)
    for col in ("count", *MONEY):
        table.add_column(col, justify="right")
    for row in statement_rows(s):
        table.add_row(*row)
    return table


@settlement_app.command(
    "statement",
    epilog=examples(
        "ecnet settlement statement --org H44010600001 --date 2026-12-01",
        "ecnet settlement statement --province 44 --csv",
        "ecnet settlement statement --org H44010600001 --json",
    ),
)
@reports_errors
def day_statement(
    date: DateOpt = "",
    org: Annotated[
        str,
        typer.Option("--org", help="orgId of the institution [default: the whole province]"),
    ] = "",
    province: Annotated[
        str, typer.Option("--province", help="the province (NN) [default: from --org]")
    ] = "",
    csv_: Annotated[bool, typer.Option("--csv", help="print CSV (amounts in yuan)")] = False,
    data: DataOpt = None,
    node: ProvincialNodeOpt = None,
    json_: JsonOpt = False,
) -> None:
    """The day's statement: settled, reversed and net, local and remote apart."""
    if json_ and csv_:
        raise CliError("give --json or --csv, not both", -2)
    date = date or _today()
    request = pb.GetDayStatementRequest(orgId=org, date=date)
    got = _call(data, node, _province_of(org, province), lambda s: s.GetDayStatement, request)
    if json_:
        print_message(got)
        return
    if csv_:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(
            ["date", "province", "orgId", "scope", "part", "count"] + [f"{f} (yuan)" for f in MONEY]
        )
        for s in (got.statement, *got.institutions):
            for row in statement_rows(s):
                writer.writerow([s.date, s.province, s.orgId, *row])
        return
    out.print(_statement_table(got.statement))
    out.print("amounts in yuan; net = settled − reversed", highlight=False)
    if got.statement.pendingCount:
        out.print(
            f"{got.statement.pendingCount} remote settlement(s) asked on {date} not confirmed by "
            "the insured province yet (not in the sums): retry them with their --request-id",
            highlight=False,
        )
    if got.institutions:
        table = Table(title="by institution (net)")
        table.add_column("orgId")
        for col in ("settled", "reversed", *MONEY):
            table.add_column(col, justify="right")
        for s in got.institutions:
            net = s.total.net
            table.add_row(
                s.orgId,
                str(s.total.settled.count),
                str(s.total.reversed.count),
                *(yuan(getattr(net, f)) for f in MONEY),
            )
        out.print(table)


# ``ecnet settle``: one command, no group (the top level loads it by name, cli.main)
settle_app = typer.Typer(add_completion=False)
settle_app.command(
    "settle",
    epilog=examples(
        'ecnet settle --province 44 --terminal "$T44" --token "$TOKEN" --org "$ORG44" '
        "--items items.json --request-id visit-0001",
        'ecnet settle --province 44 --terminal "$T44" --token "$TOKEN" --org "$ORG44" '
        "--items - --json < items.json",
    ),
)(settle)
