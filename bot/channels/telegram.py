"""The Telegram adapter: sends payloads within Telegram's limits, receives commands, translates PTB errors."""

from __future__ import annotations

import asyncio
import datetime as dt
import hmac
import logging
import re
import warnings
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, replace
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from aiohttp import web
from telegram import (
    BotCommand,
    BotCommandScopeDefault,
    ChatMember,
    LinkPreviewOptions,
    MessageEntity,
    ReplyParameters,
    Update,
)
from telegram.constants import ChatType
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Conflict,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.ext import Application, ApplicationBuilder, ContextTypes, MessageHandler, filters
from telegram.warnings import PTBDeprecationWarning

from bot import httpguard
from bot.commands import COMMANDS, CommandContext, Commands, menu
from bot.config import TelegramSettings
from bot.delivery import Deliverer, DeliveryAborted
from bot.errors import DigestBotError
from bot.i18n import LANGUAGES
from bot.platforms.base import (
    ChatGone,
    ChatMoved,
    Gate,
    MaybeSent,
    NotSent,
    RateLimited,
    RenderingDefect,
    SendError,
    TransientError,
    Unauthorized,
)
from bot.ratelimit import KeyedLocks, LimiterChain, SlidingWindowLimiter
from bot.render import Payload, render_reply
from bot.render import telegram as render
from bot.store.base import Store

log = logging.getLogger(__name__)

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
            if any(token in message for token in self.tokens):
                for token in self.tokens:
                    message = message.replace(token, "***")
                record.msg, record.args = message, None
        return True


_REDACTOR = _TokenRedactor()


def _redact_secrets(*secrets: str) -> None:
    # PTB logs every API call's parameters at DEBUG, setWebhook's secret_token included.
    _REDACTOR.tokens.update(secret for secret in secrets if secret)
    # Logger filters only see records logged on that very logger, so every library logger gets one.
    names = [name for name in logging.Logger.manager.loggerDict
             if name.split(".")[0] in ("telegram", "httpx", "httpcore")]
    for name in ["telegram", "telegram.Bot", "telegram.ext.ExtBot", *names]:
        logger = logging.getLogger(name)
        if _REDACTOR not in logger.filters:
            logger.addFilter(_REDACTOR)

PLATFORM = "telegram"
WEBHOOK_PATH = "/telegram/webhook"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
# A Telegram update is a few KiB; anything near this is not from Telegram.
MAX_UPDATE_BYTES = 256 * 1024
# Telegram keeps redelivering an update the webhook did not acknowledge for up to a day.
UPDATE_DEDUPE_TTL = 24 * 3600.0
# How long sendMessage may take to answer. Telegram usually answers within a second but, loaded,
# sometimes takes tens of seconds and still posts the message; giving up sooner would turn a slow
# success into a possible duplicate. The delivery lease is kept alive meanwhile, so only shutdown
# (which cuts the part off, to be resumed) is in a hurry.
SEND_READ_TIMEOUT = 30.0
# httpx failures after which the request is known not to have reached Telegram whole.
NOT_SENT_CAUSES = (httpx.ConnectTimeout, httpx.PoolTimeout, httpx.WriteTimeout, httpx.ConnectError,
                   httpx.WriteError, httpx.UnsupportedProtocol, httpx.ProxyError)
COMMAND = re.compile(r"^/(?P<name>[A-Za-z0-9_]{1,32})(?:@(?P<bot>[A-Za-z0-9_]{1,64}))?(?:\s+(?P<args>.*))?$",
                     re.DOTALL)
ADMIN_STATUSES = frozenset({ChatMember.ADMINISTRATOR, ChatMember.OWNER})
GROUP_TYPES = frozenset({ChatType.GROUP, ChatType.SUPERGROUP, ChatType.CHANNEL})
# Telegram clients send /start when a chat with the bot opens; it answers like /help.
KNOWN_COMMANDS = frozenset({command.name for command in COMMANDS} | {"start"})


