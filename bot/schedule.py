"""Per-channel schedules ("HH:MM" daily or 5-field cron) in a time zone: pure due-time arithmetic.

A schedule names wall-clock slots (a time of day, or the minutes a cron expression matches). Each
slot becomes one instant in the schedule's time zone:

- a slot that happens twice (the clock falls back) is taken at its first occurrence (fold=0);
- a slot that never happens (the clock springs forward over it) is taken at the first instant after
  the gap, the moment the clock jumps (a daily 02:30 in New York on the spring-forward day fires at
  03:00 EDT), which is also where cron runs jobs from the skipped hour;
- several slots that land on the same instant fire once.

So a schedule never fires twice for one wall-clock slot and never skips a day. Nothing here reads
the clock or sleeps: every method takes the moment it reasons about.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from croniter import CroniterBadDateError, CroniterError, croniter

from bot.bounded import shown

# A channel's schedule, and a chat subscription's time, when the config names none.
DEFAULT_SCHEDULE = "09:30"
_DAILY = re.compile(r"(\d{1,2}):(\d{2})")
# Wall-clock slots within this distance of a moment's own wall time are examined. Offset changes
# (DST and one-off zone changes) are at most a few hours, so slots farther away are safely on the
# same side of the moment as their wall time suggests.
_MARGIN = dt.timedelta(hours=3)


def parse_daily_time(text: str) -> dt.time:
    """"9:30" / "09:30" → time(9, 30); ValueError with the expected format otherwise."""
    match = _DAILY.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"{shown(text)} is not a time of day: expected HH:MM, e.g. 09:30")
    hour, minute = int(match.group(1)), int(match.group(2))
    if hour > 23 or minute > 59:
        raise ValueError(f"{shown(text)} is not a time of day: hours run 00-23 and minutes 00-59")
    return dt.time(hour, minute)


def _require_aware(moment: dt.datetime) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{moment.isoformat()} has no time zone; schedules need an aware datetime")


def digest_date_for(moment: dt.datetime, tz: ZoneInfo) -> dt.date:
    """The calendar date ("today") at `moment` in time zone `tz`."""
    _require_aware(moment)
    return moment.astimezone(tz).date()


def wall_to_instant(wall: dt.datetime, tz: ZoneInfo) -> dt.datetime:
    """The instant a naive wall-clock time stands for in `tz`, resolved as the module docstring says."""
    first = wall.replace(tzinfo=tz, fold=0)
    instant = first.astimezone(dt.UTC).astimezone(tz)
    if instant.replace(tzinfo=None) == wall:
        return instant
    # In a gap fold=0 applies the offset from before the transition and fold=1 the one after, so
    # the transition lies between the two readings; bisect to the second (zones change on whole
    # seconds).
    low = int(wall.replace(tzinfo=tz, fold=1).timestamp())     # reads earlier than `wall`
    high = int(first.timestamp())                              # reads later than `wall`
    while high - low > 1:
        middle = (low + high) // 2
        if dt.datetime.fromtimestamp(middle, tz).replace(tzinfo=None) >= wall:
            high = middle
        else:
            low = middle
    return dt.datetime.fromtimestamp(high, tz)


@dataclass(frozen=True)
class Schedule:
    """A parsed schedule; `expr` is how it was written, kept for display and storage."""

    expr: str
    tz: ZoneInfo
    daily: dt.time | None = field(default=None, compare=False)

    @classmethod
    def parse(cls, expr: str, tz: ZoneInfo) -> Schedule:
        text = " ".join(expr.split())
        if not text:
            raise ValueError("empty schedule: expected HH:MM (daily) or a 5-field cron expression")
        if ":" in text and " " not in text:
            at = parse_daily_time(text)
            return cls(f"{at.hour:02d}:{at.minute:02d}", tz, at)
        fields = text.split(" ")
        if len(fields) != 5 or text.startswith("@"):
            raise ValueError(
                f"{shown(expr)} is not a schedule: expected HH:MM (daily) or a cron expression with "
                f"5 fields (minute hour day-of-month month day-of-week), e.g. '30 9 * * 1-5'"
            )
        try:
            probe = croniter(text, dt.datetime(2000, 1, 1))
            probe.get_next(dt.datetime)
        except CroniterBadDateError:
            raise ValueError(f"{shown(expr)} never matches a real date") from None
        except (CroniterError, ValueError, KeyError) as exc:
            raise ValueError(f"{shown(expr)} is not a valid cron expression: {str(exc)[:120]}") from None
        return cls(text, tz)

    def __str__(self) -> str:
        return self.expr

    # -- wall-clock slots ---------------------------------------------------------------------
    def _slots_after(self, wall: dt.datetime) -> Iterator[dt.datetime]:
        """Naive wall-clock slots strictly after `wall`, ascending."""
        if self.daily is not None:
            day = wall.date()
            while True:
                slot = dt.datetime.combine(day, self.daily)
                if slot > wall:
                    yield slot
                day += dt.timedelta(days=1)
        else:
            cron = croniter(self.expr, wall)
            while True:
                yield cron.get_next(dt.datetime)

    def _slots_before(self, wall: dt.datetime) -> Iterator[dt.datetime]:
        """Naive wall-clock slots strictly before `wall`, descending."""
        if self.daily is not None:
            day = wall.date()
            while True:
                slot = dt.datetime.combine(day, self.daily)
                if slot < wall:
                    yield slot
                day -= dt.timedelta(days=1)
        else:
            cron = croniter(self.expr, wall)
            while True:
                yield cron.get_prev(dt.datetime)

    def _wall(self, moment: dt.datetime) -> dt.datetime:
        _require_aware(moment)
        return moment.astimezone(self.tz).replace(tzinfo=None, fold=0)

    # -- due instants -------------------------------------------------------------------------
    def next_after(self, moment: dt.datetime) -> dt.datetime:
        """The first due instant strictly after `moment`, in the schedule's time zone."""
        # Slot → instant is non-decreasing, so the first slot whose instant passes `moment` wins.
        # Compare in UTC: aware datetimes sharing a tzinfo compare by wall time, ignoring fold.
        limit = moment.astimezone(dt.UTC)
        for slot in self._slots_after(self._wall(moment) - _MARGIN):
            instant = wall_to_instant(slot, self.tz)
            if instant.astimezone(dt.UTC) > limit:
                return instant
        raise AssertionError("unreachable: slot iteration is endless")  # pragma: no cover

    def latest_at_or_before(self, moment: dt.datetime) -> dt.datetime | None:
        """The most recent due instant at or before `moment` (for catch-up); None if there is none."""
        limit = moment.astimezone(dt.UTC)
        try:
            for slot in self._slots_before(self._wall(moment) + _MARGIN):
                instant = wall_to_instant(slot, self.tz)
                if instant.astimezone(dt.UTC) <= limit:
                    return instant
        except CroniterBadDateError:
            return None
        raise AssertionError("unreachable: slot iteration is endless")  # pragma: no cover

    def due_between(self, after: dt.datetime, until: dt.datetime) -> list[dt.datetime]:
        """Every due instant in (after, until], ascending (what a downtime missed)."""
        due: list[dt.datetime] = []
        moment = after
        limit = until.astimezone(dt.UTC)
        while True:
            instant = self.next_after(moment)
            if instant.astimezone(dt.UTC) > limit:
                return due
            due.append(instant)
            moment = instant
