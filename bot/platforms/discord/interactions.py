"""Discord interactions as the bot reads them: a command and its options, who asked where, and the answers' shapes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.platforms.discord.limits import EPHEMERAL
from bot.render import Payload

# Interaction types (what Discord posts) and interaction callback types (what the bot answers).
PING = 1
APPLICATION_COMMAND = 2
PONG = 1
CHANNEL_MESSAGE = 4
DEFERRED_CHANNEL_MESSAGE = 5
# Subscriptions are the config's on Discord (a webhook per channel): these commands only explain that.
CONFIG_COMMANDS = frozenset({"subscribe", "unsubscribe"})
# The option that asks for an answer the whole channel sees; commands answer privately otherwise.
PUBLIC_OPTION = "public"
# Permission bits that make a member one who may change what the channel receives.
ADMINISTRATOR = 1 << 3
MANAGE_GUILD = 1 << 5
# Keys of a rendered payload that an interaction answer or follow-up takes as they are.
_MESSAGE_KEYS = ("content", "embeds", "allowed_mentions", "flags")


@dataclass(frozen=True, slots=True)
class Invocation:
    """One slash command as Discord delivered it."""

    name: str                   # the command's (English) name
    args: str                   # its options as the shared command logic reads them, e.g. "3 public"
    public: bool
    user: str
    channel: str
    in_guild: bool
    locale: str                 # the asker's Discord language, e.g. "zh-CN"
    token: str = ""             # the interaction token: follow-ups for 15 minutes
    permissions: int = 0


def invocation(body: dict[str, Any]) -> Invocation | None:
    """The command in an APPLICATION_COMMAND interaction; None when it names no command or user."""
    data = body.get("data")
    if not isinstance(data, dict) or not isinstance(data.get("name"), str):
        return None
    member = body.get("member") if isinstance(body.get("member"), dict) else None
    user = (member or {}).get("user") or body.get("user")
    if not isinstance(user, dict) or not user.get("id"):
        return None
    words, public = _option_words(data.get("options"))
    if public:
        words.append(PUBLIC_OPTION)
    return Invocation(name=data["name"], args=" ".join(words), public=public, user=str(user["id"]),
                      channel=str(body.get("channel_id") or ""), in_guild=member is not None,
                      locale=str(body.get("locale") or ""), token=str(body.get("token") or ""),
                      permissions=_permissions(member))


def _option_words(options: Any) -> tuple[list[str], bool]:
    """The option values in order (as typed after a command elsewhere), and the public switch."""
    words: list[str] = []
    public = False
    for option in options if isinstance(options, list) else []:
        if not isinstance(option, dict):
            continue
        value = option.get("value")
        if option.get("name") == PUBLIC_OPTION:
            public = value is True
        elif isinstance(value, str | int | float) and not isinstance(value, bool):
            words.append(str(value).strip())
    return [word for word in words if word], public


def _permissions(member: dict[str, Any] | None) -> int:
    value = (member or {}).get("permissions")
    return int(value) if isinstance(value, str) and value.isdecimal() else 0


def message_data(payload: Payload, *, ephemeral: bool) -> Payload:
    """A rendered payload as an interaction answer's or follow-up's message, private when `ephemeral`."""
    data = {key: payload[key] for key in _MESSAGE_KEYS if key in payload}
    if ephemeral:
        data["flags"] = int(data.get("flags", 0)) | EPHEMERAL
    return data


def answer(payload: Payload, *, ephemeral: bool) -> Payload:
    """The interaction's answer carrying one message (callback type 4)."""
    return {"type": CHANNEL_MESSAGE, "data": message_data(payload, ephemeral=ephemeral)}


def deferred(*, ephemeral: bool) -> Payload:
    """"The bot is thinking": the answer follows through follow-ups (callback type 5)."""
    return {"type": DEFERRED_CHANNEL_MESSAGE, "data": {"flags": EPHEMERAL} if ephemeral else {}}


def pong() -> Payload:
    return {"type": PONG}
