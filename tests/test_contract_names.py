"""The contracts' field names are the data elements of the standard (Appendix B spells
them userName, idType, ecQrCode, orgId, ...), in JSON as on the wire: a field renamed to
lower_snake_case (ec_qr_code) would print under another name in grpcurl and in the
Appendix B envelope's JSON, so such a rename fails here."""

from __future__ import annotations

import re

from google.protobuf import descriptor_pb2
from google.protobuf.json_format import MessageToDict

from ecnet.v1 import (
    acceptance_service_pb2,
    admin_service_pb2,
    common_pb2,
    federation_service_pb2,
    qr_service_pb2,
    settlement_service_pb2,
    voucher_service_pb2,
)
from node.reflection import DescriptorSet

MODULES = (
    acceptance_service_pb2,
    admin_service_pb2,
    common_pb2,
    federation_service_pb2,
    qr_service_pb2,
    settlement_service_pb2,
    voucher_service_pb2,
)
LOWER_CAMEL = re.compile(r"[a-z][a-zA-Z0-9]*")


def _messages(descriptors):
    for m in descriptors:
        yield m
        yield from _messages(m.nested_types)


def _fields():
    for module in MODULES:
        for message in _messages(module.DESCRIPTOR.message_types_by_name.values()):
            if message.GetOptions().map_entry:
                continue
            yield from message.fields


def test_every_json_name_is_the_proto_name():
    fields = list(_fields())
    assert len(fields) > 250
    wrong = [f"{f.full_name}: json {f.json_name}" for f in fields if f.json_name != f.name]
    assert not wrong, wrong
    not_camel = [f.full_name for f in fields if not LOWER_CAMEL.fullmatch(f.name)]
    assert not not_camel, not_camel


def test_json_keys_are_the_data_elements():
    msg = acceptance_service_pb2.QueryResponse(
        userName="李桂珍", idNo="441523199111180565", idType="01", ecToken="t", insuOrg="441500"
    )
    assert set(MessageToDict(msg)) == {"userName", "idNo", "idType", "ecToken", "insuOrg"}


def test_descriptor_set_describes_the_generated_code():
    """The descriptor set reflection serves holds the same files, with comments."""
    files = DescriptorSet.packaged()
    for module in MODULES:
        name = module.DESCRIPTOR.name
        served = descriptor_pb2.FileDescriptorProto.FromString(files.serialized[name])
        assert served.source_code_info.location, name
        compiled = descriptor_pb2.FileDescriptorProto()
        module.DESCRIPTOR.CopyToProto(compiled)
        served.ClearField("source_code_info")
        for message in served.message_type:  # protoc writes json_name, CopyToProto not
            _clear_json_names(message)
        assert served == compiled, name


def _clear_json_names(message: descriptor_pb2.DescriptorProto) -> None:
    for field in message.field:
        field.ClearField("json_name")
    for nested in message.nested_type:
        _clear_json_names(nested)
