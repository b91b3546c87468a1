"""The night-vision theme: red on black, every colour a red shade, so the app can stay open at
the telescope without spoiling dark adaptation.

Textual derives many colours from a theme's few (the text is near-white "auto" contrast, the
block cursor's text, the footer keys, the scrollbars, selections): each is set here to a red so
that nothing on any screen is white, grey, blue or green. The charts get a plotext theme of the
same reds (textual-plotext's own would draw the bars in its blue/green/orange sequence).
"""

from __future__ import annotations

from textual.color import Color
from textual.theme import Theme

NIGHT = "night-vision"

_BLACK = "#000000"
_DIM = "#5a0000"
_MID = "#a00000"
_TEXT = "#d02020"
_BRIGHT = "#ff3030"

_BASE = {
    "primary": "#b00000",
    "secondary": "#800000",
    "accent": _BRIGHT,
    "foreground": _TEXT,
    "background": _BLACK,
    "surface": "#0a0000",
    "panel": "#140000",
    "warning": "#ff2000",
    "error": "#ff0000",
    "success": "#c01000",
}


def _red_shades(base: dict[str, str]) -> dict[str, str]:
    """The -lighten-N / -darken-N shades Textual derives (a button's top edge is primary-lighten-3):
    its own lighten moves towards white (#b00000 → #f85536); these stay red."""
    out = {}
    for name, hex_ in base.items():
        c = Color.parse(hex_)
        for n in (1, 2, 3):
            out[f"{name}-lighten-{n}"] = Color(min(255, c.r + 32 * n), min(48, c.g + 8 * n), min(48, c.b + 8 * n)).hex
            out[f"{name}-darken-{n}"] = Color(round(c.r * (1 - 0.2 * n)), round(c.g * 0.5), round(c.b * 0.5)).hex
    return out


NIGHT_VISION = Theme(
    NIGHT,
    _BASE["primary"],
    secondary=_BASE["secondary"],
    accent=_BASE["accent"],
    foreground=_BASE["foreground"],
    background=_BASE["background"],
    surface=_BASE["surface"],
    panel=_BASE["panel"],
    warning=_BASE["warning"],
    error=_BASE["error"],
    success=_BASE["success"],
    boost="#ff000010",
    dark=True,
    variables={
        **_red_shades({**_BASE, "primary-background": _BASE["primary"], "secondary-background": _BASE["secondary"]}),
        "text": _TEXT,
        "text-muted": "#901010",
        "text-disabled": _DIM,
        "text-primary": _BRIGHT,
        "text-secondary": "#c01010",
        "text-accent": _BRIGHT,
        "text-warning": "#ff4010",
        "text-error": "#ff2020",
        "text-success": "#e01010",
        "foreground-muted": "#901010",
        "foreground-disabled": _DIM,
        "block-cursor-foreground": "#ff4040",
        "block-cursor-background": "#600000",
        "block-cursor-blurred-foreground": _TEXT,
        "block-cursor-blurred-background": "#300000",
        "block-hover-background": "#200000",
        "border": _MID,
        "border-blurred": "#400000",
        "scrollbar": "#400000",
        "scrollbar-hover": "#600000",
        "scrollbar-active": "#800000",
        "scrollbar-background": "#0a0000",
        "scrollbar-background-hover": "#0a0000",
        "scrollbar-background-active": "#0a0000",
        "scrollbar-corner-color": "#0a0000",
        "link-color": _BRIGHT,
        "link-color-hover": _BRIGHT,
        "link-background-hover": "#300000",
        "footer-foreground": _TEXT,
        "footer-background": "#140000",
        "footer-key-foreground": _BRIGHT,
        "footer-key-background": "#140000",
        "footer-description-foreground": _TEXT,
        "footer-description-background": "#140000",
        "footer-item-background": "#140000",
        "input-cursor-foreground": _BLACK,
        "input-cursor-background": _TEXT,
        "input-selection-background": "#500000",
        "input-selection-foreground": _BRIGHT,
        "button-foreground": _TEXT,
        "button-color-foreground": _TEXT,
        "screen-selection-background": "#500000",
        "screen-selection-foreground": _BRIGHT,
        "primary-muted": "#400000",
        "secondary-muted": "#300000",
        "accent-muted": "#500000",
        "warning-muted": "#500800",
        "error-muted": "#500000",
        "success-muted": "#400400",
        "primary-background": "#200000",
        "secondary-background": "#180000",
    },
)

# the charts' series colours in the night theme (and the rig-change line): reds only, told
# apart by brightness and, where lines cross, by marker
NIGHT_SERIES = [(255, 48, 48), (150, 0, 0), (220, 30, 0), (100, 0, 0), (255, 64, 40), (190, 20, 20)]
CHANGE_LINE = (255, 0, 0)


def register_plotext_night() -> None:
    """Give textual-plotext's "auto" theme for the night theme red series (it registers a
    blue/green/orange sequence for every app theme otherwise). Idempotent."""
    from plotext._dict import themes  # plotext's registry (textual-plotext's too)

    surface, text = (10, 0, 0), (208, 32, 32)
    themes[f"textual-auto-{NIGHT}"] = [surface, surface, text, "default", list(NIGHT_SERIES)]
