"""Config loading: the example config, ${VAR} substitution, and every class of mistake with its key path."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.config import (
    Settings,
    load_config,
    normalize_schedule,
    parse_duration,
    secrets_of,
    summarize,
)
from bot.errors import ConfigError
from bot.secrets import mask_url

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "config.example.yaml"

TELEGRAM_TOKEN = "7012345678:AAHk3vQq-Zx9_TelegramTokenValue0123456"
WEBHOOK_SECRET = "hook-Secret_value_7d3f"
SLACK_TOKEN = "xoxb-1111-2222-SlackBotTokenValue"
SIGNING_SECRET = "8f14e45fceea167a5a36dedd4bea2543"
APP_TOKEN = "xapp-1-A111-2222-SlackAppTokenValue"
STORE_PASSWORD = "redisPassw0rdValue"
ALL_SECRETS = (TELEGRAM_TOKEN, WEBHOOK_SECRET, SLACK_TOKEN, SIGNING_SECRET, APP_TOKEN, STORE_PASSWORD)

TOKENS_ENV = {
    "TELEGRAM_BOT_TOKEN": TELEGRAM_TOKEN,
    "TELEGRAM_WEBHOOK_SECRET": WEBHOOK_SECRET,
    "SLACK_BOT_TOKEN": SLACK_TOKEN,
    "SLACK_SIGNING_SECRET": SIGNING_SECRET,
    "SLACK_APP_TOKEN": APP_TOKEN,
}

BASE = """\
version: 1
digests:
  source: ./digests
channels:
  - {name: terminal, platform: console, schedule: "09:30"}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def config_error(path: Path, env: dict[str, str] | None = None) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        load_config(path, env={} if env is None else env)
    return caught.value


def problem_at(error: ConfigError, key_path: str) -> str:
    """The message of the one problem reported at key_path (fails when there is none or several)."""
    messages = [message for path, message in error.problems if path == key_path]
    assert len(messages) == 1, f"expected one problem at {key_path}, got {error.problems}"
    return messages[0]


# --- the example config ------------------------------------------------------------------------


def test_example_config_loads_without_any_token() -> None:
    settings = load_config(EXAMPLE, env={})
    assert settings.base_dir == ROOT
    assert Path(settings.digests.source) == ROOT / "examples"
    assert settings.store == "sqlite:///./digestbot.db"
    assert not settings.telegram.configured
    assert not settings.slack.configured
    by_name = {channel.name: channel for channel in settings.channels}
    assert by_name["terminal"].platform == "console"
    assert by_name["terminal"].schedule == "09:30"
    assert {channel.platform for channel in settings.channels} == {"console", "telegram", "slack"}
    assert all(channel.chat for channel in settings.channels if channel.platform != "console")
    assert settings.categories, "the example documents at least one category"
    assert secrets_of(settings) == []
    summary = summarize(settings)
    assert "telegram: skipped" in summary and "slack: skipped" in summary


def test_example_config_loads_with_tokens_and_masks_them() -> None:
    settings = load_config(EXAMPLE, env=TOKENS_ENV)
    assert settings.telegram.token == TELEGRAM_TOKEN
    assert settings.telegram.configured and settings.slack.configured
    assert settings.slack.signing_secret == SIGNING_SECRET
    assert set(secrets_of(settings)) == set(TOKENS_ENV.values())
    shown = repr(settings) + str(settings) + summarize(settings)
    for secret in TOKENS_ENV.values():
        assert secret not in shown
    assert "telegram: configured" in summarize(settings)


def test_example_config_documents_every_key() -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    for key in ("version:", "timezone:", "language:", "digests:", "source:", "poll_interval:", "poll_deadline:",
                "catch_up:", "fetch_timeout:", "categories:", "store:", "telegram:", "token:", "base_url:",
                "updates:", "webhook_url:", "webhook_secret:", "slack:", "signing_secret:", "app_token:",
                "admins:", "public_replies:", "server:", "listen:", "max_body_bytes:", "delivery:",
                "lease_ttl:", "max_attempts:", "backoff_base:", "backoff_max:", "channels:", "schedule:",
                "store_prefix:", "rate_limit_scale:", "header_timeout:", "body_timeout:",
                "keepalive_timeout:", "max_connections:"):
        assert key in text, f"config.example.yaml does not document {key}"


# --- substitution ------------------------------------------------------------------------------


def test_unset_variable_is_an_error_at_its_key_path(tmp_path: Path) -> None:
    path = write(tmp_path, BASE + "telegram:\n  token: ${TELEGRAM_BOT_TOKEN}\n")
    error = config_error(path, env={})
    message = problem_at(error, "telegram.token")
    assert "TELEGRAM_BOT_TOKEN" in message and "not set" in message


