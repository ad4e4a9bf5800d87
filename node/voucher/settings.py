"""Tunables of the voucher lifecycle, read once from the node's configuration.

Each setting comes from ``NodeConfig.extra`` (tests pass ``extra={"password_iterations":
"10"}``), else from the environment variable ``ECNET_VOUCHER_<NAME>`` (upper case, for
``ecnet-node`` processes), else the default below.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from node.settings import read_settings

__all__ = ["LifecycleSettings"]


@dataclass(frozen=True)
class LifecycleSettings:
    """Lifetimes in seconds, the password hash cost and the freeze rule."""

    # PBKDF2-HMAC-SM3 iterations for new passwords (about 40 ms per hash at 100,000).
    password_iterations: int = 100_000
    # A real-name serial (and its liveness challenge) is good for this long.
    real_name_ttl: int = 300
    # A real-person serial: password and activation must follow within it.
    real_person_ttl: int = 300
    # A third-party channel's one-time password page session.
    page_ttl: int = 300
    # The serial of a set (not yet activated) password.
    password_ttl: int = 300
    # A liveness sample is fresh for this long after its timestamp.
    liveness_window: int = 60
    # Wrong samples allowed on one real-name serial before it is burnt.
    liveness_attempts: int = 5
    # Wrong passwords in a row that freeze a voucher (500079), and for how long.
    max_wrong_passwords: int = 5
    freeze_seconds: int = 86_400
    # How often national looks for freezes whose time is over, to record the lift.
    freeze_sweep_seconds: int = 30
    # How long a requestId answers with its first result.
    idempotency_ttl: int = 86_400
    # Real-person checks that lift a freeze, per person (a token bucket at national):
    # at most ``unfreeze_burst`` in a row, then one more every ``unfreeze_refill_seconds``;
    # beyond it the check answers 500084. Each lift allows ``max_wrong_passwords`` more
    # guesses, so this bounds password guessing through the official channel.
    unfreeze_burst: int = 2
    unfreeze_refill_seconds: int = 3_600

    @classmethod
    def from_config(
        cls, extra: Mapping[str, str], environ: Mapping[str, str] | None = None
    ) -> LifecycleSettings:
        return read_settings(cls, "voucher", extra, environ)
