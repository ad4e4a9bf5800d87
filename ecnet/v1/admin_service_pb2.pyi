import datetime

from ecnet.v1 import common_pb2 as _common_pb2
from ecnet.v1 import federation_service_pb2 as _federation_service_pb2
from ecnet.v1 import settlement_service_pb2 as _settlement_service_pb2
from google.api import field_behavior_pb2 as _field_behavior_pb2
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

class ChannelApplication(_message.Message):
    __slots__ = ("applicationId", "province", "name", "publicKey", "scopes", "status", "appId", "reason", "appliedAt")
    APPLICATIONID_FIELD_NUMBER: _ClassVar[int]
    PROVINCE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    PUBLICKEY_FIELD_NUMBER: _ClassVar[int]
    SCOPES_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    APPID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    APPLIEDAT_FIELD_NUMBER: _ClassVar[int]
    applicationId: str
    province: str
    name: str
    publicKey: str
    scopes: _containers.RepeatedScalarFieldContainer[str]
    status: str
    appId: str
    reason: str
    appliedAt: _timestamp_pb2.Timestamp
    def __init__(self, applicationId: _Optional[str] = ..., province: _Optional[str] = ..., name: _Optional[str] = ..., publicKey: _Optional[str] = ..., scopes: _Optional[_Iterable[str]] = ..., status: _Optional[str] = ..., appId: _Optional[str] = ..., reason: _Optional[str] = ..., appliedAt: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ApplyChannelRequest(_message.Message):
    __slots__ = ("name", "publicKey", "scopes", "province")
    NAME_FIELD_NUMBER: _ClassVar[int]
    PUBLICKEY_FIELD_NUMBER: _ClassVar[int]
    SCOPES_FIELD_NUMBER: _ClassVar[int]
    PROVINCE_FIELD_NUMBER: _ClassVar[int]
    name: str
    publicKey: str
    scopes: _containers.RepeatedScalarFieldContainer[str]
    province: str
    def __init__(self, name: _Optional[str] = ..., publicKey: _Optional[str] = ..., scopes: _Optional[_Iterable[str]] = ..., province: _Optional[str] = ...) -> None: ...

class ApplyChannelResponse(_message.Message):
    __slots__ = ("application",)
    APPLICATION_FIELD_NUMBER: _ClassVar[int]
    application: ChannelApplication
    def __init__(self, application: _Optional[_Union[ChannelApplication, _Mapping]] = ...) -> None: ...

class ListChannelApplicationsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListChannelApplicationsResponse(_message.Message):
    __slots__ = ("applications",)
    APPLICATIONS_FIELD_NUMBER: _ClassVar[int]
    applications: _containers.RepeatedCompositeFieldContainer[ChannelApplication]
    def __init__(self, applications: _Optional[_Iterable[_Union[ChannelApplication, _Mapping]]] = ...) -> None: ...

class ApproveChannelApplicationRequest(_message.Message):
    __slots__ = ("applicationId", "appId", "scopes")
    APPLICATIONID_FIELD_NUMBER: _ClassVar[int]
    APPID_FIELD_NUMBER: _ClassVar[int]
    SCOPES_FIELD_NUMBER: _ClassVar[int]
    applicationId: str
    appId: str
    scopes: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, applicationId: _Optional[str] = ..., appId: _Optional[str] = ..., scopes: _Optional[_Iterable[str]] = ...) -> None: ...

class ApproveChannelApplicationResponse(_message.Message):
    __slots__ = ("channel", "application", "sm4Key")
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    APPLICATION_FIELD_NUMBER: _ClassVar[int]
    SM4KEY_FIELD_NUMBER: _ClassVar[int]
    channel: _common_pb2.Channel
    application: ChannelApplication
    sm4Key: str
    def __init__(self, channel: _Optional[_Union[_common_pb2.Channel, _Mapping]] = ..., application: _Optional[_Union[ChannelApplication, _Mapping]] = ..., sm4Key: _Optional[str] = ...) -> None: ...