def test_default_is_used_when_the_variable_is_unset(tmp_path: Path) -> None:
    path = write(tmp_path, BASE + "language: ${BOT_LANGUAGE:-en}\nstore: ${STORE:-memory://}\n"
                                   "telegram:\n  token: ${TELEGRAM_BOT_TOKEN:-}\n")
    unset = load_config(path, env={})
    assert (unset.language, unset.store, unset.telegram.token) == ("en", "memory://", "")
    overridden = load_config(path, env={"BOT_LANGUAGE": "zh", "TELEGRAM_BOT_TOKEN": TELEGRAM_TOKEN})
    assert (overridden.language, overridden.telegram.token) == ("zh", TELEGRAM_TOKEN)


def test_substituted_values_are_typed_after_substitution(tmp_path: Path) -> None:
    path = write(tmp_path, "server:\n  listen: ${HOST:-127.0.0.1}:${PORT}\n  max_body_bytes: ${MAX}\n"
                           "slack:\n  token: ''\n  public_replies: ${PUBLIC}\n"
                           "digests:\n  source: ./d\n  catch_up: ${CATCH_UP}\n")
    settings = load_config(path, env={"PORT": "9090", "MAX": "65536", "PUBLIC": "true", "CATCH_UP": "90m"})
    assert (settings.server.host, settings.server.port) == ("127.0.0.1", 9090)
    assert settings.server.max_body_bytes == 65536
    assert settings.slack.public_replies is True
    assert settings.digests.catch_up == 5400


def test_server_limits_come_from_the_config_and_default_to_the_servers_own(tmp_path: Path) -> None:
    from bot.app import server_limits_from
    from bot.web import ServerLimits

    path = write(tmp_path, BASE + "server:\n  header_timeout: 5s\n  body_timeout: 1m\n  keepalive_timeout: 30\n"
                                   "  max_connections: 64\n")
    limits = server_limits_from(load_config(path, env={}).server)
    assert (limits.header_timeout, limits.body_timeout, limits.keepalive_timeout) == (5.0, 60.0, 30.0)
    assert limits.connection_cap() == 64
    defaults = server_limits_from(load_config(write(tmp_path, BASE), env={}).server)
    assert defaults == ServerLimits(max_body_bytes=defaults.max_body_bytes)


def test_server_limits_that_make_no_sense_are_errors(tmp_path: Path) -> None:
    path = write(tmp_path, BASE + "server:\n  header_timeout: 0\n  body_timeout: soon\n  max_connections: 0\n")
    error = config_error(path, env={})
    assert "greater than zero" in problem_at(error, "server.header_timeout")
    assert "duration" in problem_at(error, "server.body_timeout")
    assert "from 1" in problem_at(error, "server.max_connections")


def test_doubled_dollar_writes_a_literal_reference(tmp_path: Path) -> None:
    path = write(tmp_path, BASE.replace("./digests", "./$${NOT_A_VAR}"))
    settings = load_config(path, env={})
    assert settings.digests.source.endswith("${NOT_A_VAR}")


def test_environment_defaults_to_the_process_environment(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, BASE + "language: ${DIGESTBOT_TEST_LANGUAGE}\n")
    monkeypatch.setenv("DIGESTBOT_TEST_LANGUAGE", "en")
    assert load_config(path).language == "en"


# --- one test per class of mistake ------------------------------------------------------------


def test_unknown_keys_are_reported_with_a_suggestion(tmp_path: Path) -> None:
    path = write(tmp_path, BASE + "timezon: UTC\ntelegram:\n  token: ''\n  webhok_url: https://x.example\n")
    error = config_error(path)
    assert "did you mean 'timezone'" in problem_at(error, "timezon")
    assert "did you mean 'webhook_url'" in problem_at(error, "telegram.webhok_url")


def test_wrong_types_are_reported(tmp_path: Path) -> None:
    path = write(tmp_path, """\
        version: 1
        language: 5
        digests: ./examples
        slack: {token: "", public_replies: maybe, admins: U123}
        channels: {terminal: console}
        """)
    error = config_error(path)
    assert "got a number" in problem_at(error, "language")
    assert "mapping" in problem_at(error, "digests")
    assert "true or false" in problem_at(error, "slack.public_replies")
    assert "list" in problem_at(error, "slack.admins")
    assert "list" in problem_at(error, "channels")


