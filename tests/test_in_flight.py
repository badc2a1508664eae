"""Deliveries one process has under way at once: `delivery.in_flight`, or sized from the platforms' ceilings."""

from __future__ import annotations

import math
from pathlib import Path

from bot.app import App
from bot.delivery_settings import IN_FLIGHT_FLOOR, PROCESS_RATE, DeliverySettings, deliveries_to_fill, in_flight_for
from bot.platforms.slack import SlackRateLimit
from bot.platforms.telegram import TelegramRateLimits
from tests.test_config import BASE, config_error, problem_at, write
from tests.test_config import load_config as load

TOKEN = "123456789:AAHk-in-flight-test-token-0123456789abcd"


def test_a_ceiling_of_tens_a_second_keeps_the_floor() -> None:
    # 30 a second overall, a message a second per chat: 30 chats at once fill it.
    assert deliveries_to_fill(TelegramRateLimits()) == 30
    # Scaled, the ceiling rises and each chat's pace quickens alike.
    assert deliveries_to_fill(TelegramRateLimits().scaled(4)) == 30
    assert in_flight_for(DeliverySettings(), [TelegramRateLimits()]) == IN_FLIGHT_FLOOR


def test_paid_broadcasts_keep_as_many_under_way_as_one_process_can_send() -> None:
    paid = TelegramRateLimits.broadcasting(True)
    # 1,000 a second is more than one process sends: it keeps enough for its own rate.
    assert deliveries_to_fill(paid) == PROCESS_RATE
    assert in_flight_for(DeliverySettings(), [TelegramRateLimits(), paid]) == PROCESS_RATE
    # Each chat four times as fast: a quarter as many deliveries keep the process as busy.
    assert deliveries_to_fill(paid.scaled(4)) == math.ceil(PROCESS_RATE / 4)


def test_windows_without_a_whole_bot_ceiling_ask_for_nothing() -> None:
    assert deliveries_to_fill(SlackRateLimit()) == 0
    assert in_flight_for(DeliverySettings(), [SlackRateLimit()]) == IN_FLIGHT_FLOOR
    assert in_flight_for(DeliverySettings(), []) == IN_FLIGHT_FLOOR


def test_the_configured_number_wins_and_must_be_positive(tmp_path: Path) -> None:
    settings = load(write(tmp_path, BASE + "delivery: {in_flight: 500}\n"), env={}).delivery
    assert settings.in_flight == 500
    assert in_flight_for(settings, [TelegramRateLimits.broadcasting(True)]) == 500
    assert load(write(tmp_path, BASE), env={}).delivery.in_flight == 0
    for wrong in ("0", "-3", "lots"):
        error = config_error(write(tmp_path, BASE + f"delivery: {{in_flight: {wrong}}}\n"))
        assert problem_at(error, "delivery.in_flight")


async def test_the_app_sizes_its_deliveries_in_flight_from_telegram_s_ceiling(tmp_path: Path) -> None:
    for paid, expected in ((False, IN_FLIGHT_FLOOR), (True, PROCESS_RATE)):
        text = BASE + f"store: 'memory://'\ntelegram: {{token: '{TOKEN}', updates: 'off', paid_broadcast: {paid}}}\n"
        app = App(load(write(tmp_path, text), env={}))
        await app.open(receive_commands=False)
        try:
            assert "telegram" in app.channels
            assert app.deliveries_in_flight() == expected
        finally:
            await app.close()
