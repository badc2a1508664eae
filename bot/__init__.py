"""digestbot: delivers a daily news digest into Telegram and Slack chats."""

__version__ = "0.1.0"
