"""Posting to DingTalk custom robots: the access token kept secret, the query signed when a secret is set."""

from __future__ import annotations

import re
from collections.abc import Mapping

from bot.platforms.dingtalk.errors import CODES
from bot.platforms.dingtalk.limits import PACE, PLATFORM
from bot.platforms.dingtalk.signing import signed_url
from bot.platforms.webhook import RobotUrl, Webhook
from bot.platforms.webhook_sender import WebhookSender
from bot.render import Payload

ROBOT_URL = RobotUrl("https://oapi.dingtalk.com/robot/send?access_token=TOKEN",
                     re.compile(r"/robot/send/?"), query_key="access_token")


class DingTalkSender(WebhookSender):
    """The DingTalk Channel: one markdown message per payload through the robot the chat names.

    A 130101 answer throttles the robot for ten minutes: the sender holds every post to it until
    then and the deliverer resends the refused part after the same wait, so nothing is lost and,
    since DingTalk posted nothing, nothing repeats.
    """

    platform = PLATFORM
    codes = CODES
    default_pace = PACE

    def parse_webhook(self, url: str, options: Mapping[str, str]) -> Webhook:
        return ROBOT_URL.parse(url, options.get("secret", ""))

    def request(self, webhook: Webhook, payload: Payload) -> tuple[str, Payload]:
        return signed_url(webhook.url, webhook.secret, int(self.clock() * 1000)), payload
