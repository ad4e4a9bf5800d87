"""What the doors take and answer: an OpenAPI 3 document (``/openapi.json``) and a page
a person reads (``/docs``), both made from the contracts themselves: each schema is a
message of proto/, each description the comment written there (the descriptor set that
``make proto`` keeps with its comments), so the doors' description cannot drift from the
gRPC contract it stands in front of.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable
from functools import cache
from importlib import resources
from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool

from node.config import Role
from node.domain.channelsig import SIGNED_SERVICES
from node.domain.codes import ERRORS
from node.domain.openplatform import REQUEST_FIELDS

__all__ = ["openapi", "docs_page", "schema_of", "add_schema"]

_SCALARS = {
    descriptor_pb2.FieldDescriptorProto.TYPE_STRING: {"type": "string"},
    descriptor_pb2.FieldDescriptorProto.TYPE_BOOL: {"type": "boolean"},
    descriptor_pb2.FieldDescriptorProto.TYPE_INT32: {"type": "integer", "format": "int32"},
    descriptor_pb2.FieldDescriptorProto.TYPE_UINT32: {"type": "integer", "format": "int32"},
    descriptor_pb2.FieldDescriptorProto.TYPE_SINT32: {"type": "integer", "format": "int32"},
    # protobuf JSON writes 64-bit integers as text
    descriptor_pb2.FieldDescriptorProto.TYPE_INT64: {"type": "string", "format": "int64"},
    descriptor_pb2.FieldDescriptorProto.TYPE_UINT64: {"type": "string", "format": "int64"},
    descriptor_pb2.FieldDescriptorProto.TYPE_SINT64: {"type": "string", "format": "int64"},
    descriptor_pb2.FieldDescriptorProto.TYPE_DOUBLE: {"type": "number"},
    descriptor_pb2.FieldDescriptorProto.TYPE_FLOAT: {"type": "number"},
    descriptor_pb2.FieldDescriptorProto.TYPE_BYTES: {"type": "string", "format": "byte"},
}
# protobuf JSON's forms of the well-known types
_WELL_KNOWN: dict[str, dict[str, Any]] = {
    "google.protobuf.Struct": {"type": "object", "additionalProperties": True},
    "google.protobuf.Timestamp": {"type": "string", "format": "date-time"},
    "google.protobuf.Duration": {"type": "string", "description": "seconds, e.g. 1.5s"},
    "google.protobuf.Value": {},
}
# A schema's name (the message's short name) → the message's full name.
_FULL_NAMES: dict[str, str] = {}
_REQUIRED = 2  # google.api.FieldBehavior.REQUIRED
_FIELD_BEHAVIOR = 1052  # the extension's field number in FieldOptions


@cache
def _messages() -> dict[str, tuple[descriptor_pb2.DescriptorProto, dict[tuple[int, ...], str]]]:
    """Every message of proto/ by full name, with the comments of its file by path."""
    data = resources.files("ecnet.v1").joinpath("descriptor_set.binpb").read_bytes()
    out: dict[str, tuple[descriptor_pb2.DescriptorProto, dict[tuple[int, ...], str]]] = {}
    for f in descriptor_pb2.FileDescriptorSet.FromString(data).file:
        comments = {
            tuple(loc.path): loc.leading_comments.strip()
            for loc in f.source_code_info.location
            if loc.leading_comments
        }
        for i, m in enumerate(f.message_type):
            own = {k[2:]: v for k, v in comments.items() if k[:2] == (4, i)}
            out[f"{f.package}.{m.name}"] = (m, own)
    return out


def _required(field: descriptor_pb2.FieldDescriptorProto) -> bool:
    """Marked ``(google.api.field_behavior) = REQUIRED`` in proto/ (an extension, read
    from the options' bytes: the default pool need not know it)."""
    return _REQUIRED in _behaviors(field.options.SerializeToString())


def _behaviors(raw: bytes) -> set[int]:
    """The values of field 1052 (varints, or packed) in serialized FieldOptions."""
    found: set[int] = set()
    i = 0
    while i < len(raw):
        key, i = _varint(raw, i)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, i = _varint(raw, i)
            if number == _FIELD_BEHAVIOR:
                found.add(value)
        elif wire == 2:
            length, i = _varint(raw, i)
            chunk, i = raw[i : i + length], i + length
            if number == _FIELD_BEHAVIOR:
                j = 0
                while j < len(chunk):
                    value, j = _varint(chunk, j)
                    found.add(value)
        elif wire == 5:
            i += 4
        elif wire == 1:
            i += 8
        else:
            break
    return found


def _varint(data: bytes, i: int) -> tuple[int, int]:
    shift = value = 0
    while i < len(data):
        b = data[i]
        i += 1
        value |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            break
    return value, i


def schema_of(full_name: str) -> dict[str, Any]:
    """The JSON schema of a message (``ecnet.v1.QueryRequest``) as protobuf JSON writes
    it, each property described by the field's comment in proto/."""
    message, comments = _messages()[full_name]
    props: dict[str, Any] = {}
    required: list[str] = []
    for i, f in enumerate(message.field):
        name = f.json_name or f.name
        if f.type == descriptor_pb2.FieldDescriptorProto.TYPE_MESSAGE:
            ref = f.type_name.lstrip(".")
            prop: dict[str, Any]
            if ref in _WELL_KNOWN:
                prop = dict(_WELL_KNOWN[ref])
            else:
                _FULL_NAMES[ref.rsplit(".", 1)[-1]] = ref
                prop = {"$ref": f"#/components/schemas/{ref.rsplit('.', 1)[-1]}"}
        elif f.type == descriptor_pb2.FieldDescriptorProto.TYPE_ENUM:
            prop = {"type": "string"}
        else:
            prop = dict(_SCALARS.get(f.type, {"type": "string"}))
        if f.label == descriptor_pb2.FieldDescriptorProto.LABEL_REPEATED:
            prop = {"type": "array", "items": prop}
        text = comments.get((2, i))
        if text:
            prop["description"] = " ".join(text.split())
        props[name] = prop
        if _required(f):
            required.append(name)
    schema: dict[str, Any] = {"type": "object", "properties": props}
    if required:
        schema["required"] = required
    top = comments.get(())
    if top:
        schema["description"] = " ".join(top.split())
    return schema


def add_schema(schemas: dict[str, Any], full_name: str) -> str:
    """Put ``full_name``'s schema (and those it refers to) into ``schemas``; its $ref."""
    short = full_name.rsplit(".", 1)[-1]
    if short not in schemas:
        schema = schema_of(full_name)
        schemas[short] = schema
        for ref in _refs(schema):
            add_schema(schemas, _FULL_NAMES[ref])
    return f"#/components/schemas/{short}"


def _refs(schema: Any) -> list[str]:
    if isinstance(schema, dict):
        found = []
        for k, v in schema.items():
            if k == "$ref" and isinstance(v, str):
                found.append(v.rsplit("/", 1)[-1])
            else:
                found += _refs(v)
        return found
    if isinstance(schema, list):
        return [r for v in schema for r in _refs(v)]
    return []


_B2_EXAMPLE = {
    "orgId": "H44010600001",
    "code": 0,
    "message": "成功",
    "data": {
        "userName": "张三",
        "idNo": "440106199001011234",
        "idType": "01",
        "ecToken": "440000ec...",
        "insuOrg": "440100",
    },
    "extra": {},
}
_B1_EXAMPLE = {
    "orgId": "H44010600001",
    "transType": "ec.query",
    "data": {
        "orgId": "H44010600001",
        "businessType": "01101",
        "operatorId": "test001",
        "operatorName": "张医生",
        "officeId": "32760",
        "officeName": "消化内科",
        "ecQrCode": "4243754826492874240001440000",
    },
}


def _codes() -> str:
    return "; ".join(f"{c} {e.zh}" for c, e in ERRORS.items() if c <= 0)


def _terminal_paths(schemas: dict[str, Any]) -> dict[str, Any]:
    add_schema(schemas, "ecnet.v1.QueryRequest")
    add_schema(schemas, "ecnet.v1.QueryResponse")
    add_schema(schemas, "ecnet.v1.CheckTokenRequest")
    envelope = add_schema(schemas, "ecnet.v1.TransRequest")
    answer = add_schema(schemas, "ecnet.v1.TransResponse")
    b2 = {"application/json": {"schema": {"$ref": answer}}}
    return {
        "/ec/v1/trans": {
            "post": {
                "summary": "A terminal's transaction (NationEcTrans, Appendix B)",
                "description": (
                    "The B.1 envelope in, the B.2 answer out, over mutual TLS with the "
                    "terminal's certificate from the national CA. transType ec.query: data "
                    "is a QueryRequest (table B.3, the scanned ecQrCode included), the "
                    "answer's data a QueryResponse (table B.4). ec.token.check: data is a "
                    "CheckTokenRequest, the answer's data {flag, insuOrg} (flag 1 valid, 0 "
                    "not). Every transaction answers HTTP 200 with its code (0 success, "
                    "else table C.4: " + _codes() + ", and the 5000xx codes of the "
                    "voucher centre); only what is not a transaction answers 4xx."
                ),
                "operationId": "trans",
                "tags": ["terminal door"],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {"schema": {"$ref": envelope}, "example": _B1_EXAMPLE}
                    },
                },
                "responses": {
                    "200": {
                        "description": "The transaction's answer (table B.2), code 0 or why not",
                        "content": {
                            "application/json": {"schema": {"$ref": answer}, "example": _B2_EXAMPLE}
                        },
                    },
                    "400": {"description": "Not a JSON object (code -2)", "content": b2},
                    "403": {
                        "description": "No client certificate, or one refused (code -4)",
                        "content": b2,
                    },
                    "413": {
                        "description": "Body over 2 MiB, or data / extra over 200K (code -2)",
                        "content": b2,
                    },
                },
            }
        }
    }


