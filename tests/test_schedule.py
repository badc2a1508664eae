"""Schedules: daily and cron due times in several zones, across DST changes, and catch-up."""

from __future__ import annotations

import datetime as dt
import itertools
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.schedule import Schedule, digest_date_for, parse_daily_time, wall_to_instant

NEW_YORK = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")
SHANGHAI = ZoneInfo("Asia/Shanghai")
UTC = dt.UTC
ZONES = [NEW_YORK, BERLIN, SHANGHAI]


def at(tz: ZoneInfo, year: int, month: int, day: int, hour: int, minute: int, second: int = 0,
       fold: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, second, tzinfo=tz, fold=fold)


def utc(moment: dt.datetime | None) -> dt.datetime:
    assert moment is not None
    # Aware datetimes sharing a tzinfo compare by wall time (fold ignored); UTC makes them exact.
    return moment.astimezone(UTC)


def firings(schedule: Schedule, start: dt.datetime, end: dt.datetime) -> list[dt.datetime]:
    return schedule.due_between(start, end)


# -- parsing ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "expected"), [("09:30", "09:30"), ("9:30", "09:30"), (" 00:00 ", "00:00"),
                                                ("23:59", "23:59")])
def test_daily_times_are_normalised(text: str, expected: str) -> None:
    assert Schedule.parse(text, SHANGHAI).expr == expected


@pytest.mark.parametrize("text", ["0 10 * * 1-5", "*/15 * * * *", "30  9 * * *", "0 0 29 2 *"])
def test_cron_expressions_are_accepted(text: str) -> None:
    schedule = Schedule.parse(text, BERLIN)
    assert schedule.daily is None
    assert str(schedule) == " ".join(text.split())


