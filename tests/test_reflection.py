"""node/reflection.py without a server: what it answers from the descriptor set, and
what it leaves to the default pool."""

from __future__ import annotations

import grpc
from google.protobuf import descriptor_pb2
from grpc_reflection.v1alpha import reflection_pb2 as rpb

from node.app import SERVICE_NAMES
from node.reflection import DescriptorSet, ReflectionServicer


def _servicer() -> ReflectionServicer:
    return ReflectionServicer(SERVICE_NAMES, DescriptorSet.packaged())


def _files(answer: rpb.ServerReflectionResponse) -> list[descriptor_pb2.FileDescriptorProto]:
    assert answer.HasField("file_descriptor_response"), answer
    return [
        descriptor_pb2.FileDescriptorProto.FromString(b)
        for b in answer.file_descriptor_response.file_descriptor_proto
    ]


def test_symbols_resolve_to_their_file_with_comments_and_imports():
    s = _servicer()
    for symbol in (
        "ecnet.v1.QrService",
        "ecnet.v1.QrService.IssueQrCode",
        "ecnet.v1.IssueQrCodeRequest.authCode",
        "ecnet.v1.VoucherState.VOUCHER_STATE_FROZEN",
        "ecnet.v1.VOUCHER_STATE_FROZEN",
    ):
        files = _files(s.answer(rpb.ServerReflectionRequest(file_containing_symbol=symbol)))
        assert files[0].source_code_info.location, symbol
        names = [f.name for f in files]
        assert "google/api/field_behavior.proto" in names, symbol
        assert len(names) == len(set(names)), names


def test_the_field_behavior_extension_is_served():
    s = _servicer()
    answer = s.answer(
        rpb.ServerReflectionRequest(
            file_containing_extension=rpb.ExtensionRequest(
                containing_type="google.protobuf.FieldOptions", extension_number=1052
            )
        )
    )
    assert _files(answer)[0].name == "google/api/field_behavior.proto"
    numbers = s.answer(
        rpb.ServerReflectionRequest(all_extension_numbers_of_type="google.protobuf.FieldOptions")
    )
    assert 1052 in numbers.all_extension_numbers_response.extension_number


def test_unknown_names_are_not_found_and_others_come_from_the_default_pool():
    s = _servicer()
    missing = s.answer(rpb.ServerReflectionRequest(file_containing_symbol="ecnet.v1.Nope"))
    assert missing.error_response.error_code == grpc.StatusCode.NOT_FOUND.value[0]
    health = s.answer(rpb.ServerReflectionRequest(file_containing_symbol="grpc.health.v1.Health"))
    assert [x.name for x in _files(health)[0].service] == ["Health"]
    listed = s.answer(rpb.ServerReflectionRequest(list_services=""))
    assert [x.name for x in listed.list_services_response.service] == sorted(SERVICE_NAMES)
