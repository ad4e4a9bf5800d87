"""The states of an electronic voucher, numbered as ``ecnet.v1.VoucherState`` so that
storage, events and the API agree without a mapping table."""

from __future__ import annotations

from enum import IntEnum

__all__ = ["VoucherState", "NOT_ACTIVATED", "ACTIVATED", "FROZEN", "SUPERSEDED"]


class VoucherState(IntEnum):
    NOT_ACTIVATED = 1
    ACTIVATED = 2
    # After too many wrong passwords (500079), until a real-person check or its time ends.
    FROZEN = 3
    # Replaced by a new voucher after a change of name, id type or id number.
    SUPERSEDED = 4


NOT_ACTIVATED = VoucherState.NOT_ACTIVATED
ACTIVATED = VoucherState.ACTIVATED
FROZEN = VoucherState.FROZEN
SUPERSEDED = VoucherState.SUPERSEDED
