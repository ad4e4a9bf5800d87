import datetime

from google.api import field_behavior_pb2 as _field_behavior_pb2
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
    __slots__ = ("insuOrg", "insuType", "insuOrgName")
    INSUORG_FIELD_NUMBER: _ClassVar[int]
    INSUTYPE_FIELD_NUMBER: _ClassVar[int]
    INSUORGNAME_FIELD_NUMBER: _ClassVar[int]
    insuOrg: str
    insuType: str
    insuOrgName: str
    def __init__(self, insuOrg: _Optional[str] = ..., insuType: _Optional[str] = ..., insuOrgName: _Optional[str] = ...) -> None: ...

class Person(_message.Message):
    __slots__ = ("userName", "idType", "idNo", "gender", "birthday", "nationality", "phone", "insuredRegions")
    USERNAME_FIELD_NUMBER: _ClassVar[int]
    IDTYPE_FIELD_NUMBER: _ClassVar[int]
    IDNO_FIELD_NUMBER: _ClassVar[int]
    GENDER_FIELD_NUMBER: _ClassVar[int]
    BIRTHDAY_FIELD_NUMBER: _ClassVar[int]
    NATIONALITY_FIELD_NUMBER: _ClassVar[int]
    PHONE_FIELD_NUMBER: _ClassVar[int]
    INSUREDREGIONS_FIELD_NUMBER: _ClassVar[int]
    userName: str
    idType: str
    idNo: str
    gender: str
    birthday: str
    nationality: str
    phone: str
    insuredRegions: _containers.RepeatedCompositeFieldContainer[InsuredRegion]
    def __init__(self, userName: _Optional[str] = ..., idType: _Optional[str] = ..., idNo: _Optional[str] = ..., gender: _Optional[str] = ..., birthday: _Optional[str] = ..., nationality: _Optional[str] = ..., phone: _Optional[str] = ..., insuredRegions: _Optional[_Iterable[_Union[InsuredRegion, _Mapping]]] = ...) -> None: ...

class VoucherData(_message.Message):
    __slots__ = ("ecCardNo", "state", "userName", "idType", "idNo", "gender", "birthday", "nationality", "insuredRegions", "version", "updatedAt", "authorizations")
    ECCARDNO_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    USERNAME_FIELD_NUMBER: _ClassVar[int]
    IDTYPE_FIELD_NUMBER: _ClassVar[int]
    IDNO_FIELD_NUMBER: _ClassVar[int]
    GENDER_FIELD_NUMBER: _ClassVar[int]
    BIRTHDAY_FIELD_NUMBER: _ClassVar[int]
    NATIONALITY_FIELD_NUMBER: _ClassVar[int]
    INSUREDREGIONS_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    UPDATEDAT_FIELD_NUMBER: _ClassVar[int]
    AUTHORIZATIONS_FIELD_NUMBER: _ClassVar[int]
    ecCardNo: str
    state: VoucherState
    userName: str
    idType: str
    idNo: str
    gender: str
    birthday: str
    nationality: str
    insuredRegions: _containers.RepeatedCompositeFieldContainer[InsuredRegion]
    version: int
    updatedAt: _timestamp_pb2.Timestamp
    authorizations: _containers.RepeatedCompositeFieldContainer[Authorization]
    def __init__(self, ecCardNo: _Optional[str] = ..., state: _Optional[_Union[VoucherState, str]] = ..., userName: _Optional[str] = ..., idType: _Optional[str] = ..., idNo: _Optional[str] = ..., gender: _Optional[str] = ..., birthday: _Optional[str] = ..., nationality: _Optional[str] = ..., insuredRegions: _Optional[_Iterable[_Union[InsuredRegion, _Mapping]]] = ..., version: _Optional[int] = ..., updatedAt: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., authorizations: _Optional[_Iterable[_Union[Authorization, _Mapping]]] = ...) -> None: ...

