import datetime

from ecnet.v1 import common_pb2 as _common_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class IssueQrCodeRequest(_message.Message):
    __slots__ = ("auth_code", "insu_org", "request_id")
    AUTH_CODE_FIELD_NUMBER: _ClassVar[int]
    INSU_ORG_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    auth_code: str
    insu_org: str
    request_id: str
    def __init__(self, auth_code: _Optional[str] = ..., insu_org: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class IssueQrCodeResponse(_message.Message):
    __slots__ = ("ec_qr_code", "expires_at", "insu_org", "insured_regions")
    EC_QR_CODE_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    INSU_ORG_FIELD_NUMBER: _ClassVar[int]
    INSURED_REGIONS_FIELD_NUMBER: _ClassVar[int]
    ec_qr_code: str
    expires_at: _timestamp_pb2.Timestamp
    insu_org: str
    insured_regions: _containers.RepeatedCompositeFieldContainer[_common_pb2.InsuredRegion]
    def __init__(self, ec_qr_code: _Optional[str] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., insu_org: _Optional[str] = ..., insured_regions: _Optional[_Iterable[_Union[_common_pb2.InsuredRegion, _Mapping]]] = ...) -> None: ...

class RefreshQrCodeRequest(_message.Message):
    __slots__ = ("auth_code", "ec_qr_code", "insu_org")
    AUTH_CODE_FIELD_NUMBER: _ClassVar[int]
    EC_QR_CODE_FIELD_NUMBER: _ClassVar[int]
    INSU_ORG_FIELD_NUMBER: _ClassVar[int]
    auth_code: str
    ec_qr_code: str
    insu_org: str
    def __init__(self, auth_code: _Optional[str] = ..., ec_qr_code: _Optional[str] = ..., insu_org: _Optional[str] = ...) -> None: ...

class RefreshQrCodeResponse(_message.Message):
    __slots__ = ("ec_qr_code", "expires_at", "insu_org")
    EC_QR_CODE_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    INSU_ORG_FIELD_NUMBER: _ClassVar[int]
    ec_qr_code: str
    expires_at: _timestamp_pb2.Timestamp
    insu_org: str
    def __init__(self, ec_qr_code: _Optional[str] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., insu_org: _Optional[str] = ...) -> None: ...
