import datetime

from ecnet.v1 import common_pb2 as _common_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class RealNameCheckRequest(_message.Message):
    __slots__ = ("user_name", "id_type", "id_no", "request_id")
    USER_NAME_FIELD_NUMBER: _ClassVar[int]
    ID_TYPE_FIELD_NUMBER: _ClassVar[int]
    ID_NO_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    user_name: str
    id_type: str
    id_no: str
    request_id: str
    def __init__(self, user_name: _Optional[str] = ..., id_type: _Optional[str] = ..., id_no: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class RealNameCheckResponse(_message.Message):
    __slots__ = ("real_name_serial", "expires_at", "liveness_challenge")
    REAL_NAME_SERIAL_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    LIVENESS_CHALLENGE_FIELD_NUMBER: _ClassVar[int]
    real_name_serial: str
    expires_at: _timestamp_pb2.Timestamp
    liveness_challenge: str
    def __init__(self, real_name_serial: _Optional[str] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., liveness_challenge: _Optional[str] = ...) -> None: ...

class RealPersonCheckRequest(_message.Message):
    __slots__ = ("real_name_serial", "liveness_sample")
    REAL_NAME_SERIAL_FIELD_NUMBER: _ClassVar[int]
    LIVENESS_SAMPLE_FIELD_NUMBER: _ClassVar[int]
    real_name_serial: str
    liveness_sample: bytes
    def __init__(self, real_name_serial: _Optional[str] = ..., liveness_sample: _Optional[bytes] = ...) -> None: ...

class RealPersonCheckResponse(_message.Message):
    __slots__ = ("real_person_serial", "expires_at")
    REAL_PERSON_SERIAL_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    real_person_serial: str
    expires_at: _timestamp_pb2.Timestamp
    def __init__(self, real_person_serial: _Optional[str] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class OpenPasswordPageRequest(_message.Message):
    __slots__ = ("real_person_serial",)
    REAL_PERSON_SERIAL_FIELD_NUMBER: _ClassVar[int]
    real_person_serial: str
    def __init__(self, real_person_serial: _Optional[str] = ...) -> None: ...

class OpenPasswordPageResponse(_message.Message):
    __slots__ = ("page_session", "expires_at")
    PAGE_SESSION_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    page_session: str
    expires_at: _timestamp_pb2.Timestamp
    def __init__(self, page_session: _Optional[str] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class SetPasswordRequest(_message.Message):
    __slots__ = ("real_person_serial", "page_session", "password", "password_confirm")
    REAL_PERSON_SERIAL_FIELD_NUMBER: _ClassVar[int]
    PAGE_SESSION_FIELD_NUMBER: _ClassVar[int]
    PASSWORD_FIELD_NUMBER: _ClassVar[int]
    PASSWORD_CONFIRM_FIELD_NUMBER: _ClassVar[int]
    real_person_serial: str
    page_session: str
    password: str
    password_confirm: str
    def __init__(self, real_person_serial: _Optional[str] = ..., page_session: _Optional[str] = ..., password: _Optional[str] = ..., password_confirm: _Optional[str] = ...) -> None: ...

class SetPasswordResponse(_message.Message):
    __slots__ = ("password_serial",)
    PASSWORD_SERIAL_FIELD_NUMBER: _ClassVar[int]
    password_serial: str
    def __init__(self, password_serial: _Optional[str] = ...) -> None: ...

class ActivateRequest(_message.Message):
    __slots__ = ("real_person_serial", "password_serial", "business_province", "request_id")
    REAL_PERSON_SERIAL_FIELD_NUMBER: _ClassVar[int]
    PASSWORD_SERIAL_FIELD_NUMBER: _ClassVar[int]
    BUSINESS_PROVINCE_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    real_person_serial: str
    password_serial: str
    business_province: str
    request_id: str
    def __init__(self, real_person_serial: _Optional[str] = ..., password_serial: _Optional[str] = ..., business_province: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class ActivateResponse(_message.Message):
    __slots__ = ("ec_card_no", "state", "auth_code", "insured_regions")
    EC_CARD_NO_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    AUTH_CODE_FIELD_NUMBER: _ClassVar[int]
    INSURED_REGIONS_FIELD_NUMBER: _ClassVar[int]
    ec_card_no: str
    state: _common_pb2.VoucherState
    auth_code: str
    insured_regions: _containers.RepeatedCompositeFieldContainer[_common_pb2.InsuredRegion]
    def __init__(self, ec_card_no: _Optional[str] = ..., state: _Optional[_Union[_common_pb2.VoucherState, str]] = ..., auth_code: _Optional[str] = ..., insured_regions: _Optional[_Iterable[_Union[_common_pb2.InsuredRegion, _Mapping]]] = ...) -> None: ...

class AuthorizeRequest(_message.Message):
    __slots__ = ("user_name", "id_type", "id_no", "password", "business_province", "request_id")
    USER_NAME_FIELD_NUMBER: _ClassVar[int]
    ID_TYPE_FIELD_NUMBER: _ClassVar[int]
    ID_NO_FIELD_NUMBER: _ClassVar[int]
    PASSWORD_FIELD_NUMBER: _ClassVar[int]
    BUSINESS_PROVINCE_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    user_name: str
    id_type: str
    id_no: str
    password: str
    business_province: str
    request_id: str
    def __init__(self, user_name: _Optional[str] = ..., id_type: _Optional[str] = ..., id_no: _Optional[str] = ..., password: _Optional[str] = ..., business_province: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class AuthorizeResponse(_message.Message):
    __slots__ = ("auth_code", "ec_card_no")
    AUTH_CODE_FIELD_NUMBER: _ClassVar[int]
    EC_CARD_NO_FIELD_NUMBER: _ClassVar[int]
    auth_code: str
    ec_card_no: str
    def __init__(self, auth_code: _Optional[str] = ..., ec_card_no: _Optional[str] = ...) -> None: ...

class ListAuthorizationsRequest(_message.Message):
    __slots__ = ("auth_code",)
    AUTH_CODE_FIELD_NUMBER: _ClassVar[int]
    auth_code: str
    def __init__(self, auth_code: _Optional[str] = ...) -> None: ...

class ListAuthorizationsResponse(_message.Message):
    __slots__ = ("authorizations",)
    AUTHORIZATIONS_FIELD_NUMBER: _ClassVar[int]
    authorizations: _containers.RepeatedCompositeFieldContainer[_common_pb2.Authorization]
    def __init__(self, authorizations: _Optional[_Iterable[_Union[_common_pb2.Authorization, _Mapping]]] = ...) -> None: ...

class RevokeAuthorizationRequest(_message.Message):
    __slots__ = ("auth_code", "channel_id", "request_id")
    AUTH_CODE_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    auth_code: str
    channel_id: str
    request_id: str
    def __init__(self, auth_code: _Optional[str] = ..., channel_id: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class RevokeAuthorizationResponse(_message.Message):
    __slots__ = ("authorization",)
    AUTHORIZATION_FIELD_NUMBER: _ClassVar[int]
    authorization: _common_pb2.Authorization
    def __init__(self, authorization: _Optional[_Union[_common_pb2.Authorization, _Mapping]] = ...) -> None: ...

class GetVoucherStatusRequest(_message.Message):
    __slots__ = ("auth_code", "user_name", "id_type", "id_no")
    AUTH_CODE_FIELD_NUMBER: _ClassVar[int]
    USER_NAME_FIELD_NUMBER: _ClassVar[int]
    ID_TYPE_FIELD_NUMBER: _ClassVar[int]
    ID_NO_FIELD_NUMBER: _ClassVar[int]
    auth_code: str
    user_name: str
    id_type: str
    id_no: str
    def __init__(self, auth_code: _Optional[str] = ..., user_name: _Optional[str] = ..., id_type: _Optional[str] = ..., id_no: _Optional[str] = ...) -> None: ...

class GetVoucherStatusResponse(_message.Message):
    __slots__ = ("ec_card_no", "state", "version", "insured_regions", "authorizations")
    EC_CARD_NO_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    INSURED_REGIONS_FIELD_NUMBER: _ClassVar[int]
    AUTHORIZATIONS_FIELD_NUMBER: _ClassVar[int]
    ec_card_no: str
    state: _common_pb2.VoucherState
    version: int
    insured_regions: _containers.RepeatedCompositeFieldContainer[_common_pb2.InsuredRegion]
    authorizations: _containers.RepeatedCompositeFieldContainer[_common_pb2.Authorization]
    def __init__(self, ec_card_no: _Optional[str] = ..., state: _Optional[_Union[_common_pb2.VoucherState, str]] = ..., version: _Optional[int] = ..., insured_regions: _Optional[_Iterable[_Union[_common_pb2.InsuredRegion, _Mapping]]] = ..., authorizations: _Optional[_Iterable[_Union[_common_pb2.Authorization, _Mapping]]] = ...) -> None: ...
