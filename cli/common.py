"""What every ``ecnet`` command shares: the consoles, the common options, the one-line
error report, JSON output, and how a command finds the node it talks to.

``--json`` prints an RPC's answer exactly as grpcurl prints it (:func:`print_message`),
so that a script written against one works against the other; a failure under
``--json`` is the JSON object ``{"code": <C.4 code>, "message": "..."}`` on stdout
(:func:`print_error_json`), with a non-zero exit.
"""

from __future__ import annotations

import base64
import functools
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, ParamSpec, TypeVar, cast

import typer
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from rich.console import Console

from cli.nationfile import NationFile, NodeEntry, default_data_dir
from cli.rpc import CliError

__all__ = [
    "out",
    "err",
    "DataOpt",
    "JsonOpt",
    "reports_errors",
    "print_json",
    "print_message",
    "print_error_json",
    "grpcurl_json",
    "UNCODED",
    "data_dir",
    "examples",
    "province_address",
]

# Piped output (CI logs, files) gets room for a whole table row.
out = Console(width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, width=None if sys.stderr.isatty() else 160)

DataOpt = Annotated[
    Path | None,
    typer.Option("--data", help="nation data folder [default: $ECNET_DATA or ./nation]"),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON")]
# --node of the commands that talk to any one node (national by default).
NodeOpt = Annotated[
    str | None, typer.Option("--node", help="HOST:PORT of one node to talk to directly")
]
# --node of the commands that talk to a provincial node (beside --province NN).
ProvincialNodeOpt = Annotated[
    str | None, typer.Option("--node", help="HOST:PORT of the provincial node")
]


def examples(*commands: str) -> str:
    """The epilog of a command's ``--help``: a few commands to copy. (Typer's help joins
    single line breaks, so each command is its own paragraph; no square brackets, which
    its rich markup would take for tags.)"""
    return "\n\n".join(["Examples:", *commands])


def data_dir(value: Path | None) -> Path:
    return value if value is not None else default_data_dir()


P = ParamSpec("P")
R = TypeVar("R")


# The C.4 code of a failure that carries none of its own (a local file, a nation
# folder): the request's parameters, as the user gave them, do not work.
UNCODED = -2


def print_error_json(code: int, message: str) -> None:
    """A failure under ``--json``: ``{"code": <C.4 code>, "message": "..."}`` on stdout,
    indented as every other ``--json`` output."""
    sys.stdout.write(
        json.dumps({"code": code, "message": message}, ensure_ascii=False, indent=2) + "\n"
    )
    sys.stdout.flush()


def reports_errors(fn: Callable[P, R]) -> Callable[P, R]:
    """Every expected failure as one clear line on stderr (``error CODE: message``), or,
    when the command was given ``--json``, as the JSON object of
    :func:`print_error_json`; either way a non-zero exit."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        as_json = bool(kwargs.get("json_"))
        try:
            return fn(*args, **kwargs)
        except CliError as exc:
            if as_json:
                print_error_json(exc.code if exc.code is not None else UNCODED, str(exc))
            else:
                prefix = f"error {exc.code}: " if exc.code is not None else "error: "
                # soft_wrap: one line however long (a path), never folded at the width
                err.print(f"[red]{prefix}[/red]{exc}", highlight=False, markup=True, soft_wrap=True)
            raise typer.Exit(1) from None
        except FileNotFoundError as exc:
            if as_json:
                print_error_json(UNCODED, str(exc))
            else:
                err.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
            raise typer.Exit(1) from None

    return wrapper


def print_json(value: Any) -> None:
    """``value``: anything ``json.dumps`` takes (dicts, lists, strings, numbers). For the
    output of commands that is not one RPC's answer (``nation status``)."""
    out.print_json(json.dumps(value, ensure_ascii=False))


def print_message(message: Message) -> None:
    """An RPC's answer as grpcurl prints it (:func:`grpcurl_json`), on stdout."""
    sys.stdout.write(grpcurl_json(message) + "\n")
    sys.stdout.flush()


# -- grpcurl's JSON ------------------------------------------------------------------
# grpcurl (v1.8, the one make setup installs) prints an answer through the dynamic
# message of github.com/jhump/protoreflect: protobuf's JSON mapping with the fields'
# JSON names (the contracts' names are already lowerCamelCase), enums by name, 64-bit
# integers as strings, bytes as base64, timestamps in RFC 3339 with 0, 3, 6 or 9
# fractional digits; fields that are not populated (0, "", false, empty lists, unset
# messages) are left out, as grpcurl does without -emit-defaults. Its layout: every
# field on a line of its own, indented by two spaces a level, "name": value, and an
# object with no field as "{", a line holding only the indentation, "}". Strings are
# escaped as Go's encoding/json does: <, > and & as \u003c, \u003e, \u0026, U+2028 and
# U+2029, and control characters as \uXXXX except \n, \r and \t.
_INT64 = frozenset(
    (
        FieldDescriptor.TYPE_INT64,
        FieldDescriptor.TYPE_SINT64,
        FieldDescriptor.TYPE_SFIXED64,
        FieldDescriptor.TYPE_UINT64,
        FieldDescriptor.TYPE_FIXED64,
    )
)
_FLOAT = frozenset((FieldDescriptor.TYPE_FLOAT, FieldDescriptor.TYPE_DOUBLE))
_GO_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _go_string(value: str) -> str:
    """``value`` as Go's ``json.Marshal`` writes a string."""
    parts = ['"']
    for ch in value:
        if ch in _GO_ESCAPES:
            parts.append(_GO_ESCAPES[ch])
        elif ch < " " or ch in "<>&\u2028\u2029":
            parts.append(f"\\u{ord(ch):04x}")
        else:
            parts.append(ch)
    parts.append('"')
    return "".join(parts)


def _go_float(value: float) -> str:
    """Go's ``strconv.FormatFloat(value, 'g', -1, 64)``, as the dynamic message writes
    a float: the shortest digits, in exponent form when the exponent is below -4 or at
    least 6. (No ecnet contract has a float field; this keeps any answer printable.)"""
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "Infinity" if value > 0 else "-Infinity"
    text = repr(value)
    mantissa, _, exponent = text.partition("e")
    exp = int(exponent) if exponent else 0
    digits = mantissa.lstrip("-").replace(".", "").lstrip("0") or "0"
    if not exponent:  # repr's plain form: find the exponent of its first digit
        whole, _, fraction = mantissa.lstrip("-").partition(".")
        if whole.strip("0"):
            exp = len(whole.lstrip("0")) - 1
        else:
            exp = -(len(fraction) - len(fraction.lstrip("0")) + 1)
    digits = digits.rstrip("0") or "0"
    sign = "-" if text.startswith("-") else ""
    if digits == "0":
        return sign + "0"
    if exp < -4 or exp >= 6:
        tail = f".{digits[1:]}" if len(digits) > 1 else ""
        return f"{sign}{digits[0]}{tail}e{'-' if exp < 0 else '+'}{abs(exp):02d}"
    if exp < 0:
        return f"{sign}0.{'0' * (-exp - 1)}{digits}"
    whole, fraction = digits[: exp + 1], digits[exp + 1 :]
    return f"{sign}{whole.ljust(exp + 1, '0')}{'.' + fraction if fraction else ''}"


def _scalar(field: FieldDescriptor, value: Any, depth: int) -> str:
    if field.type == FieldDescriptor.TYPE_MESSAGE:
        return _message(value, depth)
    if field.enum_type is not None:
        named = field.enum_type.values_by_number.get(value)
        return _go_string(named.name) if named is not None else str(value)
    if field.type == FieldDescriptor.TYPE_BOOL:
        return "true" if value else "false"
    if field.type == FieldDescriptor.TYPE_STRING:
        return _go_string(value)
    if field.type == FieldDescriptor.TYPE_BYTES:
        return _go_string(base64.b64encode(value).decode())
    if field.type in _INT64:
        return f'"{value}"'
    if field.type in _FLOAT:
        return _go_float(value)
    return str(value)


def _block(open_: str, close: str, items: list[str], depth: int) -> str:
    inner, outer = "\n" + "  " * (depth + 1), "\n" + "  " * depth
    return open_ + inner + ("," + inner).join(items) + outer + close


def _message(message: Message, depth: int) -> str:
    full_name = message.DESCRIPTOR.full_name
    if isinstance(message, Timestamp):
        return _go_string(message.ToJsonString())
    if full_name.startswith("google.protobuf.") and full_name != "google.protobuf.Empty":
        raise TypeError(f"{full_name} is not printed as grpcurl would (no ecnet answer has one)")
    populated = {field.name for field, _ in message.ListFields()}
    items = []
    # in the order the contract declares them
    for field in cast("list[FieldDescriptor]", message.DESCRIPTOR.fields):
        if field.name not in populated:
            continue
        value = getattr(message, field.name)
        name = _go_string(field.json_name) + ": "
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            value_field = field.message_type.fields_by_name["value"]
            entries = [
                _go_string(str(k)) + ": " + _scalar(value_field, value[k], depth + 2)
                for k in sorted(value)
            ]
            items.append(name + _block("{", "}", entries, depth + 1))
        elif field.is_repeated:
            elements = [_scalar(field, v, depth + 2) for v in value]
            items.append(name + _block("[", "]", elements, depth + 1))
        else:
            items.append(name + _scalar(field, value, depth + 1))
    return _block("{", "}", items, depth)


def grpcurl_json(message: Message) -> str:
    """``message`` as the text grpcurl prints for it (without the final newline)."""
    return _message(message, 0)


def province_entry(data: Path, province: str) -> NodeEntry:
    """Province NN's entry in the nation's ``nation.json`` (its addresses)."""
    return nation_entry(NationFile.load(data), province)


def nation_entry(nation: NationFile, province: str) -> NodeEntry:
    """Province NN's entry in ``nation``, or a -2 naming the provinces it has."""
    entry = nation.nodes.get(f"p{province}")
    if entry is None:
        raise CliError(
            f"province {province} is not part of the nation in {nation.data_dir} "
            f"(its provinces: {', '.join(nation.provinces())})",
            -2,
        )
    return entry


def province_address(data: Path | None, node: str | None, province: str) -> str:
    """``--node``, else the address of province NN in the nation's ``nation.json``."""
    if node:
        return node
    if not province:
        raise CliError("give --province NN (or --node HOST:PORT of the provincial node)", -2)
    return province_entry(data_dir(data), province).address
