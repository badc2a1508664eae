"""Keeps the bot token and webhook secret out of the log records of the Telegram and HTTP libraries."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from bot.secrets import hide

# httpx logs every request URL at INFO, and the bot token is part of every Bot API URL.
for _noisy in ("httpx", "httpcore"):
    logging.getLogger(_noisy).setLevel(logging.WARNING)


class _TokenRedactor(logging.Filter):
    """Removes the bot token and webhook secret from records of the HTTP and Telegram libraries."""

    def __init__(self) -> None:
        super().__init__()
        self.tokens: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        if self.tokens:
            message = record.getMessage()
            masked = _hide_exactly(message, self.tokens)
            if masked != message:
                record.msg, record.args = masked, None
        return True


_REDACTOR = _TokenRedactor()


def redact_secrets(*secrets: str) -> None:
    """From now on, every record of the Telegram and HTTP libraries shows `secrets` as ***."""
    # PTB logs every API call's parameters at DEBUG, setWebhook's secret_token included.
    _REDACTOR.tokens.update(secret for secret in secrets if secret)
    # Logger filters only see records logged on that very logger, so every library logger gets one.
    names = [name for name in logging.Logger.manager.loggerDict
             if name.split(".")[0] in ("telegram", "httpx", "httpcore")]
    for name in ["telegram", "telegram.Bot", "telegram.ext.ExtBot", *names]:
        logger = logging.getLogger(name)
        if _REDACTOR not in logger.filters:
            logger.addFilter(_REDACTOR)


def _hide_exactly(text: str, secrets: Iterable[str]) -> str:
    # The values are this channel's own, known exactly: even a short one is masked (the shared
    # rule skips secrets under four characters, which could be anything in a config).
    return hide(text, secrets, min_length=0)


def scrub(text: str, token: str) -> str:
    """`text` with the bot token shown as ***, for the bot's own errors and log lines."""
    return _hide_exactly(text, (token,))
