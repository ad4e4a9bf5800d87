import datetime

from google.api import field_behavior_pb2 as _field_behavior_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class IssueQrCodeRequest(_message.Message):
    __slots__ = ("authCode", "insuOrg", "requestId")
    AUTHCODE_FIELD_NUMBER: _ClassVar[int]
    INSUORG_FIELD_NUMBER: _ClassVar[int]
    REQUESTID_FIELD_NUMBER: _ClassVar[int]
    authCode: str
    insuOrg: str
    requestId: str
    def __init__(self, authCode: _Optional[str] = ..., insuOrg: _Optional[str] = ..., requestId: _Optional[str] = ...) -> None: ...

class IssueQrCodeResponse(_message.Message):
    __slots__ = ("ecQrCode", "expiresAt", "insuOrg")
    ECQRCODE_FIELD_NUMBER: _ClassVar[int]
    EXPIRESAT_FIELD_NUMBER: _ClassVar[int]
    INSUORG_FIELD_NUMBER: _ClassVar[int]
    ecQrCode: str
    expiresAt: _timestamp_pb2.Timestamp
    insuOrg: str
    def __init__(self, ecQrCode: _Optional[str] = ..., expiresAt: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., insuOrg: _Optional[str] = ...) -> None: ...

class RefreshQrCodeRequest(_message.Message):
    __slots__ = ("authCode", "ecQrCode", "insuOrg", "requestId")
    AUTHCODE_FIELD_NUMBER: _ClassVar[int]
    ECQRCODE_FIELD_NUMBER: _ClassVar[int]
    INSUORG_FIELD_NUMBER: _ClassVar[int]
    REQUESTID_FIELD_NUMBER: _ClassVar[int]
    authCode: str
    ecQrCode: str
    insuOrg: str
    requestId: str
    def __init__(self, authCode: _Optional[str] = ..., ecQrCode: _Optional[str] = ..., insuOrg: _Optional[str] = ..., requestId: _Optional[str] = ...) -> None: ...

class RefreshQrCodeResponse(_message.Message):
    __slots__ = ("ecQrCode", "expiresAt", "insuOrg")
    ECQRCODE_FIELD_NUMBER: _ClassVar[int]
    EXPIRESAT_FIELD_NUMBER: _ClassVar[int]
    INSUORG_FIELD_NUMBER: _ClassVar[int]
    ecQrCode: str
    expiresAt: _timestamp_pb2.Timestamp
    insuOrg: str
    def __init__(self, ecQrCode: _Optional[str] = ..., expiresAt: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., insuOrg: _Optional[str] = ...) -> None: ...
