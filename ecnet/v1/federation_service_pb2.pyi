import datetime

from ecnet.v1 import acceptance_service_pb2 as _acceptance_service_pb2
from ecnet.v1 import common_pb2 as _common_pb2
from ecnet.v1 import settlement_service_pb2 as _settlement_service_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class NodeRole(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    NODE_ROLE_UNSPECIFIED: _ClassVar[NodeRole]
    NODE_ROLE_NATIONAL: _ClassVar[NodeRole]
    NODE_ROLE_PROVINCIAL: _ClassVar[NodeRole]
NODE_ROLE_UNSPECIFIED: NodeRole
NODE_ROLE_NATIONAL: NodeRole
NODE_ROLE_PROVINCIAL: NodeRole

class RegisterRequest(_message.Message):
    __slots__ = ("province", "address", "version", "instance_id")
    PROVINCE_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    INSTANCE_ID_FIELD_NUMBER: _ClassVar[int]
    province: str
    address: str
    version: str
    instance_id: str
    def __init__(self, province: _Optional[str] = ..., address: _Optional[str] = ..., version: _Optional[str] = ..., instance_id: _Optional[str] = ...) -> None: ...

class RegisterResponse(_message.Message):
    __slots__ = ("heartbeat_interval_seconds", "registered_at")
    HEARTBEAT_INTERVAL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    REGISTERED_AT_FIELD_NUMBER: _ClassVar[int]
    heartbeat_interval_seconds: int
    registered_at: _timestamp_pb2.Timestamp
    def __init__(self, heartbeat_interval_seconds: _Optional[int] = ..., registered_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class HeartbeatRequest(_message.Message):
    __slots__ = ("province", "instance_id", "applied_position")
    PROVINCE_FIELD_NUMBER: _ClassVar[int]
    INSTANCE_ID_FIELD_NUMBER: _ClassVar[int]
    APPLIED_POSITION_FIELD_NUMBER: _ClassVar[int]
    province: str
    instance_id: str
    applied_position: int
    def __init__(self, province: _Optional[str] = ..., instance_id: _Optional[str] = ..., applied_position: _Optional[int] = ...) -> None: ...

class HeartbeatResponse(_message.Message):
    __slots__ = ("known",)
    KNOWN_FIELD_NUMBER: _ClassVar[int]
    known: bool
    def __init__(self, known: _Optional[bool] = ...) -> None: ...

class DeregisterRequest(_message.Message):
    __slots__ = ("province", "instance_id")
    PROVINCE_FIELD_NUMBER: _ClassVar[int]
    INSTANCE_ID_FIELD_NUMBER: _ClassVar[int]
    province: str
    instance_id: str
    def __init__(self, province: _Optional[str] = ..., instance_id: _Optional[str] = ...) -> None: ...

class DeregisterResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class IdentifyRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class IdentifyResponse(_message.Message):
    __slots__ = ("role", "province", "instance_id", "version", "address")
    ROLE_FIELD_NUMBER: _ClassVar[int]
    PROVINCE_FIELD_NUMBER: _ClassVar[int]
    INSTANCE_ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    role: NodeRole
    province: str
    instance_id: str
    version: str
    address: str
    def __init__(self, role: _Optional[_Union[NodeRole, str]] = ..., province: _Optional[str] = ..., instance_id: _Optional[str] = ..., version: _Optional[str] = ..., address: _Optional[str] = ...) -> None: ...

class Event(_message.Message):
    __slots__ = ("event_id", "sequence", "kind", "ec_card_no", "version", "voucher", "payload_json", "created_at")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    EC_CARD_NO_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    VOUCHER_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_JSON_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    sequence: int
    kind: str
    ec_card_no: str
    version: int
    voucher: _common_pb2.VoucherData
    payload_json: str
    created_at: _timestamp_pb2.Timestamp
    def __init__(self, event_id: _Optional[str] = ..., sequence: _Optional[int] = ..., kind: _Optional[str] = ..., ec_card_no: _Optional[str] = ..., version: _Optional[int] = ..., voucher: _Optional[_Union[_common_pb2.VoucherData, _Mapping]] = ..., payload_json: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class DeliverEventsRequest(_message.Message):
    __slots__ = ("origin", "batch_id", "events")
    ORIGIN_FIELD_NUMBER: _ClassVar[int]
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    origin: str
    batch_id: str
    events: _containers.RepeatedCompositeFieldContainer[Event]
    def __init__(self, origin: _Optional[str] = ..., batch_id: _Optional[str] = ..., events: _Optional[_Iterable[_Union[Event, _Mapping]]] = ...) -> None: ...

class DeliverEventsResponse(_message.Message):
    __slots__ = ("applied_position",)
    APPLIED_POSITION_FIELD_NUMBER: _ClassVar[int]
    applied_position: int
    def __init__(self, applied_position: _Optional[int] = ...) -> None: ...

class FetchVoucherRequest(_message.Message):
    __slots__ = ("auth_code", "channel_id", "province")
    AUTH_CODE_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_ID_FIELD_NUMBER: _ClassVar[int]
    PROVINCE_FIELD_NUMBER: _ClassVar[int]
    auth_code: str
    channel_id: str
    province: str
    def __init__(self, auth_code: _Optional[str] = ..., channel_id: _Optional[str] = ..., province: _Optional[str] = ...) -> None: ...

class FetchVoucherResponse(_message.Message):
    __slots__ = ("voucher",)
    VOUCHER_FIELD_NUMBER: _ClassVar[int]
    voucher: _common_pb2.VoucherData
    def __init__(self, voucher: _Optional[_Union[_common_pb2.VoucherData, _Mapping]] = ...) -> None: ...

class RouteQueryRequest(_message.Message):
    __slots__ = ("serving_province", "query", "terminal_id", "cached_version")
    SERVING_PROVINCE_FIELD_NUMBER: _ClassVar[int]
    QUERY_FIELD_NUMBER: _ClassVar[int]
    TERMINAL_ID_FIELD_NUMBER: _ClassVar[int]
    CACHED_VERSION_FIELD_NUMBER: _ClassVar[int]
    serving_province: str
    query: _acceptance_service_pb2.QueryRequest
    terminal_id: str
    cached_version: int
    def __init__(self, serving_province: _Optional[str] = ..., query: _Optional[_Union[_acceptance_service_pb2.QueryRequest, _Mapping]] = ..., terminal_id: _Optional[str] = ..., cached_version: _Optional[int] = ...) -> None: ...

class RouteQueryResponse(_message.Message):
    __slots__ = ("voucher", "insu_org", "stale_cache")
    VOUCHER_FIELD_NUMBER: _ClassVar[int]
    INSU_ORG_FIELD_NUMBER: _ClassVar[int]
    STALE_CACHE_FIELD_NUMBER: _ClassVar[int]
    voucher: _common_pb2.VoucherData
    insu_org: str
    stale_cache: bool
    def __init__(self, voucher: _Optional[_Union[_common_pb2.VoucherData, _Mapping]] = ..., insu_org: _Optional[str] = ..., stale_cache: _Optional[bool] = ...) -> None: ...

class RouteSettleRequest(_message.Message):
    __slots__ = ("serving_province", "settle", "ec_card_no", "insu_org")
    SERVING_PROVINCE_FIELD_NUMBER: _ClassVar[int]
    SETTLE_FIELD_NUMBER: _ClassVar[int]
    EC_CARD_NO_FIELD_NUMBER: _ClassVar[int]
    INSU_ORG_FIELD_NUMBER: _ClassVar[int]
    serving_province: str
    settle: _settlement_service_pb2.SettleRequest
    ec_card_no: str
    insu_org: str
    def __init__(self, serving_province: _Optional[str] = ..., settle: _Optional[_Union[_settlement_service_pb2.SettleRequest, _Mapping]] = ..., ec_card_no: _Optional[str] = ..., insu_org: _Optional[str] = ...) -> None: ...

class RouteSettleResponse(_message.Message):
    __slots__ = ("settlement",)
    SETTLEMENT_FIELD_NUMBER: _ClassVar[int]
    settlement: _settlement_service_pb2.Settlement
    def __init__(self, settlement: _Optional[_Union[_settlement_service_pb2.Settlement, _Mapping]] = ...) -> None: ...