class Channel(_message.Message):
    __slots__ = ("channelId", "name", "kind", "status", "statusReason", "statusChangedAt", "publicKey", "scopes", "keyVersion")
    CHANNELID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    STATUSREASON_FIELD_NUMBER: _ClassVar[int]
    STATUSCHANGEDAT_FIELD_NUMBER: _ClassVar[int]
    PUBLICKEY_FIELD_NUMBER: _ClassVar[int]
    SCOPES_FIELD_NUMBER: _ClassVar[int]
    KEYVERSION_FIELD_NUMBER: _ClassVar[int]
    channelId: str
    name: str
    kind: ChannelKind
    status: str
    statusReason: str
    statusChangedAt: _timestamp_pb2.Timestamp
    publicKey: str
    scopes: _containers.RepeatedScalarFieldContainer[str]
    keyVersion: int
    def __init__(self, channelId: _Optional[str] = ..., name: _Optional[str] = ..., kind: _Optional[_Union[ChannelKind, str]] = ..., status: _Optional[str] = ..., statusReason: _Optional[str] = ..., statusChangedAt: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., publicKey: _Optional[str] = ..., scopes: _Optional[_Iterable[str]] = ..., keyVersion: _Optional[int] = ...) -> None: ...

class Terminal(_message.Message):
    __slots__ = ("terminalId", "province", "orgId", "orgName", "name", "purpose", "version", "developer", "registeredOn", "mac", "revokedAt", "revokeReason")
    TERMINALID_FIELD_NUMBER: _ClassVar[int]
    PROVINCE_FIELD_NUMBER: _ClassVar[int]
    ORGID_FIELD_NUMBER: _ClassVar[int]
    ORGNAME_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    DEVELOPER_FIELD_NUMBER: _ClassVar[int]
    REGISTEREDON_FIELD_NUMBER: _ClassVar[int]
    MAC_FIELD_NUMBER: _ClassVar[int]
    REVOKEDAT_FIELD_NUMBER: _ClassVar[int]
    REVOKEREASON_FIELD_NUMBER: _ClassVar[int]
    terminalId: str
    province: str
    orgId: str
    orgName: str
    name: str
    purpose: str
    version: str
    developer: str
    registeredOn: str
    mac: str
    revokedAt: _timestamp_pb2.Timestamp
    revokeReason: str
    def __init__(self, terminalId: _Optional[str] = ..., province: _Optional[str] = ..., orgId: _Optional[str] = ..., orgName: _Optional[str] = ..., name: _Optional[str] = ..., purpose: _Optional[str] = ..., version: _Optional[str] = ..., developer: _Optional[str] = ..., registeredOn: _Optional[str] = ..., mac: _Optional[str] = ..., revokedAt: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., revokeReason: _Optional[str] = ...) -> None: ...

class Authorization(_message.Message):
    __slots__ = ("channelId", "channelName", "authorizedAt", "revoked", "revokedAt", "authCode", "authCodeDigest")
    CHANNELID_FIELD_NUMBER: _ClassVar[int]
    CHANNELNAME_FIELD_NUMBER: _ClassVar[int]
    AUTHORIZEDAT_FIELD_NUMBER: _ClassVar[int]
    REVOKED_FIELD_NUMBER: _ClassVar[int]
    REVOKEDAT_FIELD_NUMBER: _ClassVar[int]
    AUTHCODE_FIELD_NUMBER: _ClassVar[int]
    AUTHCODEDIGEST_FIELD_NUMBER: _ClassVar[int]
    channelId: str
    channelName: str
    authorizedAt: _timestamp_pb2.Timestamp
    revoked: bool
    revokedAt: _timestamp_pb2.Timestamp
    authCode: str
    authCodeDigest: str
    def __init__(self, channelId: _Optional[str] = ..., channelName: _Optional[str] = ..., authorizedAt: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., revoked: _Optional[bool] = ..., revokedAt: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., authCode: _Optional[str] = ..., authCodeDigest: _Optional[str] = ...) -> None: ...
