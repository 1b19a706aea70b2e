"""The reporter-contact vault: envelope encryption, keyed pseudonyms and break-glass unsealing.

Why this shape:

- **Envelope encryption.** Each record's contact details are encrypted with their own random
  256-bit data key (XChaCha20-Poly1305, libsodium via PyNaCl); the data key is stored only
  wrapped (encrypted) by the key-encryption key (KEK). A stolen database holds ciphertext and
  wrapped keys and nothing that opens them.
- **The KEK never touches the database.** It comes from a key file outside it, readable by the
  service user alone (mode 0600; anything looser is refused), or from an environment variable.
  Rotation = load the new KEK as current and the old ones as previous, then :func:`rewrap` every
  record: only the 72-byte wrapped key changes, the ciphertext stays.
- **Binding.** The record id is authenticated data of both layers, so a ciphertext or wrapped
  key copied onto another record fails to open rather than revealing the wrong person's number.
- **Pseudonyms.** Analysts see ``HMAC-SHA256(pseudonym_key, normalised phone)``, shortened: the
  same reporter always gets the same pseudonym (so a pattern of reports is visible), and without
  that separate key nobody can link a pseudonym to a number, even by trying every phone number.
- **Break-glass.** :func:`unseal` needs an actor and a written reason and returns the audit event
  the caller must append; :func:`unseal_for_delivery` is the system path used to send a reply
  without showing the number to anyone.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import stat
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from nacl import bindings
from nacl.exceptions import CryptoError
from nacl.utils import random as random_bytes

KEY_BYTES = 32
NONCE_BYTES = bindings.crypto_aead_xchacha20poly1305_ietf_NPUBBYTES  # 24
SEALED_VERSION = 1
MAX_FIELD_CHARS = 512
MIN_REASON_CHARS = 10
MAX_REASON_CHARS = 2000

ENV_KEY = "TOCSIN_VAULT_KEY"
ENV_KEY_FILE = "TOCSIN_VAULT_KEY_FILE"
ENV_OLD_KEY_FILES = "TOCSIN_VAULT_OLD_KEY_FILES"
ENV_PSEUDONYM_KEY = "TOCSIN_PSEUDONYM_KEY"
ENV_PSEUDONYM_KEY_FILE = "TOCSIN_PSEUDONYM_KEY_FILE"

_DATA_AAD = b"tocsin-vault:data:v1:"
_WRAP_AAD = b"tocsin-vault:wrap:v1:"


class VaultError(Exception):
    """Base class: every vault failure says what went wrong and never echoes secrets."""


class KeyError_(VaultError):  # noqa: N801 - "KeyError" is a builtin
    """A key is missing, malformed or stored unsafely."""


class UnsealError(VaultError):
    """The record cannot be opened: wrong key, tampered data, or a refused request."""


# -- keys -------------------------------------------------------------------------------------


def _decode_key(text: bytes, where: str) -> bytes:
    """Keys are written as URL-safe base64 (44 characters) in files and environment variables."""
    raw = text.strip()
    try:
        key = base64.urlsafe_b64decode(raw + b"=" * (-len(raw) % 4))
    except ValueError as exc:
        raise KeyError_(f"{where}: not a base64 key") from exc
    if len(key) != KEY_BYTES:
        raise KeyError_(f"{where}: a key must be {KEY_BYTES} bytes, got {len(key)}")
    return key


def generate_key() -> bytes:
    return random_bytes(KEY_BYTES)


def encode_key(key: bytes) -> str:
    return base64.urlsafe_b64encode(key).decode("ascii")


def create_key_file(path: Path) -> None:
    """Writes a new random key, readable by its owner only; never overwrites an existing file."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(encode_key(generate_key()) + "\n")


def load_key_file(path: Path) -> bytes:
    """Reads a key file, refusing one that others could read or that is not a plain file."""
    try:
        info = os.lstat(path)
    except FileNotFoundError as exc:
        raise KeyError_(f"key file {path} does not exist") from exc
    if not stat.S_ISREG(info.st_mode):
        raise KeyError_(f"key file {path} is not a regular file (symlinks are refused)")
    if info.st_mode & 0o077:
        raise KeyError_(
            f"key file {path} is readable or writable by group/others "
            f"(mode {stat.S_IMODE(info.st_mode):04o}); run chmod 600 on it"
        )
    if hasattr(os, "getuid") and info.st_uid != os.getuid():
        raise KeyError_(f"key file {path} belongs to another user")
    if info.st_size > 1024:
        raise KeyError_(f"key file {path} is too large to be a key")
    return _decode_key(Path(path).read_bytes(), f"key file {path}")


