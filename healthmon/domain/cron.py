"""A five-field cron expression (minute hour day-of-month month day-of-week), parsed into sets of values.

Pure; used by maintenance windows (healthmon.domain.maintenance) to say when a recurring window starts.
Each field is `*`, a value, a range `a-b`, any of those with a step `/n`, or a comma list of them. Months
and weekdays also take their English three-letter names (`jan`, `mon`, case-insensitive); a weekday is
0-7 with 0 and 7 both Sunday. As in Vixie cron, when both day-of-month and day-of-week are restricted
(neither starts with `*`) a day matches if EITHER matches: `0 2 1 * mon` is the 1st and every Monday.
No `@daily`, `L`, `W`, `#` or `?`: a window's schedule needs none of them.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_FIELDS = (("minute", 0, 59, ()), ("hour", 0, 23, ()), ("day of month", 1, 31, ()),
           ("month", 1, 12, MONTHS), ("day of week", 0, 7, WEEKDAYS))


_DIGITS = re.compile(r"[0-9]+")


class CronError(ValueError):
    """An expression that is not five valid fields; the message names the field and the problem."""


@dataclass(frozen=True)
class Cron:
    """A parsed expression. `weekdays` uses Python's numbering (Monday 0 .. Sunday 6)."""

    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]
    days_restricted: bool
    weekdays_restricted: bool

    def matches_day(self, day: dt.date) -> bool:
        """Whether `day` (a local calendar date) is one of the expression's days."""
        if day.month not in self.months:
            return False
        in_days, in_weekdays = day.day in self.days, day.weekday() in self.weekdays
        if self.days_restricted and self.weekdays_restricted:
            return in_days or in_weekdays
        return in_days and in_weekdays

    def times(self) -> list[dt.time]:
        """The wall-clock times of a matching day, earliest first."""
        return [dt.time(h, m) for h in self.hours for m in self.minutes]


def _value(text: str, name: str, low: int, high: int, names: tuple[str, ...]) -> int:
    word = text.lower()
    if word in names:
        return names.index(word) + (1 if names is MONTHS else 0)
    if not _DIGITS.fullmatch(text):  # str.isdigit() also takes "²" and "٣", which int() then refuses
        raise CronError(f"{name}: {text!r} is not a number" + (" or a name" if names else ""))
    number = int(text)
    if not low <= number <= high:
        raise CronError(f"{name}: {number} is outside {low}-{high}")
    return number


def _field(text: str, name: str, low: int, high: int, names: tuple[str, ...]) -> set[int]:
    out: set[int] = set()
    for part in text.split(","):
        spread, _, step_text = part.partition("/")
        step = 1
        if step_text:
            if not _DIGITS.fullmatch(step_text) or int(step_text) < 1:
                raise CronError(f"{name}: step {step_text!r} must be a whole number of at least 1")
            step = int(step_text)
        if spread == "*":
            start, end = low, high
        elif "-" in spread:
            first, _, last = spread.partition("-")
            start, end = _value(first, name, low, high, names), _value(last, name, low, high, names)
            if start > end:
                raise CronError(f"{name}: range {spread!r} runs backwards")
        elif spread:
            start = _value(spread, name, low, high, names)
            end = high if step_text else start  # `5/15`: from 5 on, every 15
        else:
            raise CronError(f"{name}: empty list item")
        out.update(range(start, end + 1, step))
    return out


def parse(expression: str) -> Cron:
    """Parse `expression`; raises CronError naming the first bad field."""
    parts = expression.split()
    if len(parts) != len(_FIELDS):
        raise CronError(f"needs 5 fields (minute hour day-of-month month day-of-week), got {len(parts)}")
    values = [_field(text, *spec) for text, spec in zip(parts, _FIELDS, strict=True)]
    minutes, hours, days, months, cron_weekdays = values
    weekdays = frozenset((d - 1) % 7 for d in cron_weekdays)  # cron 0/7 Sunday -> Python 6
    return Cron(tuple(sorted(minutes)), tuple(sorted(hours)), frozenset(days), frozenset(months), weekdays,
                days_restricted=not parts[2].startswith("*"), weekdays_restricted=not parts[4].startswith("*"))