def test_bad_time_zones_are_reported(tmp_path: Path) -> None:
    path = write(tmp_path, BASE.replace('schedule: "09:30"}', 'schedule: "09:30", timezone: Mars/Olympus}')
                 + "timezone: Europe/Atlantis\n")
    error = config_error(path)
    assert "Europe/Atlantis" in problem_at(error, "timezone")
    assert "Mars/Olympus" in problem_at(error, "channels[0].timezone")


def test_bad_cron_expressions_are_reported(tmp_path: Path) -> None:
    path = write(tmp_path, """\
        version: 1
        digests: {source: ./d}
        channels:
          - {name: a, platform: console, schedule: "61 * * * *"}
          - {name: b, platform: console, schedule: "0 10 * *"}
          - {name: c, platform: console, schedule: "0 10 * * 1-5"}
          - {name: d, platform: console, schedule: "0 0 31 2 *"}
        """)
    error = config_error(path)
    assert "cron" in problem_at(error, "channels[0].schedule")
    assert "5 fields" in problem_at(error, "channels[1].schedule")
    assert "never" in problem_at(error, "channels[3].schedule")
    assert [p for p, _ in error.problems] == ["channels[0].schedule", "channels[1].schedule",
                                             "channels[3].schedule"]


def test_bad_times_of_day_are_reported(tmp_path: Path) -> None:
    path = write(tmp_path, """\
        version: 1
        digests: {source: ./d}
        channels:
          - {name: a, platform: console, schedule: "24:00"}
          - {name: b, platform: console, schedule: "9:75"}
          - {name: c, platform: console, schedule: 930}
        """)
    error = config_error(path)
    assert "24:00" in problem_at(error, "channels[0].schedule")
    assert "9:75" in problem_at(error, "channels[1].schedule")
    assert "string" in problem_at(error, "channels[2].schedule")


def test_unquoted_times_stay_times(tmp_path: Path) -> None:
    # YAML 1.1 would read 9:30 as the base-60 number 570.
    path = write(tmp_path, BASE.replace('"09:30"', "9:30"))
    assert load_config(path, env={}).channels[0].schedule == "09:30"


def test_platform_channel_needs_the_token_key(tmp_path: Path) -> None:
    # telegram has a section without the key; slack has no section at all
    path = write(tmp_path, BASE + "  - {name: news, platform: telegram, chat: -100123}\n"
                                   "  - {name: slack-news, platform: slack, chat: C01}\n"
                                   "telegram:\n  updates: polling\n")
    error = config_error(path)
    assert "news" in problem_at(error, "telegram.token")
    assert "slack-news" in problem_at(error, "slack.token")
    assert [p for p, _ in error.problems] == ["telegram.token", "slack.token"]


def test_an_empty_token_means_not_configured(tmp_path: Path) -> None:
    path = write(tmp_path, BASE + "  - {name: news, platform: telegram, chat: -100123}\n"
                                   "telegram:\n  token: ${TELEGRAM_BOT_TOKEN:-}\n")
    settings = load_config(path, env={})
    assert not settings.telegram.configured
    assert "skipped" in summarize(settings)


def test_duplicate_channel_names_are_reported(tmp_path: Path) -> None:
    path = write(tmp_path, BASE + "  - {name: terminal, platform: console, schedule: '10:00'}\n")
    assert "channels[0]" in problem_at(config_error(path), "channels[1].name")


def test_platform_channel_without_chat_is_reported(tmp_path: Path) -> None:
    path = write(tmp_path, BASE + "  - {name: news, platform: telegram}\n  - {name: s, platform: slack}\n"
                                   "telegram: {token: ''}\nslack: {token: ''}\n")
    error = config_error(path)
    assert "required" in problem_at(error, "channels[1].chat")
    assert "required" in problem_at(error, "channels[2].chat")


def test_channel_categories_resolve_aliases_and_keep_names_the_digest_may_use(tmp_path: Path) -> None:
    path = write(tmp_path, BASE + "  - {name: hw, platform: console, categories: [hw, Hardware, 大模型]}\n"
                                   "categories:\n  Hardware: {aliases: [hw]}\n")
    channel = load_config(path, env={}).channels[1]
    assert channel.categories == ("Hardware", "大模型")
    assert load_config(path, env={}).channels[0].categories == ()


def test_delivery_corrections_and_their_window(tmp_path: Path) -> None:
    path = write(tmp_path, BASE + "delivery: {corrections: notice, corrections_window: 2h}\n")
    delivery = load_config(path, env={}).delivery
    assert (delivery.corrections, delivery.corrections_window) == ("notice", 7200.0)
    assert load_config(write(tmp_path, BASE), env={}).delivery.corrections == "edit"
    wrong = write(tmp_path, BASE + "delivery: {corrections: sometimes}\n")
    assert "edit" in problem_at(config_error(wrong), "delivery.corrections")


