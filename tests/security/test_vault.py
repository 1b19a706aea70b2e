"""Reporter-contact vault: envelope encryption, rotation, pseudonyms, break-glass unsealing."""

from __future__ import annotations

import os
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tocsin.security.vault import (
    ContactDetails,
    KeyError_,
    Keyring,
    Pseudonymizer,
    SealedContact,
    UnsealError,
    VaultError,
    create_key_file,
    encode_key,
    generate_key,
    load_key_file,
    needs_rewrap,
    normalize_phone,
    pseudonym_key_from_environment,
    rewrap,
    seal,
    unseal,
    unseal_for_delivery,
)

NOW = datetime(2024, 5, 20, 10, 0, tzinfo=UTC)
PHONE = "+236 72 12 34 56"
CONTACT = ContactDetails(phone=PHONE, name="Awa Ndoumba")
REASON = "reporter asked for protection; need to call back"


@pytest.fixture
def keyring() -> Keyring:
    return Keyring(current=generate_key())


def test_ciphertext_holds_no_plaintext(keyring: Keyring) -> None:
    sealed = seal(CONTACT, record_id="r-1", keyring=keyring)
    stored = repr(sealed.to_dict()).encode() + sealed.ciphertext + sealed.wrapped_key
    for secret in (PHONE, "72 12 34 56", "Awa", "Ndoumba", "23672123456"):
        assert secret.encode() not in stored
    assert keyring.current not in stored
    assert "Awa" not in repr(CONTACT) and PHONE not in repr(CONTACT)


def test_seal_then_unseal_with_reason_returns_audit_event(keyring: Keyring) -> None:
    sealed = SealedContact.from_dict(seal(CONTACT, record_id="r-1", keyring=keyring).to_dict())
    contact, event = unseal(sealed, keyring, actor="u-cdt", reason=REASON, now=NOW)
    assert contact == CONTACT
    assert event.action == "vault.unsealed" and event.actor == "u-cdt"
    assert event.subject_id == "r-1" and event.details["reason"] == REASON
    assert PHONE not in str(event.to_dict())


@pytest.mark.parametrize(
    ("actor", "reason", "message"),
    [
        ("u-1", "", "reason"),
        ("u-1", "because", "reason"),
        ("u-1", "x" * 3000, "longer"),
        ("", REASON, "named person"),
        ("system:cron", REASON, "named person"),
    ],
)
def test_unseal_requires_a_person_and_a_reason(
    keyring: Keyring, actor: str, reason: str, message: str
) -> None:
    sealed = seal(CONTACT, record_id="r-1", keyring=keyring)
    with pytest.raises(UnsealError, match=message):
        unseal(sealed, keyring, actor=actor, reason=reason, now=NOW)


def test_wrong_key_fails(keyring: Keyring) -> None:
    sealed = seal(CONTACT, record_id="r-1", keyring=keyring)
    stranger = Keyring(current=generate_key())
    with pytest.raises(UnsealError, match="no key"):
        unseal(sealed, stranger, actor="u", reason=REASON, now=NOW)
    # Same key id claimed, different key material: authentication fails.
    forged = replace(sealed, kek_id=stranger.current_id)
    with pytest.raises(UnsealError, match="wrong key or tampered"):
        unseal(forged, stranger, actor="u", reason=REASON, now=NOW)


@pytest.mark.parametrize("field", ["ciphertext", "wrapped_key", "nonce", "wrap_nonce"])
def test_tampering_is_detected(keyring: Keyring, field: str) -> None:
    sealed = seal(CONTACT, record_id="r-1", keyring=keyring)
    data = bytearray(getattr(sealed, field))
    data[len(data) // 2] ^= 0x01
    with pytest.raises(UnsealError):
        unseal(replace(sealed, **{field: bytes(data)}), keyring, actor="u", reason=REASON, now=NOW)


def test_sealed_record_cannot_be_moved_to_another_report(keyring: Keyring) -> None:
    sealed = seal(CONTACT, record_id="r-1", keyring=keyring)
    with pytest.raises(UnsealError):
        unseal(replace(sealed, record_id="r-2"), keyring, actor="u", reason=REASON, now=NOW)


def test_rotation_rewraps_without_touching_ciphertext(keyring: Keyring) -> None:
    sealed = seal(CONTACT, record_id="r-1", keyring=keyring)
    rotated = Keyring(current=generate_key(), previous=(keyring.current,))
    assert needs_rewrap(sealed, rotated)
    new = rewrap(sealed, rotated)
    assert new.ciphertext == sealed.ciphertext and new.kek_id == rotated.current_id
    assert not needs_rewrap(new, rotated)
    # After rotation the old key can be retired: the record opens with the new key alone.
    retired = Keyring(current=rotated.current)
    contact, _ = unseal(new, retired, actor="u", reason=REASON, now=NOW)
    assert contact == CONTACT
    with pytest.raises(UnsealError):
        unseal(sealed, retired, actor="u", reason=REASON, now=NOW)


def test_delivery_path_is_audited_as_system(keyring: Keyring) -> None:
    sealed = seal(CONTACT, record_id="r-1", keyring=keyring)
    contact, event = unseal_for_delivery(
        sealed, keyring, purpose="reply to report", requested_by="u-analyst", now=NOW
    )
    assert contact.phone == PHONE
    assert event.actor == "system:outbound" and event.details["requested_by"] == "u-analyst"
    with pytest.raises(UnsealError):
        unseal_for_delivery(sealed, keyring, purpose=" ", requested_by="u", now=NOW)


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"v": 2},
        {
            "v": 1,
            "record_id": "r",
            "kek_id": "k",
            "wrap_nonce": "!!",
            "wrapped_key": "",
            "nonce": "",
            "ciphertext": "",
        },
    ],
)
def test_malformed_sealed_records_are_refused(data: dict) -> None:
    with pytest.raises(UnsealError):
        SealedContact.from_dict(data)


