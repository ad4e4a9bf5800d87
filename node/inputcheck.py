"""Limits every request meets before a handler sees it: lengths, characters, sizes.

The interceptor calls :func:`check_request` on every decoded request of the public
services (FederationService is nodes only and carries events of its own shapes). It
walks the message's fields by their descriptors (the plan of each message type is
built once) and refuses, with -2 naming every field at once:

* a text longer than its limit: the length of tables B.1, B.3 and B.4 for the
  standard's data elements (``FIELD_LIMITS``, counted in characters as the tables'
  type C is), 200 characters for an item name, 500 for a reason, and
  ``DEFAULT_LIMIT`` for any other identifier, code or serial;
* a NUL or any other control character (U+0000-U+001F, U+007F) in a name or an
  identifier (every text but the free text of ``FREE_TEXT``: a stated reason, B.3's
  businessInfo, where only NUL is refused): they never hold one, and a NUL cuts a name
  short in C code downstream;
* an envelope ``data`` or ``extra`` (``google.protobuf.Struct``) larger than B.1's
  200K (``STRUCT_BYTES``, its encoded size), nested deeper than ``MAX_DEPTH`` objects
  and lists (B.1's data is an object of fields), or holding a NUL anywhere.

When a request is refused for one of these, the required fields it lacks (those marked
``REQUIRED`` in the proto) are named in the same refusal, as a handler would
(``node.errors.Problems``): orgId missing is then 500098, as table B.1 says.

The per-field checks of the business packages (an id number's form, B.3's fields inside
an envelope's ``data``) still run after this one: the limits here are the outer bound
that no field of any method may pass.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from google.api import field_behavior_pb2  # type: ignore[import-untyped]  # no py.typed
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from node.errors import Problems

__all__ = [
    "FIELD_LIMITS",
    "DEFAULT_LIMIT",
    "MAX_REQUEST_BYTES",
    "STRUCT_BYTES",
    "MAX_DEPTH",
    "check_request",
    "problems_of",
]

# Data elements of the standard (tables B.1, B.3, B.4; characters) and ecnet's own.
FIELD_LIMITS: dict[str, int] = {
    # B.1, the envelope
    "orgId": 40,
    "transType": 40,
    # B.3, a scan's fields
    "businessType": 5,
    "businessInfo": 200,
    "operatorId": 20,
    "operatorName": 30,
    "officeId": 20,
    "officeName": 30,
    "deviceType": 40,
    "outBizNo": 64,
    # B.4, the person
    "idType": 2,
    "newIdType": 2,
    "idNo": 30,
    "newIdNo": 30,
    "userName": 50,
    "newUserName": 50,
    "insuOrg": 6,
    "insuredProvince": 2,
    "businessProvince": 2,
    "province": 2,
    "insuOrgName": 100,
    "ecQrCode": 64,
    # ecnet: an item's name (free text on a bill), a stated reason, idempotency keys
    "name": 200,
    "reason": 500,
    "requestId": 128,
}
DEFAULT_LIMIT = 256
# Free text: any character but NUL (a reason may quote a tab or a line break).
FREE_TEXT = frozenset({"reason", "businessInfo"})
# The gRPC server's max receive message size: a request larger is refused by gRPC before
# it is decoded (RESOURCE_EXHAUSTED, which clients read as -2). The largest request the
# standard allows is an envelope whose data and extra are at B.1's 200K each: at most
# 1.2 MB even if every character were a 3-byte UTF-8 Chinese one; a settlement of 500
# items with 200-character names is under 0.5 MB; a batch of events between nodes is
# 200 events of a few KB. 2 MiB admits all of them with room, and keeps a client from
# making a node decode gRPC's default 4 MiB (or more) of junk per call.
MAX_REQUEST_BYTES = 2 * 1024 * 1024
BYTES_LIMIT = 8192  # a liveness sample: 40 bytes in the simulation, a template's size
STRUCT_BYTES = 200 * 1024  # B.1: data and extra "200K"
MAX_DEPTH = 16

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_NUL = re.compile(r"\x00")
_STRUCT = "google.protobuf.Struct"


@dataclass(frozen=True, slots=True)
class _Field:
    field: Any  # a FieldDescriptor (upb's or the pure one)
    kind: str  # "text", "bytes", "struct", "message"
    limit: int
    required: bool
    refused: re.Pattern[str] = _CONTROL  # the characters a text may not hold


_PLANS: dict[str, tuple[_Field, ...]] = {}
_SPECS: dict[str, dict[str, _Field]] = {}


def _plan(d: Any) -> tuple[_Field, ...]:
    plan = _PLANS.get(d.full_name)
    if plan is not None:
        return plan
    out = []
    for f in d.fields:
        behaviors = f.GetOptions().Extensions[field_behavior_pb2.field_behavior]
        required = field_behavior_pb2.REQUIRED in behaviors
        if f.type == FieldDescriptor.TYPE_STRING:
            limit = FIELD_LIMITS.get(f.name, DEFAULT_LIMIT)
            refused = _NUL if f.name in FREE_TEXT else _CONTROL
            out.append(_Field(f, "text", limit, required, refused))
        elif f.type == FieldDescriptor.TYPE_BYTES:
            out.append(_Field(f, "bytes", BYTES_LIMIT, required))
        elif f.type == FieldDescriptor.TYPE_MESSAGE:
            if f.message_type.full_name == _STRUCT:
                out.append(_Field(f, "struct", STRUCT_BYTES, required))
            elif not f.message_type.full_name.startswith("google.protobuf."):
                out.append(_Field(f, "message", 0, required))
        else:
            out.append(_Field(f, "other", 0, required))
    plan = tuple(out)
    _PLANS[d.full_name] = plan
    return plan


def _struct_problem(value: Message) -> str:
    """What is wrong with a Struct (too deep, a NUL), or ''."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            return f"is nested deeper than {MAX_DEPTH} levels of objects and lists"
        kind = node.DESCRIPTOR.full_name
        if kind == "google.protobuf.Struct":
            for key, v in node.fields.items():
                if "\x00" in key:
                    return "has a NUL character in a key"
                stack.append((v, depth))
        elif kind == "google.protobuf.ListValue":
            stack.extend((v, depth) for v in node.values)
        else:  # a Value
            which = node.WhichOneof("kind")
            if which == "string_value" and "\x00" in node.string_value:
                return "has a NUL character in a value"
            if which == "struct_value":
                stack.append((node.struct_value, depth + 1))
            elif which == "list_value":
                stack.append((node.list_value, depth + 1))
    return ""


