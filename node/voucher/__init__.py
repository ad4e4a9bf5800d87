"""The voucher lifecycle at the national node (standard 6.1, 4.4-4.7), as plain typed
functions over the national store; ``node.services.voucher`` adapts them to gRPC.

- :mod:`.identification`: real-name check, real-person check (pluggable verifier,
  :mod:`.biometric`), the simulated camera;
- :mod:`.activation`: password page, password (:mod:`.password`), activation;
- :mod:`.authorization`: channel authorization, listing, revocation, status;
- :mod:`.registry`: base-registry changes (supersession, insured regions);
- :mod:`.freeze`, :mod:`.events`, :mod:`.idempotency`: the rules they share;
- :mod:`.context`: :class:`Lifecycle` (dependencies) and the shared checks.
"""

from node.voucher.activation import activate, open_password_page, set_password
from node.voucher.authorization import (
    authorize,
    list_authorizations,
    revoke_authorization,
    voucher_status,
)
from node.voucher.biometric import LivenessVerifier, SimulatedFaceVerifier, make_liveness_sample
from node.voucher.context import Lifecycle
from node.voucher.identification import real_name_check, real_person_check, simulated_face
from node.voucher.registry import update_person
from node.voucher.settings import LifecycleSettings

__all__ = [
    "Lifecycle",
    "LifecycleSettings",
    "LivenessVerifier",
    "SimulatedFaceVerifier",
    "activate",
    "authorize",
    "list_authorizations",
    "make_liveness_sample",
    "open_password_page",
    "real_name_check",
    "real_person_check",
    "revoke_authorization",
    "set_password",
    "simulated_face",
    "update_person",
    "voucher_status",
]