def test_channel_silent_and_thread_are_booleans(tmp_path: Path) -> None:
    path = write(tmp_path, BASE + "  - {name: quiet, platform: console, silent: true, thread: true}\n")
    assert [(channel.silent, channel.thread) for channel in load_config(path, env={}).channels] == [
        (False, False), (True, True)]
    threaded = write(tmp_path, BASE + "  - {name: quiet, platform: console, thread: maybe}\n")
    assert problem_at(config_error(threaded), "channels[1].thread")
    wrong = write(tmp_path, BASE + "  - {name: quiet, platform: console, silent: sometimes}\n")
    assert problem_at(config_error(wrong), "channels[1].silent")


def test_channel_topic_is_a_thread_id(tmp_path: Path) -> None:
    path = write(tmp_path, BASE + "  - {name: forum, platform: console, topic: 42}\n")
    assert [channel.topic for channel in load_config(path, env={}).channels] == [None, "42"]
    for wrong in ("0", "-3", "general", "true"):
        bad = write(tmp_path, BASE + f"  - {{name: forum, platform: console, topic: {wrong}}}\n")
        assert "thread id" in problem_at(config_error(bad), "channels[1].topic")


@pytest.mark.parametrize("value", ["Hardware", "[1]", "['']", "{a: b}"])
def test_channel_categories_must_be_a_list_of_names(tmp_path: Path, value: str) -> None:
    path = write(tmp_path, BASE + f"  - {{name: hw, platform: console, categories: {value}}}\n")
    assert "list of category names" in problem_at(config_error(path), "channels[1].categories")


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "version: 1\nchannels:\n  - name: a\n   platform: console\n")
    error = config_error(path)
    assert len(error.problems) == 1
    assert "line 4" in error.problems[0][1]
    assert str(error).startswith(str(path))


def test_webhook_mode_needs_url_and_secret(tmp_path: Path) -> None:
    path = write(tmp_path, BASE + "telegram:\n  token: ${TELEGRAM_BOT_TOKEN}\n  updates: webhook\n")
    error = config_error(path, env={"TELEGRAM_BOT_TOKEN": TELEGRAM_TOKEN})
    assert "webhook" in problem_at(error, "telegram.webhook_secret")
    assert "webhook" in problem_at(error, "telegram.webhook_url")
    # Without a token Telegram is skipped altogether, so its webhook settings do not matter.
    assert not load_config(path, env={"TELEGRAM_BOT_TOKEN": ""}).telegram.configured


def test_webhook_url_and_secret_are_checked(tmp_path: Path) -> None:
    bad_secret = "not a valid secret!"
    path = write(tmp_path, BASE + "telegram:\n  token: ${T}\n  updates: webhook\n"
                                   "  webhook_url: http://bot.example.com/hook\n  webhook_secret: ${S}\n")
    error = config_error(path, env={"T": TELEGRAM_TOKEN, "S": bad_secret})
    assert "https" in problem_at(error, "telegram.webhook_url")
    assert "A-Z" in problem_at(error, "telegram.webhook_secret")
    assert bad_secret not in str(error)
    path.write_text(path.read_text().replace("http://bot.example.com", "http://127.0.0.1:8081"))
    settings = load_config(path, env={"T": TELEGRAM_TOKEN, "S": WEBHOOK_SECRET})
    assert settings.telegram.webhook_url == "http://127.0.0.1:8081/hook"


def test_slack_token_needs_a_signing_secret_or_an_app_token(tmp_path: Path) -> None:
    path = write(tmp_path, BASE + "slack:\n  token: ${SLACK_BOT_TOKEN}\n  app_token: ${SLACK_APP_TOKEN:-}\n")
    error = config_error(path, env={"SLACK_BOT_TOKEN": SLACK_TOKEN})
    assert "app_token" in problem_at(error, "slack.signing_secret")
    socket_mode = load_config(path, env={"SLACK_BOT_TOKEN": SLACK_TOKEN, "SLACK_APP_TOKEN": APP_TOKEN})
    assert socket_mode.slack.app_token == APP_TOKEN
    assert "Socket Mode" in summarize(socket_mode)


def test_store_urls(tmp_path: Path) -> None:
    for good in ("memory://", "sqlite:///./bot.db", "sqlite:////var/lib/bot.db", "redis://127.0.0.1:6379/0",
                 f"rediss://:{STORE_PASSWORD}@redis.example.com:6380/2"):
        assert load_config(write(tmp_path, BASE + f"store: {good}\n"), env={}).store == good
    for bad in ("postgres://db/bot", "sqlite://bot.db", "redis:///0", "redis://host:6379/zero"):
        error = config_error(write(tmp_path, BASE + f"store: {bad}\n"))
        assert [p for p, _ in error.problems] == ["store"], bad