_ENVELOPE = {
    "type": "object",
    "description": (
        "The open platform's request envelope. The signature base is the decrypted "
        "request's fields with appId, timestamp, nonce, encType, signType, version and "
        "method (ecnet.v1.Service/Method), empty values and signData, encData, extra left "
        "out, sorted by key, nested objects as JSON with sorted keys, joined k=v&...; "
        "signData is the SM2 signature (user id 1234567812345678) over its SM3 digest. "
        "node.domain.openplatform.seal_request makes one."
    ),
    "required": list(REQUEST_FIELDS),
    "properties": {
        "appId": {"type": "string", "description": "the channel's appId (national's approval)"},
        "encType": {"type": "string", "enum": ["SM4"]},
        "signType": {"type": "string", "enum": ["SM2"]},
        "timestamp": {"type": "string", "description": "ms since the epoch; ±5 minutes"},
        "version": {"type": "string", "description": "1-16 of [0-9A-Za-z._-], e.g. 1.0.0"},
        "nonce": {"type": "string", "description": "8-64 of [A-Za-z0-9_-], never sent twice"},
        "encData": {
            "type": "string",
            "description": "hex of SM4-ECB/PKCS#7, under the channel's SM4 key, of the "
            "request message's JSON (protobuf JSON names)",
        },
        "signData": {"type": "string", "description": "base64 of the 64-byte SM2 r||s"},
        "extra": {"type": "object", "description": "ignored, never signed"},
    },
}
_ANSWER = {
    "type": "object",
    "description": (
        "The node's answer, signed with its SM2 key (GET /ec/v1/channel/key): the "
        "signature base is every field but encData and signData, plus data (the "
        "decrypted response, as JSON with sorted keys). A refusal has no encData. "
        "node.domain.openplatform.open_response checks and opens one."
    ),
    "properties": {
        "code": {"type": "integer", "description": "0, or the code of table C.4"},
        "message": {"type": "string"},
        "appId": {"type": "string"},
        "encType": {"type": "string"},
        "signType": {"type": "string"},
        "timestamp": {"type": "string"},
        "version": {"type": "string"},
        "nonce": {"type": "string"},
        "node": {"type": "string", "description": "the node that signed: national or pNN"},
        "method": {"type": "string"},
        "encData": {"type": "string", "description": "the response message, SM4, hex"},
        "signData": {"type": "string"},
    },
}


