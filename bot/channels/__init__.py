"""Platform adapters: send payloads, receive commands, translate SDK errors into the bot's own."""
