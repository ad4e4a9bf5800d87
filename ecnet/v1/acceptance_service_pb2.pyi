from google.api import field_behavior_pb2 as _field_behavior_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class QueryRequest(_message.Message):
    __slots__ = ("orgId", "businessType", "businessInfo", "operatorId", "operatorName", "officeId", "officeName", "deviceType", "ecQrCode", "outBizNo")
    ORGID_FIELD_NUMBER: _ClassVar[int]
    BUSINESSTYPE_FIELD_NUMBER: _ClassVar[int]
    BUSINESSINFO_FIELD_NUMBER: _ClassVar[int]
    OPERATORID_FIELD_NUMBER: _ClassVar[int]
    OPERATORNAME_FIELD_NUMBER: _ClassVar[int]
    OFFICEID_FIELD_NUMBER: _ClassVar[int]
    OFFICENAME_FIELD_NUMBER: _ClassVar[int]
    DEVICETYPE_FIELD_NUMBER: _ClassVar[int]
    ECQRCODE_FIELD_NUMBER: _ClassVar[int]
    OUTBIZNO_FIELD_NUMBER: _ClassVar[int]
    orgId: str
    businessType: str
    businessInfo: str
    operatorId: str
    operatorName: str
    officeId: str
    officeName: str
    deviceType: str
    ecQrCode: str
    outBizNo: str
    def __init__(self, orgId: _Optional[str] = ..., businessType: _Optional[str] = ..., businessInfo: _Optional[str] = ..., operatorId: _Optional[str] = ..., operatorName: _Optional[str] = ..., officeId: _Optional[str] = ..., officeName: _Optional[str] = ..., deviceType: _Optional[str] = ..., ecQrCode: _Optional[str] = ..., outBizNo: _Optional[str] = ...) -> None: ...

class QueryResponse(_message.Message):
    __slots__ = ("userName", "idNo", "idType", "ecToken", "insuOrg", "ecIndexNo", "gender", "birthday", "nationality", "email", "extra")
    USERNAME_FIELD_NUMBER: _ClassVar[int]
    IDNO_FIELD_NUMBER: _ClassVar[int]
    IDTYPE_FIELD_NUMBER: _ClassVar[int]
    ECTOKEN_FIELD_NUMBER: _ClassVar[int]
    INSUORG_FIELD_NUMBER: _ClassVar[int]
    ECINDEXNO_FIELD_NUMBER: _ClassVar[int]
    GENDER_FIELD_NUMBER: _ClassVar[int]
    BIRTHDAY_FIELD_NUMBER: _ClassVar[int]
    NATIONALITY_FIELD_NUMBER: _ClassVar[int]
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    EXTRA_FIELD_NUMBER: _ClassVar[int]
    userName: str
    idNo: str
    idType: str
    ecToken: str
    insuOrg: str
    ecIndexNo: str
    gender: str
    birthday: str
    nationality: str
    email: str
    extra: str
    def __init__(self, userName: _Optional[str] = ..., idNo: _Optional[str] = ..., idType: _Optional[str] = ..., ecToken: _Optional[str] = ..., insuOrg: _Optional[str] = ..., ecIndexNo: _Optional[str] = ..., gender: _Optional[str] = ..., birthday: _Optional[str] = ..., nationality: _Optional[str] = ..., email: _Optional[str] = ..., extra: _Optional[str] = ...) -> None: ...

class CheckTokenRequest(_message.Message):
    __slots__ = ("ecToken", "idType", "idNo", "userName", "orgId")
    ECTOKEN_FIELD_NUMBER: _ClassVar[int]
    IDTYPE_FIELD_NUMBER: _ClassVar[int]
    IDNO_FIELD_NUMBER: _ClassVar[int]
    USERNAME_FIELD_NUMBER: _ClassVar[int]
    ORGID_FIELD_NUMBER: _ClassVar[int]
    ecToken: str
    idType: str
    idNo: str
    userName: str
    orgId: str
    def __init__(self, ecToken: _Optional[str] = ..., idType: _Optional[str] = ..., idNo: _Optional[str] = ..., userName: _Optional[str] = ..., orgId: _Optional[str] = ...) -> None: ...

class CheckTokenResponse(_message.Message):
    __slots__ = ("flag", "insuOrg", "mismatches")
    FLAG_FIELD_NUMBER: _ClassVar[int]
    INSUORG_FIELD_NUMBER: _ClassVar[int]
    MISMATCHES_FIELD_NUMBER: _ClassVar[int]
    flag: int
    insuOrg: str
    mismatches: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, flag: _Optional[int] = ..., insuOrg: _Optional[str] = ..., mismatches: _Optional[_Iterable[str]] = ...) -> None: ...

class TransRequest(_message.Message):
    __slots__ = ("orgId", "transType", "data", "extra")
    ORGID_FIELD_NUMBER: _ClassVar[int]
    TRANSTYPE_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    EXTRA_FIELD_NUMBER: _ClassVar[int]
    orgId: str
    transType: str
    data: _struct_pb2.Struct
    extra: _struct_pb2.Struct
    def __init__(self, orgId: _Optional[str] = ..., transType: _Optional[str] = ..., data: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., extra: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class TransResponse(_message.Message):
    __slots__ = ("orgId", "code", "data", "message", "extra")
    ORGID_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    EXTRA_FIELD_NUMBER: _ClassVar[int]
    orgId: str
    code: int
    data: _struct_pb2.Struct
    message: str
    extra: _struct_pb2.Struct
    def __init__(self, orgId: _Optional[str] = ..., code: _Optional[int] = ..., data: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., message: _Optional[str] = ..., extra: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...