def _channel_paths(schemas: dict[str, Any], serves: Callable[[str], bool]) -> dict[str, Any]:
    schemas.setdefault("ChannelEnvelope", _ENVELOPE)
    schemas.setdefault("ChannelAnswer", _ANSWER)
    pool = descriptor_pool.Default()
    paths: dict[str, Any] = {}
    for service in SIGNED_SERVICES:
        for m in pool.FindServiceByName(service).methods:
            if not serves(f"/{service}/{m.name}"):
                continue
            request = add_schema(schemas, m.input_type.full_name)
            response = add_schema(schemas, m.output_type.full_name)
            answer = {
                "application/json": {"schema": {"$ref": "#/components/schemas/ChannelAnswer"}}
            }
            paths[f"/ec/v1/channel/{m.name}"] = {
                "post": {
                    "summary": f"{service.rsplit('.', 1)[-1]}/{m.name}, as a channel calls it",
                    "description": (
                        f"encData carries a {m.input_type.name} ({request}); the answer's "
                        f"encData a {m.output_type.name} ({response}). The call is checked "
                        "as a signed gRPC call is: 500036 bad signature, -4 stale timestamp, "
                        "replayed nonce, suspended channel or a method outside its scopes, "
                        "500012 unknown appId, 500072 encData that does not decrypt, -6 "
                        "over its rate (Retry-After)."
                    ),
                    "operationId": f"channel{m.name}",
                    "tags": ["channel door"],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/ChannelEnvelope"}
                            }
                        },
                    },
                    "responses": {
                        "200": {
                            "description": "The signed answer, code 0 or why not",
                            "content": answer,
                        },
                        "400": {"description": "Not a JSON object (code -2)", "content": answer},
                        "404": {"description": "Not served here (code -5)", "content": answer},
                        "413": {"description": "Body over 2 MiB (code -2)", "content": answer},
                    },
                }
            }
    return paths


