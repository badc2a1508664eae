"""Settings from the parsed file: top-level keys, store and channels here, each section by its own component."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from bot.checking import ChatRule, Checker, Section, join, kind, one_word
from bot.delivery_settings import DELIVERY_KEYS, check_delivery
from bot.digest.categories import RULE_KEYS, Categorizer, check_categories
from bot.digest.sources import DIGEST_KEYS, check_digests
from bot.platforms import registry
from bot.schedule import DEFAULT_SCHEDULE
from bot.settings import ChannelSettings, Settings
from bot.store import check_store_url
from bot.web_settings import SERVER_KEYS, check_server

_CHANNEL_NAME = re.compile(r"[^\s/:]{1,100}")
_NO_RULE = ChatRule()


def _platform_sections() -> dict[str, Section[Any]]:
    return {found.key: found for found in registry.sections()}


def _chat_rules() -> dict[str, ChatRule]:
    """Each platform's rule for where a channel's posts go (the default for one without a section)."""
    rules = {}
    for platform in registry.PLATFORMS:
        found = registry.section(platform)
        rules[platform.name] = found.chat if found is not None else _NO_RULE
    return rules


def top_keys() -> tuple[str, ...]:
    return ("version", "timezone", "language", "digests", "categories", "store", "store_prefix",
            *_platform_sections(), "server", "channels", "delivery")


def channel_keys() -> tuple[str, ...]:
    rules = [_NO_RULE, *_chat_rules().values()]
    options = [option.key for rule in rules for option in rule.options]
    chat_keys = dict.fromkeys([*(rule.key for rule in rules), *options])
    return ("name", "platform", *chat_keys, "schedule", "timezone", "categories", "silent", "topic", "thread")


def own_words() -> frozenset[str]:
    """Key names the bot itself defines: never masked in a key path (see bot.secrets.mask_path)."""
    platform_keys = [key for found in _platform_sections().values() for key in found.keys]
    return frozenset({*top_keys(), *channel_keys(), *platform_keys, *DIGEST_KEYS, *RULE_KEYS, *SERVER_KEYS,
                      *DELIVERY_KEYS})


def secret_chats(data: object) -> list[str]:
    """Channel values that are credentials (a webhook URL), as written in the file."""
    rules = _chat_rules()
    channels = data.get("channels") if isinstance(data, dict) else None
    found: list[str] = []
    for entry in channels if isinstance(channels, list) else []:
        rule = rules.get(str(entry.get("platform"))) if isinstance(entry, dict) else None
        if rule is None:
            continue
        keys = [rule.key] if rule.secret else []
        keys += [option.key for option in rule.options if option.secret]
        found += [value for key in keys if isinstance(value := entry.get(key), str) and value]
    return found


def _store(check: Checker, raw: Mapping[Any, Any]) -> str:
    url = check.text(raw, "store", "", Settings().store).strip()
    try:
        # The same check open_store makes when the service starts.
        check_store_url(url, check.base_dir)
    except ValueError as exc:
        check.add("store", str(exc))
    return url


def _store_prefix(check: Checker, raw: Mapping[Any, Any]) -> str:
    prefix = check.text(raw, "store_prefix", "", Settings().store_prefix)
    if not re.fullmatch(r"[A-Za-z0-9_.:{}-]{1,64}", prefix):
        check.add("store_prefix", "expected 1-64 characters of letters, digits and _ . : - { }")
        return Settings().store_prefix
    return prefix


def _channel_name(check: Checker, section: Mapping[Any, Any], path: str, first_use: dict[str, str]) -> str:
    name = check.text(section, "name", path, "").strip()
    where = join(path, "name")
    if not name:
        if "name" not in section:
            check.add(where, "required")
        elif isinstance(section["name"], str):
            check.add(where, "must not be empty")
    elif not _CHANNEL_NAME.fullmatch(name) or not name.isprintable():
        check.add(where, f"{check.show(name)} must be at most 100 characters without spaces, '/' or ':'")
    elif name in first_use:
        check.add(where, f"duplicate channel name {check.show(name)} (also {first_use[name]})")
    else:
        first_use[name] = path
    return name


def _channel_chat(check: Checker, section: Mapping[Any, Any], path: str, platform: str, rule: ChatRule) -> str:
    chat_value = section.get(rule.key)
    where = join(path, rule.key)
    chat = ""
    if chat_value is not None:
        if isinstance(chat_value, bool) or not isinstance(chat_value, str | int):
            check.add(where, f"expected a chat id, got {kind(chat_value)}")
            return ""
        chat = str(chat_value).strip()
    if rule.example and not chat and where not in check.failed:
        check.add(where, f"required for a {platform} channel, like {rule.example}")
    elif rule.pattern is not None and chat and not rule.pattern.fullmatch(chat):
        check.add(where, f"{check.show(chat)} {rule.mismatch}")
    elif chat and not one_word(chat):
        check.add(where, f"{check.show(chat)} must be one word, without spaces or control characters")
    return chat


def _channel_categories(check: Checker, section: Mapping[Any, Any], path: str,
                        categorizer: Categorizer) -> tuple[str, ...]:
    """The categories a channel is limited to, aliases resolved to their names; a name no rule knows
    may still be one the digest itself names (front matter, item markers), so it is kept as written."""
    raw = section.get("categories")
    where = join(path, "categories")
    if raw is None:
        return ()
    if not isinstance(raw, list) or not all(isinstance(name, str) and name.strip() for name in raw):
        check.add(where, f"expected a list of category names like [Hardware], got {check.show(raw)}")
        return ()
    names = (categorizer.resolve(name) or name.strip() for name in raw)
    return tuple(dict.fromkeys(names))


def _channel_topic(check: Checker, section: Mapping[Any, Any], path: str) -> str | None:
    """A forum topic's thread id: a positive whole number (Telegram's message_thread_id)."""
    raw = section.get("topic")
    if raw is None:
        return None
    text = str(raw).strip() if isinstance(raw, int | str) and not isinstance(raw, bool) else ""
    if not text.isdecimal() or int(text) <= 0 or len(text) > 18:
        check.add(join(path, "topic"), f"expected a forum topic's thread id like 123, got {check.show(raw)}")
        return None
    return str(int(text))


def _channel(check: Checker, entry: object, path: str, first_use: dict[str, str],
             rules: Mapping[str, ChatRule], categorizer: Categorizer) -> ChannelSettings | None:
    if not isinstance(entry, dict):
        check.add(path, f"expected a mapping like {{name: ..., platform: ..., chat: ...}}, got {kind(entry)}")
        return None
    section = check.section(entry, path, channel_keys())
    name = _channel_name(check, section, path, first_use)
    if "platform" not in section:
        check.add(join(path, "platform"), f"required: one of {' | '.join(registry.NAMES)}")
        platform = ""
    else:
        platform = check.choice(section, "platform", path, "", registry.NAMES)
    rule = rules.get(platform, _NO_RULE)
    chat = _channel_chat(check, section, path, platform, rule)
    options = _channel_options(check, section, path, platform, rule)
    schedule = check.schedule(check.text(section, "schedule", path, DEFAULT_SCHEDULE), join(path, "schedule"),
                              DEFAULT_SCHEDULE)
    timezone = None
    if section.get("timezone") is not None:
        timezone = check.zone(section["timezone"], join(path, "timezone"))
    return ChannelSettings(name=name, platform=platform, chat=chat, schedule=schedule, timezone=timezone,
                           categories=_channel_categories(check, section, path, categorizer),
                           silent=check.boolean(section, "silent", path, False),
                           topic=_channel_topic(check, section, path),
                           thread=check.boolean(section, "thread", path, False), options=options)


def _channel_options(check: Checker, section: Mapping[Any, Any], path: str, platform: str,
                     rule: ChatRule) -> tuple[tuple[str, str], ...]:
    """The platform's own keys of a channel entry; another platform's options are reported as not its own."""
    own = {option.key for option in rule.options}
    for key in section:
        if platform and key in _option_keys() and key not in own and key != rule.key:
            check.add(join(path, key), f"not a key of a {platform} channel")
    values: list[tuple[str, str]] = []
    for option in rule.options:
        if option.secret:
            value = check.credential(section, option.key, path)
        elif option.choices:
            value = check.choice(section, option.key, path, option.choices[0], option.choices)
        else:
            value = check.text(section, option.key, path, "").strip()
        if value:
            values.append((option.key, value))
    return tuple(values)


def _option_keys() -> frozenset[str]:
    """Every platform's own channel keys besides where they post."""
    return frozenset(option.key for rule in _chat_rules().values() for option in rule.options)


