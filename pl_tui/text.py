"""Untrusted text — header values and paths are user data — as plain, printable strings.

Both faces use it: the CLI for every line it prints, the screens (through ``widgets.safe``,
which wraps the result in ``rich.text.Text``) for every cell and label. No Rich, no Textual.
"""

from __future__ import annotations


def format_value(v: object) -> str:
    """One field for a table or CSV: '' for missing, whole floats without '.0', else the
    shortest repr (no float noise)."""
    if v is None:
        return ""
    if isinstance(v, float):
        if v.is_integer() and abs(v) < 1e15:
            return str(int(v))
        return repr(v)
    return str(v)


_CONTROL = dict.fromkeys((*range(0, 32), 127, *range(128, 160)), "�")


def plain(value: object) -> str:
    """A value as printable text: '' for None, control characters and stray bytes as '�'."""
    s = format_value(value)  # whole floats without '.0', others exact: the same as the reports
    if not s.isprintable():
        s = s.encode("utf-8", "surrogateescape").decode("utf-8", "replace").translate(_CONTROL)
    return s