def openapi(
    node: str, role: Role, version: str, serves: Callable[[str], bool] = lambda m: False
) -> dict[str, Any]:
    """The OpenAPI 3 document of ``node``'s doors (``serves``: does the node serve this
    method, ``/ecnet.v1.QrService/IssueQrCode``)."""
    schemas: dict[str, Any] = {}
    paths: dict[str, Any] = {}
    if role is Role.PROVINCIAL:
        paths.update(_terminal_paths(schemas))
    paths.update(_channel_paths(schemas, serves))
    paths["/ec/v1/channel/key"] = {
        "get": {
            "summary": "The node's public SM2 key, which signs the channel door's answers",
            "operationId": "channelKey",
            "tags": ["channel door"],
            "responses": {
                "200": {
                    "description": "{node, signType: SM2, publicKey: 65 bytes 04||x||y, hex}",
                    "content": {"application/json": {"schema": {"type": "object"}}},
                }
            },
        }
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": f"ecnet {node}: the HTTPS doors",
            "version": version,
            "description": (
                "The doors of one ecnet node for callers that do not speak gRPC. Each "
                "stands in front of the node's gRPC methods and keeps their rules."
            ),
        },
        "paths": paths,
        "components": {"schemas": schemas},
    }


def docs_page(document: dict[str, Any]) -> str:
    """A page a person reads: each path, what it takes and answers, its example."""
    e = html.escape
    parts = [
        "<!doctype html><html lang=en><meta charset=utf-8>",
        f"<title>{e(document['info']['title'])}</title>",
        "<style>body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;"
        "padding:0 1rem;color:#222}code,pre{font:13px ui-monospace,monospace;background:#f4f4f4}"
        "pre{padding:.6rem;overflow:auto}table{border-collapse:collapse}td,th{border:1px solid"
        " #ccc;padding:.2rem .5rem;text-align:left;vertical-align:top}h2{margin-top:2rem}</style>",
        f"<h1>{e(document['info']['title'])}</h1>",
        f"<p>{e(document['info']['description'])} The machine-readable description: "
        "<a href=/openapi.json><code>/openapi.json</code></a> (OpenAPI 3).</p>",
    ]
    schemas = document["components"]["schemas"]
    for path, ops in document["paths"].items():
        for verb, op in ops.items():
            parts.append(f"<h2><code>{e(verb.upper())} {e(path)}</code></h2>")
            parts.append(f"<p><b>{e(op['summary'])}</b></p>")
            if op.get("description"):
                parts.append(f"<p>{e(op['description'])}</p>")
            body = op.get("requestBody", {}).get("content", {}).get("application/json", {})
            if body:
                parts.append(_schema_table("Request", body.get("schema", {}), schemas))
                if "example" in body:
                    parts.append("<p>Example request:</p><pre>")
                    parts.append(e(json.dumps(body["example"], ensure_ascii=False, indent=2)))
                    parts.append("</pre>")
            for status, answer in op.get("responses", {}).items():
                parts.append(f"<p><b>HTTP {e(status)}</b>: {e(answer['description'])}</p>")
                content = answer.get("content", {}).get("application/json", {})
                if "example" in content:
                    parts.append("<pre>")
                    parts.append(e(json.dumps(content["example"], ensure_ascii=False, indent=2)))
                    parts.append("</pre>")
    parts.append("<h2>Schemas</h2>")
    for name in schemas:
        parts.append(_schema_table(name, {"$ref": f"#/components/schemas/{name}"}, schemas))
    parts.append("</html>")
    return "".join(parts)


def _schema_table(title: str, schema: dict[str, Any], schemas: dict[str, Any]) -> str:
    e = html.escape
    ref = schema.get("$ref", "")
    name = ref.rsplit("/", 1)[-1] if ref else ""
    target = schemas.get(name, schema)
    rows = []
    required = set(target.get("required", ()))
    for prop, spec in target.get("properties", {}).items():
        kind = spec.get("type") or spec.get("$ref", "").rsplit("/", 1)[-1]
        if kind == "array":
            items = spec.get("items", {})
            kind = f"array of {items.get('type') or items.get('$ref', '').rsplit('/', 1)[-1]}"
        need = "yes" if prop in required else ""
        rows.append(
            f"<tr><td><code>{e(prop)}</code></td><td>{e(kind)}</td><td>{need}</td>"
            f"<td>{e(spec.get('description', ''))}</td></tr>"
        )
    named = f" ({e(name)})" if name and name != title else ""
    head = f"<h3 id={e(name or title)}>{e(title)}{named}</h3>"
    about = f"<p>{e(target['description'])}</p>" if target.get("description") else ""
    return (
        head
        + about
        + "<table><tr><th>field</th><th>type</th><th>required</th><th>meaning</th></tr>"
        + "".join(rows)
        + "</table>"
    )
