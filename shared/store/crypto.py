"""Encryption at rest for stored secrets: AES-256-GCM from the ``cryptography`` package.

Why ``cryptography``: it is the maintained, audited binding to OpenSSL that the Python world (and
the Azure SDK itself) relies on; AES-GCM gives confidentiality and integrity in one primitive.

Stored form: ``v1.<key id>.<base64(nonce | ciphertext+tag)>``. The key id (first 8 hex chars of the
SHA-256 of the key) travels beside the ciphertext so a rotated key can still decrypt old rows
(``TOKEN_ENCRYPTION_KEYS_PREVIOUS``). The associated data binds a ciphertext to its row and field,
so a ciphertext copied into another office's row does not decrypt.
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from shared.secret import Secret

_PREFIX = "v1"


class DecryptionError(Exception):
    """A stored secret cannot be decrypted: unknown key id, tampered data or wrong row."""


def key_id(key: bytes) -> str:
    return hashlib.sha256(key).hexdigest()[:8]


class SecretBox:
    def __init__(self, keys: Sequence[Secret]) -> None:
        if not keys:
            raise ValueError("at least one key is needed")
        decoded = [base64.b64decode(k.reveal()) for k in keys]
        self._primary_id = key_id(decoded[0])
        self._keys = {key_id(k): AESGCM(k) for k in decoded}

    @property
    def primary_key_id(self) -> str:
        return self._primary_id

    def encrypt(self, secret: Secret, *, context: str) -> str:
        nonce = os.urandom(12)
        sealed = self._keys[self._primary_id].encrypt(
            nonce, secret.reveal().encode(), context.encode()
        )
        payload = base64.b64encode(nonce + sealed).decode()
        return f"{_PREFIX}.{self._primary_id}.{payload}"

    def decrypt(self, stored: str, *, context: str) -> Secret:
        try:
            prefix, kid, payload = stored.split(".", 2)
        except ValueError:
            raise DecryptionError("not an encrypted value") from None
        if prefix != _PREFIX:
            raise DecryptionError(f"unknown format {prefix!r}")
        aead = self._keys.get(kid)
        if aead is None:
            raise DecryptionError(f"no key with id {kid} is configured")
        raw = base64.b64decode(payload)
        try:
            plain = aead.decrypt(raw[:12], raw[12:], context.encode())
        except InvalidTag:
            raise DecryptionError("ciphertext does not match its row or was altered") from None
        return Secret(plain.decode())

    def key_id_of(self, stored: str) -> str | None:
        parts = stored.split(".", 2)
        return parts[1] if len(parts) == 3 and parts[0] == _PREFIX else None
