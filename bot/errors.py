"""The bot's own error types: every failure a user or operator can cause, with where it happened."""

from __future__ import annotations


class DigestBotError(Exception):
    """Base of every error the bot reports to a person in one line."""


class DigestError(DigestBotError):
    """A digest file (or fetched document) that cannot be read as a digest."""

    def __init__(self, source: str, message: str, line: int | None = None) -> None:
        self.source = source
        self.line = line
        self.reason = message
        where = f"{source}:{line}" if line is not None else source
        super().__init__(f"{where}: {message}")


class ConfigError(DigestBotError):
    """One or more mistakes in a config file, each with its key path."""

    def __init__(self, source: str, problems: list[tuple[str, str]]) -> None:
        self.source = source
        self.problems = problems
        lines = [f"{source}: {path}: {message}" if path else f"{source}: {message}"
                 for path, message in problems]
        super().__init__("\n".join(lines))
