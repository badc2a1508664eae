"""Socket Mode: commands and mentions over Slack's websocket, for workspaces without a public endpoint."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.async_client import AsyncBaseSocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse
from slack_sdk.web.async_client import AsyncWebClient

from bot.platforms.slack.receiver import SlackReceiver, command_invocation

log = logging.getLogger(__name__)


class SocketModeTransport:
    """One Socket Mode connection, made with the app token; its requests go to the receiver."""

    def __init__(self, app_token: str, web_client: AsyncWebClient, receiver: SlackReceiver) -> None:
        self._receiver = receiver
        self._socket = SocketModeClient(app_token, web_client=web_client, logger=log)
        self._socket.socket_mode_request_listeners.append(self._on_request)
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        # connect() retries until it succeeds; /readyz reports the wait instead of blocking start-up.
        self._task = asyncio.create_task(self._socket.connect())  # type: ignore[no-untyped-call]

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None
        with contextlib.suppress(Exception):
            await self._socket.close()  # type: ignore[no-untyped-call]

    def ready(self) -> bool:
        session = self._socket.current_session
        return session is not None and not session.closed and not self._socket.closed

    async def _on_request(self, client: AsyncBaseSocketModeClient, request: SocketModeRequest) -> None:
        if request.type == "slash_commands":
            invocation = command_invocation(request.payload)
            response = await self._receiver.responder.command_response(invocation) if invocation is not None else None
            await client.send_socket_mode_response(SocketModeResponse(request.envelope_id, payload=response))
            return
        # Everything else is acked at once, as Slack asks; only mentions need more.
        await client.send_socket_mode_response(SocketModeResponse(request.envelope_id))
        if request.type == "interactive":
            self._receiver.accept_interaction(request.payload)
        if request.type == "events_api" and request.payload.get("type") == "event_callback":
            await self._receiver.accept_event(request.payload, request.retry_attempt)