@pytest.mark.parametrize(("text", "fragment"), [
    ("24:00", "00-23"),
    ("09:60", "00-59"),
    ("9.30", "expected HH:MM"),
    ("", "empty schedule"),
    ("0 10 * *", "5 fields"),
    ("0 0 10 * * *", "5 fields"),
    ("@daily", "5 fields"),
    ("61 * * * *", "not a valid cron expression"),
    ("0 0 30 2 *", "never matches"),
    ("every day", "expected HH:MM"),
])
def test_bad_schedules_say_what_is_expected(text: str, fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        Schedule.parse(text, NEW_YORK)


def test_parse_daily_time_rejects_extra_text() -> None:
    assert parse_daily_time("07:05") == dt.time(7, 5)
    with pytest.raises(ValueError, match="HH:MM"):
        parse_daily_time("07:05 pm")


# -- daily ------------------------------------------------------------------------------------

@pytest.mark.parametrize("tz", ZONES, ids=lambda tz: tz.key)
def test_daily_next_after_same_day_and_next_day(tz: ZoneInfo) -> None:
    schedule = Schedule.parse("09:30", tz)
    assert schedule.next_after(at(tz, 2025, 6, 2, 8, 0)) == at(tz, 2025, 6, 2, 9, 30)
    # Strictly after: a moment exactly at the due time moves on to the next day.
    assert schedule.next_after(at(tz, 2025, 6, 2, 9, 30)) == at(tz, 2025, 6, 3, 9, 30)
    # The moment may be given in any zone; the answer is in the schedule's zone.
    moment = at(tz, 2025, 6, 2, 10, 0).astimezone(UTC)
    answer = schedule.next_after(moment)
    assert answer.tzinfo is tz
    assert answer == at(tz, 2025, 6, 3, 9, 30)


@pytest.mark.parametrize("tz", ZONES, ids=lambda tz: tz.key)
@pytest.mark.parametrize("time_of_day", ["00:00", "01:30", "02:00", "02:30", "03:00", "09:30", "23:59"])
def test_daily_fires_exactly_once_every_local_day_for_a_year(tz: ZoneInfo, time_of_day: str) -> None:
    schedule = Schedule.parse(time_of_day, tz)
    due = firings(schedule, at(tz, 2024, 12, 31, 23, 59, 30), at(tz, 2025, 12, 31, 23, 59, 30))
    dates = [instant.astimezone(tz).date() for instant in due]
    assert dates == [dt.date(2025, 1, 1) + dt.timedelta(days=n) for n in range(365)]
    assert all(utc(later) > utc(earlier) for earlier, later in itertools.pairwise(due))


def test_daily_in_new_york_across_spring_forward_fires_at_the_jump() -> None:
    schedule = Schedule.parse("02:30", NEW_YORK)
    due = firings(schedule, at(NEW_YORK, 2025, 3, 8, 12, 0), at(NEW_YORK, 2025, 3, 10, 12, 0))
    # 2025-03-09 02:30 does not exist in New York (02:00 EST → 03:00 EDT).
    assert [d.astimezone(UTC) for d in due] == [
        dt.datetime(2025, 3, 9, 7, 0, tzinfo=UTC),      # 03:00 EDT, the first instant after the gap
        dt.datetime(2025, 3, 10, 6, 30, tzinfo=UTC),    # 02:30 EDT
    ]
    assert due[0].astimezone(NEW_YORK).strftime("%H:%M %Z") == "03:00 EDT"


def test_daily_in_new_york_across_fall_back_fires_at_the_first_occurrence() -> None:
    schedule = Schedule.parse("01:30", NEW_YORK)
    due = firings(schedule, at(NEW_YORK, 2025, 11, 1, 12, 0), at(NEW_YORK, 2025, 11, 3, 12, 0))
    assert [d.astimezone(UTC) for d in due] == [
        dt.datetime(2025, 11, 2, 5, 30, tzinfo=UTC),    # 01:30 EDT; 01:30 EST an hour later is skipped
        dt.datetime(2025, 11, 3, 6, 30, tzinfo=UTC),
    ]
    # Asking during the second 01:xx hour does not produce a second firing that day.
    second_pass = at(NEW_YORK, 2025, 11, 2, 1, 15, fold=1)
    assert utc(schedule.next_after(second_pass)) == utc(due[1])
    assert utc(schedule.latest_at_or_before(second_pass)) == utc(due[0])


def test_daily_in_berlin_across_both_changes() -> None:
    schedule = Schedule.parse("02:30", BERLIN)
    spring = firings(schedule, at(BERLIN, 2025, 3, 29, 12, 0), at(BERLIN, 2025, 3, 30, 12, 0))
    assert [d.astimezone(UTC) for d in spring] == [dt.datetime(2025, 3, 30, 1, 0, tzinfo=UTC)]  # 03:00 CEST
    autumn = firings(schedule, at(BERLIN, 2025, 10, 25, 12, 0), at(BERLIN, 2025, 10, 26, 12, 0))
    assert [d.astimezone(UTC) for d in autumn] == [dt.datetime(2025, 10, 26, 0, 30, tzinfo=UTC)]  # CEST


def test_daily_in_shanghai_is_always_24_hours_apart() -> None:
    schedule = Schedule.parse("09:30", SHANGHAI)
    due = firings(schedule, at(SHANGHAI, 2025, 1, 1, 0, 0), at(SHANGHAI, 2025, 12, 31, 23, 0))
    gaps = {utc(later) - utc(earlier) for earlier, later in itertools.pairwise(due)}
    assert gaps == {dt.timedelta(hours=24)}
    assert due[0].astimezone(UTC) == dt.datetime(2025, 1, 1, 1, 30, tzinfo=UTC)


# -- cron -------------------------------------------------------------------------------------

def test_cron_on_the_new_york_spring_forward_day_never_fires_twice() -> None:
    schedule = Schedule.parse("*/30 * * * *", NEW_YORK)
    due = firings(schedule, at(NEW_YORK, 2025, 3, 8, 23, 59), at(NEW_YORK, 2025, 3, 9, 23, 59))
    # 48 wall slots; 02:00 and 02:30 do not exist and coincide with 03:00, which fires once.
    assert len(due) == 46
    assert len(set(due)) == len(due)
    walls = [d.astimezone(NEW_YORK).strftime("%H:%M") for d in due]
    assert walls[3:6] == ["01:30", "03:00", "03:30"]


def test_cron_on_the_new_york_fall_back_day_skips_the_repeated_hour() -> None:
    schedule = Schedule.parse("*/30 * * * *", NEW_YORK)
    due = firings(schedule, at(NEW_YORK, 2025, 11, 1, 23, 59), at(NEW_YORK, 2025, 11, 2, 23, 59))
    walls = [d.astimezone(NEW_YORK).strftime("%H:%M") for d in due]
    assert len(due) == 48                       # the day has 25 hours but 48 distinct wall slots
    assert len(set(walls)) == 48
    assert [d.utcoffset() for d in due[2:5]] == [dt.timedelta(hours=-4)] * 2 + [dt.timedelta(hours=-5)]


def test_cron_in_berlin_across_both_changes() -> None:
    schedule = Schedule.parse("15 2 * * *", BERLIN)
    spring = schedule.next_after(at(BERLIN, 2025, 3, 30, 0, 0))
    assert spring.astimezone(UTC) == dt.datetime(2025, 3, 30, 1, 0, tzinfo=UTC)
    autumn = firings(schedule, at(BERLIN, 2025, 10, 26, 0, 0), at(BERLIN, 2025, 10, 26, 23, 0))
    assert [d.astimezone(UTC) for d in autumn] == [dt.datetime(2025, 10, 26, 0, 15, tzinfo=UTC)]


def test_cron_weekdays_skip_the_weekend() -> None:
    schedule = Schedule.parse("0 10 * * 1-5", NEW_YORK)
    friday_noon = at(NEW_YORK, 2025, 9, 26, 12, 0)
    assert schedule.next_after(friday_noon) == at(NEW_YORK, 2025, 9, 29, 10, 0)
    sunday = at(NEW_YORK, 2025, 9, 28, 18, 0)
    assert schedule.latest_at_or_before(sunday) == at(NEW_YORK, 2025, 9, 26, 10, 0)


def test_cron_shanghai_and_new_york_name_different_instants() -> None:
    moment = dt.datetime(2025, 9, 25, 0, 0, tzinfo=UTC)
    shanghai = Schedule.parse("0 10 * * *", SHANGHAI).next_after(moment)
    new_york = Schedule.parse("0 10 * * *", NEW_YORK).next_after(moment)
    assert shanghai.astimezone(UTC) == dt.datetime(2025, 9, 25, 2, 0, tzinfo=UTC)
    assert new_york.astimezone(UTC) == dt.datetime(2025, 9, 25, 14, 0, tzinfo=UTC)


def test_rare_cron_looks_back_years() -> None:
    schedule = Schedule.parse("0 9 29 2 *", SHANGHAI)
    assert schedule.latest_at_or_before(at(SHANGHAI, 2027, 1, 1, 0, 0)) == at(SHANGHAI, 2024, 2, 29, 9, 0)
    assert schedule.next_after(at(SHANGHAI, 2024, 3, 1, 0, 0)) == at(SHANGHAI, 2028, 2, 29, 9, 0)


# -- catch-up ---------------------------------------------------------------------------------

@pytest.mark.parametrize("tz", ZONES, ids=lambda tz: tz.key)
def test_latest_at_or_before_includes_the_exact_instant(tz: ZoneInfo) -> None:
    schedule = Schedule.parse("09:30", tz)
    due = at(tz, 2025, 9, 25, 9, 30)
    assert schedule.latest_at_or_before(due) == due
    assert schedule.latest_at_or_before(due - dt.timedelta(seconds=1)) == at(tz, 2025, 9, 24, 9, 30)


def test_catch_up_after_downtime_finds_the_missed_delivery() -> None:
    schedule = Schedule.parse("09:30", BERLIN)
    went_down = at(BERLIN, 2025, 9, 25, 8, 0)
    came_back = at(BERLIN, 2025, 9, 25, 11, 0)
    missed = schedule.latest_at_or_before(came_back)
    assert missed is not None
    assert went_down < missed <= came_back
    assert came_back - missed == dt.timedelta(hours=1, minutes=30)     # within a 6-hour catch-up window
    assert schedule.due_between(went_down, came_back) == [missed]


def test_catch_up_over_a_dst_change_counts_real_hours() -> None:
    # Down over the New York spring-forward night: the 03:00 EDT firing was missed, and it is
    # less than an hour old at 03:50 even though the wall clock says 02:30 was "an hour ago".
    schedule = Schedule.parse("02:30", NEW_YORK)
    came_back = at(NEW_YORK, 2025, 3, 9, 3, 50)
    missed = schedule.latest_at_or_before(came_back)
    assert missed is not None
    assert came_back - missed == dt.timedelta(minutes=50)


def test_due_between_over_several_days_lists_each_once() -> None:
    schedule = Schedule.parse("0 10 * * 1-5", NEW_YORK)
    missed = schedule.due_between(at(NEW_YORK, 2025, 10, 31, 11, 0), at(NEW_YORK, 2025, 11, 5, 9, 0))
    assert missed == [at(NEW_YORK, 2025, 11, 3, 10, 0), at(NEW_YORK, 2025, 11, 4, 10, 0)]


def test_naive_moments_are_refused() -> None:
    schedule = Schedule.parse("09:30", SHANGHAI)
    with pytest.raises(ValueError, match="no time zone"):
        schedule.next_after(dt.datetime(2025, 9, 25, 9, 0))
    with pytest.raises(ValueError, match="no time zone"):
        digest_date_for(dt.datetime(2025, 9, 25, 9, 0), SHANGHAI)


# -- "today" ----------------------------------------------------------------------------------

def test_today_near_midnight_differs_by_zone() -> None:
    moment = dt.datetime(2025, 9, 25, 16, 30, tzinfo=UTC)
    assert digest_date_for(moment, SHANGHAI) == dt.date(2025, 9, 26)      # 00:30 CST
    assert digest_date_for(moment, BERLIN) == dt.date(2025, 9, 25)        # 18:30 CEST
    assert digest_date_for(moment, NEW_YORK) == dt.date(2025, 9, 25)      # 12:30 EDT
    late = dt.datetime(2025, 9, 26, 3, 59, tzinfo=UTC)
    assert digest_date_for(late, NEW_YORK) == dt.date(2025, 9, 25)        # 23:59 EDT
    assert digest_date_for(late + dt.timedelta(minutes=1), NEW_YORK) == dt.date(2025, 9, 26)


def test_wall_to_instant_resolves_gaps_and_folds() -> None:
    gap = wall_to_instant(dt.datetime(2025, 3, 30, 2, 45), BERLIN)
    assert gap == at(BERLIN, 2025, 3, 30, 3, 0)
    folded = wall_to_instant(dt.datetime(2025, 10, 26, 2, 45), BERLIN)
    assert folded.utcoffset() == dt.timedelta(hours=2)


# -- properties -------------------------------------------------------------------------------

CHANGES = [dt.datetime(2025, 3, 9, 7, 0, tzinfo=UTC), dt.datetime(2025, 11, 2, 6, 0, tzinfo=UTC),
           dt.datetime(2025, 3, 30, 1, 0, tzinfo=UTC), dt.datetime(2025, 10, 26, 1, 0, tzinfo=UTC)]
moments = st.one_of(
    st.datetimes(min_value=dt.datetime(2024, 1, 1), max_value=dt.datetime(2027, 12, 31), timezones=st.just(UTC)),
    # Most interesting: the hours around the DST changes of New York and Berlin.
    st.builds(lambda change, minutes: change + dt.timedelta(minutes=minutes),
              st.sampled_from(CHANGES), st.integers(-300, 300)),
)
expressions = st.one_of(
    st.builds(lambda h, m: f"{h:02d}:{m:02d}", st.integers(0, 23), st.integers(0, 59)),
    st.sampled_from(["*/20 * * * *", "0 10 * * 1-5", "30 1,2,3 * * *", "0 2 * * 0"]),
)


@settings(max_examples=300, deadline=None)
@given(moment=moments, expr=expressions, tz=st.sampled_from(ZONES))
def test_next_and_latest_bracket_every_moment(moment: dt.datetime, expr: str, tz: ZoneInfo) -> None:
    schedule = Schedule.parse(expr, tz)
    following = schedule.next_after(moment)
    latest = schedule.latest_at_or_before(moment)
    assert latest is not None
    assert utc(latest) <= moment < utc(following)
    # Nothing is due strictly between the two, and each is reachable from the other.
    assert utc(schedule.next_after(latest)) == utc(following)
    assert utc(schedule.latest_at_or_before(following)) == utc(following)


def test_a_huge_schedule_is_quoted_short_in_its_error() -> None:
    for text in ("9" * 10_000 + ":30", "x" * 10_000, "* * * * " + "9" * 10_000):
        with pytest.raises(ValueError) as error:
            Schedule.parse(text, ZoneInfo("UTC"))
        assert len(str(error.value)) < 400
