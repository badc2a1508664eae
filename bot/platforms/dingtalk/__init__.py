"""The DingTalk (钉钉) platform: custom-robot markdown posted through signed webhooks."""
