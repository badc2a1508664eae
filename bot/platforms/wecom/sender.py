"""Posting to WeCom group robots: the `key` in the webhook URL is the credential and stays out of every log."""

from __future__ import annotations

import re

from bot.platforms.webhook import RobotUrl, Webhook
from bot.platforms.webhook_sender import WebhookSender
from bot.platforms.wecom.errors import CODES
from bot.platforms.wecom.limits import PACE, PLATFORM

ROBOT_URL = RobotUrl("https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=KEY",
                     re.compile(r"/cgi-bin/webhook/send/?"), query_key="key")


class WeComSender(WebhookSender):
    """The WeCom Channel: one markdown (or text) message per payload through the robot the chat names."""

    platform = PLATFORM
    codes = CODES
    default_pace = PACE

    def parse_webhook(self, url: str, secret: str) -> Webhook:
        # WeCom robots have no signing: a secret in the config means nothing to them.
        return ROBOT_URL.parse(url)