def test_store_prefix_and_rate_limit_scales(tmp_path: Path) -> None:
    path = write(tmp_path, BASE + "store: redis://127.0.0.1:6379/0\nstore_prefix: 'team-a:'\n"
                                   "telegram: {token: '', rate_limit_scale: 2}\n"
                                   "slack: {token: '', rate_limit_scale: '${SLACK_SCALE}'}\n")
    settings = load_config(path, env={"SLACK_SCALE": "0.5"})
    assert (settings.store_prefix, settings.telegram.rate_limit_scale, settings.slack.rate_limit_scale) == (
        "team-a:", 2.0, 0.5)
    assert "team-a:" in summarize(settings)
    error = config_error(path, env={"SLACK_SCALE": "fast"})
    assert "number" in problem_at(error, "slack.rate_limit_scale")
    bad = write(tmp_path, BASE + "store_prefix: 'has space'\ntelegram: {token: '', rate_limit_scale: 0}\n")
    error = config_error(bad)
    assert problem_at(error, "store_prefix") and problem_at(error, "telegram.rate_limit_scale")


def test_url_template_sources(tmp_path: Path) -> None:
    template = "https://news.example.com/{date:%Y/%m/%d}.md"
    settings = load_config(write(tmp_path, BASE.replace("./digests", template)), env={})
    assert settings.digests.source == template
    with_password = f"https://reader:{STORE_PASSWORD}@news.example.com/{{date:%Y-%m-%d}}.md"
    private = load_config(write(tmp_path, BASE.replace("./digests", with_password)), env={})
    assert private.digests.source == with_password
    assert STORE_PASSWORD not in repr(private) + summarize(private)
    assert secrets_of(private) == [STORE_PASSWORD]
    for bad in ("https://news.example.com/today.md", "https://news.example.com/{day}.md",
                "ftp://news.example.com/{date}.md"):
        error = config_error(write(tmp_path, BASE.replace("./digests", bad)))
        assert problem_at(error, "digests.source")


def test_durations(tmp_path: Path) -> None:
    path = write(tmp_path, BASE.replace("./digests", "./d\n  poll_interval: 90s\n  poll_deadline: 6h\n"
                                                     "  catch_up: 0\n  fetch_timeout: 7.5"))
    digests = load_config(path, env={}).digests
    assert (digests.poll_interval, digests.poll_deadline, digests.catch_up, digests.fetch_timeout) == (
        90, 6 * 3600, 0, 7.5)
    error = config_error(write(tmp_path, BASE.replace("./digests", "./d\n  poll_interval: soon\n"
                                                                 "  poll_deadline: 0")))
    assert "soon" in problem_at(error, "digests.poll_interval")
    assert "greater than zero" in problem_at(error, "digests.poll_deadline")


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 30), st.integers(0, 23), st.integers(0, 59), st.integers(0, 59))
def test_compound_durations_add_up(days: int, hours: int, minutes: int, seconds: int) -> None:
    text = f"{days}d{hours}h{minutes}m{seconds}s"
    assert parse_duration(text) == days * 86400 + hours * 3600 + minutes * 60 + seconds


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 23), st.integers(0, 59))
def test_every_time_of_day_normalizes(hour: int, minute: int) -> None:
    assert normalize_schedule(f"{hour}:{minute:02d}") == f"{hour:02d}:{minute:02d}"


def test_category_shapes_and_clashing_aliases(tmp_path: Path) -> None:
    path = write(tmp_path, BASE + textwrap.dedent("""\
        categories:
          Hardware: {aliases: [hw, 硬件], keywords: [GPU]}
          Software: {aliases: [HW], keywords: [compiler]}
          Science: {aliases: space, keyword: [rocket]}
        """))
    error = config_error(path)
    assert "Hardware" in problem_at(error, "categories.Software.aliases[0]")
    assert "list" in problem_at(error, "categories.Science.aliases")
    assert "did you mean 'keywords'" in problem_at(error, "categories.Science.keyword")


def test_duplicate_yaml_keys_are_reported(tmp_path: Path) -> None:
    error = config_error(write(tmp_path, BASE + "language: en\nlanguage: zh\n"))
    assert "repeated at line 7" in problem_at(error, "language")


def test_missing_file_is_a_clear_config_error(tmp_path: Path) -> None:
    error = config_error(tmp_path / "nowhere.yaml")
    assert "no such file" in str(error)
    assert str(tmp_path / "nowhere.yaml") in str(error)