@dataclass(frozen=True, slots=True)
class TelegramRateLimits:
    """Telegram's flood limits, kept by the bot before Telegram has to answer 429.

    `scaled(factor)` multiplies every rate by `factor` (for tests and benchmarks against a fake
    server that is sped up the same way): the overall limit allows more messages per second, the
    per-group and per-chat windows get shorter.
    """

    overall_limit: int = 30
    overall_period: float = 1.0
    group_limit: int = 20
    group_period: float = 60.0
    chat_limit: int = 1
    chat_period: float = 1.0

    def scaled(self, factor: float) -> TelegramRateLimits:
        if factor <= 0:
            raise ValueError("a rate limit scale factor must be positive")
        return replace(
            self,
            overall_limit=max(1, round(self.overall_limit * factor)),
            group_period=self.group_period / factor,
            chat_period=self.chat_period / factor,
        )

    def chain(self) -> LimiterChain:
        # Narrowest first: a message waiting for its own chat must not hold a slot of the global limit.
        def every_chat(chat: str) -> Hashable:
            return chat

        def groups_only(chat: str) -> Hashable | None:
            # Negative ids are groups, supergroups and channels; "@name" is always a channel.
            return chat if chat.startswith(("-", "@")) else None

        def everything(chat: str) -> Hashable:
            return "all"

        burst = self.overall_burst()
        return LimiterChain([
            (SlidingWindowLimiter(self.chat_limit, self.chat_period), every_chat),
            (SlidingWindowLimiter(self.group_limit, self.group_period), groups_only),
            (SlidingWindowLimiter(burst, self.overall_period * burst / self.overall_limit), everything),
        ])

    def overall_burst(self) -> int:
        """How many messages may leave together under the overall limit.

        A whole second's allowance sent at once reaches the server spread over the time it takes
        to carry and process it, and part of it is then counted in the next second, which is 429.
        So the overall limit is kept over windows a tenth as long with a tenth of the messages.
        The burst divides the limit exactly, so any full window still holds at most the limit.
        """
        target = max(1, self.overall_limit // 10)
        return max(size for size in range(1, target + 1) if self.overall_limit % size == 0)


def _seconds(value: int | float | dt.timedelta) -> float:
    return value.total_seconds() if isinstance(value, dt.timedelta) else float(value)


def _retry_after_seconds(error: RetryAfter) -> float:
    # PTB warns that the attribute will become a timedelta; both shapes are handled here.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        return _seconds(error.retry_after)


# BadRequest texts that mean "this chat will not take the bot's messages", not "this message is bad".
CHAT_GONE_SIGNS = (
    "chat not found",
    "group chat was deactivated",
    "not enough rights to send",
    "have no rights to send",
    "chat_write_forbidden",
    "need administrator rights in the channel chat",
    "peer_id_invalid",
)


def _chat_id(chat: str) -> int | str:
    return int(chat) if chat.lstrip("-").isdigit() else chat


class TelegramChannel:
    """Sends to Telegram and answers commands arriving by long polling or by webhook."""

    platform = PLATFORM

    def __init__(
        self,
        settings: TelegramSettings,
        *,
        commands: Commands | None = None,
        store: Store | None = None,
        language: str = "zh",
        timezone: ZoneInfo | None = None,
        now: Callable[[], dt.datetime] | None = None,
        rate_limits: TelegramRateLimits | None = None,
        connect_timeout: float = 5.0,
        read_timeout: float = 15.0,
        send_timeout: float = SEND_READ_TIMEOUT,
        poll_timeout: float = 25.0,
        max_update_bytes: int = MAX_UPDATE_BYTES,
    ) -> None:
        if not settings.token:
            raise ValueError("telegram: a bot token is required")
        _redact_secrets(settings.token, settings.webhook_secret)
        self.settings = settings
        self.commands = commands
        self.store = store      # webhook updates are deduplicated through it when given
        self.language = language
        self.timezone = timezone or ZoneInfo("UTC")
        self._now = now or (lambda: dt.datetime.now(dt.UTC))
        self.rate_limits = rate_limits or TelegramRateLimits()
        self._limiter = self.rate_limits.chain()
        self._poll_timeout = poll_timeout
        self._send_timeout = send_timeout
        self._max_update_bytes = max_update_bytes
        self._deliverer: Deliverer | None = None
        self._username: str | None = None
        self._started = False
        self._ready = False
        self._command_locks = KeyedLocks()
        self._bot_lock = asyncio.Lock()
        self._bot_open = False     # the HTTP client is open (by start() or by a first send)
        builder: ApplicationBuilder[Any, Any, Any, Any, Any, Any] = (
            Application.builder()
            .token(settings.token)
            .base_url(settings.base_url)
            .connect_timeout(connect_timeout)
            .read_timeout(read_timeout)
            .write_timeout(read_timeout)
            .pool_timeout(read_timeout)
            .get_updates_connect_timeout(connect_timeout)
            .get_updates_read_timeout(read_timeout)
            # Replies in one chat are serialised by the deliverer; other chats must not wait for
            # a chat that is rate limited.
            .concurrent_updates(True)
        )
        if settings.updates != "polling":
            builder = builder.updater(None)
        self.application: Application[Any, Any, Any, Any, Any, Any] = builder.build()
        if commands is not None:
            self.application.add_handler(MessageHandler(
                (filters.UpdateType.MESSAGE | filters.UpdateType.CHANNEL_POST) & filters.COMMAND, self._on_command,
            ))
        self.application.add_error_handler(self._on_error)

    # -- wiring ---------------------------------------------------------------------------------
    def bind(self, deliverer: Deliverer) -> None:
        """Command replies go through the deliverer: ordered, rate limited, never mixed into a post."""
        self._deliverer = deliverer

    @property
    def username(self) -> str | None:
        return self._username

    async def ready(self) -> bool:
        return self._ready

    # -- lifecycle ------------------------------------------------------------------------------
    async def start(self) -> None:
        """Connect, publish the command menu, then take updates by polling or by webhook.

        Raises TelegramStartError (a one-line reason, never the token) when the bot cannot work.
        """
        if self._started:
            return
        settings = self.settings
        if settings.updates == "webhook" and not settings.webhook_secret:
            # Without a secret the route refuses every update: fail loudly instead of going deaf.
            raise TelegramStartError("telegram.webhook_secret is required when telegram.updates is webhook")
        application = self.application
        try:
            await application.initialize()    # calls getMe
        except InvalidToken:
            raise TelegramStartError("Telegram refused the bot token (telegram.token)") from None
        except TelegramError as error:
            raise TelegramStartError(f"Telegram is unreachable at start: {self._scrub(str(error))}") from None
        self._started = True
        self._bot_open = True
        self._username = application.bot.username
        self._ready = True
        await self._publish_menu()
        try:
            if settings.updates == "webhook":
                await application.bot.set_webhook(
                    url=settings.webhook_url, secret_token=settings.webhook_secret,
                    allowed_updates=[Update.MESSAGE, Update.CHANNEL_POST],
                )
                log.info("telegram: receiving commands by webhook as @%s", self._username)
            await application.start()
            if settings.updates == "polling":
                assert application.updater is not None
                # start_polling deletes any webhook first: Telegram refuses getUpdates while one is set.
                await application.updater.start_polling(
                    timeout=dt.timedelta(seconds=self._poll_timeout),
                    allowed_updates=[Update.MESSAGE, Update.CHANNEL_POST],
                    error_callback=self._on_polling_error,
                )
                log.info("telegram: receiving commands by polling as @%s", self._username)
        except TelegramError as error:
            await self.stop()
            raise TelegramStartError(
                f"Telegram refused to deliver updates ({settings.updates}): {self._scrub(str(error))}") from None

    async def stop(self) -> None:
        """Stop taking updates and close the HTTP client; safe to call more than once."""
        if not self._started:
            if self._bot_open:
                self._bot_open = False
                await self.application.bot.shutdown()
            return
        self._started = False
        self._ready = False
        self._bot_open = False
        application = self.application
        try:
            if application.updater is not None and application.updater.running:
                await application.updater.stop()
            if application.running:
                await application.stop()
        finally:
            await application.shutdown()

    async def _publish_menu(self) -> None:
        if self.commands is None:
            return
        bot = self.application.bot
        try:
            for language in LANGUAGES:
                await bot.set_my_commands(self._menu(language), language_code=language)
            await bot.set_my_commands(self._menu(self.language), scope=BotCommandScopeDefault())
        except TelegramError as error:
            # The menu is a convenience: commands work without it, so this never stops the bot.
            log.warning("telegram: could not publish the command menu: %s", self._scrub(str(error)))

    def _menu(self, language: str) -> list[BotCommand]:
        assert self.commands is not None
        return [BotCommand(name, description) for name, description in menu(language, self.commands.default_time)]

    # -- sending --------------------------------------------------------------------------------
    async def send(self, chat: str, payload: Payload, gate: Gate | None = None) -> str:
        """Send one sendMessage payload to `chat`; the message id, or a SendError subclass."""
        arguments = dict(payload)
        extra: dict[str, Any] = {}
        try:
            text = arguments.pop("text")
            if (options := arguments.pop("link_preview_options", None)) is not None:
                extra["link_preview_options"] = LinkPreviewOptions(**options)
            if (entities := arguments.pop("entities", None)) is not None:
                extra["entities"] = [MessageEntity(**entity) for entity in entities]
            if (reply := arguments.pop("reply_parameters", None)) is not None:
                extra["reply_parameters"] = ReplyParameters(**reply)
        except (KeyError, TypeError) as error:
            raise RenderingDefect(f"not a sendMessage payload: {error}") from None
        parse_mode = arguments.pop("parse_mode", None)
        await self._ensure_bot()
        await self._limiter.acquire(chat)
        if gate is not None and not await gate():
            raise NotSent("withdrawn before sending")
        try:
            message = await self.application.bot.send_message(
                chat_id=_chat_id(chat), text=text, parse_mode=parse_mode,
                api_kwargs=arguments or None, read_timeout=self._send_timeout, **extra,
            )
        except RetryAfter as error:
            raise RateLimited(self._scrub(error.message), _retry_after_seconds(error)) from None
        except ChatMigrated as error:
            raise ChatMoved(f"group moved to {error.new_chat_id}", str(error.new_chat_id)) from None
        except Forbidden as error:
            raise ChatGone(self._scrub(error.message)) from None
        except BadRequest as error:
            # BadRequest is a NetworkError: it must be told apart before the retryable errors.
            reason = self._scrub(error.message)
            if any(sign in reason.lower() for sign in CHAT_GONE_SIGNS):
                raise ChatGone(reason) from None
            raise RenderingDefect(reason) from None
        except InvalidToken:
            # Not the chat's fault: reported, never marked inactive, retried at the next poll.
            raise Unauthorized("Telegram refused the bot token") from None
        except (TimedOut, NetworkError) as error:
            # TimedOut is a NetworkError too; what httpx raised underneath tells whether the request
            # had gone out whole.
            raise self._transport_error(error) from None
        except (Conflict, TelegramError) as error:
            raise TransientError(self._scrub(error.message)) from None
        return str(message.message_id)

    def _transport_error(self, error: NetworkError) -> SendError:
        cause = error.__cause__
        if isinstance(cause, NOT_SENT_CAUSES):
            return TransientError(f"not sent: {type(cause).__name__}")
        if isinstance(cause, httpx.HTTPError) or isinstance(error, TimedOut):
            # Written, then no answer (a read timeout, a dropped connection): Telegram may have posted it.
            what = type(cause).__name__ if cause is not None else "timed out"
            return MaybeSent(f"no answer from Telegram ({what}); the message may have been delivered")
        return TransientError(self._scrub(error.message))   # Telegram answered, with a server error

    async def _ensure_bot(self) -> None:
        # A one-off `send` uses the channel without start(): the HTTP client still needs opening.
        bot = self.application.bot
        async with self._bot_lock:
            if self._bot_open:
                return
            try:
                await bot.initialize()
            except InvalidToken:
                raise TransientError("Telegram refused the bot token") from None
            except TelegramError as error:
                raise TransientError(f"Telegram is unreachable: {self._scrub(error.message)}") from None
            self._bot_open = True
            self._username = bot.username

    def _scrub(self, text: str) -> str:
        return text.replace(self.settings.token, "***") if self.settings.token else text

    # -- commands -------------------------------------------------------------------------------
    async def _on_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        chat = update.effective_chat
        if message is None or chat is None or not message.text or self.commands is None:
            return
        match = COMMAND.match(message.text.strip())
        if match is None:
            return
        addressed_to = match.group("bot")
        if addressed_to is not None and (self._username is None
                                         or addressed_to.lower() != self._username.lower()):
            return   # a command for another bot in the same group
        name = match.group("name").lower()
        args = match.group("args") or ""
        chat_id = str(chat.id)
        is_group = chat.type in GROUP_TYPES
        if is_group and addressed_to is None and name not in KNOWN_COMMANDS:
            return   # a plain /cmd in a group may belong to another bot: only answer our own
        sender = message.from_user
        user_id = str(sender.id) if sender is not None else str(
            message.sender_chat.id if message.sender_chat is not None else chat.id)
        # Only admins post in a channel, and only admins write anonymously as the group itself.
        speaks_as_chat = chat.type == ChatType.CHANNEL or (
            message.sender_chat is not None and message.sender_chat.id == chat.id)
        context_for_commands = self._context(chat_id, user_id, is_group, known_admin=speaks_as_chat)
        # One chat's commands are answered in the order they came.
        async with self._command_locks.hold(chat_id):
            try:
                reply = await self.commands.handle(name, args, context_for_commands)
            except Exception:
                log.exception("telegram: /%s in chat %s failed", name, chat_id)
                return
            if reply.silent:
                return      # throttled: nothing at all goes back
            payloads = render_reply(render, reply)
            if not payloads:
                return
            if is_group:
                payloads[0] = {**payloads[0], "reply_parameters": {
                    "message_id": message.message_id, "allow_sending_without_reply": True}}
            await self._reply(chat_id, payloads)

    def _context(self, chat: str, user: str, is_group: bool, *, known_admin: bool) -> CommandContext:
        async def is_admin() -> bool:
            if not is_group or known_admin:
                return True
            try:
                member = await self.application.bot.get_chat_member(chat_id=_chat_id(chat), user_id=int(user))
            except TelegramError as error:
                log.warning("telegram: could not check admin rights in %s: %s", chat, self._scrub(str(error)))
                return False
            return member.status in ADMIN_STATUSES

        return CommandContext(platform=PLATFORM, chat=chat, user=user, is_group=is_group,
                              language=self.language, timezone=self.timezone, is_admin=is_admin,
                              now=self._now())

    async def _reply(self, chat: str, payloads: Sequence[Payload]) -> None:
        if self._deliverer is None:
            # Nothing to keep it in order with: posted directly, as the Slack adapter does.
            for payload in payloads:
                try:
                    await self.send(chat, payload)
                except SendError as error:
                    log.warning("telegram: reply to chat %s not sent: %s", chat, self._scrub(error.reason))
                    return
            return
        try:
            await self._deliverer.send_parts(PLATFORM, chat, payloads)
        except DeliveryAborted as error:
            log.warning("telegram: reply to chat %s not sent: %s", chat, self._scrub(error.reason))

    async def _on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        error = context.error
        log.error("telegram: an update could not be handled: %s: %s", type(error).__name__,
                  self._scrub(str(error)))

    def _on_polling_error(self, error: TelegramError) -> None:
        log.warning("telegram: polling failed, retrying: %s: %s", type(error).__name__, self._scrub(str(error)))

    # -- webhook --------------------------------------------------------------------------------
    def routes(self) -> list[web.RouteDef]:
        return [web.post(WEBHOOK_PATH, self._webhook)]

    async def _webhook(self, request: web.Request) -> web.Response:
        expected = self.settings.webhook_secret
        offered = request.headers.get(SECRET_HEADER, "")
        # Checked before the body is read: a stranger's request costs nothing.
        # surrogateescape: a header that is not UTF-8 is just a wrong secret, not a server error.
        if not expected or not hmac.compare_digest(offered.encode("utf-8", "surrogateescape"), expected.encode()):
            return web.Response(status=403, text="forbidden")
        try:
            data = httpguard.loads_json(await httpguard.read_body(request, self._max_update_bytes))
        except httpguard.Refused as refused:
            return refused.response()
        update_id = data.get("update_id") if isinstance(data, dict) else None
        if not isinstance(update_id, int) or isinstance(update_id, bool):
            return web.Response(status=400, text="not a Telegram update")
        if not self.application.running:
            # Telegram redelivers an update that was not acknowledged.
            return web.Response(status=503, text="not running")
        try:
            update = Update.de_json(data, self.application.bot)
        except Exception:
            # PTB's parser assumes well-formed updates; a malformed one is the sender's problem.
            return web.Response(status=400, text="not a Telegram update")
        if await self._first_delivery(update_id):
            await self.application.update_queue.put(update)
        return web.Response(status=200)

    async def _first_delivery(self, update_id: int) -> bool:
        """False for an update taken before (Telegram resends when an answer was slow or lost)."""
        if self.store is None:
            return True
        try:
            first = await self.store.first_seen(f"telegram:update:{self.application.bot.id}:{update_id}",
                                                UPDATE_DEDUPE_TTL)
        except Exception as error:
            # Answering twice beats not answering: the store is only a guard here.
            log.warning("telegram: could not check update %s for a repeat (%s); taking it", update_id,
                        type(error).__name__)
            return True
        if not first:
            log.info("telegram: update %s arrived again; not answered again", update_id)
        return first


class TelegramStartError(DigestBotError):
    """The Telegram adapter could not start; the message is safe to show (no token)."""


__all__ = ["TelegramChannel", "TelegramRateLimits", "TelegramStartError"]
