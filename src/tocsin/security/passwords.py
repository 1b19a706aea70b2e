"""Password hashing (argon2id) and the password policy (length plus a zxcvbn estimate)."""

from __future__ import annotations

from dataclasses import dataclass, field

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from zxcvbn import zxcvbn

MIN_LENGTH = 12
# Long enough for any passphrase, short enough that hashing cannot be used to exhaust memory.
MAX_LENGTH = 256
MIN_SCORE = 3  # zxcvbn: 3 = "safely unguessable: moderate protection from offline attack"
# zxcvbn's matching is super-linear in length; the first characters decide the estimate anyway.
_STRENGTH_PREFIX = 100


class PasswordRejected(ValueError):
    """The password breaks the policy; the message says why and how to do better."""


@dataclass(frozen=True, slots=True)
class PasswordPolicy:
    min_length: int = MIN_LENGTH
    max_length: int = MAX_LENGTH
    min_score: int = MIN_SCORE

    def check(self, password: str, user_inputs: tuple[str, ...] = ()) -> None:
        if len(password) < self.min_length:
            raise PasswordRejected(f"password must have at least {self.min_length} characters")
        if len(password) > self.max_length:
            raise PasswordRejected(f"password must have at most {self.max_length} characters")
        inputs = [u for u in (*user_inputs, "tocsin") if u]
        result = zxcvbn(password[:_STRENGTH_PREFIX], user_inputs=inputs)
        if result["score"] < self.min_score:
            feedback = result.get("feedback") or {}
            hints = [feedback.get("warning") or "", *feedback.get("suggestions", [])]
            hint = " ".join(h for h in hints if h)
            raise PasswordRejected(
                "password is too easy to guess"
                + (f": {hint}" if hint else "")
                + " (use a longer passphrase of unrelated words)"
            )


@dataclass(slots=True)
class Passwords:
    """Hashes and verifies. The argon2 cost can be lowered for tests, never below safe use."""

    hasher: PasswordHasher = field(default_factory=PasswordHasher)  # RFC 9106 low-memory
    policy: PasswordPolicy = field(default_factory=PasswordPolicy)
    _dummy: str = ""

    def hash(self, password: str) -> str:
        return self.hasher.hash(password)

    def verify(self, stored_hash: str | None, password: str) -> bool:
        """Constant work whether or not the user exists, so timing does not reveal accounts."""
        if len(password) > self.policy.max_length:
            return False
        target = stored_hash or self._dummy_hash()
        try:
            ok = self.hasher.verify(target, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False
        return ok and stored_hash is not None

    def needs_rehash(self, stored_hash: str) -> bool:
        return self.hasher.check_needs_rehash(stored_hash)

    def _dummy_hash(self) -> str:
        if not self._dummy:
            self._dummy = self.hasher.hash("tocsin-dummy-password-for-constant-time")
        return self._dummy


def fast_passwords_for_tests() -> Passwords:
    """Cheap argon2 parameters: tests create many users; production never calls this."""
    return Passwords(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
