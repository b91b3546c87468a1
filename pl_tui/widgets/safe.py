"""Header values and paths are user data: show them literally, never as markup or escapes.

Textual parses plain strings as markup in Tree labels, DataTable cells, Static and notify;
``[b]M81[/b]`` or ``\\x1b[31m`` in an OBJECT card must reach the screen as those characters.
Everything from the ledger goes through :func:`safe` (a ``rich.text.Text``, which is never
parsed) after :func:`pl_tui.text.plain` has replaced control characters and undecodable bytes.
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import DataTable

from ..text import plain


def safe(value: object, style: str = "") -> Text:
    return Text(plain(value), style=style, no_wrap=True, overflow="ellipsis")


def lines(*values: object, style: str = "") -> Text:
    """Several values, one per line (newlines inside a value are still shown as '�')."""
    return Text("\n", style=style).join(Text(plain(v)) for v in values)


def columns(table: DataTable[Text], *spec: tuple[str, int], title: str | None = None) -> None:
    """Fixed-width columns for a DataTable (it would measure every cell otherwise)."""
    for name, width in spec:
        table.add_column(name, width=width)
    if title is not None:
        table.border_title = title


def fit(value: object, width: int) -> str:
    """plain(value) cut or padded to exactly ``width`` cells (an ellipsis where it was cut)."""
    s = plain(value)
    return s[: width - 1] + "…" if len(s) > width else s.ljust(width)


def hours(h: float) -> str:
    return f"{h:,.1f} h" if h >= 1 or h == 0 else f"{h * 60:,.0f} min"


def relative(path: str, roots: list[str] | tuple[str, ...]) -> str:
    """``path`` below the longest archive root that holds it (``root/a/b`` → ``a/b``); as it is
    when no root holds it. Screens show archive-relative paths: the root is said once."""
    for root in sorted(roots, key=len, reverse=True):
        base = root.rstrip("/")
        if path == base:
            return "."
        if base and path.startswith(base + "/"):
            return path[len(base) + 1 :]
    return path


def paths_below(text: str, roots: list[str] | tuple[str, ...]) -> str:
    """Every absolute path inside ``text`` (a reason may name another file) made archive-relative."""
    for root in sorted(roots, key=len, reverse=True):
        if root.rstrip("/"):
            text = text.replace(root.rstrip("/") + "/", "")
    return text


def progress_bar(fraction: float, width: int) -> str:
    """A goal's progress as blocks: '███░░' for 0.6 at width 5."""
    done = round(min(1.0, max(0.0, fraction)) * width)
    return "█" * done + "░" * (width - done)
