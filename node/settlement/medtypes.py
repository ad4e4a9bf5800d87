"""The medical types of a settlement (门诊, 住院, 药店购药) by their proto enum and by name.

Apart from :mod:`.wire` so that a client (the ``ecnet`` command) can name them without
importing the ledger and the storage behind it.
"""

from __future__ import annotations

from ecnet.v1 import settlement_service_pb2 as pb

__all__ = ["MED_TYPE_OF", "MED_TYPE_PROTO"]

MED_TYPE_OF = {
    pb.MEDICAL_TYPE_OUTPATIENT: "outpatient",
    pb.MEDICAL_TYPE_INPATIENT: "inpatient",
    pb.MEDICAL_TYPE_PHARMACY: "pharmacy",
}
MED_TYPE_PROTO = {v: k for k, v in MED_TYPE_OF.items()}
