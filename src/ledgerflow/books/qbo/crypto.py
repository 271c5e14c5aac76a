"""Encryption of tokens at rest and signing of the OAuth ``state``, keyed by the app's secret.

Two independent 256-bit keys are derived from ``LEDGERFLOW_SECRET_KEY`` with HKDF-SHA256: one
for AES-256-GCM, one for HMAC-SHA256. Each ciphertext is bound to its context (company and
column) as associated data, so a value copied into another row or column does not decrypt.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_VERSION = "v1"
_NONCE = 12


class DecryptionError(ValueError):
    pass


def _derive(secret_key: str, purpose: bytes) -> bytes:
    if not secret_key:
        raise ValueError(
            "LEDGERFLOW_SECRET_KEY is empty: it is needed to protect QuickBooks tokens"
        )
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"ledgerflow/qbo", info=purpose)
    return hkdf.derive(secret_key.encode())


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class TokenCipher:
    """AES-256-GCM with a random 96-bit nonce per value; output ``v1.<base64url>``."""

    def __init__(self, secret_key: str) -> None:
        self._aead = AESGCM(_derive(secret_key, b"token encryption v1"))
        self._mac_key = _derive(secret_key, b"oauth state v1")

    def encrypt(self, plaintext: str, *, context: str) -> str:
        nonce = os.urandom(_NONCE)
        sealed = self._aead.encrypt(nonce, plaintext.encode(), context.encode())
        return f"{_VERSION}.{_b64(nonce + sealed)}"

    def decrypt(self, value: str, *, context: str) -> str:
        version, _, body = value.partition(".")
        if version != _VERSION or not body:
            raise DecryptionError("unknown token format")
        try:
            raw = _unb64(body)
            return self._aead.decrypt(raw[:_NONCE], raw[_NONCE:], context.encode()).decode()
        except (InvalidTag, ValueError) as exc:
            raise DecryptionError("the token does not decrypt with this key") from exc

    def sign(self, payload: bytes) -> str:
        return _b64(hmac.new(self._mac_key, payload, hashlib.sha256).digest())

    def verify(self, payload: bytes, signature: str) -> bool:
        return hmac.compare_digest(self.sign(payload), signature)


def b64encode(data: bytes) -> str:
    return _b64(data)


def b64decode(text: str) -> bytes:
    return _unb64(text)
