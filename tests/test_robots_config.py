"""Robot channels in the config: webhook, secret and format checked per platform, masked in every error,
and handed to the channels the app builds; check-config and the example config know them."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from bot.app import App
from bot.config import load_config, summarize
from tests.test_config import EXAMPLE, config_error, problem_at, write

FEISHU_URL = "https://open.feishu.cn/open-apis/bot/v2/hook/0a1b2c3d-feishu-token"
WECOM_URL = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=wecom-key-5f6e7d"
DINGTALK_URL = "https://oapi.dingtalk.com/robot/send?access_token=dingtalk-token-9a8b"
ENV = {"FEISHU_WEBHOOK_URL": FEISHU_URL, "FEISHU_BOT_SECRET": "feishu-sign-secret", "WECOM_WEBHOOK_URL": WECOM_URL,
       "DINGTALK_WEBHOOK_URL": DINGTALK_URL, "DINGTALK_SECRET": "SECdingtalk-secret"}
ROBOTS = """\
version: 1
digests: {source: ./digests}
store: "memory://"
channels:
  - {name: fs, platform: feishu, webhook: "${FEISHU_WEBHOOK_URL}", secret: "${FEISHU_BOT_SECRET}"}
  - {name: wc, platform: wecom, webhook: "${WECOM_WEBHOOK_URL}", format: text}
  - {name: dd, platform: dingtalk, webhook: "${DINGTALK_WEBHOOK_URL}", secret: "${DINGTALK_SECRET}"}
"""
CREDENTIALS = ("0a1b2c3d-feishu-token", "wecom-key-5f6e7d", "dingtalk-token-9a8b", "feishu-sign-secret",
               "SECdingtalk-secret")


def test_robot_channels_carry_their_webhook_and_options(tmp_path: Path) -> None:
    settings = load_config(write(tmp_path, ROBOTS), env=ENV)
    fs, wc, dd = settings.channels
    assert (fs.chat, fs.option("secret")) == (FEISHU_URL, "feishu-sign-secret")
    assert (wc.chat, wc.option("format")) == (WECOM_URL, "text")
    assert (dd.chat, dd.option("secret")) == (DINGTALK_URL, "SECdingtalk-secret")
    shown = summarize(settings)
    assert not any(credential in shown for credential in CREDENTIALS), shown
    # The webhook URLs are the channels' chats; neither they nor the options (secrets) are ever in a repr.
    shown = repr(settings) + repr(settings.channels) + str(settings)
    assert not any(credential in shown for credential in CREDENTIALS), shown
    assert "open.feishu.cn" in repr(fs)


async def test_the_app_hands_each_robot_its_secret_and_format(tmp_path: Path) -> None:
    app = App(load_config(write(tmp_path, ROBOTS), env=ENV))
    await app.open(receive_commands=False)
    try:
        feishu, wecom, dingtalk = (getattr(app.channels[name], "sender", app.channels[name])
                                   for name in ("feishu", "wecom", "dingtalk"))
        assert feishu.webhook(FEISHU_URL).secret == "feishu-sign-secret"
        assert wecom.webhook(WECOM_URL).format == "text"
        assert dingtalk.webhook(DINGTALK_URL).secret == "SECdingtalk-secret"
    finally:
        await app.close()


def test_wrong_robot_entries_are_reported_without_their_credentials(tmp_path: Path,
                                                                    caplog: pytest.LogCaptureFixture) -> None:
    text = ROBOTS.replace("format: text", "format: html, secret: x1y2z3w4").replace(
        "/open-apis/bot/v2/hook/", "/open-apis/bot/v3/hook/")
    with caplog.at_level(logging.DEBUG):
        error = config_error(write(tmp_path, text), env={**ENV, "FEISHU_WEBHOOK_URL": FEISHU_URL.replace(
            "/v2/", "/v3/")})
    assert "custom bot webhook" in problem_at(error, "channels[0].webhook")
    assert "markdown | text" in problem_at(error, "channels[1].format")
    assert "not a key of a wecom channel" in problem_at(error, "channels[1].secret")
    shown = str(error) + caplog.text
    assert not any(credential in shown for credential in CREDENTIALS), shown


def test_a_robot_channel_needs_its_webhook(tmp_path: Path) -> None:
    error = config_error(write(tmp_path, "version: 1\nchannels:\n  - {name: dd, platform: dingtalk}\n"))
    assert "required for a dingtalk channel" in problem_at(error, "channels[0].webhook")


def test_feishu_commands_need_all_three_app_keys(tmp_path: Path) -> None:
    error = config_error(write(tmp_path, ROBOTS + "feishu: {app_id: cli_x, app_secret: s3cr3t-value}\n"), env=ENV)
    assert "required for commands" in problem_at(error, "feishu.verification_token")
    assert "s3cr3t-value" not in str(error)


def test_the_example_config_documents_the_robots() -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    for key in ("feishu:", "app_id:", "app_secret:", "verification_token:", "encrypt_key:", "wecom:", "dingtalk:",
                "webhook:", "secret:", "format:"):
        assert key in text, f"config.example.yaml does not document {key}"


async def test_feishu_commands_join_the_one_server_and_robots_without_channels_stay_closed(tmp_path: Path) -> None:
    text = ("version: 1\ndigests: {source: ./digests}\nstore: \"memory://\"\n"
            "feishu: {app_id: cli_x, app_secret: app-secret-x, verification_token: token-x}\n")
    app = App(load_config(write(tmp_path, text), env={}))
    await app.open()
    try:
        assert "feishu" in app.channels and not {"wecom", "dingtalk"} & set(app.channels)
        routes = [route.path for receiver in app.receivers for route in receiver.routes()]
        assert "/feishu/events" in routes
    finally:
        await app.close()
