"""The inputs of a scan (table B.3 plus the scanned value) and of a token check, checked.

Table B.3 fixes which fields are required and their lengths (type C, counted in
characters). A missing ``orgId`` is 500098 (the table's own code for it); every other
problem is -2, with a message that names the field, what was wrong and what is allowed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields

from node.domain.codes import BUSINESS_TYPES
from node.errors import Problems

__all__ = ["QueryInput", "TokenCheckInput", "check_org_id"]

# (max length, required) per field of table B.3; the rest of QueryInput is ecnet's.
_B3: dict[str, tuple[int, bool]] = {
    "orgId": (40, True),
    "businessType": (5, True),
    "businessInfo": (200, False),
    "operatorId": (20, True),
    "operatorName": (30, True),
    "officeId": (20, False),
    "officeName": (30, False),
    # Not in B.3; seen in the field (integrators send it): "SelfService" on kiosks, the
    # integrator's own business number.
    "deviceType": (40, False),
    "outBizNo": (64, False),
}


def check_org_id(org_id: str, problems: Problems | None = None) -> None:
    """orgId: required (500098) and at most 40 characters (-2), tables B.1 and B.3.

    With ``problems``, a problem is recorded there (the caller refuses once, naming
    every field); without, it is raised.
    """
    p = problems if problems is not None else Problems()
    if (
        p.require(
            "orgId", org_id, code=500098, hint="the institution code (机构 ID) of the terminal"
        )
        and len(org_id) > 40
    ):
        p.wrong("orgId", f"has {len(org_id)} characters; at most 40 are allowed (table B.3)")
    if problems is None:
        p.check()


def _check_length(p: Problems, name: str, value: str, limit: int, required: bool) -> None:
    if required and not p.require(name, value):
        return
    if len(value) > limit:
        p.wrong(name, f"has {len(value)} characters; at most {limit} are allowed (table B.3)")


@dataclass(frozen=True, slots=True)
class QueryInput:
    """An ec.query: the fields of table B.3 and the scanned ``ecQrCode``."""

    orgId: str
    businessType: str
    operatorId: str
    operatorName: str
    ecQrCode: str
    businessInfo: str = ""
    officeId: str = ""
    officeName: str = ""
    deviceType: str = ""
    outBizNo: str = ""

    @classmethod
    def from_mapping(cls, data: Mapping[str, str]) -> QueryInput:
        """From a dict of strings (the envelope's ``data``); unknown keys are ignored."""
        return cls(**{f.name: data.get(f.name, "") for f in fields(cls)})

    def checked(self) -> QueryInput:
        """Self, when every field is acceptable; else one refusal naming every field
        that is missing or wrong: 500098 when orgId is missing, else -2."""
        p = Problems()
        self.collect(p)
        p.check()
        return self

    def collect(self, p: Problems) -> None:
        """Record in ``p`` what is missing or wrong (:meth:`checked` without raising)."""
        check_org_id(self.orgId, p)
        for name, (limit, required) in _B3.items():
            if name != "orgId":
                _check_length(p, name, getattr(self, name), limit, required)
        if (
            self.businessType
            and not p.has("businessType")
            and (self.businessType not in BUSINESS_TYPES)
        ):
            p.wrong(
                "businessType",
                f"{self.businessType!r} is not a business type of table C.1: "
                "a first-level code and a second-level code, e.g. 01101 (hospital registration), "
                "02121 (pharmacy purchase)",
            )
        if (
            p.require("ecQrCode", self.ecQrCode, hint="the value read from the QR code, 28 digits")
            and len(self.ecQrCode) > 64
        ):
            p.wrong("ecQrCode", f"has {len(self.ecQrCode)} characters; a QR value has 28")


@dataclass(frozen=True, slots=True)
class TokenCheckInput:
    """A token check (6.4.2 c): the token and the person it should belong to."""

    ecToken: str
    idType: str
    idNo: str
    userName: str
    # When given, the institution must be the one the token was issued to.
    orgId: str = ""

    @classmethod
    def from_mapping(cls, data: Mapping[str, str]) -> TokenCheckInput:
        return cls(**{f.name: data.get(f.name, "") for f in fields(cls)})

    def checked(self) -> TokenCheckInput:
        """Self, or one -2 naming every field that is missing or too long."""
        p = Problems()
        self.collect(p)
        p.check()
        return self

    def collect(self, p: Problems) -> None:
        """Record in ``p`` what is missing or wrong (:meth:`checked` without raising)."""
        # A token of the wrong shape is not -2 but an invalid token (500067), decided
        # where tokens are looked up.
        p.require("ecToken", self.ecToken)
        for name, limit in (("idType", 2), ("idNo", 30), ("userName", 50)):
            value = getattr(self, name)
            if p.require(name, value) and len(value) > limit:
                p.wrong(
                    name, f"has {len(value)} characters; at most {limit} are allowed (table B.4)"
                )
        if len(self.orgId) > 40:
            p.wrong("orgId", f"has {len(self.orgId)} characters; at most 40 are allowed")
