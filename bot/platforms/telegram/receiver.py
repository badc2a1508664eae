"""Telegram commands: the webhook route, polling, the command menu, and each command's context and reply."""

from __future__ import annotations

import datetime as dt
import hmac
import logging
import re
from collections.abc import Callable, Sequence
from zoneinfo import ZoneInfo

from aiohttp import web
from telegram import BotCommand, BotCommandScopeDefault, CallbackQuery, ChatMember, Message, Update
from telegram.constants import ChatType
from telegram.error import TelegramError
from telegram.ext import CallbackQueryHandler, ContextTypes, MessageHandler, filters

from bot import httpguard
from bot.commands import COMMANDS, CommandContext, Commands, ContextBuilder, Reply, menu
from bot.i18n import LANGUAGES
from bot.keyed_locks import KeyedLocks
from bot.platforms.base import ReplyFailed, ReplySink, SendError
from bot.platforms.telegram import html
from bot.platforms.telegram.buttons import with_keyboard
from bot.platforms.telegram.limits import PLATFORM, UPDATE_DEDUPE_TTL
from bot.platforms.telegram.sender import TelegramApplication, TelegramSender, chat_id
from bot.platforms.telegram.settings import TelegramSettings
from bot.render import Payload, render_reply
from bot.render.options import PostOptions
from bot.render.options import apply_options as with_options
from bot.store.base import Store

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/telegram/webhook"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
COMMAND = re.compile(r"^/(?P<name>[A-Za-z0-9_]{1,32})(?:@(?P<bot>[A-Za-z0-9_]{1,64}))?(?:\s+(?P<args>.*))?$",
                     re.DOTALL)
ADMIN_STATUSES = frozenset({ChatMember.ADMINISTRATOR, ChatMember.OWNER})
GROUP_TYPES = frozenset({ChatType.GROUP, ChatType.SUPERGROUP, ChatType.CHANNEL})
# Telegram clients send /start when a chat with the bot opens; it answers like /help.
KNOWN_COMMANDS = frozenset({command.name for command in COMMANDS} | {"start"})
ALLOWED_UPDATES = [Update.MESSAGE, Update.CHANNEL_POST, Update.CALLBACK_QUERY]


