"""Old path of the Slack adapter, kept until its importers move to bot.platforms.slack."""
from bot.platforms.slack import *  # noqa: F403
from bot.platforms.slack import __all__  # noqa: F401
