"""The one place where DingTalk's answers become the bot's SendError family: errcodes as data, with fixes."""

from __future__ import annotations

from bot.platforms.dingtalk.limits import PLATFORM
from bot.platforms.webhook import AnswerCodes

SEND_TOO_FAST = 130101      # over 20 a minute: the robot is throttled for ten minutes
SECURITY_CHECK = 310000     # signature, keyword or IP allowlist check failed
BAD_TOKEN = 300001          # "token is not exist": the robot was removed or the token is wrong
ROBOT_STOPPED = 400102
TOO_LONG = 460101

CODES = AnswerCodes(
    platform=PLATFORM,
    code_keys=("errcode",),
    message_keys=("errmsg",),
    rate_limited=frozenset({SEND_TOO_FAST}),
    gone=frozenset({BAD_TOKEN, ROBOT_STOPPED}),
    defects=frozenset({TOO_LONG}),
    fixes={
        SECURITY_CHECK: "the robot's security settings (group → Settings → Bots → the robot → Security "
                        "settings) must match the channel: with 加签 (signing) set the channel's `secret` to the "
                        "SEC… secret shown there; with a custom keyword, every message must contain it (use a "
                        "word every digest has, such as its title); with an IP allowlist, add this server's "
                        "public IP; this server's clock must also be right within an hour",
    },
)