def test_empty_file_and_wrong_top_level(tmp_path: Path) -> None:
    assert "empty" in str(config_error(write(tmp_path, "")))
    assert "mapping" in str(config_error(write(tmp_path, "- version: 1\n")))


# --- everything at once, and secrets --------------------------------------------------------


ALL_MISTAKES = """\
version: 2
timezon: Asia/Shanghai
timezone: Mars/Olympus
language: 5
digests:
  source: ./digests
  poll_interval: soon
categories:
  Hardware: {aliases: hw}
store: postgres://user:${STORE_PASSWORD}@db/bot
telegram:
  token: ${TELEGRAM_BOT_TOKEN}
  updates: webhook
  webhook_url: https://bot.example.com/telegram/webhook
slack:
  token: ${SLACK_BOT_TOKEN}
  signing_secret: ${SLACK_SIGNING_SECRET_UNSET}
  public_replies: sometimes
server:
  listen: everywhere
channels:
  - {name: terminal, platform: console, schedule: "25:61"}
  - {name: terminal, platform: telegram, chat: -100123, schedule: "0 10 * * 8"}
  - {name: slack-ai, platform: slack, schedule: "09:30", timezone: Moon/Base}
  - {name: extra, platform: wechat, chat: x, colour: red}
"""

ALL_MISTAKE_PATHS = {
    "version",                                   # wrong version
    "timezon",                                   # unknown key
    "timezone",                                  # bad time zone
    "language",                                  # wrong type
    "digests.poll_interval",                     # bad duration
    "categories.Hardware.aliases",               # wrong type in a category
    "store",                                     # unsupported store
    "telegram.webhook_secret",                   # webhook without secret
    "slack.signing_secret",                      # unset ${VAR} without default
    "slack.public_replies",                      # wrong type
    "server.listen",                             # not host:port
    "channels[0].schedule",                      # bad HH:MM
    "channels[1].name",                          # duplicate channel name
    "channels[1].schedule",                      # bad cron
    "channels[2].chat",                          # slack channel without chat
    "channels[2].timezone",                      # bad channel time zone
    "channels[3].platform",                      # unknown platform
    "channels[3].colour",                        # unknown channel key
}


def test_all_mistakes_are_reported_together_with_their_paths(tmp_path: Path) -> None:
    path = write(tmp_path, ALL_MISTAKES)
    env = {"TELEGRAM_BOT_TOKEN": TELEGRAM_TOKEN, "SLACK_BOT_TOKEN": SLACK_TOKEN, "STORE_PASSWORD": STORE_PASSWORD}
    error = config_error(path, env=env)
    reported = [p for p, _ in error.problems]
    assert set(reported) == ALL_MISTAKE_PATHS
    assert len(reported) == len(ALL_MISTAKE_PATHS), "each mistake is reported once"
    text = str(error)
    assert len(text.splitlines()) == len(ALL_MISTAKE_PATHS)
    for line in text.splitlines():
        assert line.startswith(f"{path}: ") and "(line " in line
    for secret in env.values():
        assert secret not in text
    # the token-missing check also joins the others when the section lacks the key entirely
    without_token = write(tmp_path, ALL_MISTAKES.replace("  token: ${TELEGRAM_BOT_TOKEN}\n", ""))
    assert "terminal" in problem_at(config_error(without_token, env=env), "telegram.token")


def test_secrets_never_appear_in_errors_or_reprs(tmp_path: Path) -> None:
    # A secret pasted where it does not belong still stays out of the message.
    path = write(tmp_path, BASE + textwrap.dedent(f"""\
        language: ${{TELEGRAM_BOT_TOKEN}}
        timezone: ${{SLACK_BOT_TOKEN}}
        store: redis://:{STORE_PASSWORD}@127.0.0.1:6379/x
        telegram:
          token: ${{TELEGRAM_BOT_TOKEN}}
          updates: webhook
          webhook_url: https://bot.example.com/hook
          webhook_secret: "{WEBHOOK_SECRET}!"
        slack:
          token: ${{SLACK_BOT_TOKEN}}
          signing_secret: {SIGNING_SECRET}
          app_token: {APP_TOKEN}
          base_url: {SIGNING_SECRET}
        """))
    error = config_error(path, env=TOKENS_ENV)
    assert {"language", "timezone", "store", "telegram.webhook_secret", "slack.base_url"} <= {
        p for p, _ in error.problems}
    text = str(error) + repr(error.problems)
    for secret in ALL_SECRETS:
        assert secret not in text

    good = write(tmp_path, BASE + textwrap.dedent(f"""\
        store: redis://:{STORE_PASSWORD}@127.0.0.1:6379/0
        telegram: {{token: "${{TELEGRAM_BOT_TOKEN}}", updates: webhook, webhook_url: "https://b.example.com/h",
                   webhook_secret: "${{TELEGRAM_WEBHOOK_SECRET}}"}}
        slack: {{token: "${{SLACK_BOT_TOKEN}}", signing_secret: "${{SLACK_SIGNING_SECRET}}",
                app_token: "${{SLACK_APP_TOKEN}}"}}
        """))
    settings = load_config(good, env=TOKENS_ENV)
    shown = "\n".join([repr(settings), str(settings), repr(settings.telegram), repr(settings.slack),
                       summarize(settings)])
    for secret in ALL_SECRETS:
        assert secret not in shown
    assert set(secrets_of(settings)) == set(ALL_SECRETS)
    assert "***" in repr(settings.telegram)


