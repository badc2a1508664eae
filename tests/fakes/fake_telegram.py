"""A fake Telegram Bot API server over real HTTP, for the real python-telegram-bot client in tests."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import math
import random
import re
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from tests.fakes import serve_local

JSONDict = dict[str, Any]

COMMAND_NAME = re.compile(r"[a-z0-9_]{1,32}")
WEBHOOK_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")
# Parameters Telegram reads as JSON-serialized objects when they arrive form-encoded.
JSON_PARAMETERS = frozenset({
    "entities", "link_preview_options", "reply_parameters", "reply_markup", "commands", "scope",
    "allowed_updates",
})

BLOCKED = "Forbidden: bot was blocked by the user"
KICKED = "Forbidden: bot was kicked from the group chat"
CHAT_NOT_FOUND = "Bad Request: chat not found"
UPGRADED = "Bad Request: group chat was upgraded to a supergroup chat"
# The user Telegram shows as the sender of an anonymous group admin's messages.
ANONYMOUS_ADMIN = 1087968824

ADMIN_RIGHTS = {
    "can_be_edited": False, "is_anonymous": False, "can_manage_chat": True, "can_delete_messages": True,
    "can_manage_video_chats": True, "can_restrict_members": True, "can_promote_members": False,
    "can_change_info": True, "can_invite_users": True, "can_post_stories": False,
    "can_edit_stories": False, "can_delete_stories": False,
}


class ApiError(Exception):
    """An error answer of the Bot API, in its envelope."""

    def __init__(self, status: int, description: str, parameters: JSONDict | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters

    def response(self) -> web.Response:
        body: JSONDict = {"ok": False, "error_code": self.status, "description": self.description}
        if self.parameters:
            body["parameters"] = self.parameters
        return web.json_response(body, status=self.status)


@dataclass(frozen=True, slots=True)
class FakeLimits:
    """Telegram's flood limits as the fake enforces them; `scale` multiplies every rate.

    `chat_burst` extra messages are tolerated within a chat's window (Telegram allows short bursts),
    and `slack` forgives a fraction of each window (at least `min_slack` seconds) because the
    client stamps a send before the request reaches the server.
    """

    overall_per_second: int = 30
    # With allow_paid_broadcast: the overall ceiling of a bot that pays for broadcasts.
    paid_overall_per_second: int = 1_000
    group_per_minute: int = 20
    chat_per_second: int = 1
    chat_burst: int = 1
    scale: float = 1.0
    slack: float = 0.05
    min_slack: float = 0.02
    enabled: bool = True

    def windows(self) -> dict[str, tuple[int, float]]:
        """kind -> (messages allowed, window seconds) after scaling."""
        return {
            "overall": (max(1, round(self.overall_per_second * self.scale)), 1.0),
            "paid": (max(1, round(self.paid_overall_per_second * self.scale)), 1.0),
            "group": (self.group_per_minute, 60.0 / self.scale),
            "chat": (self.chat_per_second + self.chat_burst, 1.0 / self.scale),
        }

    def effective(self, period: float) -> float:
        return period - min(period / 2, max(self.slack * period, self.min_slack))


@dataclass(slots=True)
class SentMessage:
    """One message the fake accepted, as Telegram would store it."""

    chat_id: str
    message_id: int
    text: str                       # after entity parsing
    entities: list[JSONDict]        # Bot API MessageEntity dicts (offsets in UTF-16 units)
    params: JSONDict                # the request parameters as received (decoded)
    at: float                       # monotonic arrival time

    @property
    def silent(self) -> bool:
        """Sent with disable_notification: the chat shows it without a sound."""
        return flag(self.params.get("disable_notification"))

    @property
    def thread(self) -> int | None:
        """The forum topic it was posted in (message_thread_id), None for the chat's general stream."""
        value = self.params.get("message_thread_id")
        return None if value is None else int(value)


