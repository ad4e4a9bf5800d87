import datetime

from ecnet.v1 import common_pb2 as _common_pb2
from ecnet.v1 import federation_service_pb2 as _federation_service_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class NodeState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    NODE_STATE_UNSPECIFIED: _ClassVar[NodeState]
    NODE_STATE_UP: _ClassVar[NodeState]
    NODE_STATE_DOWN: _ClassVar[NodeState]
    NODE_STATE_STOPPED: _ClassVar[NodeState]
NODE_STATE_UNSPECIFIED: NodeState
NODE_STATE_UP: NodeState
NODE_STATE_DOWN: NodeState
NODE_STATE_STOPPED: NodeState

class PingRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class PingResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetNodeInfoRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetNodeInfoResponse(_message.Message):
    __slots__ = ("role", "province", "address", "version", "instance_id", "started_at", "counts", "pid")
    class CountsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    ROLE_FIELD_NUMBER: _ClassVar[int]
    PROVINCE_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    INSTANCE_ID_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    COUNTS_FIELD_NUMBER: _ClassVar[int]
    PID_FIELD_NUMBER: _ClassVar[int]
    role: _federation_service_pb2.NodeRole
    province: str
    address: str
    version: str
    instance_id: str
    started_at: _timestamp_pb2.Timestamp
    counts: _containers.ScalarMap[str, int]
    pid: int
    def __init__(self, role: _Optional[_Union[_federation_service_pb2.NodeRole, str]] = ..., province: _Optional[str] = ..., address: _Optional[str] = ..., version: _Optional[str] = ..., instance_id: _Optional[str] = ..., started_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., counts: _Optional[_Mapping[str, int]] = ..., pid: _Optional[int] = ...) -> None: ...

class NodeEntry(_message.Message):
    __slots__ = ("province", "province_name", "address", "version", "instance_id", "state", "registered_at", "last_heartbeat_at", "pending_events", "applied_position")
    PROVINCE_FIELD_NUMBER: _ClassVar[int]
    PROVINCE_NAME_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    INSTANCE_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    REGISTERED_AT_FIELD_NUMBER: _ClassVar[int]
    LAST_HEARTBEAT_AT_FIELD_NUMBER: _ClassVar[int]
    PENDING_EVENTS_FIELD_NUMBER: _ClassVar[int]
    APPLIED_POSITION_FIELD_NUMBER: _ClassVar[int]
    province: str
    province_name: str
    address: str
    version: str
    instance_id: str
    state: NodeState
    registered_at: _timestamp_pb2.Timestamp
    last_heartbeat_at: _timestamp_pb2.Timestamp
    pending_events: int
    applied_position: int
    def __init__(self, province: _Optional[str] = ..., province_name: _Optional[str] = ..., address: _Optional[str] = ..., version: _Optional[str] = ..., instance_id: _Optional[str] = ..., state: _Optional[_Union[NodeState, str]] = ..., registered_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_heartbeat_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., pending_events: _Optional[int] = ..., applied_position: _Optional[int] = ...) -> None: ...

class ListNodesRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListNodesResponse(_message.Message):
    __slots__ = ("nodes",)
    NODES_FIELD_NUMBER: _ClassVar[int]
    nodes: _containers.RepeatedCompositeFieldContainer[NodeEntry]
    def __init__(self, nodes: _Optional[_Iterable[_Union[NodeEntry, _Mapping]]] = ...) -> None: ...

class ListPersonsRequest(_message.Message):
    __slots__ = ("insured_province", "page_size", "page_token")
    INSURED_PROVINCE_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    insured_province: str
    page_size: int
    page_token: str
    def __init__(self, insured_province: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListPersonsResponse(_message.Message):
    __slots__ = ("persons", "next_page_token")
    PERSONS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    persons: _containers.RepeatedCompositeFieldContainer[_common_pb2.Person]
    next_page_token: str
    def __init__(self, persons: _Optional[_Iterable[_Union[_common_pb2.Person, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ListChannelsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListChannelsResponse(_message.Message):
    __slots__ = ("channels",)
    CHANNELS_FIELD_NUMBER: _ClassVar[int]
    channels: _containers.RepeatedCompositeFieldContainer[_common_pb2.Channel]
    def __init__(self, channels: _Optional[_Iterable[_Union[_common_pb2.Channel, _Mapping]]] = ...) -> None: ...

class ListTerminalsRequest(_message.Message):
    __slots__ = ("province", "page_size", "page_token")
    PROVINCE_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    province: str
    page_size: int
    page_token: str
    def __init__(self, province: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListTerminalsResponse(_message.Message):
    __slots__ = ("terminals", "next_page_token")
    TERMINALS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    terminals: _containers.RepeatedCompositeFieldContainer[_common_pb2.Terminal]
    next_page_token: str
    def __init__(self, terminals: _Optional[_Iterable[_Union[_common_pb2.Terminal, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class UpdatePersonRequest(_message.Message):
    __slots__ = ("id_type", "id_no", "new_user_name", "new_id_type", "new_id_no", "insured_regions", "request_id")
    ID_TYPE_FIELD_NUMBER: _ClassVar[int]
    ID_NO_FIELD_NUMBER: _ClassVar[int]
    NEW_USER_NAME_FIELD_NUMBER: _ClassVar[int]
    NEW_ID_TYPE_FIELD_NUMBER: _ClassVar[int]
    NEW_ID_NO_FIELD_NUMBER: _ClassVar[int]
    INSURED_REGIONS_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    id_type: str
    id_no: str
    new_user_name: str
    new_id_type: str
    new_id_no: str
    insured_regions: _containers.RepeatedCompositeFieldContainer[_common_pb2.InsuredRegion]
    request_id: str
    def __init__(self, id_type: _Optional[str] = ..., id_no: _Optional[str] = ..., new_user_name: _Optional[str] = ..., new_id_type: _Optional[str] = ..., new_id_no: _Optional[str] = ..., insured_regions: _Optional[_Iterable[_Union[_common_pb2.InsuredRegion, _Mapping]]] = ..., request_id: _Optional[str] = ...) -> None: ...

class UpdatePersonResponse(_message.Message):
    __slots__ = ("person", "ec_card_no", "superseded")
    PERSON_FIELD_NUMBER: _ClassVar[int]
    EC_CARD_NO_FIELD_NUMBER: _ClassVar[int]
    SUPERSEDED_FIELD_NUMBER: _ClassVar[int]
    person: _common_pb2.Person
    ec_card_no: str
    superseded: bool
    def __init__(self, person: _Optional[_Union[_common_pb2.Person, _Mapping]] = ..., ec_card_no: _Optional[str] = ..., superseded: _Optional[bool] = ...) -> None: ...
