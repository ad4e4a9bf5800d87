import datetime

from ecnet.v1 import common_pb2 as _common_pb2
from google.api import field_behavior_pb2 as _field_behavior_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class RealNameCheckRequest(_message.Message):
    __slots__ = ("userName", "idType", "idNo", "requestId")
    USERNAME_FIELD_NUMBER: _ClassVar[int]
    IDTYPE_FIELD_NUMBER: _ClassVar[int]
    IDNO_FIELD_NUMBER: _ClassVar[int]
    REQUESTID_FIELD_NUMBER: _ClassVar[int]
    userName: str
    idType: str
    idNo: str
    requestId: str
    def __init__(self, userName: _Optional[str] = ..., idType: _Optional[str] = ..., idNo: _Optional[str] = ..., requestId: _Optional[str] = ...) -> None: ...

class RealNameCheckResponse(_message.Message):
    __slots__ = ("realNameSerial", "expiresAt", "livenessChallenge")
    REALNAMESERIAL_FIELD_NUMBER: _ClassVar[int]
    EXPIRESAT_FIELD_NUMBER: _ClassVar[int]
    LIVENESSCHALLENGE_FIELD_NUMBER: _ClassVar[int]
    realNameSerial: str
    expiresAt: _timestamp_pb2.Timestamp
    livenessChallenge: str
    def __init__(self, realNameSerial: _Optional[str] = ..., expiresAt: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., livenessChallenge: _Optional[str] = ...) -> None: ...

class RealPersonCheckRequest(_message.Message):
    __slots__ = ("realNameSerial", "livenessSample")
    REALNAMESERIAL_FIELD_NUMBER: _ClassVar[int]
    LIVENESSSAMPLE_FIELD_NUMBER: _ClassVar[int]
    realNameSerial: str
    livenessSample: bytes
    def __init__(self, realNameSerial: _Optional[str] = ..., livenessSample: _Optional[bytes] = ...) -> None: ...

class RealPersonCheckResponse(_message.Message):
    __slots__ = ("realPersonSerial", "expiresAt", "unfrozen")
    REALPERSONSERIAL_FIELD_NUMBER: _ClassVar[int]
    EXPIRESAT_FIELD_NUMBER: _ClassVar[int]
    UNFROZEN_FIELD_NUMBER: _ClassVar[int]
    realPersonSerial: str
    expiresAt: _timestamp_pb2.Timestamp
    unfrozen: bool
    def __init__(self, realPersonSerial: _Optional[str] = ..., expiresAt: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., unfrozen: _Optional[bool] = ...) -> None: ...

class OpenPasswordPageRequest(_message.Message):
    __slots__ = ("realPersonSerial",)
    REALPERSONSERIAL_FIELD_NUMBER: _ClassVar[int]
    realPersonSerial: str
    def __init__(self, realPersonSerial: _Optional[str] = ...) -> None: ...