@dataclass(slots=True)
class ChatFaults:
    forbidden: str | None = None
    migrate_to: str | None = None
    not_found: str | None = None     # the 400 description sends get, e.g. "Bad Request: chat not found"
    server_errors: int = 0
    server_status: int = 502
    hangs: int = 0
    hang_seconds: float = 0.0
    hang_delivers: bool = False
    answer_after: float = 0.0            # accepted at once, answered this much later
    slow_answers: int | None = None      # how many more sends answer late; None: every one


@dataclass(slots=True)
class Chaos:
    rng: random.Random
    rate_429: float
    rate_5xx: float
    retry_after: float


def check_keyboard(params: JSONDict) -> None:
    """Telegram refuses a button whose callback_data is empty or longer than 64 bytes."""
    markup = params.get("reply_markup") or {}
    for row in markup.get("inline_keyboard", []) if isinstance(markup, dict) else []:
        for button in row:
            data = str(button.get("callback_data", ""))
            if not data or len(data.encode("utf-8")) > 64:
                raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")


def flag(value: object) -> bool:
    """A Bot API Boolean as it arrives in JSON (true) or a form ("true", "True")."""
    if value is None or isinstance(value, bool):
        return bool(value)
    if str(value).lower() in ("true", "false"):
        return str(value).lower() == "true"
    raise ApiError(400, f"Bad Request: can't parse Boolean {value!r}")


def chat_type_of(chat_id: str | int) -> str:
    """Telegram's id ranges: positive users, -100… supergroups/channels, other negatives basic groups."""
    text = str(chat_id)
    if not text.lstrip("-").isdigit():
        return "channel"     # @channelusername
    if not text.startswith("-"):
        return "private"
    return "supergroup" if text.startswith("-100") else "group"


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def parse_formatted(text: str, parse_mode: str | None) -> tuple[str, list[JSONDict]]:
    """The text and entities Telegram stores for an accepted message, by tdlib's own parser."""
    from tests.fakes.tdparse import parse

    parsed = parse(text, parse_mode or None)
    return parsed.text, [entity.to_bot_api() for entity in parsed.entities]


