"""What the screens need of the App that hosts them, typed: the ledger, the configuration, live
mode and two app-wide actions. ``PlTuiApp`` provides it (app.py checks that statically); a screen
asks ``host(self.app)``. The App imports the screens, so a screen cannot import the App itself."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, cast, runtime_checkable

from textual.app import App

from ..core.config import Config


class Host(Protocol):
    ledger_path: Path
    config: Config

    @property
    def live(self) -> bool: ...

    def action_export(self) -> None: ...

    def action_rescan(self) -> None: ...


@runtime_checkable
class LedgerView(Protocol):
    """A screen that shows ledger data and reloads it when the ledger changes (a scan, a retag
    from another terminal, live mode switched)."""

    def ledger_changed(self) -> None: ...


def host(app: App[object]) -> Host:
    return cast(Host, app)