class RejectChannelApplicationRequest(_message.Message):
    __slots__ = ("applicationId", "reason")
    APPLICATIONID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    applicationId: str
    reason: str
    def __init__(self, applicationId: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class RejectChannelApplicationResponse(_message.Message):
    __slots__ = ("application",)
    APPLICATION_FIELD_NUMBER: _ClassVar[int]
    application: ChannelApplication
    def __init__(self, application: _Optional[_Union[ChannelApplication, _Mapping]] = ...) -> None: ...

class RotateChannelKeyRequest(_message.Message):
    __slots__ = ("appId", "publicKey")
    APPID_FIELD_NUMBER: _ClassVar[int]
    PUBLICKEY_FIELD_NUMBER: _ClassVar[int]
    appId: str
    publicKey: str
    def __init__(self, appId: _Optional[str] = ..., publicKey: _Optional[str] = ...) -> None: ...

class RotateChannelKeyResponse(_message.Message):
    __slots__ = ("channel", "keyVersion", "sm4Key")
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    KEYVERSION_FIELD_NUMBER: _ClassVar[int]
    SM4KEY_FIELD_NUMBER: _ClassVar[int]
    channel: _common_pb2.Channel
    keyVersion: int
    sm4Key: str
    def __init__(self, channel: _Optional[_Union[_common_pb2.Channel, _Mapping]] = ..., keyVersion: _Optional[int] = ..., sm4Key: _Optional[str] = ...) -> None: ...

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
    __slots__ = ("role", "province", "address", "version", "instanceId", "startedAt", "counts", "pid", "registration", "transport", "certNotAfter")
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
    INSTANCEID_FIELD_NUMBER: _ClassVar[int]
    STARTEDAT_FIELD_NUMBER: _ClassVar[int]
    COUNTS_FIELD_NUMBER: _ClassVar[int]
    PID_FIELD_NUMBER: _ClassVar[int]
    REGISTRATION_FIELD_NUMBER: _ClassVar[int]
    TRANSPORT_FIELD_NUMBER: _ClassVar[int]
    CERTNOTAFTER_FIELD_NUMBER: _ClassVar[int]
    role: _federation_service_pb2.NodeRole
    province: str
    address: str
    version: str
    instanceId: str
    startedAt: _timestamp_pb2.Timestamp
    counts: _containers.ScalarMap[str, int]
    pid: int
    registration: str
    transport: str
    certNotAfter: _timestamp_pb2.Timestamp
    def __init__(self, role: _Optional[_Union[_federation_service_pb2.NodeRole, str]] = ..., province: _Optional[str] = ..., address: _Optional[str] = ..., version: _Optional[str] = ..., instanceId: _Optional[str] = ..., startedAt: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., counts: _Optional[_Mapping[str, int]] = ..., pid: _Optional[int] = ..., registration: _Optional[str] = ..., transport: _Optional[str] = ..., certNotAfter: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class NodeEntry(_message.Message):
    __slots__ = ("province", "provinceName", "address", "version", "instanceId", "state", "registeredAt", "lastHeartbeatAt", "pendingEvents", "appliedPosition", "parkedEvents", "certNotAfter", "oldestPendingAt")
    PROVINCE_FIELD_NUMBER: _ClassVar[int]
    PROVINCENAME_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    INSTANCEID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    REGISTEREDAT_FIELD_NUMBER: _ClassVar[int]
    LASTHEARTBEATAT_FIELD_NUMBER: _ClassVar[int]
    PENDINGEVENTS_FIELD_NUMBER: _ClassVar[int]
    APPLIEDPOSITION_FIELD_NUMBER: _ClassVar[int]
    PARKEDEVENTS_FIELD_NUMBER: _ClassVar[int]
    CERTNOTAFTER_FIELD_NUMBER: _ClassVar[int]
    OLDESTPENDINGAT_FIELD_NUMBER: _ClassVar[int]
    province: str
    provinceName: str
    address: str
    version: str
    instanceId: str
    state: NodeState
    registeredAt: _timestamp_pb2.Timestamp
    lastHeartbeatAt: _timestamp_pb2.Timestamp
    pendingEvents: int
    appliedPosition: int
    parkedEvents: int
    certNotAfter: _timestamp_pb2.Timestamp
    oldestPendingAt: _timestamp_pb2.Timestamp
    def __init__(self, province: _Optional[str] = ..., provinceName: _Optional[str] = ..., address: _Optional[str] = ..., version: _Optional[str] = ..., instanceId: _Optional[str] = ..., state: _Optional[_Union[NodeState, str]] = ..., registeredAt: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., lastHeartbeatAt: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., pendingEvents: _Optional[int] = ..., appliedPosition: _Optional[int] = ..., parkedEvents: _Optional[int] = ..., certNotAfter: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., oldestPendingAt: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListNodesRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListNodesResponse(_message.Message):
    __slots__ = ("nodes",)
    NODES_FIELD_NUMBER: _ClassVar[int]
    nodes: _containers.RepeatedCompositeFieldContainer[NodeEntry]
    def __init__(self, nodes: _Optional[_Iterable[_Union[NodeEntry, _Mapping]]] = ...) -> None: ...

class ListPersonsRequest(_message.Message):
    __slots__ = ("insuredProvince", "pageSize", "pageToken", "reveal", "reason")
    INSUREDPROVINCE_FIELD_NUMBER: _ClassVar[int]
    PAGESIZE_FIELD_NUMBER: _ClassVar[int]
    PAGETOKEN_FIELD_NUMBER: _ClassVar[int]
    REVEAL_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    insuredProvince: str
    pageSize: int
    pageToken: str
    reveal: bool
    reason: str
    def __init__(self, insuredProvince: _Optional[str] = ..., pageSize: _Optional[int] = ..., pageToken: _Optional[str] = ..., reveal: _Optional[bool] = ..., reason: _Optional[str] = ...) -> None: ...

class ListPersonsResponse(_message.Message):
    __slots__ = ("persons", "nextPageToken")
    PERSONS_FIELD_NUMBER: _ClassVar[int]
    NEXTPAGETOKEN_FIELD_NUMBER: _ClassVar[int]
    persons: _containers.RepeatedCompositeFieldContainer[_common_pb2.Person]
    nextPageToken: str
    def __init__(self, persons: _Optional[_Iterable[_Union[_common_pb2.Person, _Mapping]]] = ..., nextPageToken: _Optional[str] = ...) -> None: ...

class ListChannelsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class SetChannelStatusRequest(_message.Message):
    __slots__ = ("channelId", "status", "reason")
    CHANNELID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    channelId: str
    status: str
    reason: str
    def __init__(self, channelId: _Optional[str] = ..., status: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class SetChannelStatusResponse(_message.Message):
    __slots__ = ("channel", "changed")
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    CHANGED_FIELD_NUMBER: _ClassVar[int]
    channel: _common_pb2.Channel
    changed: bool
    def __init__(self, channel: _Optional[_Union[_common_pb2.Channel, _Mapping]] = ..., changed: _Optional[bool] = ...) -> None: ...

class ListChannelsResponse(_message.Message):
    __slots__ = ("channels",)
    CHANNELS_FIELD_NUMBER: _ClassVar[int]
    channels: _containers.RepeatedCompositeFieldContainer[_common_pb2.Channel]
    def __init__(self, channels: _Optional[_Iterable[_Union[_common_pb2.Channel, _Mapping]]] = ...) -> None: ...

class ListTerminalsRequest(_message.Message):
    __slots__ = ("province", "pageSize", "pageToken")
    PROVINCE_FIELD_NUMBER: _ClassVar[int]
    PAGESIZE_FIELD_NUMBER: _ClassVar[int]
    PAGETOKEN_FIELD_NUMBER: _ClassVar[int]
    province: str
    pageSize: int
    pageToken: str
    def __init__(self, province: _Optional[str] = ..., pageSize: _Optional[int] = ..., pageToken: _Optional[str] = ...) -> None: ...

class ListTerminalsResponse(_message.Message):
    __slots__ = ("terminals", "nextPageToken")
    TERMINALS_FIELD_NUMBER: _ClassVar[int]
    NEXTPAGETOKEN_FIELD_NUMBER: _ClassVar[int]
    terminals: _containers.RepeatedCompositeFieldContainer[_common_pb2.Terminal]
    nextPageToken: str
    def __init__(self, terminals: _Optional[_Iterable[_Union[_common_pb2.Terminal, _Mapping]]] = ..., nextPageToken: _Optional[str] = ...) -> None: ...

class RegisterTerminalRequest(_message.Message):
    __slots__ = ("province", "orgId", "orgName", "name", "purpose", "version", "developer", "mac")
    PROVINCE_FIELD_NUMBER: _ClassVar[int]
    ORGID_FIELD_NUMBER: _ClassVar[int]
    ORGNAME_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    DEVELOPER_FIELD_NUMBER: _ClassVar[int]
    MAC_FIELD_NUMBER: _ClassVar[int]
    province: str
    orgId: str
    orgName: str
    name: str
    purpose: str
    version: str
    developer: str
    mac: str
    def __init__(self, province: _Optional[str] = ..., orgId: _Optional[str] = ..., orgName: _Optional[str] = ..., name: _Optional[str] = ..., purpose: _Optional[str] = ..., version: _Optional[str] = ..., developer: _Optional[str] = ..., mac: _Optional[str] = ...) -> None: ...

class RegisterTerminalResponse(_message.Message):
    __slots__ = ("terminal",)
    TERMINAL_FIELD_NUMBER: _ClassVar[int]
    terminal: _common_pb2.Terminal
    def __init__(self, terminal: _Optional[_Union[_common_pb2.Terminal, _Mapping]] = ...) -> None: ...

class RevokeTerminalRequest(_message.Message):
    __slots__ = ("terminalId", "reason")
    TERMINALID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    terminalId: str
    reason: str
    def __init__(self, terminalId: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class RevokeTerminalResponse(_message.Message):
    __slots__ = ("terminal", "alreadyRevoked")
    TERMINAL_FIELD_NUMBER: _ClassVar[int]
    ALREADYREVOKED_FIELD_NUMBER: _ClassVar[int]
    terminal: _common_pb2.Terminal
    alreadyRevoked: bool
    def __init__(self, terminal: _Optional[_Union[_common_pb2.Terminal, _Mapping]] = ..., alreadyRevoked: _Optional[bool] = ...) -> None: ...

class UpdatePersonRequest(_message.Message):
    __slots__ = ("idType", "idNo", "newUserName", "newIdType", "newIdNo", "insuredRegions", "requestId")
    IDTYPE_FIELD_NUMBER: _ClassVar[int]
    IDNO_FIELD_NUMBER: _ClassVar[int]
    NEWUSERNAME_FIELD_NUMBER: _ClassVar[int]
    NEWIDTYPE_FIELD_NUMBER: _ClassVar[int]
    NEWIDNO_FIELD_NUMBER: _ClassVar[int]
    INSUREDREGIONS_FIELD_NUMBER: _ClassVar[int]
    REQUESTID_FIELD_NUMBER: _ClassVar[int]
    idType: str
    idNo: str
    newUserName: str
    newIdType: str
    newIdNo: str
    insuredRegions: _containers.RepeatedCompositeFieldContainer[_common_pb2.InsuredRegion]
    requestId: str
    def __init__(self, idType: _Optional[str] = ..., idNo: _Optional[str] = ..., newUserName: _Optional[str] = ..., newIdType: _Optional[str] = ..., newIdNo: _Optional[str] = ..., insuredRegions: _Optional[_Iterable[_Union[_common_pb2.InsuredRegion, _Mapping]]] = ..., requestId: _Optional[str] = ...) -> None: ...

class UpdatePersonResponse(_message.Message):
    __slots__ = ("person", "ecCardNo", "superseded", "supersededEcCardNo", "version")
    PERSON_FIELD_NUMBER: _ClassVar[int]
    ECCARDNO_FIELD_NUMBER: _ClassVar[int]
    SUPERSEDED_FIELD_NUMBER: _ClassVar[int]
    SUPERSEDEDECCARDNO_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    person: _common_pb2.Person
    ecCardNo: str
    superseded: bool
    supersededEcCardNo: str
    version: int
    def __init__(self, person: _Optional[_Union[_common_pb2.Person, _Mapping]] = ..., ecCardNo: _Optional[str] = ..., superseded: _Optional[bool] = ..., supersededEcCardNo: _Optional[str] = ..., version: _Optional[int] = ...) -> None: ...

class RetryParkedRequest(_message.Message):
    __slots__ = ("destination",)
    DESTINATION_FIELD_NUMBER: _ClassVar[int]
    destination: str
    def __init__(self, destination: _Optional[str] = ...) -> None: ...

class ParkedEvent(_message.Message):
    __slots__ = ("sequence", "eventId", "kind", "error", "parkedAt")
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    EVENTID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    PARKEDAT_FIELD_NUMBER: _ClassVar[int]
    sequence: int
    eventId: str
    kind: str
    error: str
    parkedAt: _timestamp_pb2.Timestamp
    def __init__(self, sequence: _Optional[int] = ..., eventId: _Optional[str] = ..., kind: _Optional[str] = ..., error: _Optional[str] = ..., parkedAt: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class RetryParkedResponse(_message.Message):
    __slots__ = ("events",)
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[ParkedEvent]
    def __init__(self, events: _Optional[_Iterable[_Union[ParkedEvent, _Mapping]]] = ...) -> None: ...

class ListAuditRequest(_message.Message):
    __slots__ = ("limit",)
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    limit: int
    def __init__(self, limit: _Optional[int] = ...) -> None: ...

class AuditRecord(_message.Message):
    __slots__ = ("sequence", "at", "who", "peer", "method", "subject", "outcome", "code", "previousDigest", "digest")
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    WHO_FIELD_NUMBER: _ClassVar[int]
    PEER_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    PREVIOUSDIGEST_FIELD_NUMBER: _ClassVar[int]
    DIGEST_FIELD_NUMBER: _ClassVar[int]
    sequence: int
    at: _timestamp_pb2.Timestamp
    who: str
    peer: str
    method: str
    subject: str
    outcome: str
    code: int
    previousDigest: str
    digest: str
    def __init__(self, sequence: _Optional[int] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., who: _Optional[str] = ..., peer: _Optional[str] = ..., method: _Optional[str] = ..., subject: _Optional[str] = ..., outcome: _Optional[str] = ..., code: _Optional[int] = ..., previousDigest: _Optional[str] = ..., digest: _Optional[str] = ...) -> None: ...

class ListAuditResponse(_message.Message):
    __slots__ = ("records",)
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    records: _containers.RepeatedCompositeFieldContainer[AuditRecord]
    def __init__(self, records: _Optional[_Iterable[_Union[AuditRecord, _Mapping]]] = ...) -> None: ...

class VerifyAuditRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class VerifyAuditResponse(_message.Message):
    __slots__ = ("intact", "records", "firstBadSequence", "problem")
    INTACT_FIELD_NUMBER: _ClassVar[int]
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    FIRSTBADSEQUENCE_FIELD_NUMBER: _ClassVar[int]
    PROBLEM_FIELD_NUMBER: _ClassVar[int]
    intact: bool
    records: int
    firstBadSequence: int
    problem: str
    def __init__(self, intact: _Optional[bool] = ..., records: _Optional[int] = ..., firstBadSequence: _Optional[int] = ..., problem: _Optional[str] = ...) -> None: ...

class GetFiguresRequest(_message.Message):
    __slots__ = ("fromDate", "toDate", "province", "lastSeenOf")
    FROMDATE_FIELD_NUMBER: _ClassVar[int]
    TODATE_FIELD_NUMBER: _ClassVar[int]
    PROVINCE_FIELD_NUMBER: _ClassVar[int]
    LASTSEENOF_FIELD_NUMBER: _ClassVar[int]
    fromDate: str
    toDate: str
    province: str
    lastSeenOf: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, fromDate: _Optional[str] = ..., toDate: _Optional[str] = ..., province: _Optional[str] = ..., lastSeenOf: _Optional[_Iterable[str]] = ...) -> None: ...

class MissingFigures(_message.Message):
    __slots__ = ("province", "reason")
    PROVINCE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    province: str
    reason: str
    def __init__(self, province: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class GetFiguresResponse(_message.Message):
    __slots__ = ("rows", "missing", "asOf", "lastSeen")
    ROWS_FIELD_NUMBER: _ClassVar[int]
    MISSING_FIELD_NUMBER: _ClassVar[int]
    ASOF_FIELD_NUMBER: _ClassVar[int]
    LASTSEEN_FIELD_NUMBER: _ClassVar[int]
    rows: _containers.RepeatedCompositeFieldContainer[_federation_service_pb2.FigureRow]
    missing: _containers.RepeatedCompositeFieldContainer[MissingFigures]
    asOf: _timestamp_pb2.Timestamp
    lastSeen: _containers.RepeatedCompositeFieldContainer[_federation_service_pb2.LastSeen]
    def __init__(self, rows: _Optional[_Iterable[_Union[_federation_service_pb2.FigureRow, _Mapping]]] = ..., missing: _Optional[_Iterable[_Union[MissingFigures, _Mapping]]] = ..., asOf: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., lastSeen: _Optional[_Iterable[_Union[_federation_service_pb2.LastSeen, _Mapping]]] = ...) -> None: ...

class GetInstitutionDayRequest(_message.Message):
    __slots__ = ("orgId", "date", "province", "pageSize", "pageToken")
    ORGID_FIELD_NUMBER: _ClassVar[int]
    DATE_FIELD_NUMBER: _ClassVar[int]
    PROVINCE_FIELD_NUMBER: _ClassVar[int]
    PAGESIZE_FIELD_NUMBER: _ClassVar[int]
    PAGETOKEN_FIELD_NUMBER: _ClassVar[int]
    orgId: str
    date: str
    province: str
    pageSize: int
    pageToken: str
    def __init__(self, orgId: _Optional[str] = ..., date: _Optional[str] = ..., province: _Optional[str] = ..., pageSize: _Optional[int] = ..., pageToken: _Optional[str] = ...) -> None: ...

class GetInstitutionDayResponse(_message.Message):
    __slots__ = ("province", "statement", "settlements", "nextPageToken")
    PROVINCE_FIELD_NUMBER: _ClassVar[int]
    STATEMENT_FIELD_NUMBER: _ClassVar[int]
    SETTLEMENTS_FIELD_NUMBER: _ClassVar[int]
    NEXTPAGETOKEN_FIELD_NUMBER: _ClassVar[int]
    province: str
    statement: _settlement_service_pb2.DayStatement
    settlements: _containers.RepeatedCompositeFieldContainer[_settlement_service_pb2.DaySettlement]
    nextPageToken: str
    def __init__(self, province: _Optional[str] = ..., statement: _Optional[_Union[_settlement_service_pb2.DayStatement, _Mapping]] = ..., settlements: _Optional[_Iterable[_Union[_settlement_service_pb2.DaySettlement, _Mapping]]] = ..., nextPageToken: _Optional[str] = ...) -> None: ...
