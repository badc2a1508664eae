"""The WeCom (企业微信) platform: group-robot markdown or text posted through webhooks."""