class FakeTelegram:
    """The subset of the Bot API a broadcasting, command-answering bot uses, with Telegram's rules.

    Use as `async with FakeTelegram(token) as fake:` and point the client at `fake.base_url`.
    """

    def __init__(
        self,
        token: str,
        *,
        limits: FakeLimits | None = None,
        bot_username: str = "DigestTestBot",
        bot_id: int = 700000001,
        check_send_message: Callable[[JSONDict], str | None] | None = None,
    ) -> None:
        self.token = token
        self.limits = limits or FakeLimits()
        self.bot_username = bot_username
        self.bot_id = bot_id
        self._check = check_send_message
        self.port = 0
        self._runner: web.AppRunner | None = None
        self._closing = asyncio.Event()
        # What the bot did.
        self.sent: dict[str, list[SentMessage]] = {}
        self.calls: list[tuple[str, JSONDict]] = []
        self.rate_limited: list[tuple[str, str]] = []      # (chat, which limit)
        self.refused: list[tuple[str, int, str]] = []       # (chat, status, description) of sendMessage
        self.edits: list[SentMessage] = []                  # every editMessageText that changed a message
        self.pressed: dict[str, str] = {}                   # callback query id -> the data of the button pressed
        self.answered: dict[str, JSONDict] = {}             # callback query id -> answerCallbackQuery's parameters
        self.commands: dict[tuple[str, str], list[JSONDict]] = {}
        self.webhook: JSONDict = {"url": ""}
        # What the test arranged.
        self.admins: dict[str, set[str]] = {}
        self.creators: dict[str, str] = {}
        self.forums: dict[str, set[int]] = {}               # forum supergroups and their topics' thread ids
        self._faults: dict[str, ChatFaults] = {}
        self._chaos: Chaos | None = None
        # Updates for getUpdates.
        self._updates: deque[JSONDict] = deque()
        self._update_ids = itertools.count(1)
        self._updates_arrived = asyncio.Condition()
        self._pollers = 0
        self._message_ids: dict[str, itertools.count[int]] = {}
        self._sent_changed = asyncio.Condition()
        self._windows: dict[tuple[str, str], deque[float]] = {}
        self._background: set[asyncio.Future[JSONDict]] = set()
        self._handlers: dict[str, Callable[[JSONDict], Awaitable[Any]]] = {
            "getme": self._get_me,
            "getupdates": self._get_updates,
            "setmycommands": self._set_my_commands,
            "getmycommands": self._get_my_commands,
            "deletemycommands": self._delete_my_commands,
            "setwebhook": self._set_webhook,
            "deletewebhook": self._delete_webhook,
            "getwebhookinfo": self._get_webhook_info,
            "getchatmember": self._get_chat_member,
            "sendmessage": self._send_message,
            "editmessagetext": self._edit_message_text,
            "answercallbackquery": self._answer_callback_query,
            "close": self._close_method,
            "logout": self._close_method,
        }

    # -- lifecycle ------------------------------------------------------------------------------
    async def __aenter__(self) -> FakeTelegram:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    async def start(self) -> None:
        if self._check is None:
            from tests.fakes.tdparse import check_send_message

            self._check = check_send_message
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._dispatch)
        self._runner, self.port = await serve_local(app, access_log=None, handler_cancellation=True)

    async def stop(self) -> None:
        self._closing.set()
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)
        async with self._updates_arrived:
            self._updates_arrived.notify_all()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    # -- arranging faults -----------------------------------------------------------------------
    def _faults_of(self, chat: str | int) -> ChatFaults:
        return self._faults.setdefault(str(chat), ChatFaults())

    def forbid(self, chat: str | int, description: str | None = None) -> None:
        """Every send to `chat` gets 403 (blocked by the user, or kicked from the group)."""
        if description is None:
            description = BLOCKED if chat_type_of(chat) == "private" else KICKED
        self._faults_of(chat).forbidden = description

    def migrate(self, chat: str | int, new_chat: str | int) -> None:
        """`chat` was a basic group upgraded to the supergroup `new_chat`."""
        self._faults_of(chat).migrate_to = str(new_chat)

    def lose(self, chat: str | int, description: str = CHAT_NOT_FOUND) -> None:
        """Telegram no longer lets the bot post in `chat` (unknown, deactivated, or muted for bots)."""
        self._faults_of(chat).not_found = description

    def fail(self, chat: str | int, times: int, status: int = 502) -> None:
        """The next `times` sends to `chat` get a server error."""
        faults = self._faults_of(chat)
        faults.server_errors = times
        faults.server_status = status

    def hang(self, chat: str | int, seconds: float, times: int = 1, *, delivered: bool = False) -> None:
        """The next `times` sends to `chat` get no answer for `seconds`.

        Then the message is refused with a 504, or, with `delivered`, accepted as usual: the case
        where the client gave up waiting although Telegram did deliver the message.
        """
        faults = self._faults_of(chat)
        faults.hangs = times
        faults.hang_seconds = seconds
        faults.hang_delivers = delivered

    def slow_answer(self, chat: str | int, seconds: float, times: int | None = None) -> None:
        """Sends to `chat` are accepted at once (the message arrives) but answered only after `seconds`,
        so a client with a shorter read timeout gives up on a message that is there.

        `times` limits it to the next that many sends; by default every send answers late until
        `slow_answer(chat, 0)`.
        """
        faults = self._faults_of(chat)
        faults.answer_after = seconds
        faults.slow_answers = times

    def chaos(self, *, seed: int, rate_429: float = 0.0, rate_5xx: float = 0.0, retry_after: float = 1.0) -> None:
        """Random 429s and 5xx on sendMessage, reproducible through `seed`."""
        self._chaos = Chaos(random.Random(seed), rate_429, rate_5xx, retry_after)

    def make_admin(self, chat: str | int, user: str | int, *, creator: bool = False) -> None:
        if creator:
            self.creators[str(chat)] = str(user)
        else:
            self.admins.setdefault(str(chat), set()).add(str(user))

    def make_forum(self, chat: str | int, *topics: int) -> None:
        """`chat` becomes a forum supergroup with these topics (message_thread_id values)."""
        self.forums.setdefault(str(chat), set()).update(topics)

    def _check_thread(self, chat: str, params: JSONDict) -> None:
        """Telegram refuses a message_thread_id that is no topic of a forum chat."""
        value = params.get("message_thread_id")
        if value is None:
            return
        try:
            thread = int(value)
        except (TypeError, ValueError):
            raise ApiError(400, "Bad Request: invalid message thread identifier specified") from None
        if thread not in self.forums.get(chat, set()):
            raise ApiError(400, "Bad Request: message thread not found")

    # -- updates --------------------------------------------------------------------------------
    def message_update(
        self,
        text: str,
        *,
        chat: str | int,
        user: str | int = 100001,
        language_code: str | None = "en",
        username: str = "reader",
        chat_title: str = "Test group",
        chat_type: str | None = None,
        as_chat: bool = False,
        thread: int | None = None,
    ) -> JSONDict:
        """An update carrying a text message, with the bot_command entity Telegram would add.

        `as_chat`: written in the chat's own name, as an anonymous group admin does; in a channel
        (`chat_type="channel"`) every post is, and arrives as a channel_post without a sender.
        """
        chat_id = int(chat)
        kind = chat_type or chat_type_of(chat_id)
        chat_json: JSONDict = {"id": chat_id, "type": kind}
        if kind == "private":
            chat_json["first_name"] = username.title()
            chat_json["username"] = username
        else:
            chat_json["title"] = chat_title
        message: JSONDict = {
            "message_id": next(self._next_ids(str(chat_id))),
            "date": int(time.time()),
            "chat": chat_json,
            "text": text,
        }
        if thread is not None:
            chat_json["is_forum"] = True
            message.update(message_thread_id=thread, is_topic_message=True)
        if kind == "channel":
            message["sender_chat"] = chat_json
        elif as_chat:
            message["sender_chat"] = chat_json
            message["from"] = {"id": ANONYMOUS_ADMIN, "is_bot": True, "first_name": "Group",
                               "username": "GroupAnonymousBot"}
        else:
            sender: JSONDict = {"id": int(user), "is_bot": False, "first_name": username.title(),
                                "username": username}
            if language_code:
                sender["language_code"] = language_code
            message["from"] = sender
        match = re.match(r"/[A-Za-z0-9_]{1,32}(@[A-Za-z0-9_]{3,32})?", text)
        if match:
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": utf16_len(match.group(0))}]
        key = "channel_post" if kind == "channel" else "message"
        return {"update_id": next(self._update_ids), key: message}

    async def push_update(self, update: JSONDict) -> None:
        async with self._updates_arrived:
            self._updates.append(update)
            self._updates_arrived.notify_all()

    async def say(self, text: str, *, chat: str | int, **sender: Any) -> JSONDict:
        """Queue a message for getUpdates as if `user` wrote it in `chat`; returns the update."""
        update = self.message_update(text, chat=chat, **sender)
        await self.push_update(update)
        return update

    # -- observing ------------------------------------------------------------------------------
    def texts(self, chat: str | int) -> list[str]:
        return [message.text for message in self.sent.get(str(chat), [])]

    def total_sent(self) -> int:
        return sum(len(messages) for messages in self.sent.values())

    def method_calls(self, method: str) -> list[JSONDict]:
        return [params for name, params in self.calls if name.lower() == method.lower()]

    async def wait_for_messages(self, chat: str | int, count: int, within: float = 10.0) -> list[SentMessage]:
        """Wait until `chat` has received at least `count` messages; return all of them."""
        key = str(chat)

        async def arrived() -> None:
            async with self._sent_changed:
                await self._sent_changed.wait_for(lambda: len(self.sent.get(key, [])) >= count)

        try:
            await asyncio.wait_for(arrived(), within)
        except TimeoutError:
            got = self.texts(key)
            raise AssertionError(f"chat {key} got {len(got)} message(s), expected {count}: {got!r}") from None
        return list(self.sent.get(key, []))

    # -- HTTP -----------------------------------------------------------------------------------
    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != self.token:
            return ApiError(401, "Unauthorized").response()
        method = request.match_info["method"].lower()
        handler = self._handlers.get(method)
        if handler is None:
            return ApiError(404, "Not Found").response()
        try:
            params = await self._parameters(request)
            self.calls.append((request.match_info["method"], params))
            result = await handler(params)
        except ApiError as error:
            if method == "sendmessage":
                self.refused.append((str(params.get("chat_id", "")), error.status, error.description))
            return error.response()
        return web.json_response({"ok": True, "result": result})

    @staticmethod
    async def _parameters(request: web.Request) -> JSONDict:
        params: JSONDict = dict(request.query)
        if request.content_type == "application/json":
            try:
                body = await request.json()
            except ValueError:
                raise ApiError(400, "Bad Request: can't parse JSON object") from None
            if not isinstance(body, dict):
                raise ApiError(400, "Bad Request: JSON object expected")
            params.update(body)
            return params
        if request.can_read_body:
            form = await request.post()
            for name, value in form.items():
                if not isinstance(value, str):
                    continue    # file uploads are not used by this bot
                if name in JSON_PARAMETERS:
                    try:
                        params[name] = json.loads(value)
                    except ValueError:
                        raise ApiError(400, f"Bad Request: can't parse {name} JSON object") from None
                else:
                    params[name] = value
        return params

    # -- methods --------------------------------------------------------------------------------
    def _me(self) -> JSONDict:
        return {"id": self.bot_id, "is_bot": True, "first_name": "Digest Test Bot",
                "username": self.bot_username, "can_join_groups": True,
                "can_read_all_group_messages": False, "supports_inline_queries": False}

    async def _get_me(self, params: JSONDict) -> JSONDict:
        return self._me()

    async def _close_method(self, params: JSONDict) -> bool:
        return True

    async def _get_updates(self, params: JSONDict) -> list[JSONDict]:
        if self.webhook.get("url"):
            raise ApiError(409, "Conflict: can't use getUpdates method while webhook is active; "
                                "use deleteWebhook to delete the webhook first")
        if self._pollers:
            raise ApiError(409, "Conflict: terminated by other getUpdates request; "
                                "make sure that only one bot instance is running")
        offset = int(params.get("offset", 0) or 0)
        limit = min(100, max(1, int(params.get("limit", 100) or 100)))
        timeout = float(params.get("timeout", 0) or 0)
        self._pollers += 1
        try:
            async with self._updates_arrived:
                if offset:
                    # An offset confirms every update before it: Telegram forgets them.
                    while self._updates and self._updates[0]["update_id"] < offset:
                        self._updates.popleft()
                if not self._updates and timeout > 0 and not self._closing.is_set():
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(
                            self._updates_arrived.wait_for(lambda: bool(self._updates) or self._closing.is_set()),
                            timeout,
                        )
                return list(itertools.islice(self._updates, limit))
        finally:
            self._pollers -= 1

    @staticmethod
    def _scope_key(params: JSONDict) -> tuple[str, str]:
        scope = params.get("scope") or {"type": "default"}
        return json.dumps(scope, sort_keys=True), str(params.get("language_code") or "")

    async def _set_my_commands(self, params: JSONDict) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list):
            raise ApiError(400, "Bad Request: parameter \"commands\" is required")
        if len(commands) > 100:
            raise ApiError(400, "Bad Request: too many commands specified")
        for command in commands:
            if not isinstance(command, dict) or not COMMAND_NAME.fullmatch(str(command.get("command", ""))):
                raise ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description", "")).strip()) <= 256:
                raise ApiError(400, "Bad Request: BOT_COMMAND_DESCRIPTION_INVALID")
        language = str(params.get("language_code") or "")
        if language and not re.fullmatch(r"[a-z]{2}", language):
            raise ApiError(400, "Bad Request: LANG_CODE_INVALID")
        self.commands[self._scope_key(params)] = [
            {"command": c["command"], "description": c["description"]} for c in commands
        ]
        return True

    async def _get_my_commands(self, params: JSONDict) -> list[JSONDict]:
        return self.commands.get(self._scope_key(params), [])

    async def _delete_my_commands(self, params: JSONDict) -> bool:
        self.commands.pop(self._scope_key(params), None)
        return True

    async def _set_webhook(self, params: JSONDict) -> bool:
        url = str(params.get("url", ""))
        secret = params.get("secret_token")
        if secret is not None and not WEBHOOK_SECRET.fullmatch(str(secret)):
            raise ApiError(400, "Bad Request: secret token contains unallowed characters")
        if url and not url.startswith("https://"):
            raise ApiError(400, "Bad Request: bad webhook: An HTTPS URL must be provided for webhook")
        self.webhook = {"url": url, "secret_token": secret}
        if str(params.get("drop_pending_updates", "")).lower() == "true":
            self._updates.clear()
        return True

    async def _delete_webhook(self, params: JSONDict) -> bool:
        self.webhook = {"url": ""}
        if str(params.get("drop_pending_updates", "")).lower() == "true":
            self._updates.clear()
        return True

    async def _get_webhook_info(self, params: JSONDict) -> JSONDict:
        return {"url": self.webhook.get("url", ""), "has_custom_certificate": False,
                "pending_update_count": 0 if self.webhook.get("url") else len(self._updates)}

    async def _get_chat_member(self, params: JSONDict) -> JSONDict:
        chat = self._chat_key(params)
        user = str(params.get("user_id", ""))
        if not user.isdigit():
            raise ApiError(400, "Bad Request: PARTICIPANT_ID_INVALID")
        user_json = {"id": int(user), "is_bot": False, "first_name": "Member"}
        if self.creators.get(chat) == user:
            return {"status": "creator", "user": user_json, "is_anonymous": False}
        if user in self.admins.get(chat, set()):
            return {"status": "administrator", "user": user_json, **ADMIN_RIGHTS}
        return {"status": "member", "user": user_json}

    @staticmethod
    def _chat_key(params: JSONDict) -> str:
        raw = str(params.get("chat_id", "")).strip()
        if not raw:
            raise ApiError(400, "Bad Request: chat_id is empty")
        if raw.lstrip("-").isdigit():
            return str(int(raw))
        return raw

    def _next_ids(self, chat: str) -> itertools.count[int]:
        return self._message_ids.setdefault(chat, itertools.count(1))

    async def _send_message(self, params: JSONDict) -> JSONDict:
        chat = self._chat_key(params)
        faults = self._faults.get(chat)
        arrived = time.monotonic()
        if faults is not None and faults.hangs > 0:
            faults.hangs -= 1
            if faults.hang_delivers:
                # Telegram goes on with the message after the client hung up: shielded from the
                # cancellation that the client's disconnect brings to this handler.
                later = asyncio.ensure_future(self._accept_after(faults.hang_seconds, chat, params))
                self._background.add(later)
                later.add_done_callback(self._background.discard)
                return await asyncio.shield(later)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), faults.hang_seconds)
            raise ApiError(504, "Gateway Timeout")
        if faults is not None and faults.server_errors > 0:
            faults.server_errors -= 1
            raise ApiError(faults.server_status, "Internal Server Error" if faults.server_status == 500
                           else "Bad Gateway")
        return await self._accept(chat, params, arrived)

    async def _edit_message_text(self, params: JSONDict) -> JSONDict:
        """Replace a message's text as Telegram does: refused for an unknown message or the same content."""
        chat = self._chat_key(params)
        self._enforce_limits(chat, time.monotonic())
        assert self._check is not None
        problem = self._check(params)
        if problem is not None:
            raise ApiError(400, problem if problem.startswith("Bad Request") else f"Bad Request: {problem}")
        wanted = int(params.get("message_id", 0))
        found = [n for n, message in enumerate(self.sent.get(chat, [])) if message.message_id == wanted]
        if not found:
            raise ApiError(400, "Bad Request: message to edit not found")
        old = self.sent[chat][found[0]]
        text, entities = parse_formatted(str(params.get("text", "")), params.get("parse_mode"))
        check_keyboard(params)
        if (text, entities, params.get("reply_markup")) == (old.text, old.entities, old.params.get("reply_markup")):
            raise ApiError(400, "Bad Request: message is not modified: specified new message content and reply "
                                "markup are exactly the same as a current content and reply markup of the message")
        new = SentMessage(chat, wanted, text, entities, {**old.params, **params}, time.monotonic())
        async with self._sent_changed:
            self.sent[chat][found[0]] = new
            self.edits.append(new)
            self._sent_changed.notify_all()
        return {"message_id": wanted, "date": int(time.time()), "edit_date": int(time.time()),
                "chat": {"id": int(chat), "type": chat_type_of(chat)}, "text": text}

    async def _answer_callback_query(self, params: JSONDict) -> bool:
        query = str(params.get("callback_query_id", ""))
        if query not in self.pressed:
            raise ApiError(400, "Bad Request: query is too old and response timeout expired or query ID is invalid")
        if query in self.answered:
            raise ApiError(400, "Bad Request: query is too old and response timeout expired or query ID is invalid")
        async with self._sent_changed:
            self.answered[query] = params
            self._sent_changed.notify_all()
        return True

    def press(self, message: SentMessage, label: str, *, user: str | int = 100001) -> JSONDict:
        """An update for `user` pressing the button labelled `label` under `message` (it must be there)."""
        keyboard = (message.params.get("reply_markup") or {}).get("inline_keyboard", [])
        found = [button for row in keyboard for button in row if button.get("text") == label]
        if not found:
            raise AssertionError(f"no button {label!r} under message {message.message_id}: {keyboard}")
        query = str(next(self._update_ids) + 900_000)
        self.pressed[query] = str(found[0]["callback_data"])
        chat_id = int(message.chat_id)
        chat_json: JSONDict = {"id": chat_id, "type": chat_type_of(chat_id)}
        bot_message = {"message_id": message.message_id, "date": int(time.time()), "chat": chat_json,
                       "from": self._me(), "text": message.text, "reply_markup": message.params["reply_markup"]}
        thread = message.params.get("message_thread_id")
        if thread is not None:
            bot_message.update(message_thread_id=int(thread), is_topic_message=True)
        sender = {"id": int(user), "is_bot": False, "first_name": "Reader", "language_code": "en"}
        return {"update_id": next(self._update_ids), "callback_query": {
            "id": query, "from": sender, "message": bot_message, "chat_instance": "1",
            "data": self.pressed[query]}}

    def message(self, chat: str | int, message_id: int) -> SentMessage:
        """The message as the chat shows it now (after any edits)."""
        return next(message for message in self.sent[str(chat)] if message.message_id == message_id)

    async def wait_until(self, condition: Callable[[], bool], within: float = 10.0) -> None:
        async with asyncio.timeout(within), self._sent_changed:
            await self._sent_changed.wait_for(condition)

    async def _accept_after(self, seconds: float, chat: str, params: JSONDict) -> JSONDict:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._closing.wait(), seconds)
        if self._closing.is_set():
            raise ApiError(504, "Gateway Timeout")
        return await self._accept(chat, params, time.monotonic())

    async def _accept(self, chat: str, params: JSONDict, arrived: float) -> JSONDict:
        """Everything after transport trouble: flood control, the chat's state, the text itself."""
        faults = self._faults.get(chat)
        if self._chaos is not None:
            draw = self._chaos.rng.random()
            if draw < self._chaos.rate_429:
                self.rate_limited.append((chat, "chaos"))
                raise self._flood(self._chaos.retry_after)
            if draw < self._chaos.rate_429 + self._chaos.rate_5xx:
                raise ApiError(502, "Bad Gateway")
        if faults is not None:
            if faults.forbidden:
                raise ApiError(403, faults.forbidden)
            if faults.migrate_to:
                raise ApiError(400, UPGRADED, {"migrate_to_chat_id": int(faults.migrate_to)})
            if faults.not_found:
                raise ApiError(400, faults.not_found)
        self._enforce_limits(chat, arrived, paid=flag(params.get("allow_paid_broadcast")))
        flag(params.get("disable_notification"))
        check_keyboard(params)
        self._check_thread(chat, params)
        assert self._check is not None
        problem = self._check(params)
        if problem is not None:
            raise ApiError(400, problem if problem.startswith("Bad Request") else f"Bad Request: {problem}")
        text, entities = parse_formatted(str(params.get("text", "")), params.get("parse_mode"))
        message_id = next(self._next_ids(chat))
        message = SentMessage(chat, message_id, text, entities, params, arrived)
        async with self._sent_changed:
            self.sent.setdefault(chat, []).append(message)
            self._sent_changed.notify_all()
        kind = chat_type_of(chat)
        chat_json: JSONDict = {"id": int(chat) if kind != "channel" else -1009999999999, "type": kind}
        if kind == "private":
            chat_json["first_name"] = "Reader"
        else:
            chat_json["title"] = "Test group"
        result: JSONDict = {"message_id": message_id, "date": int(time.time()), "chat": chat_json,
                            "from": self._me(), "text": text}
        if entities:
            result["entities"] = entities
        await self._answer_late(faults)
        return result

    async def _answer_late(self, faults: ChatFaults | None) -> None:
        if faults is None or faults.answer_after <= 0 or faults.slow_answers == 0:
            return
        if faults.slow_answers is not None:
            faults.slow_answers -= 1
        # A client that hangs up meanwhile cancels this wait; the message stays sent.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._closing.wait(), faults.answer_after)

    def _flood(self, wait: float) -> ApiError:
        # Telegram answers whole seconds; a sped-up fake answers fractions so tests stay fast.
        retry_after: float = max(1, math.ceil(wait)) if self.limits.scale == 1 else max(0.01, round(wait, 2))
        shown = int(retry_after) if float(retry_after).is_integer() else retry_after
        return ApiError(429, f"Too Many Requests: retry after {shown}", {"retry_after": shown})

    def _enforce_limits(self, chat: str, now: float, *, paid: bool = False) -> None:
        if not self.limits.enabled:
            return
        windows = self.limits.windows()
        # Every message counts in the bot's one overall window; a paid broadcast may fill it further.
        windows["overall"] = windows["paid"] if paid else windows["overall"]
        checks: list[tuple[str, str]] = [("overall", ""), ("chat", chat)]
        if chat_type_of(chat) != "private":
            checks.append(("group", chat))
        for kind, key in checks:
            allowed, period = windows[kind]
            window = self.limits.effective(period)
            stamps = self._windows.setdefault((kind, key), deque())
            while stamps and now - stamps[0] >= window:
                stamps.popleft()
            if len(stamps) >= allowed:
                self.rate_limited.append((chat, kind))
                raise self._flood(stamps[0] + window - now)
        for kind, key in checks:
            self._windows[(kind, key)].append(now)


def webhook_headers(secret: str | None) -> dict[str, str]:
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers["X-Telegram-Bot-Api-Secret-Token"] = secret
    return headers



def webhook_body(update: JSONDict) -> bytes:
    """The body Telegram posts to a webhook for one update."""
    return json.dumps(update, ensure_ascii=False).encode()
