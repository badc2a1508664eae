"""Posting to Feishu/Lark custom bots: the webhook's token kept secret, bodies signed when a secret is set."""

from __future__ import annotations

import re
from collections.abc import Mapping

from bot.platforms.feishu.errors import CODES
from bot.platforms.feishu.limits import PACE, PLATFORM
from bot.platforms.feishu.signing import signed_body
from bot.platforms.webhook import RobotUrl, Webhook
from bot.platforms.webhook_sender import WebhookSender
from bot.render import Payload

# open.feishu.cn for Feishu, open.larksuite.com for Lark: the same path on either host.
ROBOT_URL = RobotUrl("https://open.feishu.cn/open-apis/bot/v2/hook/TOKEN",
                     re.compile(r"/open-apis/bot/v2/hook/(?P<credential>[A-Za-z0-9_-]{1,200})/?"))


class FeishuSender(WebhookSender):
    """The Feishu Channel: one interactive card per payload through the robot the chat names."""

    platform = PLATFORM
    codes = CODES
    default_pace = PACE

    def parse_webhook(self, url: str, options: Mapping[str, str]) -> Webhook:
        return ROBOT_URL.parse(url, options.get("secret", ""))

    def request(self, webhook: Webhook, payload: Payload) -> tuple[str, Payload]:
        return webhook.url, signed_body(payload, webhook.secret, int(self.clock()))