def key_id(key: bytes) -> str:
    """A short public name for a KEK, so records say which key wrapped them."""
    return hashlib.blake2b(key, digest_size=8, person=b"tocsin-kek-id").hexdigest()


@dataclass(frozen=True, slots=True)
class Keyring:
    """The current KEK (used to wrap) and older ones (still accepted to unwrap, for rotation)."""

    current: bytes = field(repr=False)
    previous: tuple[bytes, ...] = field(default=(), repr=False)

    def __post_init__(self) -> None:
        for key in (self.current, *self.previous):
            if len(key) != KEY_BYTES:
                raise KeyError_(f"a key-encryption key must be {KEY_BYTES} bytes")

    @property
    def current_id(self) -> str:
        return key_id(self.current)

    def by_id(self, kid: str) -> bytes:
        for key in (self.current, *self.previous):
            if hmac.compare_digest(key_id(key), kid):
                return key
        raise UnsealError(f"no key {kid!r} in the keyring (was it rotated out?)")

    @classmethod
    def from_environment(cls, env: Mapping[str, str] | None = None) -> Keyring:
        """``TOCSIN_VAULT_KEY_FILE`` (preferred) or ``TOCSIN_VAULT_KEY``; older keys, during a
        rotation, from the files listed in ``TOCSIN_VAULT_OLD_KEY_FILES`` (os.pathsep)."""
        env = os.environ if env is None else env
        if env.get(ENV_KEY_FILE):
            current = load_key_file(Path(env[ENV_KEY_FILE]))
        elif env.get(ENV_KEY):
            current = _decode_key(env[ENV_KEY].encode("ascii", "replace"), ENV_KEY)
        else:
            raise KeyError_(
                f"no vault key: set {ENV_KEY_FILE} to a 0600 key file outside the database "
                f"(create one with tocsin.security.vault.create_key_file) or {ENV_KEY}"
            )
        old = [
            load_key_file(Path(p)) for p in env.get(ENV_OLD_KEY_FILES, "").split(os.pathsep) if p
        ]
        return cls(current=current, previous=tuple(old))


def pseudonym_key_from_environment(
    env: Mapping[str, str] | None = None, *, keyring: Keyring | None = None
) -> bytes:
    env = os.environ if env is None else env
    if env.get(ENV_PSEUDONYM_KEY_FILE):
        key = load_key_file(Path(env[ENV_PSEUDONYM_KEY_FILE]))
    elif env.get(ENV_PSEUDONYM_KEY):
        key = _decode_key(env[ENV_PSEUDONYM_KEY].encode("ascii", "replace"), ENV_PSEUDONYM_KEY)
    else:
        raise KeyError_(f"no pseudonym key: set {ENV_PSEUDONYM_KEY_FILE} or {ENV_PSEUDONYM_KEY}")
    if keyring is not None and any(
        hmac.compare_digest(key, k) for k in (keyring.current, *keyring.previous)
    ):
        raise KeyError_("the pseudonym key must differ from the vault keys")
    return key


# -- contact details --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ContactDetails:
    """What a reporter left to be called back on. Every field optional, none ever logged."""

    phone: str | None = None
    name: str | None = None
    email: str | None = None
    other: str | None = None

    def __post_init__(self) -> None:
        for label in ("phone", "name", "email", "other"):
            value = getattr(self, label)
            if value is None:
                continue
            if not isinstance(value, str):
                raise VaultError(f"contact {label} must be text")
            if len(value) > MAX_FIELD_CHARS:
                raise VaultError(f"contact {label} is longer than {MAX_FIELD_CHARS} characters")
            if any(unicodedata.category(ch) == "Cc" for ch in value):
                raise VaultError(f"contact {label} contains control characters")

    def __repr__(self) -> str:  # never print contact details by accident (logs, tracebacks)
        present = [k for k in ("phone", "name", "email", "other") if getattr(self, k)]
        return f"ContactDetails(<sealed fields: {', '.join(present) or 'none'}>)"

    def to_json(self) -> bytes:
        return json.dumps(
            {"phone": self.phone, "name": self.name, "email": self.email, "other": self.other},
            separators=(",", ":"),
        ).encode("utf-8")

    @classmethod
    def from_json(cls, data: bytes) -> ContactDetails:
        parsed = json.loads(data.decode("utf-8"))
        return cls(**{k: parsed.get(k) for k in ("phone", "name", "email", "other")})


