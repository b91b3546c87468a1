"""The archive picker by keys: Enter opens a folder and ``a`` adds it, Delete takes one off,
only visible folders are listed, Escape asks before quitting (or goes back), and a slow folder
never freezes the keys while the path completes."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from textual.widgets import DirectoryTree

from pl_tui.app import PlTuiApp
from pl_tui.screens.archive import ArchiveScreen
from pl_tui.screens.targets import TargetsScreen

from .conftest import CONFIG, settle


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A home folder with two archives, a hidden folder and a file; the picker starts there."""
    home = tmp_path / "home"
    for folder in ("astro", "astro/M81", "second", ".config", ".config/app"):
        (home / folder).mkdir(parents=True)
    (home / "notes.txt").write_text("not a folder")
    monkeypatch.setenv("HOME", str(home))
    return home


async def tree_loaded(pilot) -> DirectoryTree:
    await pilot.pause()
    tree = pilot.app.screen.query_one("#archive-tree", DirectoryTree)
    for _ in range(100):  # the tree lists the folder in its own worker
        if tree.root.children:
            break
        await pilot.pause(0.02)
    await pilot.pause()
    return tree


async def test_the_tree_lists_visible_folders_only(home: Path, tmp_path: Path) -> None:
    app = PlTuiApp(tmp_path / "l.sqlite", CONFIG)
    async with app.run_test(size=(80, 24)) as pilot:
        tree = await tree_loaded(pilot)
        assert isinstance(app.screen, ArchiveScreen)
        assert [str(n.label) for n in tree.root.children] == ["astro", "second"]


async def test_enter_opens_a_folder_and_a_adds_it(home: Path, tmp_path: Path) -> None:
    app = PlTuiApp(tmp_path / "l.sqlite", CONFIG)
    async with app.run_test(size=(80, 24)) as pilot:
        tree = await tree_loaded(pilot)
        await pilot.press("tab")  # from the path box to the tree
        assert app.focused is tree
        await pilot.press("down", "enter")  # past the home folder itself, astro: opens, is not added
        await pilot.pause(0.2)
        assert tree.root.children[0].is_expanded and app.screen.chosen == []
        await pilot.press("down", "a")  # astro/M81 added
        await pilot.pause()
        assert app.screen.chosen == [str(home / "astro" / "M81")]


async def test_delete_takes_a_chosen_folder_off(home: Path, tmp_path: Path) -> None:
    app = PlTuiApp(tmp_path / "l.sqlite", CONFIG)
    async with app.run_test(size=(80, 24)) as pilot:
        await tree_loaded(pilot)
        await pilot.press(*"~/astro", "enter", *"~/second", "enter")  # as a user types them
        assert app.screen.chosen == [str(home / "astro"), str(home / "second")]
        await pilot.press("tab", "tab", "tab")  # the tree, the recent archives, the chosen ones
        assert app.focused is app.screen.query_one("#archive-chosen")
        await pilot.press("delete")
        await pilot.pause()
        assert app.screen.chosen == [str(home / "second")]
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert not isinstance(app.screen, ArchiveScreen)  # the scan of 'second' started


async def test_escape_asks_before_quitting(home: Path, tmp_path: Path) -> None:
    app = PlTuiApp(tmp_path / "l.sqlite", CONFIG)
    async with app.run_test(size=(80, 24)) as pilot:
        await tree_loaded(pilot)
        await pilot.press("escape")
        await pilot.pause()
        assert type(app.screen).__name__ == "ConfirmModal" and app.return_code is None
        await pilot.press("n")
        await pilot.pause()
        assert isinstance(app.screen, ArchiveScreen) and app.return_code is None
        await pilot.press("escape", "y")
        await pilot.pause()
        assert app.return_code == 0


async def test_escape_goes_back_when_opened_from_the_targets(ledger: Path, home: Path) -> None:
    app = PlTuiApp(ledger, CONFIG)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.push_screen(ArchiveScreen(), app._archives_chosen)
        await tree_loaded(pilot)
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, TargetsScreen) and app.return_code is None


async def test_a_slow_folder_never_freezes_the_keys(home: Path, tmp_path: Path, monkeypatch) -> None:
    """Listing a folder on a dead network mount can take seconds: the completion must not run
    on the event loop, or every key waits for it."""
    slow = home / "slow"
    slow.mkdir()
    fast_scandir = os.scandir

    slow_listings: list[str] = []

    def scandir(path="."):
        if str(path).startswith(str(slow)):
            slow_listings.append(str(path))
            time.sleep(1.5)
        return fast_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    app = PlTuiApp(tmp_path / "l.sqlite", CONFIG)
    async with app.run_test(size=(80, 24)) as pilot:
        await tree_loaded(pilot)
        await pilot.press(*"~/slow/")
        started = time.monotonic()
        await pilot.press(*"abcd")
        await pilot.pause()
        elapsed = time.monotonic() - started
        assert app.screen.query_one("#archive-input").value == "~/slow/abcd"
        assert elapsed < 1.0, f"four keys took {elapsed:.1f} s"
        await pilot.pause(1.6)
        assert slow_listings  # the completion did list the slow folder (off the event loop)