class OpenPasswordPageResponse(_message.Message):
    __slots__ = ("pageSession", "expiresAt")
    PAGESESSION_FIELD_NUMBER: _ClassVar[int]
    EXPIRESAT_FIELD_NUMBER: _ClassVar[int]
    pageSession: str
    expiresAt: _timestamp_pb2.Timestamp
    def __init__(self, pageSession: _Optional[str] = ..., expiresAt: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class SetPasswordRequest(_message.Message):
    __slots__ = ("realPersonSerial", "pageSession", "password", "passwordConfirm")
    REALPERSONSERIAL_FIELD_NUMBER: _ClassVar[int]
    PAGESESSION_FIELD_NUMBER: _ClassVar[int]
    PASSWORD_FIELD_NUMBER: _ClassVar[int]
    PASSWORDCONFIRM_FIELD_NUMBER: _ClassVar[int]
    realPersonSerial: str
    pageSession: str
    password: str
    passwordConfirm: str
    def __init__(self, realPersonSerial: _Optional[str] = ..., pageSession: _Optional[str] = ..., password: _Optional[str] = ..., passwordConfirm: _Optional[str] = ...) -> None: ...

class SetPasswordResponse(_message.Message):
    __slots__ = ("passwordSerial", "expiresAt")
    PASSWORDSERIAL_FIELD_NUMBER: _ClassVar[int]
    EXPIRESAT_FIELD_NUMBER: _ClassVar[int]
    passwordSerial: str
    expiresAt: _timestamp_pb2.Timestamp
    def __init__(self, passwordSerial: _Optional[str] = ..., expiresAt: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ActivateRequest(_message.Message):
    __slots__ = ("realPersonSerial", "passwordSerial", "businessProvince", "requestId")
    REALPERSONSERIAL_FIELD_NUMBER: _ClassVar[int]
    PASSWORDSERIAL_FIELD_NUMBER: _ClassVar[int]
    BUSINESSPROVINCE_FIELD_NUMBER: _ClassVar[int]
    REQUESTID_FIELD_NUMBER: _ClassVar[int]
    realPersonSerial: str
    passwordSerial: str
    businessProvince: str
    requestId: str
    def __init__(self, realPersonSerial: _Optional[str] = ..., passwordSerial: _Optional[str] = ..., businessProvince: _Optional[str] = ..., requestId: _Optional[str] = ...) -> None: ...

class ActivateResponse(_message.Message):
    __slots__ = ("ecCardNo", "state", "authCode", "insuredRegions", "version")
    ECCARDNO_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    AUTHCODE_FIELD_NUMBER: _ClassVar[int]
    INSUREDREGIONS_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    ecCardNo: str
    state: _common_pb2.VoucherState
    authCode: str
    insuredRegions: _containers.RepeatedCompositeFieldContainer[_common_pb2.InsuredRegion]
    version: int
    def __init__(self, ecCardNo: _Optional[str] = ..., state: _Optional[_Union[_common_pb2.VoucherState, str]] = ..., authCode: _Optional[str] = ..., insuredRegions: _Optional[_Iterable[_Union[_common_pb2.InsuredRegion, _Mapping]]] = ..., version: _Optional[int] = ...) -> None: ...

class AuthorizeRequest(_message.Message):
    __slots__ = ("userName", "idType", "idNo", "password", "businessProvince", "requestId")
    USERNAME_FIELD_NUMBER: _ClassVar[int]
    IDTYPE_FIELD_NUMBER: _ClassVar[int]
    IDNO_FIELD_NUMBER: _ClassVar[int]
    PASSWORD_FIELD_NUMBER: _ClassVar[int]
    BUSINESSPROVINCE_FIELD_NUMBER: _ClassVar[int]
    REQUESTID_FIELD_NUMBER: _ClassVar[int]
    userName: str
    idType: str
    idNo: str
    password: str
    businessProvince: str
    requestId: str
    def __init__(self, userName: _Optional[str] = ..., idType: _Optional[str] = ..., idNo: _Optional[str] = ..., password: _Optional[str] = ..., businessProvince: _Optional[str] = ..., requestId: _Optional[str] = ...) -> None: ...

class AuthorizeResponse(_message.Message):
    __slots__ = ("authCode", "ecCardNo", "version")
    AUTHCODE_FIELD_NUMBER: _ClassVar[int]
    ECCARDNO_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    authCode: str
    ecCardNo: str
    version: int
    def __init__(self, authCode: _Optional[str] = ..., ecCardNo: _Optional[str] = ..., version: _Optional[int] = ...) -> None: ...

class ListAuthorizationsRequest(_message.Message):
    __slots__ = ("authCode",)
    AUTHCODE_FIELD_NUMBER: _ClassVar[int]
    authCode: str
    def __init__(self, authCode: _Optional[str] = ...) -> None: ...

class ListAuthorizationsResponse(_message.Message):
    __slots__ = ("authorizations",)
    AUTHORIZATIONS_FIELD_NUMBER: _ClassVar[int]
    authorizations: _containers.RepeatedCompositeFieldContainer[_common_pb2.Authorization]
    def __init__(self, authorizations: _Optional[_Iterable[_Union[_common_pb2.Authorization, _Mapping]]] = ...) -> None: ...

class RevokeAuthorizationRequest(_message.Message):
    __slots__ = ("authCode", "channelId", "requestId")
    AUTHCODE_FIELD_NUMBER: _ClassVar[int]
    CHANNELID_FIELD_NUMBER: _ClassVar[int]
    REQUESTID_FIELD_NUMBER: _ClassVar[int]
    authCode: str
    channelId: str
    requestId: str
    def __init__(self, authCode: _Optional[str] = ..., channelId: _Optional[str] = ..., requestId: _Optional[str] = ...) -> None: ...

class RevokeAuthorizationResponse(_message.Message):
    __slots__ = ("authorization",)
    AUTHORIZATION_FIELD_NUMBER: _ClassVar[int]
    authorization: _common_pb2.Authorization
    def __init__(self, authorization: _Optional[_Union[_common_pb2.Authorization, _Mapping]] = ...) -> None: ...

class GetVoucherStatusRequest(_message.Message):
    __slots__ = ("authCode", "userName", "idType", "idNo")
    AUTHCODE_FIELD_NUMBER: _ClassVar[int]
    USERNAME_FIELD_NUMBER: _ClassVar[int]
    IDTYPE_FIELD_NUMBER: _ClassVar[int]
    IDNO_FIELD_NUMBER: _ClassVar[int]
    authCode: str
    userName: str
    idType: str
    idNo: str
    def __init__(self, authCode: _Optional[str] = ..., userName: _Optional[str] = ..., idType: _Optional[str] = ..., idNo: _Optional[str] = ...) -> None: ...

class GetVoucherStatusResponse(_message.Message):
    __slots__ = ("ecCardNo", "state", "version", "insuredRegions", "authorizations", "frozenUntil")
    ECCARDNO_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    INSUREDREGIONS_FIELD_NUMBER: _ClassVar[int]
    AUTHORIZATIONS_FIELD_NUMBER: _ClassVar[int]
    FROZENUNTIL_FIELD_NUMBER: _ClassVar[int]
    ecCardNo: str
    state: _common_pb2.VoucherState
    version: int
    insuredRegions: _containers.RepeatedCompositeFieldContainer[_common_pb2.InsuredRegion]
    authorizations: _containers.RepeatedCompositeFieldContainer[_common_pb2.Authorization]
    frozenUntil: _timestamp_pb2.Timestamp
    def __init__(self, ecCardNo: _Optional[str] = ..., state: _Optional[_Union[_common_pb2.VoucherState, str]] = ..., version: _Optional[int] = ..., insuredRegions: _Optional[_Iterable[_Union[_common_pb2.InsuredRegion, _Mapping]]] = ..., authorizations: _Optional[_Iterable[_Union[_common_pb2.Authorization, _Mapping]]] = ..., frozenUntil: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GetSimulatedFaceTemplateRequest(_message.Message):
    __slots__ = ("userName", "idType", "idNo")
    USERNAME_FIELD_NUMBER: _ClassVar[int]
    IDTYPE_FIELD_NUMBER: _ClassVar[int]
    IDNO_FIELD_NUMBER: _ClassVar[int]
    userName: str
    idType: str
    idNo: str
    def __init__(self, userName: _Optional[str] = ..., idType: _Optional[str] = ..., idNo: _Optional[str] = ...) -> None: ...

class GetSimulatedFaceTemplateResponse(_message.Message):
    __slots__ = ("faceTemplate",)
    FACETEMPLATE_FIELD_NUMBER: _ClassVar[int]
    faceTemplate: bytes
    def __init__(self, faceTemplate: _Optional[bytes] = ...) -> None: ...
