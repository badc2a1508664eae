"""The `server:` settings of the one web server (where it listens, its limits) and their check."""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.checking import Checker

SERVER_KEYS = ("listen", "max_body_bytes", "header_timeout", "body_timeout", "keepalive_timeout",
                "max_connections")
_LISTEN = re.compile(r"(\[[0-9A-Fa-f:.]+\]|[^:\s\[\]\x00-\x1f\x7f]+):(\d{1,5})")
# A request body limit beyond a gigabyte only invites memory trouble.
_MAX_BODY_BYTES = 1 << 30
# More connections than this would want more open files than a small host allows any process.
_MAX_CONNECTIONS = 65_536


@dataclass(frozen=True, slots=True)
class ServerSettings:
    host: str = "0.0.0.0"
    port: int = 8080
    max_body_bytes: int = 1024 * 1024
    # None: the server's own default (bot.web.ServerLimits), so the numbers live in one place.
    header_timeout: float | None = None
    body_timeout: float | None = None
    keepalive_timeout: float | None = None
    max_connections: int | None = None


def check_server(check: Checker, raw: object) -> ServerSettings:
    """The `server:` section, every problem added to `check`."""
    section = check.section(raw, "server", SERVER_KEYS)
    defaults = ServerSettings()
    host, port = defaults.host, defaults.port
    listen = section.get("listen")
    if listen is not None:
        match = _LISTEN.fullmatch(listen.strip()) if isinstance(listen, str) else None
        if match is None or int(match.group(2)) > 65535:
            check.add("server.listen", f'expected "host:port" like "0.0.0.0:8080", got {check.show(listen)}')
        else:
            host, port = match.group(1).strip("[]"), int(match.group(2))
    max_body = check.integer(section, "max_body_bytes", "server", defaults.max_body_bytes, 1024, _MAX_BODY_BYTES)

    def optional_duration(key: str) -> float | None:
        return check.duration(section, key, "server", 0.0) or None if key in section else None

    max_connections = (check.integer(section, "max_connections", "server", 0, 1, _MAX_CONNECTIONS) or None
                       if "max_connections" in section else None)
    return ServerSettings(host=host, port=port, max_body_bytes=max_body,
                          header_timeout=optional_duration("header_timeout"),
                          body_timeout=optional_duration("body_timeout"),
                          keepalive_timeout=optional_duration("keepalive_timeout"),
                          max_connections=max_connections)
