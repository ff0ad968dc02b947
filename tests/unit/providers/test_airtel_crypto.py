"""Airtel's documented security algorithms: our client's side against published examples and
against the AT sandbox's own implementation."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest
from cryptography.hazmat.primitives import serialization
from provider_fakes import AT_CREDENTIALS, AT_PRIVATE_KEY

from synccash.adapters.providers import AirtelTigoClient
from synccash.adapters.providers._airtel_crypto import (
    KeyUnusable,
    aes_encrypt,
    callback_hash,
    callback_hash_matches,
    encrypt_pin,
    key_from_answer,
    load_public_key,
    sign_body,
)
from synccash.adapters.settings import ProviderCredentials, Settings, SettingsError
from synccash.sandbox._airtel_security import decrypt_pin, signed_body

#: Airtel's worked message-signing example (payload, AES key, IV and the x-signature it
#: gives), as reproduced in global-121/121-platform's Airtel integration.
EXAMPLE_PAYLOAD = {
    "reference": "1234",
    "subscriber": {"country": "UG", "currency": "UGX", "msisdn": "752604392"},
    "transaction": {"amount": "100", "country": "UG", "currency": "UGX", "id": "test_id "},
}
EXAMPLE_KEY = "PSw37xtnShLl7zgWn4dLSnf1J5GRhRsOD4OfvJOuLIM="
EXAMPLE_IV = "gGIhDvCBnSBhBgYiXCyMnw=="
EXAMPLE_SIGNATURE = (
    "bDOsVGZzbK0P5jO/M5QVMH/qxSmRJLEvIPZCdW6H81xvsZNI6jZej54oBQlHZ38yy63QNeyyYcfEkGJ8f3f15wHW"
    "s86V9BCIpHSesS3SrhozE/gGA1fLydeSS26mw0jhyt9XIpabk1RjDH59SfsrkHKU38I5mRlthG/t2qXJck0FhNR6"
    "4bgOExm9CsuxUlfpsSoW1g81g1u5a4yMFIHhp77f+h3EXNHzcEsdSWhqTho="
)
#: Airtel's documented callback sample (its `transaction` object).
CALLBACK_TRANSACTION = {
    "id": "BBZMiscxy",
    "message": "Paid UGX 5,000 to TECHNOLOGIES LIMITED Charge UGX 140, Trans ID MP210603.1234.L06941.",
    "status_code": "TS",
    "airtel_money_id": "MP210603.1234.L06941",
}
PUBLIC = AT_PRIVATE_KEY.public_key()


def test_published_message_signing_example_is_reproduced():
    """x-signature of Airtel's example payload under its key and IV is the published one."""
    body = json.dumps(EXAMPLE_PAYLOAD, separators=(",", ":")).encode()
    signature = aes_encrypt(base64.b64decode(EXAMPLE_KEY), base64.b64decode(EXAMPLE_IV), body)
    assert signature == EXAMPLE_SIGNATURE


def test_signed_body_is_what_the_sandbox_reads_back():
    """x-signature / x-key from the client decrypt, with the sandbox's code, to the body."""
    body = json.dumps(EXAMPLE_PAYLOAD).encode()
    headers = sign_body(PUBLIC, body)
    assert signed_body(AT_PRIVATE_KEY, headers["x-signature"], headers["x-key"]) == EXAMPLE_PAYLOAD


def test_each_signature_uses_a_fresh_key():
    """Two signatures of the same body differ (a new AES key and IV each time)."""
    body = b'{"a":1}'
    assert sign_body(PUBLIC, body)["x-signature"] != sign_body(PUBLIC, body)["x-signature"]


def test_pin_is_rsa_encrypted_and_decrypts_to_the_pin():
    """The PIN goes RSA PKCS#1 v1.5 encrypted (Base64); the sandbox decrypts it."""
    encrypted = encrypt_pin(PUBLIC, "1234")
    assert "1234" not in encrypted
    assert len(base64.b64decode(encrypted)) == 128  # one 1024-bit RSA block
    assert decrypt_pin(AT_PRIVATE_KEY, encrypted) == "1234"


def test_callback_hash_is_hmac_sha256_of_the_transaction_object():
    """Airtel: Base64 HMAC-SHA256 over JSON.stringify(transaction), keyed with the app key."""
    raw = json.dumps(CALLBACK_TRANSACTION, separators=(",", ":")).encode()
    expected = base64.b64encode(hmac.new(b"app-key", raw, hashlib.sha256).digest()).decode()
    assert callback_hash(CALLBACK_TRANSACTION, "app-key") == expected


@pytest.mark.parametrize(
    ("key", "where", "matches"),
    [("app-key", "body", True), ("app-key", "header", True), ("other", "body", False)],
)
def test_callback_hash_is_checked_in_body_or_header(key, where, matches):
    """The hash is accepted as the body's `hash` field or a `hash` header; a wrong key fails."""
    digest = callback_hash(CALLBACK_TRANSACTION, "app-key")
    body: dict[str, object] = {"transaction": CALLBACK_TRANSACTION}
    headers = {}
    if where == "body":
        body["hash"] = digest
    else:
        headers["Hash"] = digest
    assert matches is callback_hash_matches(json.dumps(body).encode(), headers, key)


def test_callback_without_hash_or_body_does_not_match():
    """No hash, or no transaction object, never matches."""
    body = json.dumps({"transaction": CALLBACK_TRANSACTION}).encode()
    assert callback_hash_matches(body, {}, "app-key") is False
    assert callback_hash_matches(b"garbage", {"hash": "x"}, "app-key") is False


def test_public_key_reads_pem_and_bare_base64_der():
    """The key as /v1/rsa/encryption-keys sends it (Base64 DER) and as PEM."""
    der = PUBLIC.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    pem = PUBLIC.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
    numbers = PUBLIC.public_numbers()
    assert load_public_key(base64.b64encode(der).decode()).public_numbers() == numbers
    assert load_public_key(pem).public_numbers() == numbers


def test_encryption_key_answer_is_read_with_its_validity():
    """key_id, key and valid_upto (day first) come from the answer's data object."""
    der = PUBLIC.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    key = key_from_answer(
        {"key_id": 100, "key": base64.b64encode(der).decode(), "valid_upto": "12-08-2024 21:29:26"}
    )
    assert (key.key_id, key.valid_upto.isoformat()) == ("100", "2024-08-12T21:29:26+00:00")


@pytest.mark.parametrize("text", ["", "not base64 !", base64.b64encode(b"not a key").decode()])
def test_unusable_key_is_refused(text):
    """Anything that is not an RSA public key raises KeyUnusable."""
    with pytest.raises(KeyUnusable):
        load_public_key(text)


def test_a_bad_configured_key_is_a_settings_error():
    """AIRTELTIGO_RSA_PUBLIC_KEY that is not a key stops the client being built, naming it."""
    credentials = ProviderCredentials(
        AT_CREDENTIALS.base_url, "id", "secret", extra={"rsa_public_key": "nope"}
    )
    with pytest.raises(SettingsError, match="AIRTELTIGO_RSA_PUBLIC_KEY"):
        AirtelTigoClient(None, credentials=credentials)  # type: ignore[arg-type]


def test_message_signing_setting_is_true_or_false():
    """AIRTELTIGO_MESSAGE_SIGNING takes true or false only."""
    assert Settings.from_env({}).airteltigo.extra["message_signing"] == "true"
    with pytest.raises(SettingsError, match="AIRTELTIGO_MESSAGE_SIGNING"):
        Settings.from_env({"AIRTELTIGO_MESSAGE_SIGNING": "yes"})
