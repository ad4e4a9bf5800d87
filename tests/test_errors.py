"""The error model: one EcError, a rich gRPC status for typed RPCs, fields for the envelope."""

from __future__ import annotations

import grpc
import pytest
from google.rpc import error_details_pb2

from node.domain.codes import ERRORS
from node.errors import DOMAIN, EcError, envelope_fields, from_rpc_error, to_status


class FakeRpcError(grpc.RpcError):
    """What a client receives: code, details and trailing metadata of a status."""

    def __init__(self, status: grpc.Status) -> None:
        self._status = status

    def code(self):
        return self._status.code

    def details(self):
        return self._status.details

    def trailing_metadata(self):
        return self._status.trailing_metadata


# 0 is C.4's success: it travels as the code of an answer (the Trans envelope), never as the
# status of a failed call, so it has no round trip here; test_success_is_an_ok_status covers it.
@pytest.mark.parametrize("code", sorted(c for c in ERRORS if c != 0))
def test_every_c4_code_survives_the_round_trip(code):
    err = EcError(code, "something specific", province="44")
    status = to_status(err)
    assert status.code == err.grpc_code
    assert from_rpc_error(FakeRpcError(status)) == (code, "something specific")


def test_success_is_an_ok_status():
    assert (ERRORS[0].scope, ERRORS[0].zh, ERRORS[0].reason) == ("系统级", "成功", "OK")
    assert EcError(0).grpc_code == grpc.StatusCode.OK
    # every other code is a failure: a status that is not OK
    assert all(EcError(c).grpc_code != grpc.StatusCode.OK for c in ERRORS if c != 0)


def test_status_carries_error_info():
    status = to_status(EcError(500005))
    from google.rpc import status_pb2

    proto = status_pb2.Status.FromString(dict(status.trailing_metadata)["grpc-status-details-bin"])
    info = error_details_pb2.ErrorInfo()
    proto.details[0].Unpack(info)
    assert (info.reason, info.domain, info.metadata["code"]) == (
        "QR_CODE_EXPIRED",
        DOMAIN,
        "500005",
    )
    assert status.code == grpc.StatusCode.FAILED_PRECONDITION


def test_unknown_code_is_a_bug():
    with pytest.raises(ValueError):
        EcError(123)


def test_envelope_fields():
    assert envelope_fields(EcError(500049, "forged")) == {
        "code": 500049,
        "message": "forged",
        "data": {},
    }


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (grpc.StatusCode.UNAVAILABLE, -3),
        (grpc.StatusCode.DEADLINE_EXCEEDED, -3),
        (grpc.StatusCode.UNIMPLEMENTED, -5),
        (grpc.StatusCode.PERMISSION_DENIED, -4),
        (grpc.StatusCode.INTERNAL, -1),
    ],
)
def test_statuses_without_error_info_map_to_system_codes(status, expected):
    class Bare(grpc.RpcError):
        def code(self):
            return status

        def details(self):
            return "connection refused"

        def trailing_metadata(self):
            return ()

    assert from_rpc_error(Bare())[0] == expected
