"""The Feishu/Lark platform: custom-bot cards posted through webhooks, and app-bot commands."""
