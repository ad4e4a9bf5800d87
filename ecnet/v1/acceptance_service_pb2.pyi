from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class QueryRequest(_message.Message):
    __slots__ = ("org_id", "business_type", "business_info", "operator_id", "operator_name", "office_id", "office_name", "device_type", "ec_qr_code", "out_biz_no")
    ORG_ID_FIELD_NUMBER: _ClassVar[int]
    BUSINESS_TYPE_FIELD_NUMBER: _ClassVar[int]
    BUSINESS_INFO_FIELD_NUMBER: _ClassVar[int]
    OPERATOR_ID_FIELD_NUMBER: _ClassVar[int]
    OPERATOR_NAME_FIELD_NUMBER: _ClassVar[int]
    OFFICE_ID_FIELD_NUMBER: _ClassVar[int]
    OFFICE_NAME_FIELD_NUMBER: _ClassVar[int]
    DEVICE_TYPE_FIELD_NUMBER: _ClassVar[int]
    EC_QR_CODE_FIELD_NUMBER: _ClassVar[int]
    OUT_BIZ_NO_FIELD_NUMBER: _ClassVar[int]
    org_id: str
    business_type: str
    business_info: str
    operator_id: str
    operator_name: str
    office_id: str
    office_name: str
    device_type: str
    ec_qr_code: str
    out_biz_no: str
    def __init__(self, org_id: _Optional[str] = ..., business_type: _Optional[str] = ..., business_info: _Optional[str] = ..., operator_id: _Optional[str] = ..., operator_name: _Optional[str] = ..., office_id: _Optional[str] = ..., office_name: _Optional[str] = ..., device_type: _Optional[str] = ..., ec_qr_code: _Optional[str] = ..., out_biz_no: _Optional[str] = ...) -> None: ...

class QueryResponse(_message.Message):
    __slots__ = ("user_name", "id_no", "id_type", "ec_token", "insu_org", "ec_index_no", "gender", "birthday", "nationality", "email", "extra")
    USER_NAME_FIELD_NUMBER: _ClassVar[int]
    ID_NO_FIELD_NUMBER: _ClassVar[int]
    ID_TYPE_FIELD_NUMBER: _ClassVar[int]
    EC_TOKEN_FIELD_NUMBER: _ClassVar[int]
    INSU_ORG_FIELD_NUMBER: _ClassVar[int]
    EC_INDEX_NO_FIELD_NUMBER: _ClassVar[int]
    GENDER_FIELD_NUMBER: _ClassVar[int]
    BIRTHDAY_FIELD_NUMBER: _ClassVar[int]
    NATIONALITY_FIELD_NUMBER: _ClassVar[int]
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    EXTRA_FIELD_NUMBER: _ClassVar[int]
    user_name: str
    id_no: str
    id_type: str
    ec_token: str
    insu_org: str
    ec_index_no: str
    gender: str
    birthday: str
    nationality: str
    email: str
    extra: str
    def __init__(self, user_name: _Optional[str] = ..., id_no: _Optional[str] = ..., id_type: _Optional[str] = ..., ec_token: _Optional[str] = ..., insu_org: _Optional[str] = ..., ec_index_no: _Optional[str] = ..., gender: _Optional[str] = ..., birthday: _Optional[str] = ..., nationality: _Optional[str] = ..., email: _Optional[str] = ..., extra: _Optional[str] = ...) -> None: ...

class CheckTokenRequest(_message.Message):
    __slots__ = ("ec_token", "id_type", "id_no", "user_name", "org_id")
    EC_TOKEN_FIELD_NUMBER: _ClassVar[int]
    ID_TYPE_FIELD_NUMBER: _ClassVar[int]
    ID_NO_FIELD_NUMBER: _ClassVar[int]
    USER_NAME_FIELD_NUMBER: _ClassVar[int]
    ORG_ID_FIELD_NUMBER: _ClassVar[int]
    ec_token: str
    id_type: str
    id_no: str
    user_name: str
    org_id: str
    def __init__(self, ec_token: _Optional[str] = ..., id_type: _Optional[str] = ..., id_no: _Optional[str] = ..., user_name: _Optional[str] = ..., org_id: _Optional[str] = ...) -> None: ...

class CheckTokenResponse(_message.Message):
    __slots__ = ("flag", "insu_org")
    FLAG_FIELD_NUMBER: _ClassVar[int]
    INSU_ORG_FIELD_NUMBER: _ClassVar[int]
    flag: int
    insu_org: str
    def __init__(self, flag: _Optional[int] = ..., insu_org: _Optional[str] = ...) -> None: ...

class TransRequest(_message.Message):
    __slots__ = ("org_id", "trans_type", "data", "extra")
    ORG_ID_FIELD_NUMBER: _ClassVar[int]
    TRANS_TYPE_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    EXTRA_FIELD_NUMBER: _ClassVar[int]
    org_id: str
    trans_type: str
    data: _struct_pb2.Struct
    extra: _struct_pb2.Struct
    def __init__(self, org_id: _Optional[str] = ..., trans_type: _Optional[str] = ..., data: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., extra: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class TransResponse(_message.Message):
    __slots__ = ("org_id", "code", "data", "message", "extra")
    ORG_ID_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    EXTRA_FIELD_NUMBER: _ClassVar[int]
    org_id: str
    code: int
    data: _struct_pb2.Struct
    message: str
    extra: _struct_pb2.Struct
    def __init__(self, org_id: _Optional[str] = ..., code: _Optional[int] = ..., data: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., message: _Optional[str] = ..., extra: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...
