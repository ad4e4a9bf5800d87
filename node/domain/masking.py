"""Personal data as a person without a reason to see it may see it (4.8): a name, an id
number, a phone number masked. ``ListPersons`` answers every role this way unless an
administrator or auditor states a reason; the audit log keeps id numbers this way."""

from __future__ import annotations

__all__ = ["mask_name", "mask_id_no", "mask_phone"]


def mask_name(name: str) -> str:
    """杨凤雪 → 杨*雪, 王艳 → 王*, 欧阳娜娜 → 欧**娜; one character → *."""
    if len(name) <= 1:
        return "*" * len(name)
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


def mask_id_no(id_no: str) -> str:
    """441426199112073706 → 441426********3706 (the region kept, the birth date and the
    sequence hidden); a short number keeps its last two characters at most."""
    if len(id_no) >= 12:
        return id_no[:6] + "*" * (len(id_no) - 10) + id_no[-4:]
    if len(id_no) > 4:
        return "*" * (len(id_no) - 2) + id_no[-2:]
    return "*" * len(id_no)


def mask_phone(phone: str) -> str:
    """13812345678 → 138****5678."""
    if len(phone) >= 7:
        return phone[:3] + "*" * (len(phone) - 7) + phone[-4:]
    return "*" * len(phone)
