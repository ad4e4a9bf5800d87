import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class VoucherState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    VOUCHER_STATE_UNSPECIFIED: _ClassVar[VoucherState]
    VOUCHER_STATE_NOT_ACTIVATED: _ClassVar[VoucherState]
    VOUCHER_STATE_ACTIVATED: _ClassVar[VoucherState]
    VOUCHER_STATE_FROZEN: _ClassVar[VoucherState]
    VOUCHER_STATE_SUPERSEDED: _ClassVar[VoucherState]

class ChannelKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CHANNEL_KIND_UNSPECIFIED: _ClassVar[ChannelKind]
    CHANNEL_KIND_OFFICIAL: _ClassVar[ChannelKind]
    CHANNEL_KIND_THIRD_PARTY: _ClassVar[ChannelKind]
VOUCHER_STATE_UNSPECIFIED: VoucherState
VOUCHER_STATE_NOT_ACTIVATED: VoucherState
VOUCHER_STATE_ACTIVATED: VoucherState
VOUCHER_STATE_FROZEN: VoucherState
VOUCHER_STATE_SUPERSEDED: VoucherState
CHANNEL_KIND_UNSPECIFIED: ChannelKind
CHANNEL_KIND_OFFICIAL: ChannelKind
CHANNEL_KIND_THIRD_PARTY: ChannelKind

class InsuredRegion(_message.Message):
    __slots__ = ("insu_org", "insu_type", "insu_org_name")
    INSU_ORG_FIELD_NUMBER: _ClassVar[int]
    INSU_TYPE_FIELD_NUMBER: _ClassVar[int]
    INSU_ORG_NAME_FIELD_NUMBER: _ClassVar[int]
    insu_org: str
    insu_type: str
    insu_org_name: str
    def __init__(self, insu_org: _Optional[str] = ..., insu_type: _Optional[str] = ..., insu_org_name: _Optional[str] = ...) -> None: ...

class Person(_message.Message):
    __slots__ = ("user_name", "id_type", "id_no", "gender", "birthday", "nationality", "phone", "insured_regions")
    USER_NAME_FIELD_NUMBER: _ClassVar[int]
    ID_TYPE_FIELD_NUMBER: _ClassVar[int]
    ID_NO_FIELD_NUMBER: _ClassVar[int]
    GENDER_FIELD_NUMBER: _ClassVar[int]
    BIRTHDAY_FIELD_NUMBER: _ClassVar[int]
    NATIONALITY_FIELD_NUMBER: _ClassVar[int]
    PHONE_FIELD_NUMBER: _ClassVar[int]
    INSURED_REGIONS_FIELD_NUMBER: _ClassVar[int]
    user_name: str
    id_type: str
    id_no: str
    gender: str
    birthday: str
    nationality: str
    phone: str
    insured_regions: _containers.RepeatedCompositeFieldContainer[InsuredRegion]
    def __init__(self, user_name: _Optional[str] = ..., id_type: _Optional[str] = ..., id_no: _Optional[str] = ..., gender: _Optional[str] = ..., birthday: _Optional[str] = ..., nationality: _Optional[str] = ..., phone: _Optional[str] = ..., insured_regions: _Optional[_Iterable[_Union[InsuredRegion, _Mapping]]] = ...) -> None: ...

class VoucherData(_message.Message):
    __slots__ = ("ec_card_no", "state", "user_name", "id_type", "id_no", "gender", "birthday", "nationality", "insured_regions", "version", "updated_at")
    EC_CARD_NO_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    USER_NAME_FIELD_NUMBER: _ClassVar[int]
    ID_TYPE_FIELD_NUMBER: _ClassVar[int]
    ID_NO_FIELD_NUMBER: _ClassVar[int]
    GENDER_FIELD_NUMBER: _ClassVar[int]
    BIRTHDAY_FIELD_NUMBER: _ClassVar[int]
    NATIONALITY_FIELD_NUMBER: _ClassVar[int]
    INSURED_REGIONS_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    ec_card_no: str
    state: VoucherState
    user_name: str
    id_type: str
    id_no: str
    gender: str
    birthday: str
    nationality: str
    insured_regions: _containers.RepeatedCompositeFieldContainer[InsuredRegion]
    version: int
    updated_at: _timestamp_pb2.Timestamp
    def __init__(self, ec_card_no: _Optional[str] = ..., state: _Optional[_Union[VoucherState, str]] = ..., user_name: _Optional[str] = ..., id_type: _Optional[str] = ..., id_no: _Optional[str] = ..., gender: _Optional[str] = ..., birthday: _Optional[str] = ..., nationality: _Optional[str] = ..., insured_regions: _Optional[_Iterable[_Union[InsuredRegion, _Mapping]]] = ..., version: _Optional[int] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Channel(_message.Message):
    __slots__ = ("channel_id", "name", "kind", "status")
    CHANNEL_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    channel_id: str
    name: str
    kind: ChannelKind
    status: str
    def __init__(self, channel_id: _Optional[str] = ..., name: _Optional[str] = ..., kind: _Optional[_Union[ChannelKind, str]] = ..., status: _Optional[str] = ...) -> None: ...

class Terminal(_message.Message):
    __slots__ = ("terminal_id", "province", "org_id", "org_name", "name", "purpose", "version", "developer", "registered_on", "mac")
    TERMINAL_ID_FIELD_NUMBER: _ClassVar[int]
    PROVINCE_FIELD_NUMBER: _ClassVar[int]
    ORG_ID_FIELD_NUMBER: _ClassVar[int]
    ORG_NAME_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    DEVELOPER_FIELD_NUMBER: _ClassVar[int]
    REGISTERED_ON_FIELD_NUMBER: _ClassVar[int]
    MAC_FIELD_NUMBER: _ClassVar[int]
    terminal_id: str
    province: str
    org_id: str
    org_name: str
    name: str
    purpose: str
    version: str
    developer: str
    registered_on: str
    mac: str
    def __init__(self, terminal_id: _Optional[str] = ..., province: _Optional[str] = ..., org_id: _Optional[str] = ..., org_name: _Optional[str] = ..., name: _Optional[str] = ..., purpose: _Optional[str] = ..., version: _Optional[str] = ..., developer: _Optional[str] = ..., registered_on: _Optional[str] = ..., mac: _Optional[str] = ...) -> None: ...

class Authorization(_message.Message):
    __slots__ = ("channel_id", "channel_name", "authorized_at", "revoked", "revoked_at")
    CHANNEL_ID_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_NAME_FIELD_NUMBER: _ClassVar[int]
    AUTHORIZED_AT_FIELD_NUMBER: _ClassVar[int]
    REVOKED_FIELD_NUMBER: _ClassVar[int]
    REVOKED_AT_FIELD_NUMBER: _ClassVar[int]
    channel_id: str
    channel_name: str
    authorized_at: _timestamp_pb2.Timestamp
    revoked: bool
    revoked_at: _timestamp_pb2.Timestamp
    def __init__(self, channel_id: _Optional[str] = ..., channel_name: _Optional[str] = ..., authorized_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., revoked: _Optional[bool] = ..., revoked_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
