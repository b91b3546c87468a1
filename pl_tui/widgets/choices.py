"""Radio buttons and checkboxes told apart by a mark, not only by colour: ``●``/``○`` and
``✓``/blank read the same in a 16-colour terminal, a red night theme and a screen reader's
copy of the screen."""

from __future__ import annotations

from textual.content import Content
from textual.style import Style
from textual.widgets import Checkbox, RadioButton


class Choice(RadioButton):
    """A radio button that shows ● when chosen and ○ when not."""

    @property
    def _button(self) -> Content:
        return _marked(self, "●" if self.value else "○")


class Tick(Checkbox):
    """A checkbox that shows ✓ when ticked and a blank when not."""

    @property
    def _button(self) -> Content:
        return _marked(self, "✓" if self.value else " ")


def _marked(button: RadioButton | Checkbox, inner: str) -> Content:
    """The toggle's own drawing (``ToggleButton._button``) with ``inner`` in the middle."""
    button_style = button.get_visual_style("toggle--button")
    side_style = Style(foreground=button_style.background, background=button.background_colors[1])
    return Content.assemble((button.BUTTON_LEFT, side_style), (inner, button_style), (button.BUTTON_RIGHT, side_style))