class TelegramReceiver:
    """Takes updates by polling or by webhook and answers the commands in them."""

    def __init__(self, sender: TelegramSender, settings: TelegramSettings, *, commands: Commands | None,
                 store: Store | None, language: str, timezone: ZoneInfo, now: Callable[[], dt.datetime],
                 poll_timeout: float, max_update_bytes: int) -> None:
        self._sender = sender
        self.application: TelegramApplication = sender.application
        self.settings = settings
        self.commands = commands
        self.store = store      # webhook updates are deduplicated through it when given
        self._contexts = ContextBuilder(PLATFORM, language, timezone, now)
        self._poll_timeout = poll_timeout
        self._max_update_bytes = max_update_bytes
        self._sink: ReplySink | None = None
        self._command_locks = KeyedLocks()
        if commands is not None:
            self.application.add_handler(MessageHandler(
                (filters.UpdateType.MESSAGE | filters.UpdateType.CHANNEL_POST) & filters.COMMAND, self._on_command,
            ))
            self.application.add_handler(CallbackQueryHandler(self._on_press))
        self.application.add_error_handler(self._on_error)

    @property
    def language(self) -> str:
        return self._contexts.language

    @property
    def timezone(self) -> ZoneInfo:
        return self._contexts.timezone

    def bind(self, sink: ReplySink) -> None:
        """Command replies go through the sink: ordered, rate limited, never mixed into a post."""
        self._sink = sink

    # -- taking updates -------------------------------------------------------------------------
    async def start_updates(self) -> None:
        """Take updates by webhook or polling, as configured; raises TelegramError if Telegram refuses."""
        application = self.application
        username = self._sender.username
        if self.settings.updates == "webhook":
            await application.bot.set_webhook(url=self.settings.webhook_url, secret_token=self.settings.webhook_secret,
                                              allowed_updates=ALLOWED_UPDATES)
            log.info("telegram: receiving commands by webhook as @%s", username)
        await application.start()
        if self.settings.updates == "polling":
            assert application.updater is not None
            # start_polling deletes any webhook first: Telegram refuses getUpdates while one is set.
            await application.updater.start_polling(
                timeout=dt.timedelta(seconds=self._poll_timeout),
                allowed_updates=ALLOWED_UPDATES,
                error_callback=self._on_polling_error,
            )
            log.info("telegram: receiving commands by polling as @%s", username)

    async def stop_updates(self) -> None:
        application = self.application
        if application.updater is not None and application.updater.running:
            await application.updater.stop()
        if application.running:
            await application.stop()

    async def publish_menu(self) -> None:
        if self.commands is None:
            return
        bot = self.application.bot
        try:
            for language in LANGUAGES:
                await bot.set_my_commands(self._menu(language), language_code=language)
            await bot.set_my_commands(self._menu(self.language), scope=BotCommandScopeDefault())
        except TelegramError as error:
            # The menu is a convenience: commands work without it, so this never stops the bot.
            log.warning("telegram: could not publish the command menu: %s", self._sender.scrub(str(error)))

    def _menu(self, language: str) -> list[BotCommand]:
        assert self.commands is not None
        return [BotCommand(name, description) for name, description in menu(language, self.commands.default_time)]

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
        username = self._sender.username
        if addressed_to is not None and (username is None or addressed_to.lower() != username.lower()):
            return   # a command for another bot in the same group
        name = match.group("name").lower()
        args = match.group("args") or ""
        chat_key = str(chat.id)
        is_group = chat.type in GROUP_TYPES
        if is_group and addressed_to is None and name not in KNOWN_COMMANDS:
            return   # a plain /cmd in a group may belong to another bot: only answer our own
        sender = message.from_user
        user_id = str(sender.id) if sender is not None else str(
            message.sender_chat.id if message.sender_chat is not None else chat.id)
        # Only admins post in a channel, and only admins write anonymously as the group itself.
        speaks_as_chat = chat.type == ChatType.CHANNEL or (
            message.sender_chat is not None and message.sender_chat.id == chat.id)
        # Asked inside a forum topic: answered there, and a /subscribe there posts there.
        topic = str(message.message_thread_id) if message.is_topic_message and message.message_thread_id else None
        context_for_commands = self._context(chat_key, user_id, is_group, known_admin=speaks_as_chat, topic=topic)
        # One chat's commands are answered in the order they came.
        async with self._command_locks.hold(chat_key):
            try:
                reply = await self.commands.handle(name, args, context_for_commands)
            except Exception:
                log.exception("telegram: /%s in chat %s failed", name, chat_key)
                return
            if reply.silent:
                return      # throttled: nothing at all goes back
            payloads = self._answer_payloads(reply, topic)
            if not payloads:
                return
            if is_group:
                payloads[0] = {**payloads[0], "reply_parameters": {
                    "message_id": message.message_id, "allow_sending_without_reply": True}}
            await self._reply(chat_key, payloads)

    def _answer_payloads(self, reply: Reply, topic: str | None) -> list[Payload]:
        """A reply rendered for the topic it was asked in, its buttons under its last message."""
        payloads = with_options(html, render_reply(html, reply), PostOptions(topic=topic))
        if payloads and reply.buttons:
            payloads[-1] = with_keyboard(payloads[-1], reply.buttons)
        return payloads

    async def _on_press(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A button under an answer: always answered; ◀ ▶ replace the answer in place."""
        query = update.callback_query
        if query is None or self.commands is None:
            return
        message = query.message
        if not isinstance(message, Message):
            await self._answer_press(query)     # too old for Telegram to show us: nothing to replace
            return
        chat_key = str(message.chat.id)
        topic = str(message.message_thread_id) if message.is_topic_message and message.message_thread_id else None
        asker = self._context(chat_key, str(query.from_user.id), message.chat.type in GROUP_TYPES,
                              known_admin=False, topic=topic)
        async with self._command_locks.hold(chat_key):
            try:
                reply = await self.commands.press(query.data or "", asker)
            except Exception:
                log.exception("telegram: a button in chat %s failed", chat_key)
                await self._answer_press(query)
                return
            await self._answer_press(query, reply.notice if not (reply.items or reply.digest) else None)
            payloads = self._answer_payloads(reply, topic) if reply.items or reply.digest else []
            if reply.replaces and len(payloads) == 1:
                await self._replace(chat_key, str(message.message_id), payloads[0])
            elif payloads:
                await self._reply(chat_key, payloads)

    async def _answer_press(self, query: CallbackQuery, notice: str | None = None) -> None:
        try:
            await query.answer(text=notice)
        except TelegramError as error:
            log.warning("telegram: could not answer a button press: %s", self._sender.scrub(str(error)))

    async def _replace(self, chat: str, message_id: str, payload: Payload) -> None:
        try:
            await self._sender.edit(chat, message_id, payload)
        except SendError as error:
            log.warning("telegram: could not replace an answer in chat %s: %s", chat, self._sender.scrub(error.reason))

    def _context(self, chat: str, user: str, is_group: bool, *, known_admin: bool,
                 topic: str | None = None) -> CommandContext:
        async def is_admin() -> bool:
            if not is_group or known_admin:
                return True
            try:
                member = await self.application.bot.get_chat_member(chat_id=chat_id(chat), user_id=int(user))
            except TelegramError as error:
                log.warning("telegram: could not check admin rights in %s: %s", chat,
                            self._sender.scrub(str(error)))
                return False
            return member.status in ADMIN_STATUSES

        return self._contexts.build(chat, user, is_group=is_group, is_admin=is_admin, topic=topic)

    async def _reply(self, chat: str, payloads: Sequence[Payload]) -> None:
        scrub = self._sender.scrub
        if self._sink is None:
            # Nothing to keep it in order with: posted directly, as the Slack adapter does.
            for payload in payloads:
                try:
                    await self._sender.send(chat, payload)
                except SendError as error:
                    log.warning("telegram: reply to chat %s not sent: %s", chat, scrub(error.reason))
                    return
            return
        try:
            await self._sink.send_parts(PLATFORM, chat, payloads)
        except ReplyFailed as error:
            log.warning("telegram: reply to chat %s not sent: %s", chat, scrub(error.reason))

    async def _on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        error = context.error
        log.error("telegram: an update could not be handled: %s: %s", type(error).__name__,
                  self._sender.scrub(str(error)))

    def _on_polling_error(self, error: TelegramError) -> None:
        log.warning("telegram: polling failed, retrying: %s: %s", type(error).__name__,
                    self._sender.scrub(str(error)))

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
