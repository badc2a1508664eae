"""The one place where WeCom's answers become the bot's SendError family: errcodes as data."""

from __future__ import annotations

from bot.platforms.webhook import AnswerCodes
from bot.platforms.wecom.limits import PLATFORM

RATE_LIMITED = 45009        # "api freq out of limit"
TOO_LONG = 40058            # content over 4,096 bytes (markdown) or 2,048 (text)
BAD_WEBHOOK = 93000         # "invalid webhook url": the robot was removed or the key is wrong

CODES = AnswerCodes(
    platform=PLATFORM,
    code_keys=("errcode",),
    message_keys=("errmsg",),
    rate_limited=frozenset({RATE_LIMITED}),
    gone=frozenset({BAD_WEBHOOK}),
    # 40008 invalid message type, 44004 empty content: like 40058, the payload itself is wrong.
    defects=frozenset({TOO_LONG, 40008, 44004}),
    fixes={},
)
