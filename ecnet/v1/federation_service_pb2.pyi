import datetime

from ecnet.v1 import acceptance_service_pb2 as _acceptance_service_pb2
from ecnet.v1 import common_pb2 as _common_pb2
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

class NodeRole(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    NODE_ROLE_UNSPECIFIED: _ClassVar[NodeRole]
    NODE_ROLE_NATIONAL: _ClassVar[NodeRole]
    NODE_ROLE_PROVINCIAL: _ClassVar[NodeRole]

class FigureKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    FIGURE_KIND_UNSPECIFIED: _ClassVar[FigureKind]
    FIGURE_KIND_ACTIVATION: _ClassVar[FigureKind]
    FIGURE_KIND_AUTHORIZATION: _ClassVar[FigureKind]
    FIGURE_KIND_QR_CODE: _ClassVar[FigureKind]
    FIGURE_KIND_SCAN: _ClassVar[FigureKind]
    FIGURE_KIND_SETTLEMENT: _ClassVar[FigureKind]
    FIGURE_KIND_REVERSAL: _ClassVar[FigureKind]
    FIGURE_KIND_CALL: _ClassVar[FigureKind]
NODE_ROLE_UNSPECIFIED: NodeRole
NODE_ROLE_NATIONAL: NodeRole
NODE_ROLE_PROVINCIAL: NodeRole
FIGURE_KIND_UNSPECIFIED: FigureKind
FIGURE_KIND_ACTIVATION: FigureKind
FIGURE_KIND_AUTHORIZATION: FigureKind
FIGURE_KIND_QR_CODE: FigureKind
FIGURE_KIND_SCAN: FigureKind
FIGURE_KIND_SETTLEMENT: FigureKind
FIGURE_KIND_REVERSAL: FigureKind
FIGURE_KIND_CALL: FigureKind

class RegisterRequest(_message.Message):
    __slots__ = ("province", "address", "version", "instanceId", "signKey", "appliedPosition")
    PROVINCE_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    INSTANCEID_FIELD_NUMBER: _ClassVar[int]
    SIGNKEY_FIELD_NUMBER: _ClassVar[int]
    APPLIEDPOSITION_FIELD_NUMBER: _ClassVar[int]
    province: str
    address: str
    version: str
    instanceId: str
    signKey: bytes
    appliedPosition: int
    def __init__(self, province: _Optional[str] = ..., address: _Optional[str] = ..., version: _Optional[str] = ..., instanceId: _Optional[str] = ..., signKey: _Optional[bytes] = ..., appliedPosition: _Optional[int] = ...) -> None: ...

class RegisterResponse(_message.Message):
    __slots__ = ("heartbeatIntervalSeconds", "registeredAt", "nationalSignKey", "crl")
    HEARTBEATINTERVALSECONDS_FIELD_NUMBER: _ClassVar[int]
    REGISTEREDAT_FIELD_NUMBER: _ClassVar[int]
    NATIONALSIGNKEY_FIELD_NUMBER: _ClassVar[int]
    CRL_FIELD_NUMBER: _ClassVar[int]
    heartbeatIntervalSeconds: int
    registeredAt: _timestamp_pb2.Timestamp
    nationalSignKey: bytes
    crl: bytes
    def __init__(self, heartbeatIntervalSeconds: _Optional[int] = ..., registeredAt: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., nationalSignKey: _Optional[bytes] = ..., crl: _Optional[bytes] = ...) -> None: ...

class HeartbeatRequest(_message.Message):
    __slots__ = ("province", "instanceId", "appliedPosition", "crlNumber")
    PROVINCE_FIELD_NUMBER: _ClassVar[int]
    INSTANCEID_FIELD_NUMBER: _ClassVar[int]
    APPLIEDPOSITION_FIELD_NUMBER: _ClassVar[int]
    CRLNUMBER_FIELD_NUMBER: _ClassVar[int]
    province: str
    instanceId: str
    appliedPosition: int
    crlNumber: int
    def __init__(self, province: _Optional[str] = ..., instanceId: _Optional[str] = ..., appliedPosition: _Optional[int] = ..., crlNumber: _Optional[int] = ...) -> None: ...

class HeartbeatResponse(_message.Message):
    __slots__ = ("known", "nationalSignKey", "crl")
    KNOWN_FIELD_NUMBER: _ClassVar[int]
    NATIONALSIGNKEY_FIELD_NUMBER: _ClassVar[int]
    CRL_FIELD_NUMBER: _ClassVar[int]
    known: bool
    nationalSignKey: bytes
    crl: bytes
    def __init__(self, known: _Optional[bool] = ..., nationalSignKey: _Optional[bytes] = ..., crl: _Optional[bytes] = ...) -> None: ...

class DeregisterRequest(_message.Message):
    __slots__ = ("province", "instanceId")
    PROVINCE_FIELD_NUMBER: _ClassVar[int]
    INSTANCEID_FIELD_NUMBER: _ClassVar[int]
    province: str
    instanceId: str
    def __init__(self, province: _Optional[str] = ..., instanceId: _Optional[str] = ...) -> None: ...

class DeregisterResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class IdentifyRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class IdentifyResponse(_message.Message):
    __slots__ = ("role", "province", "instanceId", "version", "address")
    ROLE_FIELD_NUMBER: _ClassVar[int]
    PROVINCE_FIELD_NUMBER: _ClassVar[int]
    INSTANCEID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    role: NodeRole
    province: str
    instanceId: str
    version: str
    address: str
    def __init__(self, role: _Optional[_Union[NodeRole, str]] = ..., province: _Optional[str] = ..., instanceId: _Optional[str] = ..., version: _Optional[str] = ..., address: _Optional[str] = ...) -> None: ...

class Event(_message.Message):
    __slots__ = ("eventId", "sequence", "kind", "ecCardNo", "version", "voucher", "payloadJson", "createdAt", "origin", "signature", "originKey", "originKeyEndorsement")
    EVENTID_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    ECCARDNO_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    VOUCHER_FIELD_NUMBER: _ClassVar[int]
    PAYLOADJSON_FIELD_NUMBER: _ClassVar[int]
    CREATEDAT_FIELD_NUMBER: _ClassVar[int]
    ORIGIN_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    ORIGINKEY_FIELD_NUMBER: _ClassVar[int]
    ORIGINKEYENDORSEMENT_FIELD_NUMBER: _ClassVar[int]
    eventId: str
    sequence: int
    kind: str
    ecCardNo: str
    version: int
    voucher: _common_pb2.VoucherData
    payloadJson: str
    createdAt: _timestamp_pb2.Timestamp
    origin: str
    signature: bytes
    originKey: bytes
    originKeyEndorsement: bytes
    def __init__(self, eventId: _Optional[str] = ..., sequence: _Optional[int] = ..., kind: _Optional[str] = ..., ecCardNo: _Optional[str] = ..., version: _Optional[int] = ..., voucher: _Optional[_Union[_common_pb2.VoucherData, _Mapping]] = ..., payloadJson: _Optional[str] = ..., createdAt: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., origin: _Optional[str] = ..., signature: _Optional[bytes] = ..., originKey: _Optional[bytes] = ..., originKeyEndorsement: _Optional[bytes] = ...) -> None: ...

class DeliverEventsRequest(_message.Message):
    __slots__ = ("origin", "batchId", "events", "epoch")
    ORIGIN_FIELD_NUMBER: _ClassVar[int]
    BATCHID_FIELD_NUMBER: _ClassVar[int]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    origin: str
    batchId: str
    events: _containers.RepeatedCompositeFieldContainer[Event]
    epoch: str
    def __init__(self, origin: _Optional[str] = ..., batchId: _Optional[str] = ..., events: _Optional[_Iterable[_Union[Event, _Mapping]]] = ..., epoch: _Optional[str] = ...) -> None: ...

class DeliverEventsResponse(_message.Message):
    __slots__ = ("appliedPosition",)
    APPLIEDPOSITION_FIELD_NUMBER: _ClassVar[int]
    appliedPosition: int
    def __init__(self, appliedPosition: _Optional[int] = ...) -> None: ...

class FetchVoucherRequest(_message.Message):
    __slots__ = ("authCode", "channelId", "province")
    AUTHCODE_FIELD_NUMBER: _ClassVar[int]
    CHANNELID_FIELD_NUMBER: _ClassVar[int]
    PROVINCE_FIELD_NUMBER: _ClassVar[int]
    authCode: str
    channelId: str
    province: str
    def __init__(self, authCode: _Optional[str] = ..., channelId: _Optional[str] = ..., province: _Optional[str] = ...) -> None: ...

class FetchVoucherResponse(_message.Message):
    __slots__ = ("voucher",)
    VOUCHER_FIELD_NUMBER: _ClassVar[int]
    voucher: _common_pb2.VoucherData
    def __init__(self, voucher: _Optional[_Union[_common_pb2.VoucherData, _Mapping]] = ...) -> None: ...

class RouteQueryRequest(_message.Message):
    __slots__ = ("servingProvince", "query", "terminalId", "cachedVersion")
    SERVINGPROVINCE_FIELD_NUMBER: _ClassVar[int]
    QUERY_FIELD_NUMBER: _ClassVar[int]
    TERMINALID_FIELD_NUMBER: _ClassVar[int]
    CACHEDVERSION_FIELD_NUMBER: _ClassVar[int]
    servingProvince: str
    query: _acceptance_service_pb2.QueryRequest
    terminalId: str
    cachedVersion: int
    def __init__(self, servingProvince: _Optional[str] = ..., query: _Optional[_Union[_acceptance_service_pb2.QueryRequest, _Mapping]] = ..., terminalId: _Optional[str] = ..., cachedVersion: _Optional[int] = ...) -> None: ...

class RouteQueryResponse(_message.Message):
    __slots__ = ("voucher", "insuOrg", "staleCache", "codeVersion")
    VOUCHER_FIELD_NUMBER: _ClassVar[int]
    INSUORG_FIELD_NUMBER: _ClassVar[int]
    STALECACHE_FIELD_NUMBER: _ClassVar[int]
    CODEVERSION_FIELD_NUMBER: _ClassVar[int]
    voucher: _common_pb2.VoucherData
    insuOrg: str
    staleCache: bool
    codeVersion: int
    def __init__(self, voucher: _Optional[_Union[_common_pb2.VoucherData, _Mapping]] = ..., insuOrg: _Optional[str] = ..., staleCache: _Optional[bool] = ..., codeVersion: _Optional[int] = ...) -> None: ...

class RouteSettleRequest(_message.Message):
    __slots__ = ("servingProvince", "settle", "ecCardNo", "insuOrg", "settlementId", "idType", "idNo", "userName", "voucherVersion")
    SERVINGPROVINCE_FIELD_NUMBER: _ClassVar[int]
    SETTLE_FIELD_NUMBER: _ClassVar[int]
    ECCARDNO_FIELD_NUMBER: _ClassVar[int]
    INSUORG_FIELD_NUMBER: _ClassVar[int]
    SETTLEMENTID_FIELD_NUMBER: _ClassVar[int]
    IDTYPE_FIELD_NUMBER: _ClassVar[int]
    IDNO_FIELD_NUMBER: _ClassVar[int]
    USERNAME_FIELD_NUMBER: _ClassVar[int]
    VOUCHERVERSION_FIELD_NUMBER: _ClassVar[int]
    servingProvince: str
    settle: _settlement_service_pb2.SettleRequest
    ecCardNo: str
    insuOrg: str
    settlementId: str
    idType: str
    idNo: str
    userName: str
    voucherVersion: int
    def __init__(self, servingProvince: _Optional[str] = ..., settle: _Optional[_Union[_settlement_service_pb2.SettleRequest, _Mapping]] = ..., ecCardNo: _Optional[str] = ..., insuOrg: _Optional[str] = ..., settlementId: _Optional[str] = ..., idType: _Optional[str] = ..., idNo: _Optional[str] = ..., userName: _Optional[str] = ..., voucherVersion: _Optional[int] = ...) -> None: ...

class RouteSettleResponse(_message.Message):
    __slots__ = ("settlement", "voucher")
    SETTLEMENT_FIELD_NUMBER: _ClassVar[int]
    VOUCHER_FIELD_NUMBER: _ClassVar[int]
    settlement: _settlement_service_pb2.Settlement
    voucher: _common_pb2.VoucherData
    def __init__(self, settlement: _Optional[_Union[_settlement_service_pb2.Settlement, _Mapping]] = ..., voucher: _Optional[_Union[_common_pb2.VoucherData, _Mapping]] = ...) -> None: ...

class RouteReverseRequest(_message.Message):
    __slots__ = ("servingProvince", "settlementId", "settledBy", "requestId")
    SERVINGPROVINCE_FIELD_NUMBER: _ClassVar[int]
    SETTLEMENTID_FIELD_NUMBER: _ClassVar[int]
    SETTLEDBY_FIELD_NUMBER: _ClassVar[int]
    REQUESTID_FIELD_NUMBER: _ClassVar[int]
    servingProvince: str
    settlementId: str
    settledBy: str
    requestId: str
    def __init__(self, servingProvince: _Optional[str] = ..., settlementId: _Optional[str] = ..., settledBy: _Optional[str] = ..., requestId: _Optional[str] = ...) -> None: ...

class RouteReverseResponse(_message.Message):
    __slots__ = ("settlement",)
    SETTLEMENT_FIELD_NUMBER: _ClassVar[int]
    settlement: _settlement_service_pb2.Settlement
    def __init__(self, settlement: _Optional[_Union[_settlement_service_pb2.Settlement, _Mapping]] = ...) -> None: ...

class LinkFrame(_message.Message):
    __slots__ = ("messages",)
    MESSAGES_FIELD_NUMBER: _ClassVar[int]
    messages: _containers.RepeatedCompositeFieldContainer[LinkMessage]
    def __init__(self, messages: _Optional[_Iterable[_Union[LinkMessage, _Mapping]]] = ...) -> None: ...

class LinkMessage(_message.Message):
    __slots__ = ("id", "method", "payload", "timeoutMs", "status")
    ID_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    TIMEOUTMS_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    id: int
    method: str
    payload: bytes
    timeoutMs: int
    status: bytes
    def __init__(self, id: _Optional[int] = ..., method: _Optional[str] = ..., payload: _Optional[bytes] = ..., timeoutMs: _Optional[int] = ..., status: _Optional[bytes] = ...) -> None: ...

class FigureRow(_message.Message):
    __slots__ = ("hour", "kind", "province", "peerProvince", "channel", "method", "code", "terminal", "count", "feeSumamt", "fundPay", "psnAcctPay", "ownPayAmt")
    HOUR_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    PROVINCE_FIELD_NUMBER: _ClassVar[int]
    PEERPROVINCE_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    TERMINAL_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    FEESUMAMT_FIELD_NUMBER: _ClassVar[int]
    FUNDPAY_FIELD_NUMBER: _ClassVar[int]
    PSNACCTPAY_FIELD_NUMBER: _ClassVar[int]
    OWNPAYAMT_FIELD_NUMBER: _ClassVar[int]
    hour: _timestamp_pb2.Timestamp
    kind: FigureKind
    province: str
    peerProvince: str
    channel: str
    method: str
    code: int
    terminal: str
    count: int
    feeSumamt: int
    fundPay: int
    psnAcctPay: int
    ownPayAmt: int
    def __init__(self, hour: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., kind: _Optional[_Union[FigureKind, str]] = ..., province: _Optional[str] = ..., peerProvince: _Optional[str] = ..., channel: _Optional[str] = ..., method: _Optional[str] = ..., code: _Optional[int] = ..., terminal: _Optional[str] = ..., count: _Optional[int] = ..., feeSumamt: _Optional[int] = ..., fundPay: _Optional[int] = ..., psnAcctPay: _Optional[int] = ..., ownPayAmt: _Optional[int] = ...) -> None: ...

class LastSeen(_message.Message):
    __slots__ = ("caller", "lastAt")
    CALLER_FIELD_NUMBER: _ClassVar[int]
    LASTAT_FIELD_NUMBER: _ClassVar[int]
    caller: str
    lastAt: _timestamp_pb2.Timestamp
    def __init__(self, caller: _Optional[str] = ..., lastAt: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CollectFiguresRequest(_message.Message):
    __slots__ = ("fromDate", "toDate", "lastSeenOf")
    FROMDATE_FIELD_NUMBER: _ClassVar[int]
    TODATE_FIELD_NUMBER: _ClassVar[int]
    LASTSEENOF_FIELD_NUMBER: _ClassVar[int]
    fromDate: str
    toDate: str
    lastSeenOf: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, fromDate: _Optional[str] = ..., toDate: _Optional[str] = ..., lastSeenOf: _Optional[_Iterable[str]] = ...) -> None: ...

class CollectFiguresResponse(_message.Message):
    __slots__ = ("rows", "lastSeen")
    ROWS_FIELD_NUMBER: _ClassVar[int]
    LASTSEEN_FIELD_NUMBER: _ClassVar[int]
    rows: _containers.RepeatedCompositeFieldContainer[FigureRow]
    lastSeen: _containers.RepeatedCompositeFieldContainer[LastSeen]
    def __init__(self, rows: _Optional[_Iterable[_Union[FigureRow, _Mapping]]] = ..., lastSeen: _Optional[_Iterable[_Union[LastSeen, _Mapping]]] = ...) -> None: ...

class CollectInstitutionDayRequest(_message.Message):
    __slots__ = ("orgId", "date", "pageSize", "pageToken")
    ORGID_FIELD_NUMBER: _ClassVar[int]
    DATE_FIELD_NUMBER: _ClassVar[int]
    PAGESIZE_FIELD_NUMBER: _ClassVar[int]
    PAGETOKEN_FIELD_NUMBER: _ClassVar[int]
    orgId: str
    date: str
    pageSize: int
    pageToken: str
    def __init__(self, orgId: _Optional[str] = ..., date: _Optional[str] = ..., pageSize: _Optional[int] = ..., pageToken: _Optional[str] = ...) -> None: ...

class CollectInstitutionDayResponse(_message.Message):
    __slots__ = ("statement", "settlements", "nextPageToken")
    STATEMENT_FIELD_NUMBER: _ClassVar[int]
    SETTLEMENTS_FIELD_NUMBER: _ClassVar[int]
    NEXTPAGETOKEN_FIELD_NUMBER: _ClassVar[int]
    statement: _settlement_service_pb2.DayStatement
    settlements: _containers.RepeatedCompositeFieldContainer[_settlement_service_pb2.DaySettlement]
    nextPageToken: str
    def __init__(self, statement: _Optional[_Union[_settlement_service_pb2.DayStatement, _Mapping]] = ..., settlements: _Optional[_Iterable[_Union[_settlement_service_pb2.DaySettlement, _Mapping]]] = ..., nextPageToken: _Optional[str] = ...) -> None: ...
