"""Decrypting Feishu's encrypted event callbacks: AES-256-CBC, the key's SHA-256 as the AES key, the IV first."""

from __future__ import annotations

import base64
import binascii
import hashlib

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

BLOCK = 16


class CannotDecrypt(ValueError):
    """The `encrypt` field is not what the configured encrypt key produces."""


def decrypt(encrypt_key: str, encrypted: str) -> str:
    """The JSON text of an event sent as `{"encrypt": "<base64>"}`; CannotDecrypt for anything else."""
    try:
        raw = base64.b64decode(encrypted, validate=True)
    except (binascii.Error, ValueError):
        raise CannotDecrypt("not base64") from None
    if len(raw) < 2 * BLOCK or len(raw) % BLOCK:
        raise CannotDecrypt("not an AES-CBC message")
    key = hashlib.sha256(encrypt_key.encode("utf-8")).digest()
    decryptor = Cipher(algorithms.AES(key), modes.CBC(raw[:BLOCK])).decryptor()
    padded = decryptor.update(raw[BLOCK:]) + decryptor.finalize()
    unpadder = padding.PKCS7(8 * BLOCK).unpadder()
    try:
        plain = unpadder.update(padded) + unpadder.finalize()
        return plain.decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        # A wrong key gives bytes with no valid padding (or, rarely, padding around garbage).
        raise CannotDecrypt("wrong encrypt key or damaged message") from None
