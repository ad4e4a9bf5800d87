import datetime

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

class FeeItem(_message.Message):
    __slots__ = ("code", "name", "category", "unit_price", "quantity")
    CODE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    UNIT_PRICE_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    code: str
    name: str
    category: ItemCategory
    unit_price: int
    quantity: int
    def __init__(self, code: _Optional[str] = ..., name: _Optional[str] = ..., category: _Optional[_Union[ItemCategory, str]] = ..., unit_price: _Optional[int] = ..., quantity: _Optional[int] = ...) -> None: ...

class Settlement(_message.Message):
    __slots__ = ("settlement_id", "request_id", "org_id", "insu_org", "med_type", "items", "fee_sumamt", "fund_pay", "psn_acct_pay", "own_pay_amt", "state", "settled_at", "reversed_at", "settled_by")
    SETTLEMENT_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    ORG_ID_FIELD_NUMBER: _ClassVar[int]
    INSU_ORG_FIELD_NUMBER: _ClassVar[int]
    MED_TYPE_FIELD_NUMBER: _ClassVar[int]
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    FEE_SUMAMT_FIELD_NUMBER: _ClassVar[int]
    FUND_PAY_FIELD_NUMBER: _ClassVar[int]
    PSN_ACCT_PAY_FIELD_NUMBER: _ClassVar[int]
    OWN_PAY_AMT_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    SETTLED_AT_FIELD_NUMBER: _ClassVar[int]
    REVERSED_AT_FIELD_NUMBER: _ClassVar[int]
    SETTLED_BY_FIELD_NUMBER: _ClassVar[int]
    settlement_id: str
    request_id: str
    org_id: str
    insu_org: str
    med_type: MedicalType
    items: _containers.RepeatedCompositeFieldContainer[FeeItem]
    fee_sumamt: int
    fund_pay: int
    psn_acct_pay: int
    own_pay_amt: int
    state: SettlementState
    settled_at: _timestamp_pb2.Timestamp
    reversed_at: _timestamp_pb2.Timestamp
    settled_by: str
    def __init__(self, settlement_id: _Optional[str] = ..., request_id: _Optional[str] = ..., org_id: _Optional[str] = ..., insu_org: _Optional[str] = ..., med_type: _Optional[_Union[MedicalType, str]] = ..., items: _Optional[_Iterable[_Union[FeeItem, _Mapping]]] = ..., fee_sumamt: _Optional[int] = ..., fund_pay: _Optional[int] = ..., psn_acct_pay: _Optional[int] = ..., own_pay_amt: _Optional[int] = ..., state: _Optional[_Union[SettlementState, str]] = ..., settled_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., reversed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., settled_by: _Optional[str] = ...) -> None: ...

class SettleRequest(_message.Message):
    __slots__ = ("ec_token", "org_id", "request_id", "med_type", "items")
    EC_TOKEN_FIELD_NUMBER: _ClassVar[int]
    ORG_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    MED_TYPE_FIELD_NUMBER: _ClassVar[int]
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    ec_token: str
    org_id: str
    request_id: str
    med_type: MedicalType
    items: _containers.RepeatedCompositeFieldContainer[FeeItem]
    def __init__(self, ec_token: _Optional[str] = ..., org_id: _Optional[str] = ..., request_id: _Optional[str] = ..., med_type: _Optional[_Union[MedicalType, str]] = ..., items: _Optional[_Iterable[_Union[FeeItem, _Mapping]]] = ...) -> None: ...

class SettleResponse(_message.Message):
    __slots__ = ("settlement",)
    SETTLEMENT_FIELD_NUMBER: _ClassVar[int]
    settlement: Settlement
    def __init__(self, settlement: _Optional[_Union[Settlement, _Mapping]] = ...) -> None: ...

class ReverseRequest(_message.Message):
    __slots__ = ("settlement_id", "request_id")
    SETTLEMENT_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    settlement_id: str
    request_id: str
    def __init__(self, settlement_id: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class ReverseResponse(_message.Message):
    __slots__ = ("settlement",)
    SETTLEMENT_FIELD_NUMBER: _ClassVar[int]
    settlement: Settlement
    def __init__(self, settlement: _Optional[_Union[Settlement, _Mapping]] = ...) -> None: ...

class GetSettlementRequest(_message.Message):
    __slots__ = ("settlement_id",)
    SETTLEMENT_ID_FIELD_NUMBER: _ClassVar[int]
    settlement_id: str
    def __init__(self, settlement_id: _Optional[str] = ...) -> None: ...

class GetSettlementResponse(_message.Message):
    __slots__ = ("settlement",)
    SETTLEMENT_FIELD_NUMBER: _ClassVar[int]
    settlement: Settlement
    def __init__(self, settlement: _Optional[_Union[Settlement, _Mapping]] = ...) -> None: ...
