"""The AT (Airtel-shaped) sandbox's side of Airtel's security: its RSA key pair,
PIN decryption, ``x-signature`` / ``x-key`` verification and the callback hash.

The algorithms are Airtel's documented ones (see ``synccash.adapters.providers._airtel_crypto``
for the client's side; this package imports nothing from SyncCash, so the sandbox has
its own implementation, checked against Airtel's published example in the tests):

- ``GET /v1/rsa/encryption-keys`` -> ``{"data": {"key_id", "key": <Base64 DER SPKI>,
  "valid_upto": "dd-mm-YYYY HH:MM:SS"}}``; the key is 1024-bit RSA as Airtel's.
- PIN and ``x-key``: RSA PKCS#1 v1.5 (OAEP-SHA256 also accepted for the PIN, which some
  Airtel editions name); ``x-key`` decrypts to ``"<b64 AES key>:<b64 IV>"``.
- ``x-signature``: AES-256-CBC/PKCS#7 of the request body under that key and IV.
- Callback hash: Base64 HMAC-SHA256 over the compact JSON of ``transaction``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from datetime import datetime, timedelta
from typing import Any

from attrs import define, field
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives import padding as symmetric_padding
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.padding import MGF1, OAEP, PKCS1v15
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes


class Refused(ValueError):
    """A signature or encrypted value the sandbox cannot accept."""


@define
class KeyPair:
    """One issued RSA key: its id, private half and end of validity."""

    key_id: int
    private: rsa.RSAPrivateKey = field(repr=False)
    valid_upto: datetime

    def public_b64(self) -> str:
        """The public key as Airtel publishes it: Base64 DER SubjectPublicKeyInfo."""
        der = self.private.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return base64.b64encode(der).decode()


@define
class AirtelKeys:
    """The sandbox's current key; ``rotate()`` issues a new one (the old one stops working)."""

    valid_for: timedelta = timedelta(days=30)
    current: KeyPair | None = None

    def key(self, now: datetime) -> KeyPair:
        """The current key, issued on first use or once the old one expired."""
        if self.current is None or now >= self.current.valid_upto:
            self.rotate(now)
        assert self.current is not None  # noqa: S101 - rotate() set it
        return self.current

    def rotate(self, now: datetime) -> KeyPair:
        """Issue a new key pair."""
        key_id = 100 if self.current is None else self.current.key_id + 1
        # Airtel publishes 1024-bit keys; a sandbox mirrors that (no real secret here).
        private = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505
        self.current = KeyPair(key_id, private, now + self.valid_for)
        return self.current


def _decrypt(private: rsa.RSAPrivateKey, text: str, *, oaep: bool = False) -> bytes:
    try:
        raw = base64.b64decode(text, validate=True)
        if oaep:
            return private.decrypt(raw, OAEP(MGF1(hashes.SHA256()), hashes.SHA256(), None))
        return private.decrypt(raw, PKCS1v15())
    except (ValueError, binascii.Error) as exc:
        raise Refused(type(exc).__name__) from None


def decrypt_pin(private: rsa.RSAPrivateKey, text: str) -> str:
    """The PIN an encrypted ``pin`` carries (PKCS#1 v1.5, else OAEP-SHA256)."""
    try:
        return _decrypt(private, text).decode()
    except (Refused, UnicodeDecodeError):
        try:
            return _decrypt(private, text, oaep=True).decode()
        except UnicodeDecodeError:
            raise Refused("PIN is not text") from None


def signed_body(private: rsa.RSAPrivateKey, x_signature: str, x_key: str) -> Any:
    """The JSON document ``x-signature`` encrypts, using the AES key and IV in ``x-key``."""
    try:
        key_b64, _, iv_b64 = _decrypt(private, x_key).decode().partition(":")
        key, iv = base64.b64decode(key_b64, validate=True), base64.b64decode(iv_b64, validate=True)
        decryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
        padded = decryptor.update(base64.b64decode(x_signature, validate=True))
        padded += decryptor.finalize()
        unpadder = symmetric_padding.PKCS7(algorithms.AES.block_size).unpadder()
        return json.loads(unpadder.update(padded) + unpadder.finalize())
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise Refused(type(exc).__name__) from None


def callback_hash(transaction: dict[str, Any], key: str) -> str:
    """Airtel's callback hash of a ``transaction`` object."""
    raw = json.dumps(transaction, separators=(",", ":"), ensure_ascii=False).encode()
    return base64.b64encode(hmac.new(key.encode(), raw, hashlib.sha256).digest()).decode()
