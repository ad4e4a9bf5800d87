"""The scan's request (table B.3) to and from its proto, kept at the edge (the rest of
:mod:`node.acceptance` never sees a proto type)."""

from __future__ import annotations

from ecnet.v1 import acceptance_service_pb2 as acc_pb
from node.acceptance.inputs import QueryInput

__all__ = ["query_to_proto", "query_from_proto"]


_QUERY_FIELDS = tuple(QueryInput.__dataclass_fields__)


def query_to_proto(q: QueryInput) -> acc_pb.QueryRequest:
    return acc_pb.QueryRequest(**{name: getattr(q, name) for name in _QUERY_FIELDS})


def query_from_proto(msg: acc_pb.QueryRequest) -> QueryInput:
    return QueryInput(**{name: getattr(msg, name) for name in _QUERY_FIELDS})