@dataclass(frozen=True, slots=True)
class SealedContact:
    """What the database stores: nothing in it opens without the KEK."""

    record_id: str
    kek_id: str
    wrap_nonce: bytes
    wrapped_key: bytes
    nonce: bytes
    ciphertext: bytes
    version: int = SEALED_VERSION

    def to_dict(self) -> dict[str, Any]:
        b64 = base64.b64encode
        return {
            "v": self.version,
            "record_id": self.record_id,
            "kek_id": self.kek_id,
            "wrap_nonce": b64(self.wrap_nonce).decode(),
            "wrapped_key": b64(self.wrapped_key).decode(),
            "nonce": b64(self.nonce).decode(),
            "ciphertext": b64(self.ciphertext).decode(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SealedContact:
        try:
            if data["v"] != SEALED_VERSION:
                raise UnsealError(f"unsupported sealed record version {data['v']!r}")
            d64 = base64.b64decode
            return cls(
                record_id=str(data["record_id"]),
                kek_id=str(data["kek_id"]),
                wrap_nonce=d64(data["wrap_nonce"], validate=True),
                wrapped_key=d64(data["wrapped_key"], validate=True),
                nonce=d64(data["nonce"], validate=True),
                ciphertext=d64(data["ciphertext"], validate=True),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise UnsealError(f"malformed sealed record: {type(exc).__name__}") from exc


@dataclass(frozen=True, slots=True)
class VaultAuditEvent:
    """Same shape as ``tocsin.verify.audit.AuditEvent``: the caller appends it to the ledger."""

    action: str
    actor: str
    subject_type: str
    subject_id: str
    at: datetime
    details: Mapping[str, str | int | bool | None]

    def to_dict(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "actor": self.actor,
            "subject_type": self.subject_type,
            "subject_id": self.subject_id,
            "at": self.at.isoformat(),
            "details": dict(self.details),
        }


def _encrypt(key: bytes, plaintext: bytes, aad: bytes) -> tuple[bytes, bytes]:
    nonce = random_bytes(NONCE_BYTES)
    return nonce, bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(plaintext, aad, nonce, key)


def _decrypt(key: bytes, nonce: bytes, ciphertext: bytes, aad: bytes) -> bytes:
    if len(nonce) != NONCE_BYTES:
        raise UnsealError("sealed record has a malformed nonce")
    try:
        return bindings.crypto_aead_xchacha20poly1305_ietf_decrypt(ciphertext, aad, nonce, key)
    except CryptoError as exc:
        raise UnsealError("cannot open the sealed record: wrong key or tampered data") from exc


def _wrap_aad(kid: str, record_id: str) -> bytes:
    return _WRAP_AAD + kid.encode() + b":" + record_id.encode("utf-8")


def seal(contact: ContactDetails, *, record_id: str, keyring: Keyring) -> SealedContact:
    if not record_id:
        raise VaultError("a sealed record needs the id of the report it belongs to")
    data_key = generate_key()
    nonce, ciphertext = _encrypt(data_key, contact.to_json(), _DATA_AAD + record_id.encode("utf-8"))
    kid = keyring.current_id
    wrap_nonce, wrapped = _encrypt(keyring.current, data_key, _wrap_aad(kid, record_id))
    return SealedContact(
        record_id=record_id,
        kek_id=kid,
        wrap_nonce=wrap_nonce,
        wrapped_key=wrapped,
        nonce=nonce,
        ciphertext=ciphertext,
    )


def _data_key(sealed: SealedContact, keyring: Keyring) -> bytes:
    kek = keyring.by_id(sealed.kek_id)
    key = _decrypt(
        kek, sealed.wrap_nonce, sealed.wrapped_key, _wrap_aad(sealed.kek_id, sealed.record_id)
    )
    if len(key) != KEY_BYTES:
        raise UnsealError("sealed record holds a malformed data key")
    return key


def _open(sealed: SealedContact, keyring: Keyring) -> ContactDetails:
    plaintext = _decrypt(
        _data_key(sealed, keyring),
        sealed.nonce,
        sealed.ciphertext,
        _DATA_AAD + sealed.record_id.encode("utf-8"),
    )
    try:
        return ContactDetails.from_json(plaintext)
    except (ValueError, TypeError) as exc:  # authenticated, so only a bug could get here
        raise UnsealError("sealed record decrypted to malformed contact data") from exc


def unseal(
    sealed: SealedContact,
    keyring: Keyring,
    *,
    actor: str,
    reason: str,
    now: datetime,
) -> tuple[ContactDetails, VaultAuditEvent]:
    """Break-glass: a named person opens a reporter's contact details, saying why.

    The reason is required (at least MIN_REASON_CHARS characters) and goes into the audit
    event, which the caller must append to the ledger before showing anything.
    """
    if not actor or actor.startswith("system:"):
        raise UnsealError("break-glass unsealing needs a named person, not a system actor")
    text = (reason or "").strip()
    if len(text) < MIN_REASON_CHARS:
        raise UnsealError(f"give a reason of at least {MIN_REASON_CHARS} characters to unseal")
    if len(text) > MAX_REASON_CHARS:
        raise UnsealError(f"the reason is longer than {MAX_REASON_CHARS} characters")
    if now.tzinfo is None:
        raise UnsealError("time must be timezone-aware")
    contact = _open(sealed, keyring)
    event = VaultAuditEvent(
        action="vault.unsealed",
        actor=actor,
        subject_type="report",
        subject_id=sealed.record_id,
        at=now,
        details={"reason": text, "kek_id": sealed.kek_id, "break_glass": True},
    )
    return contact, event


def unseal_for_delivery(
    sealed: SealedContact, keyring: Keyring, *, purpose: str, requested_by: str, now: datetime
) -> tuple[ContactDetails, VaultAuditEvent]:
    """The system path for replying to a reporter: the number goes to the SMS adapter only.

    ``requested_by`` is the officer who wrote the reply; they never see the number.
    """
    if not purpose.strip():
        raise UnsealError("say what the delivery is for")
    if now.tzinfo is None:
        raise UnsealError("time must be timezone-aware")
    contact = _open(sealed, keyring)
    event = VaultAuditEvent(
        action="vault.opened_for_delivery",
        actor="system:outbound",
        subject_type="report",
        subject_id=sealed.record_id,
        at=now,
        details={"purpose": purpose.strip()[:200], "requested_by": requested_by},
    )
    return contact, event


def needs_rewrap(sealed: SealedContact, keyring: Keyring) -> bool:
    return sealed.kek_id != keyring.current_id


def rewrap(sealed: SealedContact, keyring: Keyring) -> SealedContact:
    """Key rotation for one record: the data key re-wrapped under the current KEK.

    The ciphertext is untouched, so rotation is cheap and cannot corrupt the contact data.
    """
    data_key = _data_key(sealed, keyring)
    kid = keyring.current_id
    wrap_nonce, wrapped = _encrypt(keyring.current, data_key, _wrap_aad(kid, sealed.record_id))
    return SealedContact(
        record_id=sealed.record_id,
        kek_id=kid,
        wrap_nonce=wrap_nonce,
        wrapped_key=wrapped,
        nonce=sealed.nonce,
        ciphertext=sealed.ciphertext,
    )


# -- pseudonyms -------------------------------------------------------------------------------

_PHONE_JUNK = re.compile(r"[\s\-().\u00a0/]")


def normalize_phone(phone: str) -> str:
    """Spacing and punctuation removed, "00" international prefix written as "+"."""
    text = unicodedata.normalize("NFKC", phone).strip()
    if text.lower().startswith(("tel:", "sms:")):
        text = text[4:]
    text = _PHONE_JUNK.sub("", text)
    if text.startswith("00"):
        text = "+" + text[2:]
    return text


@dataclass(frozen=True, slots=True)
class Pseudonymizer:
    """Stable, unlinkable pseudonyms for reporters (keyed hash; the key is not the KEK)."""

    key: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if len(self.key) < KEY_BYTES:
            raise KeyError_(f"a pseudonym key must be at least {KEY_BYTES} bytes")

    def pseudonym(self, identifier: str, *, kind: str = "phone") -> str:
        """E.g. ``R-5K2Q-8ZJD-M3XA``: 60 bits of HMAC-SHA256, base32 in groups of four."""
        value = normalize_phone(identifier) if kind == "phone" else identifier.strip().casefold()
        if not value:
            raise VaultError("cannot pseudonymise an empty identifier")
        digest = hmac.new(self.key, f"{kind}:{value}".encode(), hashlib.sha256).digest()
        code = base64.b32encode(digest[:10]).decode("ascii")[:12]
        return "R-" + "-".join(code[i : i + 4] for i in range(0, 12, 4))