def test_a_long_secret_is_not_cut_in_half_by_a_shortened_message(tmp_path: Path) -> None:
    long_secret = "s3cr3t" * 20
    path = write(tmp_path, BASE + "timezone: ${SLACK_SIGNING_SECRET}\n"
                                   "slack: {token: '', signing_secret: '${SLACK_SIGNING_SECRET}'}\n")
    text = str(config_error(path, env={"SLACK_SIGNING_SECRET": long_secret}))
    assert "timezone" in text
    assert "s3cr3ts3cr3t" not in text


def test_store_urls_are_shown_without_their_password() -> None:
    assert mask_url(f"redis://user:{STORE_PASSWORD}@h:6379/0") == "redis://user:***@h:6379/0"
    assert mask_url("redis://h:6379/0") == "redis://h:6379/0"
    assert mask_url("sqlite:///./x.db") == "sqlite:///./x.db"


def test_defaults_are_the_documented_ones() -> None:
    settings = Settings()
    assert (settings.timezone, settings.language, settings.store) == ("Asia/Shanghai", "zh",
                                                                      "sqlite:///./digestbot.db")


# --- masking: values quoted in messages, never the bot's own words ------------------------------


def test_a_short_secret_masks_nothing_in_the_bots_own_words(tmp_path: Path) -> None:
    path = write(tmp_path, BASE.replace('"09:30"', "'x'") + "telegram: {token: '${TELEGRAM_BOT_TOKEN}'}\n")
    for short in ("e", "name", "sche"):
        lines = str(config_error(path, env={"TELEGRAM_BOT_TOKEN": short})).splitlines()
        assert len(lines) == 1
        assert lines[0].startswith(f"{path}: channels[0].schedule: 'x' is not a schedule: expected HH:MM"), lines
        assert "***" not in lines[0]


def test_a_secret_is_masked_inside_a_quoted_value_and_a_key_the_file_named(tmp_path: Path) -> None:
    secret = "hunter2-is-the-signing-secret"
    path = write(tmp_path, BASE + textwrap.dedent(f"""\
        language: "fr-{secret}"
        categories:
          "{secret}": {{aliases: [x]}}
          Other: {{aliases: ["{secret}"]}}
        slack: {{token: '', signing_secret: '${{SLACK_SIGNING_SECRET}}'}}
        """))
    error = config_error(path, env={"SLACK_SIGNING_SECRET": secret})
    text = str(error)
    assert secret not in text
    assert "'fr-***' is not one of zh | en" in problem_at(error, "language")
    # The category named after the secret is a key the file itself wrote: masked in the path.
    assert "categories.Other.aliases[0]" in [p for p, _ in error.problems]
    assert "already names category '***'" in problem_at(error, "categories.Other.aliases[0]")


def test_quoted_values_are_cut_short(tmp_path: Path) -> None:
    error = config_error(write(tmp_path, BASE + f"language: {'x' * 5000}\n"))
    message = problem_at(error, "language")
    assert len(message) < 200 and "…" in message


# --- one function decides: the store path, URL templates, category names ---------------------


