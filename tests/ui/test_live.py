"""The app while others write: a cron scan or a CLI retag shows up by itself; live mode follows
frames as the capture program writes them."""

from __future__ import annotations

import asyncio
from pathlib import Path

from textual.widgets import Static, Tree

from pl_tui import ledger as L
from pl_tui.app import PlTuiApp
from pl_tui.core.config import Config
from pl_tui.core.fitsgen import write_fits
from pl_tui.domain import retag as R
from pl_tui.scan import scan
from pl_tui.screens.targets import TargetsScreen

from ..conftest import BASE_LIGHT, cards_with
from .conftest import settle


def header(app: PlTuiApp) -> str:
    return str(app.screen.query_one("#targets-header", Static).render())


async def wait_for(pilot, check, timeout: float = 10.0) -> None:
    for _ in range(int(timeout / 0.1)):
        if check():
            return
        await pilot.pause(0.1)
    raise AssertionError(f"timed out; header: {header(pilot.app)}")


def frame(archive: Path, name: str, when: str, target: str = "M81") -> None:
    write_fits(archive / name, cards_with(BASE_LIGHT, {"DATE-OBS": when, "OBJECT": target}))


def one_frame_scanned(tmp_path: Path) -> tuple[Path, Path, Config]:
    archive = tmp_path / "archive"
    archive.mkdir()
    ledger = tmp_path / "l.sqlite"
    config = Config(settle_seconds=0)
    frame(archive, "a.fits", "2024-08-13T21:00:00")
    scan(ledger, [str(archive)], config, workers=0)
    return archive, ledger, config


async def test_a_cron_scan_and_a_cli_retag_show_up_by_themselves(tmp_path: Path) -> None:
    archive, ledger, config = one_frame_scanned(tmp_path)
    app = PlTuiApp(ledger, config)
    app.LEDGER_CHECK_SECONDS = 0.2
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, TargetsScreen) and header(app).startswith("1 frames")
        await pilot.press("enter")  # expand M81
        await settle(pilot)
        frame(archive, "b.fits", "2024-08-13T21:05:00")
        await asyncio.to_thread(scan, ledger, [str(archive)], config, workers=0)  # "cron"
        await wait_for(pilot, lambda: header(app).startswith("2 frames"))
        await settle(pilot)
        tree = app.screen.query_one("#targets-tree", Tree)
        assert tree.root.children[0].is_expanded  # the reload kept what was open
        conn = L.connect(ledger, create=False)
        R.retag(conn, R.select(conn, R.Where(path="*/b.fits")), {"target": "M82"}, "cli")
        conn.close()
        await wait_for(pilot, lambda: header(app).startswith("2 frames") and "2 targets" in header(app))


async def test_live_mode_follows_new_frames(tmp_path: Path) -> None:
    archive, ledger, config = one_frame_scanned(tmp_path)
    app = PlTuiApp(ledger, config, [])
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("w")
        await wait_for(pilot, lambda: "● live" in header(app))
        await pilot.pause(0.5)  # the first pass of the watcher is done
        for i in range(3):
            frame(archive, f"n{i}.fits", f"2024-08-13T22:0{i}:00")
        await wait_for(pilot, lambda: header(app).startswith("4 frames"))
        await pilot.press("w")
        await wait_for(pilot, lambda: "live" not in header(app))
        assert not app.live
