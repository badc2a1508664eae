"""Feishu's own settings: the app bot that takes commands (optional), secrets kept out of repr()."""

from __future__ import annotations

from dataclasses import dataclass, field

DEFAULT_BASE_URL = "https://open.feishu.cn"
LARK_BASE_URL = "https://open.larksuite.com"


@dataclass(frozen=True, slots=True)
class FeishuSettings:
    """The `feishu:` section: an app bot subscribed to im.message.receive_v1 answers commands."""

    app_id: str = ""
    app_secret: str = field(default="", repr=False)
    verification_token: str = field(default="", repr=False)
    encrypt_key: str = field(default="", repr=False)       # set: events arrive encrypted
    base_url: str = DEFAULT_BASE_URL

    @property
    def configured(self) -> bool:
        """Commands need all three: who the app is, its secret for replies, and the token events carry."""
        return bool(self.app_id and self.app_secret and self.verification_token)
