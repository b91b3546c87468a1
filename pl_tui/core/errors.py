"""The problems a user can act on, by whose move it is to fix them (no Textual, no Rich, no SQLite).

* :class:`UserInputError` — a value the user typed (an argument, a field in a modal) cannot be
  used. The core raises it while validating; the CLI exits 2 for its own arguments, the app
  shows the message beside the field.
* ``ledger.LedgerError`` — the ledger cannot be used (read-only, full, locked, corrupt, busy).
* ``config.ConfigError`` — the config file says something that cannot be used.
* ``export.ExportError`` — a report cannot be written where or as asked.

All of them are :class:`PlTuiError`: ``str()`` is one line saying what is wrong and what to do.
Anything else that escapes is a bug.
"""

from __future__ import annotations

import math


class PlTuiError(Exception):
    """A problem the user can act on; str() says what is wrong and what to do."""


class UserInputError(PlTuiError, ValueError):
    """A value the user typed cannot be used; str() says which and what is allowed."""


def user_text(text: str) -> str:
    """Text the user typed (a target, a filter, a rig or alias name) as header text is read:
    UTF-8, else Latin-1. The command line hands undecodable bytes over as lone
    surrogates, which no header value holds and SQLite cannot store."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        try:
            raw = text.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError:  # a surrogate that stands for no byte
            return text.encode("utf-8", "replace").decode("utf-8")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def finite(value: object, what: str, low: float, high: float | None = None) -> float:
    """A number the user gave, as a float within [low, high]; UserInputError otherwise (NaN and
    infinities included: they would loop, overflow or reach the ledger as NULL)."""
    if isinstance(value, bool):
        raise UserInputError(f"{what} must be a number, not {value!r}")
    try:
        x = float(value)  # type: ignore[arg-type]  # any value: float() decides, its errors are caught
    except (TypeError, ValueError):
        raise UserInputError(f"{what} must be a number, not {value!r}") from None
    if not math.isfinite(x) or x < low or (high is not None and x > high):
        bound = f"from {low:g} to {high:g}" if high is not None else f"of at least {low:g}"
        raise UserInputError(f"{what} must be a number {bound}, not {value!r}")
    return x
