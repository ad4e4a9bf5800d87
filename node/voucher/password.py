"""The six-digit voucher password: the rules a new one must follow, and its slow hash.

Rules (checked in this order, each failure a clear message):

1. six ASCII digits (-2);
2. entered twice, both the same (500089);
3. not trivial (-2): all one digit (111111), an ascending or descending run (123456,
   654321, also wrapping: 890123), a repeated pair or triple (121212, 123123), or any
   six consecutive digits of the holder's id number (its birth date, its last six).

Storage: PBKDF2 with HMAC-SM3 (:func:`node.domain.sm.password_hash`), a 16-byte random
salt per password and the iteration count stored beside the hash, so the cost can rise
without breaking old hashes. Hashing costs tens of milliseconds by design, so it runs
on a worker thread, never on the event loop or the database writer. Passwords never
reach a log line or an exception message.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from node.clock import Entropy
from node.domain.sm import password_hash, password_verify
from node.errors import EcError, invalid

__all__ = ["HashedPassword", "PasswordHasher", "check_new_password", "trivial_reason"]

SALT_BYTES = 16


def _is_run(digits: list[int], step: int) -> bool:
    return all((b - a) % 10 == step % 10 for a, b in zip(digits, digits[1:], strict=False))


def trivial_reason(password: str, id_no: str = "") -> str | None:
    """Why ``password`` (six digits) is too easy to guess, or None."""
    digits = [int(c) for c in password]
    if len(set(digits)) == 1:
        return "a password of one repeated digit is too easy to guess"
    if _is_run(digits, 1):
        return "an ascending run of digits (like 123456) is too easy to guess"
    if _is_run(digits, -1):
        return "a descending run of digits (like 654321) is too easy to guess"
    if password[:2] * 3 == password:
        return "a repeated pair of digits (like 121212) is too easy to guess"
    if password[:3] * 2 == password:
        return "a repeated group of three digits (like 123123) is too easy to guess"
    if id_no and password in id_no:
        return "the password must not be part of your id number (birth date, last six digits)"
    return None


def check_new_password(password: str, confirm: str, id_no: str = "") -> None:
    """Raise the C.4 error for a password that cannot be set; None when it can."""
    if len(password) != 6 or not (password.isascii() and password.isdigit()):
        raise invalid("the voucher password must be exactly six digits")
    if confirm != password:
        raise EcError(500089, "the two password entries differ; enter the same six digits twice")
    reason = trivial_reason(password, id_no)
    if reason:
        raise invalid(reason)


@dataclass(frozen=True, slots=True)
class HashedPassword:
    hash: bytes
    salt: bytes
    iterations: int

    def __repr__(self) -> str:  # never print hash material by accident
        return f"HashedPassword(iterations={self.iterations})"


class PasswordHasher:
    """Salted PBKDF2-HMAC-SM3 on a worker thread."""

    def __init__(self, iterations: int, entropy: Entropy) -> None:
        self.iterations = iterations
        self.entropy = entropy

    async def hash(self, password: str) -> HashedPassword:
        salt = self.entropy.token_bytes(SALT_BYTES)
        loop = asyncio.get_running_loop()
        digest = await loop.run_in_executor(None, password_hash, password, salt, self.iterations)
        return HashedPassword(digest, salt, self.iterations)

    async def verify(self, password: str, stored: HashedPassword) -> bool:
        """True when ``password`` matches; constant-time comparison."""
        if not (len(password) == 6 and password.isascii() and password.isdigit()):
            return False
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            None, password_verify, password, stored.salt, stored.iterations, stored.hash
        )
