"""What a user sees: the screen as text lines and as colours, read from the compositor the way
``App.export_screenshot`` does (so tests assert on the screen, not on widget attributes)."""

from __future__ import annotations

import io
import re

from rich.console import Console
from rich.terminal_theme import DEFAULT_TERMINAL_THEME


def _console(app) -> Console:
    width, height = app.size
    return Console(
        width=width, height=height, file=io.StringIO(), force_terminal=True, color_system="truecolor", record=True
    )


def _update(app):
    return app.screen._compositor.render_update(full=True, screen_stack=app._background_screens)


def screen_lines(app) -> list[str]:
    console = _console(app)
    console.print(_update(app))
    return console.export_text().splitlines()


def screen_text(app) -> str:
    return "\n".join(screen_lines(app))


def squeezed(app) -> str:
    """The screen without any whitespace: a value wrapped or folded over lines is still found."""
    return re.sub(r"\s+", "", screen_text(app))


def colours(app) -> set[tuple[int, int, int]]:
    """Every colour on the screen: the backgrounds, and the foregrounds of visible text."""
    out: set[tuple[int, int, int]] = set()
    console = _console(app)
    for segment in console.render(_update(app)):
        style = segment.style
        if style is None or segment.control:
            continue
        if style.bgcolor is not None:
            out.add(tuple(style.bgcolor.get_truecolor(DEFAULT_TERMINAL_THEME, foreground=False)))
        if style.color is not None and segment.text.strip():
            out.add(tuple(style.color.get_truecolor(DEFAULT_TERMINAL_THEME, foreground=True)))
    return out


def is_red(rgb: tuple[int, int, int]) -> bool:
    """A red shade (black included): red dominates and green and blue stay small."""
    r, g, b = rgb
    return r >= g and r >= b and g <= 64 and b <= 64
