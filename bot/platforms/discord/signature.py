"""Whether an interaction really comes from Discord: Ed25519 over timestamp + raw body, a recent timestamp."""

from __future__ import annotations

import time
from collections.abc import Callable

from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey

from bot.platforms.discord.limits import SIGNATURE_WINDOW

SIGNATURE_HEADER = "X-Signature-Ed25519"
TIMESTAMP_HEADER = "X-Signature-Timestamp"
# An Ed25519 signature is 64 bytes: 128 hex digits.
SIGNATURE_HEX_LENGTH = 128


class InteractionVerifier:
    """Checks Discord's signature on an interaction with the application's public key."""

    def __init__(self, public_key: str, *, window: float = SIGNATURE_WINDOW,
                 clock: Callable[[], float] = time.time) -> None:
        try:
            self._key = VerifyKey(bytes.fromhex(public_key.strip()))
        except ValueError as error:
            # Only the key's shape is named: it is public, but a mistyped value may be something else.
            raise ValueError("discord.public_key must be the application's 64 hex digit public key") from error
        self._window = window
        self._clock = clock

    def headers_plausible(self, signature: str, timestamp: str) -> bool:
        """What the headers alone can tell, before the body is read: a well-formed, recent signature."""
        if len(signature) != SIGNATURE_HEX_LENGTH or not _is_hex(signature):
            return False
        if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
            return False
        return abs(self._clock() - int(timestamp)) <= self._window

    def valid(self, signature: str, timestamp: str, body: bytes) -> bool:
        """Whether `signature` signs timestamp + body with the application's key (and is recent)."""
        if not self.headers_plausible(signature, timestamp):
            return False
        try:
            self._key.verify(timestamp.encode("ascii") + body, bytes.fromhex(signature))
        except (BadSignatureError, ValueError):
            return False
        return True


def _is_hex(text: str) -> bool:
    return text.isascii() and all(character in "0123456789abcdefABCDEF" for character in text)
