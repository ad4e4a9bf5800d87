"""The real-person (biometric) check behind a pluggable verifier.

A verifier answers one question: does this liveness sample, captured by a channel in
answer to ``challenge``, show the person whose enrolled face template is ``template``,
and is it fresh? It raises :class:`LivenessRefused` (→ 500096) otherwise. Serials,
replays and attempt limits are the lifecycle's business, not the verifier's.

:class:`SimulatedFaceVerifier` is the verifier of a simulated nation, and a real
component: every person of the synthetic registry has a 32-byte enrolled template
(``persons.face_template``), and a sample is::

    sample = timestamp_ms (8 bytes, big-endian)
          || HMAC-SM3(template, b"ecnet/liveness/v1" || challenge || timestamp_ms)

so only someone holding the template (the simulated camera in front of the person)
can answer a challenge, and only for a short time. A production verifier (a face
comparison service) implements the same protocol. :func:`make_liveness_sample` is the
simulated camera, used by the CLI and tests.
"""

from __future__ import annotations

import hmac
import struct
from typing import Protocol, runtime_checkable

from node.domain.sm import hmac_sm3

__all__ = [
    "LivenessRefused",
    "LivenessVerifier",
    "SAMPLE_BYTES",
    "SimulatedFaceVerifier",
    "make_liveness_sample",
]

_TAG = b"ecnet/liveness/v1"
SAMPLE_BYTES = 8 + 32
# A sample stamped this far in the future is still accepted (clock skew of a phone).
FUTURE_SKEW_MS = 5_000


class LivenessRefused(Exception):
    """The sample does not prove a live, matching person; the message says why."""


@runtime_checkable
class LivenessVerifier(Protocol):
    """What the real-person check needs from a biometric verifier."""

    #: True for the simulation: only then may a node hand the template to a simulated camera.
    simulated: bool

    async def verify(self, template: bytes, challenge: str, sample: bytes, now_ms: int) -> None:
        """Return when the sample matches ``template`` and is fresh; raise LivenessRefused.

        Called on the event loop, outside any database transaction (a remote face
        comparison service may take its time)."""
        ...


def _mac(template: bytes, challenge: str, stamp: bytes) -> bytes:
    return hmac_sm3(template, _TAG + challenge.encode() + stamp)


def make_liveness_sample(template: bytes, challenge: str, now_ms: int) -> bytes:
    """The simulated camera: a liveness sample of the person enrolled with ``template``,
    answering ``challenge`` at ``now_ms`` (40 bytes)."""
    stamp = struct.pack(">Q", now_ms)
    return stamp + _mac(template, challenge, stamp)


class SimulatedFaceVerifier:
    """Accepts a sample made from the enrolled template within ``window_ms`` of now."""

    simulated = True

    def __init__(self, window_ms: int = 60_000) -> None:
        self.window_ms = window_ms

    async def verify(self, template: bytes, challenge: str, sample: bytes, now_ms: int) -> None:
        if len(sample) != SAMPLE_BYTES:
            raise LivenessRefused(f"a liveness sample is {SAMPLE_BYTES} bytes, got {len(sample)}")
        stamp = sample[:8]
        (taken_ms,) = struct.unpack(">Q", stamp)
        if not hmac.compare_digest(sample[8:], _mac(template, challenge, stamp)):
            raise LivenessRefused(
                "the liveness sample does not match the enrolled face or the challenge"
            )
        if taken_ms > now_ms + FUTURE_SKEW_MS:
            raise LivenessRefused("the liveness sample is stamped in the future")
        if taken_ms < now_ms - self.window_ms:
            raise LivenessRefused(
                f"the liveness sample is {(now_ms - taken_ms) // 1000} s old; capture a new one "
                f"(valid for {self.window_ms // 1000} s)"
            )