def _specs(d: Any) -> dict[str, _Field]:
    specs = _SPECS.get(d.full_name)
    if specs is None:
        specs = _SPECS[d.full_name] = {spec.field.name: spec for spec in _plan(d)}
    return specs


def _walk(msg: Message, p: Problems, prefix: str, depth: int) -> bool:
    """Record what is wrong in ``msg``; True when a limit was passed. Only the fields
    that are set are visited (``ListFields``, in C), so a small request costs little."""
    bad = False
    specs = _specs(msg.DESCRIPTOR)
    for f, value in msg.ListFields():
        spec = specs.get(f.name)
        if spec is None:
            continue
        kind = spec.kind
        if kind == "text":
            for text in value if f.is_repeated else (value,):
                if len(text) <= spec.limit and not spec.refused.search(text):
                    continue
                bad = True
                if len(text) > spec.limit:
                    why = f"must be at most {spec.limit} characters (has {len(text)})"
                elif spec.refused is _NUL:
                    why = "must not contain a NUL character"
                else:
                    why = "must not contain NUL or other control characters"
                p.wrong(prefix + f.name, why)
        elif kind == "bytes":
            for data in value if f.is_repeated else (value,):
                if len(data) > spec.limit:
                    p.wrong(
                        prefix + f.name, f"must be at most {spec.limit} bytes (has {len(data)})"
                    )
                    bad = True
        elif kind == "struct":
            for struct in value if f.is_repeated else (value,):
                size = struct.ByteSize()
                why = (
                    f"must be at most 200K (table B.1), has {size // 1024}K"
                    if size > spec.limit
                    else _struct_problem(struct)
                )
                if why:
                    p.wrong(prefix + f.name, why)
                    bad = True
        elif kind == "message" and depth < MAX_DEPTH:
            if f.is_repeated:
                for i, item in enumerate(value):
                    bad = _walk(item, p, f"{prefix}{f.name}[{i}].", depth + 1) or bad
            else:
                bad = _walk(value, p, f"{prefix}{f.name}.", depth + 1) or bad
    return bad


def _missing(msg: Message, p: Problems) -> None:
    for spec in _plan(msg.DESCRIPTOR):
        if spec.required and spec.kind in ("text", "bytes") and not getattr(msg, spec.field.name):
            p.require(spec.field.name, "", code=500098 if spec.field.name == "orgId" else -2)


def problems_of(request: Message) -> Problems | None:
    """The problems of a request that passes a limit, with its missing required fields;
    None when no limit is passed."""
    p = Problems()
    if not _walk(request, p, "", 0):
        return None
    _missing(request, p)
    return p


def check_request(request: object) -> None:
    """Raise -2 (or 500098) when ``request`` passes a limit (module docstring)."""
    if not isinstance(request, Message):
        return
    p = problems_of(request)
    if p is not None:
        p.check()
