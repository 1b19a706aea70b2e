"""Receipt codes: what a reporter keeps to see the status of a report and add to it later.

A code is 16 random Crockford base32 characters (80 bits), shown as four groups of four, e.g.
``7KQ2-M9XD-4HTR-0B6W``. Crockford's alphabet has no I, L, O or U, and reading it back maps
the look-alikes (I/L -> 1, O -> 0) and ignores case, spaces and hyphens: codes are copied by
hand onto paper and typed on phones.

The database keeps only ``HMAC-SHA256(pseudonym key, code)``: whoever steals a copy of it cannot
turn a stored hash into a working code, and 80 bits are far beyond guessing online (the status
page is rate-limited as well). The key is the pseudonym key (not the vault KEK), so receipts
can be checked without any ability to open contact details.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from tocsin.security.vault import Pseudonymizer

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32
CODE_CHARS = 16
GROUP = 4
_LOOKALIKES = str.maketrans({"O": "0", "I": "1", "L": "1"})
_SEPARATORS = str.maketrans("", "", " -_.\t")
_DOMAIN = b"tocsin-receipt:v1:"


_FROM_RFC4648 = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", ALPHABET)


def new_receipt_code() -> str:
    # 10 random bytes = 80 bits = exactly 16 base32 characters, mapped to Crockford's alphabet.
    raw = base64.b32encode(secrets.token_bytes(CODE_CHARS * 5 // 8)).decode("ascii")
    return format_code(raw.translate(_FROM_RFC4648))


def format_code(raw: str) -> str:
    return "-".join(raw[i : i + GROUP] for i in range(0, len(raw), GROUP))


def normalize_receipt(code: str) -> str | None:
    """The canonical 16 characters of a typed code, or ``None`` when it cannot be one."""
    if not isinstance(code, str) or len(code) > 64:
        return None
    text = code.strip().upper().translate(_SEPARATORS).translate(_LOOKALIKES)
    if len(text) != CODE_CHARS or any(ch not in ALPHABET for ch in text):
        return None
    return text


def receipt_hash(code: str, pseudonymizer: Pseudonymizer) -> str | None:
    """The keyed hash stored for a code (``None`` for something that is not a code)."""
    canonical = normalize_receipt(code)
    if canonical is None:
        return None
    return hmac.new(pseudonymizer.key, _DOMAIN + canonical.encode(), hashlib.sha256).hexdigest()
