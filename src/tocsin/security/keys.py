"""Secrets that must not live in the database they protect.

Three keys, each 32 random bytes:

- ``data``: AES-256-GCM for identifying data at rest (names and contacts of victims and
  witnesses, TOTP secrets). A stolen database dump alone does not reveal them.
- ``lookup``: HMAC key for values we only compare (usernames and addresses in the login
  throttle table), so that table is no list of who tried to log in.
- ``audit-signing``: the Ed25519 seed that signs audit-ledger checkpoints. Whoever edits the
  database without it cannot forge a checkpoint.

Each comes from the environment (``TOCSIN_DATA_KEY``, ``TOCSIN_LOOKUP_KEY``,
``TOCSIN_AUDIT_SIGNING_KEY``: 32 bytes, base64url) or else from a file under
``$TOCSIN_HOME/keys/`` created on first use with mode 0600. A key file that others can read is
refused. Keep the ``keys`` folder, or the variables, on different media from database backups.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import secrets
import stat
from collections.abc import Mapping
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from nacl.signing import SigningKey, VerifyKey

KEY_NAMES = ("data", "lookup", "audit-signing")
_CIPHER_PREFIX = "v1:"


class KeyStoreError(RuntimeError):
    """A key is missing, malformed or unsafely stored; the message says how to fix it."""


def _env_name(name: str) -> str:
    return "TOCSIN_" + name.upper().replace("-", "_") + "_KEY"


class KeyRing:
    """Loads (or creates) the three keys once; hand the same instance to everything."""

    def __init__(self, home: Path, environ: Mapping[str, str] | None = None) -> None:
        self.dir = home / "keys"
        self._environ = os.environ if environ is None else environ
        self._cache: dict[str, bytes] = {}

    def raw(self, name: str) -> bytes:
        if name not in KEY_NAMES:
            raise KeyStoreError(f"unknown key {name!r}")
        if name not in self._cache:
            self._cache[name] = self._load(name)
        return self._cache[name]

    def _load(self, name: str) -> bytes:
        env = self._environ.get(_env_name(name))
        if env:
            return _decode(env, f"environment variable {_env_name(name)}")
        path = self.dir / f"{name}.key"
        if path.exists():
            mode = stat.S_IMODE(path.stat().st_mode)
            if mode & 0o077:
                raise KeyStoreError(
                    f"{path} is readable by other users (mode {mode:o}); run chmod 600 {path}"
                )
            return _decode(path.read_text().strip(), str(path))
        self.dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.dir, 0o700)
        value = secrets.token_bytes(32)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process created it first: use theirs
            return self._load(name)
        with os.fdopen(fd, "w") as fh:
            fh.write(base64.urlsafe_b64encode(value).decode() + "\n")
        return value

    # -- uses -------------------------------------------------------------------------------

    def encrypt(self, plaintext: str, context: str) -> str:
        """Authenticated encryption; ``context`` (e.g. table:row:column) is bound to the value,
        so a ciphertext copied to another row or column does not decrypt."""
        nonce = secrets.token_bytes(12)
        sealed = AESGCM(self.raw("data")).encrypt(nonce, plaintext.encode(), context.encode())
        return _CIPHER_PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode()

    def decrypt(self, token: str, context: str) -> str:
        if not token.startswith(_CIPHER_PREFIX):
            raise KeyStoreError("value is not a Tocsin ciphertext")
        blob = base64.urlsafe_b64decode(token[len(_CIPHER_PREFIX) :])
        plain = AESGCM(self.raw("data")).decrypt(blob[:12], blob[12:], context.encode())
        return plain.decode()

    def lookup_digest(self, value: str) -> str:
        return hmac.new(self.raw("lookup"), value.encode(), hashlib.sha256).hexdigest()

    def signing_key(self) -> SigningKey:
        return SigningKey(self.raw("audit-signing"))

    def verify_key(self) -> VerifyKey:
        return self.signing_key().verify_key


def _decode(text: str, where: str) -> bytes:
    try:
        value = base64.urlsafe_b64decode(text.strip() + "=" * (-len(text.strip()) % 4))
    except (binascii.Error, ValueError) as exc:
        raise KeyStoreError(f"{where} is not base64url") from exc
    if len(value) != 32:
        raise KeyStoreError(f"{where} must hold 32 bytes, found {len(value)}")
    return value