def _channels(check: Checker, raw: object, categorizer: Categorizer) -> tuple[ChannelSettings, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        check.add("channels", f"expected a list of channels, got {kind(raw)}")
        return ()
    first_use: dict[str, str] = {}
    rules = _chat_rules()
    channels = (_channel(check, entry, f"channels[{index}]", first_use, rules, categorizer)
                for index, entry in enumerate(raw))
    return tuple(channel for channel in channels if channel is not None)


def validate(data: object, base_dir: Path, failed: set[str],
             secrets: Sequence[str]) -> tuple[Settings, list[tuple[str, str]]]:
    """The settings the parsed file describes, and every problem found in it."""
    check = Checker(base_dir, failed, secrets)
    if data is None:
        check.add("", "the file is empty; start from config.example.yaml")
        return Settings(base_dir=base_dir), check.problems
    if not isinstance(data, dict):
        check.add("", f"expected a mapping of top-level keys ({', '.join(top_keys())}), got {kind(data)}")
        return Settings(base_dir=base_dir), check.problems
    root = check.section(data, "", top_keys())
    defaults = Settings()
    version = check.integer(root, "version", "", 1, 0)
    if version != 1:
        check.add("version", f"unsupported config version {check.show(version)}; this bot reads version 1")
    timezone = check.text(root, "timezone", "", defaults.timezone)
    if check.zone(timezone, "timezone") is None:
        timezone = defaults.timezone
    language = check.choice(root, "language", "", defaults.language, ("zh", "en"))
    digests = check_digests(check, root.get("digests"))
    categories = check_categories(check, root.get("categories"))
    store, store_prefix = _store(check, root), _store_prefix(check, root)
    platforms = {key: found.check(check, root.get(key)) for key, found in _platform_sections().items()}
    settings = Settings(
        version=1, timezone=timezone, language=language, digests=digests, categories=categories,
        store=store, store_prefix=store_prefix, platforms=platforms,
        server=check_server(check, root.get("server")), delivery=check_delivery(check, root.get("delivery")),
        channels=_channels(check, root.get("channels"), Categorizer(categories)), base_dir=base_dir,
    )
    _check_required_keys(check, root, settings)
    return settings, check.problems


def _check_required_keys(check: Checker, root: Mapping[Any, Any], settings: Settings) -> None:
    # A platform's channels need its section's `token` key (say) to exist; an empty value is fine (it
    # means "not configured, skip"), a missing key is almost always a typo or a forgotten section.
    for key, found in _platform_sections().items():
        if found.required is None:
            continue
        users = [c.name or f"channels[{i}]" for i, c in enumerate(settings.channels) if c.platform == key]
        body = root.get(key)
        if users and not (isinstance(body, dict) and found.required in body):
            named = ", ".join(check.show(user) if not user.startswith("channels[") else user for user in users[:5])
            more = f" and {len(users) - 5} more" if len(users) > 5 else ""
            check.add(f"{key}.{found.required}",
                      f"missing, but channel(s) {named}{more} use {key}; "
                      f"write {found.required}: ${{{found.variable}:-}} to leave it unconfigured")
