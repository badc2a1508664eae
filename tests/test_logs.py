"""Logging: JSON lines or readable text, and no secret or token ever reaching the output."""

from __future__ import annotations

import io
import json
import logging
import threading
import warnings
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from bot.logs import setup_logging
from bot.secrets import forget_secrets, redact, update_secrets

TELEGRAM_TOKEN = "7012345678:AAHk3vQq-Zx9_TelegramTokenValue0123456"
OTHER_TELEGRAM_TOKEN = "123456789:ZZZZ_unconfigured-token-but-token-shaped"
SIGNING_SECRET = "8f14e45fceea167a5a36dedd4bea2543"
SLACK_TOKEN = "xoxb-1111-2222-SlackBotTokenValue"
APP_TOKEN = "xapp-1-A111-2222-SlackAppTokenValue"
LATE_SECRET = "webhook-secret-added-later"
SECRETS = (TELEGRAM_TOKEN, OTHER_TELEGRAM_TOKEN, SIGNING_SECRET, SLACK_TOKEN, APP_TOKEN, LATE_SECRET)


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    levels = {name: logging.getLogger(name).level for name in ("httpx", "httpcore")}
    try:
        yield
    finally:
        for handler in [h for h in root.handlers if h not in handlers]:
            root.removeHandler(handler)
        root.setLevel(level)
        for name, old in levels.items():
            logging.getLogger(name).setLevel(old)
        logging.captureWarnings(False)
        forget_secrets()


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def log_everything() -> None:
    """Every way a secret tends to reach a log: message, args, an HTTP URL, an exception, extra fields."""
    log = logging.getLogger("bot.test")
    log.info("starting with token %s", TELEGRAM_TOKEN)
    log.warning(f"slack said invalid_auth for {SLACK_TOKEN} and {APP_TOKEN}")
    logging.getLogger("httpx").warning(
        'HTTP Request: POST https://api.telegram.org/bot%s/sendMessage "HTTP/1.1 429 Too Many Requests"',
        OTHER_TELEGRAM_TOKEN)
    try:
        raise RuntimeError(f"signature check failed: computed with {SIGNING_SECRET}")
    except RuntimeError:
        log.exception("slack request rejected")
    log.info("sent part", extra={"chat": "-1001234567890", "part": 2,
                                 "url": f"https://api.telegram.org/bot{TELEGRAM_TOKEN}/sendMessage",
                                 "headers": {"Authorization": f"Bearer {SLACK_TOKEN}"}})
    log.info("late secret %s", LATE_SECRET)


def assert_no_secret(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text
    # no fragment long enough to be useful survives either
    assert "TelegramTokenValue" not in text and "SlackBotTokenValue" not in text


def test_json_lines_carry_no_secret() -> None:
    stream = io.StringIO()
    setup_logging("INFO", json_lines=True, secrets=[TELEGRAM_TOKEN, SIGNING_SECRET, ""], stream=stream)
    update_secrets([LATE_SECRET])
    log_everything()
    output = stream.getvalue()
    assert_no_secret(output)

    entries = [json.loads(line) for line in output.splitlines()]
    assert len(entries) == 6
    for entry in entries:
        assert {"ts", "level", "logger", "msg"} <= set(entry)
    assert entries[0]["msg"] == "starting with token ***"
    assert entries[2]["logger"] == "httpx" and "/bot***/sendMessage" in entries[2]["msg"]
    assert entries[3]["level"] == "ERROR" and "RuntimeError" in entries[3]["exc"]
    assert "computed with ***" in entries[3]["exc"]
    sent = entries[4]
    assert (sent["chat"], sent["part"]) == ("-1001234567890", 2)
    assert sent["url"] == "https://api.telegram.org/bot***/sendMessage"
    assert sent["headers"] == {"Authorization": "Bearer ***"}
    assert entries[5]["msg"] == "late secret ***"


def test_readable_lines_carry_no_secret() -> None:
    stream = Terminal()
    setup_logging("INFO", secrets=[TELEGRAM_TOKEN, SIGNING_SECRET, LATE_SECRET], stream=stream)
    log_everything()
    output = stream.getvalue()
    assert_no_secret(output)
    assert "INFO bot.test: starting with token ***" in output
    assert "Traceback" in output and "RuntimeError: signature check failed: computed with ***" in output
    assert "chat=-1001234567890" in output and "part=2" in output
    with pytest.raises(json.JSONDecodeError):
        json.loads(output.splitlines()[0])


def test_format_is_chosen_by_whether_a_person_is_watching() -> None:
    piped, terminal = io.StringIO(), Terminal()
    setup_logging(stream=piped)
    logging.getLogger("bot.test").info("hello %s", "there")
    setup_logging(stream=terminal)       # replaces the first handler instead of adding a second
    logging.getLogger("bot.test").info("hello %s", "again")
    assert json.loads(piped.getvalue())["msg"] == "hello there"
    assert terminal.getvalue().rstrip().endswith("bot.test: hello again")


def test_httpx_request_lines_are_quiet_and_redacted_when_enabled() -> None:
    class Answer(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"ok": true}')

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Answer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        stream = io.StringIO()
        setup_logging("DEBUG", json_lines=True, secrets=[TELEGRAM_TOKEN], stream=stream)
        url = f"http://127.0.0.1:{server.server_address[1]}/bot{TELEGRAM_TOKEN}/getMe"
        with httpx.Client() as client:
            assert client.post(url).status_code == 200
            assert "HTTP Request" not in stream.getvalue(), "httpx stays at WARNING"
            logging.getLogger("httpx").setLevel(logging.INFO)
            assert client.post(url).status_code == 200
    finally:
        server.shutdown()
        server.server_close()
    output = stream.getvalue()
    requests = [json.loads(line) for line in output.splitlines() if "HTTP Request" in line]
    assert len(requests) == 1
    assert "/bot***/getMe" in requests[0]["msg"]
    assert TELEGRAM_TOKEN not in output


def test_warnings_and_broken_format_strings_are_logged_safely() -> None:
    stream = io.StringIO()
    handler = setup_logging(json_lines=True, secrets=[SIGNING_SECRET], stream=stream)
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.warn(f"deprecated call with {SIGNING_SECRET}", UserWarning, stacklevel=1)
    # Straight to the bot's handler: the test runner's own capture handler would choke on it first.
    broken = logging.LogRecord("bot.test", logging.INFO, __file__, 1, "two args %s %s", (SIGNING_SECRET,), None)
    handler.handle(broken)
    output = stream.getvalue()
    assert SIGNING_SECRET not in output
    entries = [json.loads(line) for line in output.splitlines()]
    assert entries[0]["logger"] == "py.warnings"
    assert "unformattable" in entries[1]["msg"]


def test_redact_recognizes_token_shapes_without_configuration() -> None:
    assert redact(f"GET /bot{OTHER_TELEGRAM_TOKEN}/getUpdates") == "GET /bot***/getUpdates"
    assert redact(f"auth {SLACK_TOKEN} app {APP_TOKEN}") == "auth *** app ***"
    # ordinary numbers and times are left alone
    assert redact("chat -1001234567890 at 09:30, message 12345") == "chat -1001234567890 at 09:30, message 12345"
