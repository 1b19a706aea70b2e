"""Keys live outside the database, in private files or the environment (TM-10)."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest
from nacl.signing import SigningKey

from tocsin.security.keys import KeyRing, KeyStoreError


def test_tm10_key_files_are_created_private(tmp_path: Path) -> None:
    keys = KeyRing(tmp_path)
    token = keys.encrypt("Jeanne Doe", "event:x:person:name")
    assert keys.decrypt(token, "event:x:person:name") == "Jeanne Doe"
    assert (tmp_path / "keys").stat().st_mode & 0o077 == 0
    for path in (tmp_path / "keys").iterdir():
        assert path.stat().st_mode & 0o077 == 0
    # Another process (a fresh KeyRing) finds the same key.
    assert KeyRing(tmp_path).decrypt(token, "event:x:person:name") == "Jeanne Doe"


def test_tm10_a_readable_key_file_is_refused(tmp_path: Path) -> None:
    KeyRing(tmp_path).raw("data")
    os.chmod(tmp_path / "keys" / "data.key", 0o644)
    with pytest.raises(KeyStoreError, match="chmod 600"):
        KeyRing(tmp_path).raw("data")


def test_tm10_ciphertext_is_bound_to_its_context(tmp_path: Path) -> None:
    keys = KeyRing(tmp_path)
    token = keys.encrypt("secret", "event:a:person:name")
    with pytest.raises(Exception):  # noqa: B017 - cryptography's InvalidTag
        keys.decrypt(token, "event:b:person:name")


def test_keys_can_come_from_the_environment(tmp_path: Path) -> None:
    seed = os.urandom(32)
    env = {"TOCSIN_AUDIT_SIGNING_KEY": base64.urlsafe_b64encode(seed).decode()}
    keys = KeyRing(tmp_path, env)
    assert keys.verify_key() == SigningKey(seed).verify_key
    assert not (tmp_path / "keys" / "audit-signing.key").exists()
    with pytest.raises(KeyStoreError, match="32 bytes"):
        KeyRing(tmp_path, {"TOCSIN_DATA_KEY": "c2hvcnQ"}).raw("data")
