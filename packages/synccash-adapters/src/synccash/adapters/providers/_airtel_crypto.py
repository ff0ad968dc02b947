"""Airtel Money Open API security: PIN encryption, message signing, callback hash.

As Airtel documents them (developers.airtel.africa; the Zambia and Chad editions, and
the worked message-signing example reproduced by global-121/121-platform):

- **Encryption key**: `GET /v1/rsa/encryption-keys` answers
  `{"data": {"key_id", "key": <base64 DER SubjectPublicKeyInfo>, "valid_upto":
  "dd-mm-YYYY HH:MM:SS"}}` (response code `DP02010001001`). The key is cached until
  `valid_upto` (at most a day) and fetched again when Airtel refuses a signature.
- **PIN**: the disbursement PIN RSA-encrypted with that key, PKCS#1 v1.5 padding
  ("RSA/ECB/PKCS1Padding" in Airtel's Java samples), Base64 (`pin` in the body).
- **Message signing** (`x-signature` / `x-key`), required per country and product:
  a fresh AES-256 key and 128-bit IV; `x-signature` = Base64(AES-256-CBC/PKCS#7 of the
  exact request body); `x-key` = Base64(RSA-PKCS#1 v1.5 of `"<b64 key>:<b64 iv>"`).
- **Callback hash** (with "callback authentication" on): Base64(HMAC-SHA256 keyed with
  the application's callback key, over the compact JSON of the callback's
  `transaction` object), in the callback's top-level `hash` field.

**Assumed for AT Money**: AT Money publishes no API of its own; SyncCash's AT adapter
follows the Airtel Money Open API, so that AT Money signs, encrypts and hashes exactly
like Airtel is an assumption (see the provider reference, section 2).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
from datetime import UTC, datetime
from typing import Any, Final

from attrs import frozen
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import padding, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

#: Airtel's `valid_upto` format (day first).
VALID_UPTO_FORMAT: Final = "%d-%m-%Y %H:%M:%S"


class KeyUnusable(ValueError):
    """Airtel's encryption key could not be read as an RSA public key."""


@frozen
class EncryptionKey:
    """Airtel's RSA public key for PINs and message signing."""

    key_id: str
    public_key: rsa.RSAPublicKey
    valid_upto: datetime | None = None  # None: no validity given (a configured key)


def load_public_key(text: str) -> rsa.RSAPublicKey:
    """An RSA public key from PEM or bare Base64 DER (as `/v1/rsa/encryption-keys` sends it)."""
    raw = text.strip()
    try:
        if raw.startswith("-----BEGIN"):
            key = serialization.load_pem_public_key(raw.encode())
        else:
            key = serialization.load_der_public_key(base64.b64decode("".join(raw.split())))
    except (ValueError, binascii.Error, UnsupportedAlgorithm) as exc:
        raise KeyUnusable(f"not an RSA public key ({type(exc).__name__})") from None
    if not isinstance(key, rsa.RSAPublicKey):
        raise KeyUnusable("the encryption key is not an RSA key")
    return key


def parse_valid_upto(value: object) -> datetime | None:
    """`valid_upto` ("12-08-2024 21:29:26", taken as UTC) or None when absent or unreadable."""
    if not isinstance(value, str):
        return None
    try:
        return datetime.strptime(value.strip(), VALID_UPTO_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        return None


def key_from_answer(data: dict[str, Any]) -> EncryptionKey:
    """The `data` object of an encryption-keys answer as a key (KeyUnusable if it is not one)."""
    key = data.get("key")
    if not isinstance(key, str) or not key:
        raise KeyUnusable("the answer carries no key")
    return EncryptionKey(
        str(data.get("key_id", "")), load_public_key(key), parse_valid_upto(data.get("valid_upto"))
    )


def rsa_encrypt(public_key: rsa.RSAPublicKey, plaintext: bytes) -> str:
    """Base64 of RSA/ECB/PKCS1Padding encryption (what Airtel decrypts)."""
    return base64.b64encode(public_key.encrypt(plaintext, PKCS1v15())).decode()


def encrypt_pin(public_key: rsa.RSAPublicKey, pin: str) -> str:
    """The disbursement PIN as Airtel wants it in the body."""
    return rsa_encrypt(public_key, pin.encode())


def aes_encrypt(key: bytes, iv: bytes, plaintext: bytes) -> str:
    """Base64 of AES-CBC with PKCS#7 (Java's PKCS5Padding) padding."""
    padder = padding.PKCS7(algorithms.AES.block_size).padder()
    padded = padder.update(plaintext) + padder.finalize()
    encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    return base64.b64encode(encryptor.update(padded) + encryptor.finalize()).decode()


def sign_body(
    public_key: rsa.RSAPublicKey, body: bytes, *, key: bytes | None = None, iv: bytes | None = None
) -> dict[str, str]:
    """The `x-signature` and `x-key` headers for a request body (fresh key and IV by default)."""
    key = os.urandom(32) if key is None else key
    iv = os.urandom(16) if iv is None else iv
    key_iv = f"{base64.b64encode(key).decode()}:{base64.b64encode(iv).decode()}"
    return {
        "x-signature": aes_encrypt(key, iv, body),
        "x-key": rsa_encrypt(public_key, key_iv.encode()),
    }


def callback_hash(transaction: object, key: str) -> str:
    """Base64 HMAC-SHA256 over the compact JSON of the callback's `transaction` object.

    Compact JSON with the keys in the order they came and non-ASCII kept (what
    JavaScript's JSON.stringify of the parsed object gives, as in Airtel's sample).
    """
    raw = json.dumps(transaction, separators=(",", ":"), ensure_ascii=False).encode()
    return base64.b64encode(hmac.new(key.encode(), raw, hashlib.sha256).digest()).decode()


def callback_hash_matches(body: bytes, headers: dict[str, str], key: str) -> bool:
    """True when an Airtel callback carries the hash its `transaction` has under `key`.

    The hash is read from the body's top-level `hash` field (Airtel's sample) or a
    `hash` header (the Chad edition); compared in constant time.
    """
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return False
    if not isinstance(data, dict) or not isinstance(data.get("transaction"), dict):
        return False
    claimed = data.get("hash")
    if not isinstance(claimed, str):
        claimed = {k.lower(): v for k, v in headers.items()}.get("hash", "")
    expected = callback_hash(data["transaction"], key)
    return hmac.compare_digest(expected.encode(), str(claimed).strip().encode())
