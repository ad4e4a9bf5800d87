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

class MedicalType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MEDICAL_TYPE_UNSPECIFIED: _ClassVar[MedicalType]
    MEDICAL_TYPE_OUTPATIENT: _ClassVar[MedicalType]
    MEDICAL_TYPE_INPATIENT: _ClassVar[MedicalType]
    MEDICAL_TYPE_PHARMACY: _ClassVar[MedicalType]

class ItemCategory(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ITEM_CATEGORY_UNSPECIFIED: _ClassVar[ItemCategory]
    ITEM_CATEGORY_A: _ClassVar[ItemCategory]
    ITEM_CATEGORY_B: _ClassVar[ItemCategory]
    ITEM_CATEGORY_C: _ClassVar[ItemCategory]

class SettlementState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SETTLEMENT_STATE_UNSPECIFIED: _ClassVar[SettlementState]
    SETTLEMENT_STATE_SETTLED: _ClassVar[SettlementState]
    SETTLEMENT_STATE_REVERSED: _ClassVar[SettlementState]
    SETTLEMENT_STATE_PENDING: _ClassVar[SettlementState]

class Locality(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    LOCALITY_UNSPECIFIED: _ClassVar[Locality]
    LOCALITY_LOCAL: _ClassVar[Locality]
    LOCALITY_REMOTE: _ClassVar[Locality]
MEDICAL_TYPE_UNSPECIFIED: MedicalType
MEDICAL_TYPE_OUTPATIENT: MedicalType
MEDICAL_TYPE_INPATIENT: MedicalType
MEDICAL_TYPE_PHARMACY: MedicalType
ITEM_CATEGORY_UNSPECIFIED: ItemCategory
ITEM_CATEGORY_A: ItemCategory
ITEM_CATEGORY_B: ItemCategory
ITEM_CATEGORY_C: ItemCategory
SETTLEMENT_STATE_UNSPECIFIED: SettlementState
SETTLEMENT_STATE_SETTLED: SettlementState
SETTLEMENT_STATE_REVERSED: SettlementState
SETTLEMENT_STATE_PENDING: SettlementState
LOCALITY_UNSPECIFIED: Locality
LOCALITY_LOCAL: Locality
LOCALITY_REMOTE: Locality

class FeeItem(_message.Message):
    __slots__ = ("code", "name", "category", "unitPrice", "quantity")
    CODE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    UNITPRICE_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    code: str
    name: str
    category: ItemCategory
    unitPrice: int
    quantity: int
    def __init__(self, code: _Optional[str] = ..., name: _Optional[str] = ..., category: _Optional[_Union[ItemCategory, str]] = ..., unitPrice: _Optional[int] = ..., quantity: _Optional[int] = ...) -> None: ...

class Settlement(_message.Message):
    __slots__ = ("settlementId", "requestId", "orgId", "insuOrg", "medType", "items", "feeSumamt", "fundPay", "psnAcctPay", "ownPayAmt", "state", "settledAt", "reversedAt", "settledBy", "servingProvince", "acctBalance", "deductiblePart", "reverseRequestId")
    SETTLEMENTID_FIELD_NUMBER: _ClassVar[int]
    REQUESTID_FIELD_NUMBER: _ClassVar[int]
    ORGID_FIELD_NUMBER: _ClassVar[int]
    INSUORG_FIELD_NUMBER: _ClassVar[int]
    MEDTYPE_FIELD_NUMBER: _ClassVar[int]
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    FEESUMAMT_FIELD_NUMBER: _ClassVar[int]
    FUNDPAY_FIELD_NUMBER: _ClassVar[int]
    PSNACCTPAY_FIELD_NUMBER: _ClassVar[int]
    OWNPAYAMT_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    SETTLEDAT_FIELD_NUMBER: _ClassVar[int]
    REVERSEDAT_FIELD_NUMBER: _ClassVar[int]
    SETTLEDBY_FIELD_NUMBER: _ClassVar[int]
    SERVINGPROVINCE_FIELD_NUMBER: _ClassVar[int]
    ACCTBALANCE_FIELD_NUMBER: _ClassVar[int]
    DEDUCTIBLEPART_FIELD_NUMBER: _ClassVar[int]
    REVERSEREQUESTID_FIELD_NUMBER: _ClassVar[int]
    settlementId: str
    requestId: str
    orgId: str
    insuOrg: str
    medType: MedicalType
    items: _containers.RepeatedCompositeFieldContainer[FeeItem]
    feeSumamt: int
    fundPay: int
    psnAcctPay: int
    ownPayAmt: int
    state: SettlementState
    settledAt: _timestamp_pb2.Timestamp
    reversedAt: _timestamp_pb2.Timestamp
    settledBy: str
    servingProvince: str
    acctBalance: int
    deductiblePart: int
    reverseRequestId: str
    def __init__(self, settlementId: _Optional[str] = ..., requestId: _Optional[str] = ..., orgId: _Optional[str] = ..., insuOrg: _Optional[str] = ..., medType: _Optional[_Union[MedicalType, str]] = ..., items: _Optional[_Iterable[_Union[FeeItem, _Mapping]]] = ..., feeSumamt: _Optional[int] = ..., fundPay: _Optional[int] = ..., psnAcctPay: _Optional[int] = ..., ownPayAmt: _Optional[int] = ..., state: _Optional[_Union[SettlementState, str]] = ..., settledAt: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., reversedAt: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., settledBy: _Optional[str] = ..., servingProvince: _Optional[str] = ..., acctBalance: _Optional[int] = ..., deductiblePart: _Optional[int] = ..., reverseRequestId: _Optional[str] = ...) -> None: ...

class SettleRequest(_message.Message):
    __slots__ = ("ecToken", "orgId", "requestId", "medType", "items")
    ECTOKEN_FIELD_NUMBER: _ClassVar[int]
    ORGID_FIELD_NUMBER: _ClassVar[int]
    REQUESTID_FIELD_NUMBER: _ClassVar[int]
    MEDTYPE_FIELD_NUMBER: _ClassVar[int]
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    ecToken: str
    orgId: str
    requestId: str
    medType: MedicalType
    items: _containers.RepeatedCompositeFieldContainer[FeeItem]
    def __init__(self, ecToken: _Optional[str] = ..., orgId: _Optional[str] = ..., requestId: _Optional[str] = ..., medType: _Optional[_Union[MedicalType, str]] = ..., items: _Optional[_Iterable[_Union[FeeItem, _Mapping]]] = ...) -> None: ...

class SettleResponse(_message.Message):
    __slots__ = ("settlement",)
    SETTLEMENT_FIELD_NUMBER: _ClassVar[int]
    settlement: Settlement
    def __init__(self, settlement: _Optional[_Union[Settlement, _Mapping]] = ...) -> None: ...

class ReverseRequest(_message.Message):
    __slots__ = ("settlementId", "requestId", "orgId")
    SETTLEMENTID_FIELD_NUMBER: _ClassVar[int]
    REQUESTID_FIELD_NUMBER: _ClassVar[int]
    ORGID_FIELD_NUMBER: _ClassVar[int]
    settlementId: str
    requestId: str
    orgId: str
    def __init__(self, settlementId: _Optional[str] = ..., requestId: _Optional[str] = ..., orgId: _Optional[str] = ...) -> None: ...

class ReverseResponse(_message.Message):
    __slots__ = ("settlement",)
    SETTLEMENT_FIELD_NUMBER: _ClassVar[int]
    settlement: Settlement
    def __init__(self, settlement: _Optional[_Union[Settlement, _Mapping]] = ...) -> None: ...

class GetSettlementRequest(_message.Message):
    __slots__ = ("settlementId",)
    SETTLEMENTID_FIELD_NUMBER: _ClassVar[int]
    settlementId: str
    def __init__(self, settlementId: _Optional[str] = ...) -> None: ...

class GetSettlementResponse(_message.Message):
    __slots__ = ("settlement",)
    SETTLEMENT_FIELD_NUMBER: _ClassVar[int]
    settlement: Settlement
    def __init__(self, settlement: _Optional[_Union[Settlement, _Mapping]] = ...) -> None: ...

class ListNoticesRequest(_message.Message):
    __slots__ = ("idType", "idNo", "limit")
    IDTYPE_FIELD_NUMBER: _ClassVar[int]
    IDNO_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    idType: str
    idNo: str
    limit: int
    def __init__(self, idType: _Optional[str] = ..., idNo: _Optional[str] = ..., limit: _Optional[int] = ...) -> None: ...

class SettlementNotice(_message.Message):
    __slots__ = ("settlementId", "ecCardNo", "insuOrg", "settledBy", "medType", "feeSumamt", "fundPay", "psnAcctPay", "ownPayAmt", "state", "at", "receivedAt")
    SETTLEMENTID_FIELD_NUMBER: _ClassVar[int]
    ECCARDNO_FIELD_NUMBER: _ClassVar[int]
    INSUORG_FIELD_NUMBER: _ClassVar[int]
    SETTLEDBY_FIELD_NUMBER: _ClassVar[int]
    MEDTYPE_FIELD_NUMBER: _ClassVar[int]
    FEESUMAMT_FIELD_NUMBER: _ClassVar[int]
    FUNDPAY_FIELD_NUMBER: _ClassVar[int]
    PSNACCTPAY_FIELD_NUMBER: _ClassVar[int]
    OWNPAYAMT_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    RECEIVEDAT_FIELD_NUMBER: _ClassVar[int]
    settlementId: str
    ecCardNo: str
    insuOrg: str
    settledBy: str
    medType: MedicalType
    feeSumamt: int
    fundPay: int
    psnAcctPay: int
    ownPayAmt: int
    state: SettlementState
    at: _timestamp_pb2.Timestamp
    receivedAt: _timestamp_pb2.Timestamp
    def __init__(self, settlementId: _Optional[str] = ..., ecCardNo: _Optional[str] = ..., insuOrg: _Optional[str] = ..., settledBy: _Optional[str] = ..., medType: _Optional[_Union[MedicalType, str]] = ..., feeSumamt: _Optional[int] = ..., fundPay: _Optional[int] = ..., psnAcctPay: _Optional[int] = ..., ownPayAmt: _Optional[int] = ..., state: _Optional[_Union[SettlementState, str]] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., receivedAt: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListNoticesResponse(_message.Message):
    __slots__ = ("notices",)
    NOTICES_FIELD_NUMBER: _ClassVar[int]
    notices: _containers.RepeatedCompositeFieldContainer[SettlementNotice]
    def __init__(self, notices: _Optional[_Iterable[_Union[SettlementNotice, _Mapping]]] = ...) -> None: ...

class ListDaySettlementsRequest(_message.Message):
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

class DaySettlement(_message.Message):
    __slots__ = ("settlementId", "requestId", "settledAt", "reversedAt", "insuredProvince", "insuOrg", "userName", "medType", "feeSumamt", "fundPay", "psnAcctPay", "ownPayAmt", "state", "locality", "settledBy", "orgId")
    SETTLEMENTID_FIELD_NUMBER: _ClassVar[int]
    REQUESTID_FIELD_NUMBER: _ClassVar[int]
    SETTLEDAT_FIELD_NUMBER: _ClassVar[int]
    REVERSEDAT_FIELD_NUMBER: _ClassVar[int]
    INSUREDPROVINCE_FIELD_NUMBER: _ClassVar[int]
    INSUORG_FIELD_NUMBER: _ClassVar[int]
    USERNAME_FIELD_NUMBER: _ClassVar[int]
    MEDTYPE_FIELD_NUMBER: _ClassVar[int]
    FEESUMAMT_FIELD_NUMBER: _ClassVar[int]
    FUNDPAY_FIELD_NUMBER: _ClassVar[int]
    PSNACCTPAY_FIELD_NUMBER: _ClassVar[int]
    OWNPAYAMT_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    LOCALITY_FIELD_NUMBER: _ClassVar[int]
    SETTLEDBY_FIELD_NUMBER: _ClassVar[int]
    ORGID_FIELD_NUMBER: _ClassVar[int]
    settlementId: str
    requestId: str
    settledAt: _timestamp_pb2.Timestamp
    reversedAt: _timestamp_pb2.Timestamp
    insuredProvince: str
    insuOrg: str
    userName: str
    medType: MedicalType
    feeSumamt: int
    fundPay: int
    psnAcctPay: int
    ownPayAmt: int
    state: SettlementState
    locality: Locality
    settledBy: str
    orgId: str
    def __init__(self, settlementId: _Optional[str] = ..., requestId: _Optional[str] = ..., settledAt: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., reversedAt: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., insuredProvince: _Optional[str] = ..., insuOrg: _Optional[str] = ..., userName: _Optional[str] = ..., medType: _Optional[_Union[MedicalType, str]] = ..., feeSumamt: _Optional[int] = ..., fundPay: _Optional[int] = ..., psnAcctPay: _Optional[int] = ..., ownPayAmt: _Optional[int] = ..., state: _Optional[_Union[SettlementState, str]] = ..., locality: _Optional[_Union[Locality, str]] = ..., settledBy: _Optional[str] = ..., orgId: _Optional[str] = ...) -> None: ...

class ListDaySettlementsResponse(_message.Message):
    __slots__ = ("settlements", "nextPageToken")
    SETTLEMENTS_FIELD_NUMBER: _ClassVar[int]
    NEXTPAGETOKEN_FIELD_NUMBER: _ClassVar[int]
    settlements: _containers.RepeatedCompositeFieldContainer[DaySettlement]
    nextPageToken: str
    def __init__(self, settlements: _Optional[_Iterable[_Union[DaySettlement, _Mapping]]] = ..., nextPageToken: _Optional[str] = ...) -> None: ...

class GetDayStatementRequest(_message.Message):
    __slots__ = ("orgId", "date")
    ORGID_FIELD_NUMBER: _ClassVar[int]
    DATE_FIELD_NUMBER: _ClassVar[int]
    orgId: str
    date: str
    def __init__(self, orgId: _Optional[str] = ..., date: _Optional[str] = ...) -> None: ...

class Totals(_message.Message):
    __slots__ = ("count", "feeSumamt", "fundPay", "psnAcctPay", "ownPayAmt")
    COUNT_FIELD_NUMBER: _ClassVar[int]
    FEESUMAMT_FIELD_NUMBER: _ClassVar[int]
    FUNDPAY_FIELD_NUMBER: _ClassVar[int]
    PSNACCTPAY_FIELD_NUMBER: _ClassVar[int]
    OWNPAYAMT_FIELD_NUMBER: _ClassVar[int]
    count: int
    feeSumamt: int
    fundPay: int
    psnAcctPay: int
    ownPayAmt: int
    def __init__(self, count: _Optional[int] = ..., feeSumamt: _Optional[int] = ..., fundPay: _Optional[int] = ..., psnAcctPay: _Optional[int] = ..., ownPayAmt: _Optional[int] = ...) -> None: ...

class StatementPart(_message.Message):
    __slots__ = ("settled", "reversed", "net")
    SETTLED_FIELD_NUMBER: _ClassVar[int]
    REVERSED_FIELD_NUMBER: _ClassVar[int]
    NET_FIELD_NUMBER: _ClassVar[int]
    settled: Totals
    reversed: Totals
    net: Totals
    def __init__(self, settled: _Optional[_Union[Totals, _Mapping]] = ..., reversed: _Optional[_Union[Totals, _Mapping]] = ..., net: _Optional[_Union[Totals, _Mapping]] = ...) -> None: ...

class DayStatement(_message.Message):
    __slots__ = ("date", "province", "orgId", "local", "remote", "total", "pendingCount", "dayStart", "dayEnd")
    DATE_FIELD_NUMBER: _ClassVar[int]
    PROVINCE_FIELD_NUMBER: _ClassVar[int]
    ORGID_FIELD_NUMBER: _ClassVar[int]
    LOCAL_FIELD_NUMBER: _ClassVar[int]
    REMOTE_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    PENDINGCOUNT_FIELD_NUMBER: _ClassVar[int]
    DAYSTART_FIELD_NUMBER: _ClassVar[int]
    DAYEND_FIELD_NUMBER: _ClassVar[int]
    date: str
    province: str
    orgId: str
    local: StatementPart
    remote: StatementPart
    total: StatementPart
    pendingCount: int
    dayStart: _timestamp_pb2.Timestamp
    dayEnd: _timestamp_pb2.Timestamp
    def __init__(self, date: _Optional[str] = ..., province: _Optional[str] = ..., orgId: _Optional[str] = ..., local: _Optional[_Union[StatementPart, _Mapping]] = ..., remote: _Optional[_Union[StatementPart, _Mapping]] = ..., total: _Optional[_Union[StatementPart, _Mapping]] = ..., pendingCount: _Optional[int] = ..., dayStart: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., dayEnd: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GetDayStatementResponse(_message.Message):
    __slots__ = ("statement", "institutions")
    STATEMENT_FIELD_NUMBER: _ClassVar[int]
    INSTITUTIONS_FIELD_NUMBER: _ClassVar[int]
    statement: DayStatement
    institutions: _containers.RepeatedCompositeFieldContainer[DayStatement]
    def __init__(self, statement: _Optional[_Union[DayStatement, _Mapping]] = ..., institutions: _Optional[_Iterable[_Union[DayStatement, _Mapping]]] = ...) -> None: ...