def test_contact_details_validation() -> None:
    with pytest.raises(VaultError, match="longer"):
        ContactDetails(phone="1" * 600)
    with pytest.raises(VaultError, match="control"):
        ContactDetails(name="a\x00b")
    with pytest.raises(VaultError, match="record"):
        seal(CONTACT, record_id="", keyring=Keyring(current=generate_key()))


# -- key files --------------------------------------------------------------------------------


def test_key_file_created_0600_and_loaded(tmp_path: Path) -> None:
    path = tmp_path / "vault.key"
    create_key_file(path)
    assert os.stat(path).st_mode & 0o777 == 0o600
    key = load_key_file(path)
    assert len(key) == 32
    with pytest.raises(FileExistsError):
        create_key_file(path)  # never overwrites a key


def test_key_file_with_loose_permissions_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "vault.key"
    create_key_file(path)
    os.chmod(path, 0o644)
    with pytest.raises(KeyError_, match="chmod 600"):
        load_key_file(path)


def test_key_file_symlink_missing_and_garbage_refused(tmp_path: Path) -> None:
    real = tmp_path / "real.key"
    create_key_file(real)
    link = tmp_path / "link.key"
    link.symlink_to(real)
    with pytest.raises(KeyError_, match="symlink"):
        load_key_file(link)
    with pytest.raises(KeyError_, match="does not exist"):
        load_key_file(tmp_path / "absent.key")
    bad = tmp_path / "bad.key"
    fd = os.open(bad, os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, b"short")
    os.close(fd)
    with pytest.raises(KeyError_):
        load_key_file(bad)


def test_keyring_from_environment(tmp_path: Path) -> None:
    with pytest.raises(KeyError_, match="no vault key"):
        Keyring.from_environment({})
    key = generate_key()
    ring = Keyring.from_environment({"TOCSIN_VAULT_KEY": encode_key(key)})
    assert ring.current == key
    current, old = tmp_path / "new.key", tmp_path / "old.key"
    create_key_file(current)
    create_key_file(old)
    ring = Keyring.from_environment(
        {"TOCSIN_VAULT_KEY_FILE": str(current), "TOCSIN_VAULT_OLD_KEY_FILES": str(old)}
    )
    assert ring.current == load_key_file(current) and ring.previous == (load_key_file(old),)
    with pytest.raises(KeyError_):
        Keyring.from_environment({"TOCSIN_VAULT_KEY": "not base64 at all!"})
    assert encode_key(ring.current) not in repr(ring) and str(ring.current) not in repr(ring)


def test_pseudonym_key_must_differ_from_vault_key() -> None:
    key = generate_key()
    with pytest.raises(KeyError_, match="differ"):
        pseudonym_key_from_environment(
            {"TOCSIN_PSEUDONYM_KEY": encode_key(key)}, keyring=Keyring(current=key)
        )
    with pytest.raises(KeyError_):
        pseudonym_key_from_environment({})


# -- pseudonyms -------------------------------------------------------------------------------


def test_pseudonym_stable_across_formatting() -> None:
    p = Pseudonymizer(generate_key())
    first = p.pseudonym("+236 72 12 34 56")
    assert first == p.pseudonym("0023672123456") == p.pseudonym("tel:+236-72-12-34-56")
    assert first != p.pseudonym("+236 72 12 34 57")
    assert first.startswith("R-") and len(first) == 16


def test_pseudonym_unlinkable_without_the_key() -> None:
    number = "+23672123456"
    a, b = Pseudonymizer(generate_key()), Pseudonymizer(generate_key())
    assert a.pseudonym(number) != b.pseudonym(number)
    # Nothing of the number shows through.
    assert "7212" not in a.pseudonym(number) and "236" not in a.pseudonym(number)
    with pytest.raises(KeyError_):
        Pseudonymizer(b"short")
    with pytest.raises(VaultError):
        a.pseudonym("   ")


def test_normalize_phone() -> None:
    assert normalize_phone(" (+236) 72.12.34.56 ") == "+23672123456"
    assert normalize_phone("sms:0033123") == "+33123"