def test_sqlite_paths_are_the_stores_own(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.config import sqlite_path
    from bot.store import sqlite_path as store_sqlite_path

    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    for url, expected in (("sqlite:///~/state.db", tmp_path / "home" / "state.db"),
                          ("sqlite:///./ledger.db", tmp_path / "ledger.db"),
                          ("sqlite:////var/lib/digestbot/bot.db", Path("/var/lib/digestbot/bot.db"))):
        settings = load_config(write(tmp_path, BASE + f"store: {url}\n"), env={})
        assert sqlite_path(settings) == store_sqlite_path(url, settings.base_dir) == expected
        assert f"({expected})" in summarize(settings)
    error = config_error(write(tmp_path, BASE + "store: sqlite:///~no_such_user_zz/state.db\n"))
    assert "home folder is unknown" in problem_at(error, "store")


def test_url_templates_are_checked_by_the_sources_own_function(tmp_path: Path) -> None:
    from bot.digest.sources import url_template_problem

    for template in ("https://x.example/{date:%H}.md", "https://x.example/{date!s:>9999999}",
                     "https://x.example/{date.year}/{date:%m-%d}", "https://exa mple.com/{date}"):
        problem = url_template_problem(template)
        assert problem is not None
        error = config_error(write(tmp_path, BASE.replace("./digests", template)))
        assert problem_at(error, "digests.source").startswith(f"{problem} (line ")
    assert url_template_problem("HTTPS://x.example/{date:%Y-%m-%d}.md") is None
    settings = load_config(write(tmp_path, BASE.replace("./digests", "HTTPS://x.example/{date}.md")), env={})
    assert "URL template" in summarize(settings)


def test_category_names_clash_as_the_lookup_compares_them(tmp_path: Path) -> None:
    from bot.digest.categories import Categorizer, name_key

    path = write(tmp_path, BASE + textwrap.dedent("""\
        categories:
          Large Models: {aliases: [llm]}
          large-models: {}
          Chips: {aliases: [LLM, ＣＨＩＰＳ, "---"]}
        """))
    error = config_error(path)
    assert [p for p, _ in error.problems] == ["categories.large-models", "categories.Chips.aliases[0]",
                                             "categories.Chips.aliases[2]"]
    assert "'large-models' already names category 'Large Models'" in problem_at(error, "categories.large-models")
    assert "no letter or digit" in problem_at(error, "categories.Chips.aliases[2]")
    assert name_key("large-models") == name_key("Large Models")
    fine = load_config(write(tmp_path, BASE + "categories:\n  Large Models: {aliases: [llm, 大模型]}\n"), env={})
    categorizer = Categorizer(fine.categories)
    assert categorizer.resolve("large_models") == categorizer.resolve("大模型") == "Large Models"


def test_numbers_and_durations_have_upper_bounds(tmp_path: Path) -> None:
    error = config_error(write(tmp_path, BASE + "delivery: {max_attempts: 1000, lease_ttl: 100d}\n"
                                                "server: {max_body_bytes: '${BIG}'}\n"),
                         env={"BIG": "9" * 5000})
    assert "from 1 to 100" in problem_at(error, "delivery.max_attempts")
    assert "at most 30 days" in problem_at(error, "delivery.lease_ttl")
    # 5,000 digits through ${VAR}: a value too long for a whole number, not a traceback.
    assert "whole number" in problem_at(error, "server.max_body_bytes")


def test_a_secret_in_a_schedule_is_quoted_once_and_masked(tmp_path: Path) -> None:
    secret = "0 0 * * topsecretvalue"
    path = write(tmp_path, BASE.replace('"09:30"', '"${SLACK_SIGNING_SECRET}"')
                 + "slack: {token: '', signing_secret: '${SLACK_SIGNING_SECRET}'}\n")
    error = config_error(path, env={"SLACK_SIGNING_SECRET": secret})
    assert secret not in str(error) and "topsecretvalue" not in str(error)
    assert problem_at(error, "channels[0].schedule").startswith("'***' is not a schedule: expected HH:MM")


def test_the_subscription_schedule_is_a_time_of_day(tmp_path: Path) -> None:
    assert load_config(write(tmp_path, BASE), env={}).delivery.subscription_schedule == "09:30"
    path = write(tmp_path, BASE + "delivery: {subscription_schedule: '7:05'}\n")
    assert load_config(path, env={}).delivery.subscription_schedule == "07:05"
    for bad in ("0 9 * * *", "25:00", "soon"):
        error = config_error(write(tmp_path, BASE + f"delivery: {{subscription_schedule: '{bad}'}}\n"))
        assert "time of day" in problem_at(error, "delivery.subscription_schedule"), bad


def test_every_platform_section_is_assembled_from_the_registry(tmp_path: Path) -> None:
    from bot.platforms import registry

    settings = load_config(write(tmp_path, BASE), env={})
    keys = [section.key for section in registry.sections()]
    assert keys == ["telegram", "slack", "discord", "feishu", "wecom", "dingtalk"]
    assert set(settings.platforms) == set(keys)
    assert settings.telegram is settings.platforms["telegram"]
    with pytest.raises(TypeError):
        Settings(telegrma=settings.telegram)
