"""The Discord platform: webhooks for digests, interactions for commands; limits load at once, the rest on use."""

from __future__ import annotations
