"""Tags and keys of monitors: the rules, as pure functions (the API's schemas and `healthmon apply` share them).

- A tag is 1-50 characters of `[a-z0-9][a-z0-9_.:-]*` once lower-cased (`Prod` is stored as `prod`), so a
  tag is safe in a URL query, a file name and a status page heading without escaping. A monitor has at
  most 20, stored de-duplicated in the order first given.
- A key is the stable name a config file gives a monitor: 1-100 characters of `[A-Za-z0-9][A-Za-z0-9_.-]*`,
  unique among monitors, changeable (a rename is a PATCH), case-sensitive. `monitor-<digits>` is reserved:
  `healthmon export` writes it for a monitor without a key, and `healthmon apply` reads it as "the monitor
  with this id", so an exported file applies without changing anything.
"""

from __future__ import annotations

import re

TAG_PATTERN = r"^[a-z0-9][a-z0-9_.:-]*$"
MAX_TAG_LENGTH = 50
MAX_TAGS = 20
_TAG = re.compile(TAG_PATTERN)

KEY_PATTERN = r"^(?!monitor-[0-9]+$)[A-Za-z0-9][A-Za-z0-9_.-]*$"
"""A key as stored: the reserved id form `monitor-<digits>` excluded."""
ANY_KEY_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"
"""A key as a request may name one: stored keys and the reserved `monitor-<digits>`."""
MAX_KEY_LENGTH = 100
_KEY = re.compile(ANY_KEY_PATTERN)
_ID_KEY = re.compile(r"^monitor-([0-9]{1,10})$")


class TagProblem(ValueError):
    """A tag list or key that breaks the rules; the message says which rule."""


def normalise_tag(value: str) -> str:
    """`value` lower-cased, or TagProblem when it is not a valid tag."""
    tag = value.lower()
    if not 1 <= len(tag) <= MAX_TAG_LENGTH:
        raise TagProblem(f"{value!r}: a tag has 1 to {MAX_TAG_LENGTH} characters")
    if not _TAG.fullmatch(tag):
        raise TagProblem(f"{value!r}: a tag starts with a letter or digit and has only a-z, 0-9, _ . : -")
    return tag


def normalise_tags(values: list[str]) -> list[str]:
    """Each tag lower-cased, duplicates dropped (the first kept, order kept); at most MAX_TAGS after that."""
    out: list[str] = []
    for value in values:
        tag = normalise_tag(value)
        if tag not in out:
            out.append(tag)
    if len(out) > MAX_TAGS:
        raise TagProblem(f"at most {MAX_TAGS} tags ({len(out)} given)")
    return out


def key_problem(value: str) -> str | None:
    """Why `value` cannot be a stored key, or None."""
    if not 1 <= len(value) <= MAX_KEY_LENGTH:
        return f"a key has 1 to {MAX_KEY_LENGTH} characters"
    if not _KEY.fullmatch(value):
        return "a key starts with a letter or digit and has only A-Z, a-z, 0-9, _ . -"
    if id_of_key(value) is not None:
        return "monitor-<id> is reserved: it names the monitor with that id (healthmon export writes it)"
    return None


def id_of_key(value: str) -> int | None:
    """The id a reserved `monitor-<id>` key names, else None."""
    match = _ID_KEY.fullmatch(value)
    return int(match[1]) if match else None


def export_key(key: str | None, monitor_id: int) -> str:
    """The key `healthmon export` writes: the monitor's own, else the reserved `monitor-<id>`."""
    return key if key else f"monitor-{monitor_id}"
