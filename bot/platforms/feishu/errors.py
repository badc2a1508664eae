"""The one place where Feishu's answers become the bot's SendError family: codes as data, each with its fix."""

from __future__ import annotations

from bot.platforms.feishu.limits import PLATFORM
from bot.platforms.webhook import AnswerCodes

RATE_LIMITED = 9499        # "too many request"
FREQUENCY_LIMITED = 11232
BAD_SIGNATURE = 19021
IP_REFUSED = 19022
KEYWORD_MISSING = 19024
BAD_WEBHOOK = 19001        # "param invalid: incoming webhook access token invalid"
# The app API: a tenant_access_token that is no longer valid (expired early, or revoked).
TOKEN_INVALID = frozenset({99991661, 99991663, 99991668})

CODES = AnswerCodes(
    platform=PLATFORM,
    # Older robots answer {"StatusCode": 0, "StatusMessage": "success"}.
    code_keys=("code", "StatusCode"),
    message_keys=("msg", "StatusMessage"),
    rate_limited=frozenset({RATE_LIMITED, FREQUENCY_LIMITED}),
    gone=frozenset({BAD_WEBHOOK}),
    defects=frozenset(),
    fixes={
        BAD_SIGNATURE: "set the channel's `secret` to the robot's signing secret (the group's Settings → Bots → "
                       "the robot → Security settings → Set signature verification), or turn signing off there; "
                       "this server's clock must also be right within an hour",
        KEYWORD_MISSING: "the robot's security settings require a custom keyword in every message: remove the "
                         "keyword there, or use a word every digest contains (such as the digest's title)",
        IP_REFUSED: "the robot only takes posts from its IP allowlist: add this server's public IP there",
    },
)

# The app API (tenant_access_token, message replies) answers HTTP 4xx with a JSON code as well.
APP_RATE_LIMITED = 99991400
APP_CODES = AnswerCodes(
    platform=PLATFORM,
    code_keys=("code",),
    message_keys=("msg",),
    rate_limited=frozenset({APP_RATE_LIMITED}),
    # 230002: the bot is not in the chat any more; 230011: the message replied to was withdrawn.
    gone=frozenset({230002, 230011}),
    defects=frozenset({230001, 230025}),
    fixes={
        10014: "feishu.app_secret is not this app's secret (Developer Console → the app → Credentials)",
        10003: "feishu.app_id names no app (Developer Console → the app → Credentials)",
        230027: "the app lacks the permission to send messages (im:message:send_as_bot): add it and "
                "publish a new version of the app",
    },
)
