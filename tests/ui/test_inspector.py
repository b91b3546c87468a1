"""The frame inspector: a FIFO named .fits gets a reason instead of a hung worker; both panes
share the height; a card longer than its column is shown whole under the panes; raw header
fields name their keyword; the path is archive-relative."""

from __future__ import annotations

import asyncio
import contextlib
import os
from pathlib import Path

import pytest
from textual.widgets import DataTable, Static

from pl_tui import ledger as L
from pl_tui.app import PlTuiApp
from pl_tui.core.fitsgen import write_fits
from pl_tui.screens.inspector import InspectorScreen

from ..conftest import BASE_LIGHT, cards_with
from .conftest import CONFIG, settle
from .helpers import squeezed

LONG_COMMENT = "Astronomik 6nm narrowband, slot 3, since 2023"  # the card: 80 columns


def a_demo_frame(ledger: Path) -> tuple[str, str]:
    """(root, path) of the demo's first M81 B light."""
    with L.reading(ledger) as conn:
        (root,) = L.root_paths(conn)
    return root, os.path.join(root, "2024-03-08", "LIGHT", "M81", "M81_B_120s_0001.fits")


def fields_of(app: PlTuiApp) -> dict[str, tuple[str, str]]:
    table = app.screen.query_one("#inspector-fields", DataTable)
    return {r[0].plain: (r[1].plain, r[2].plain) for r in (table.get_row_at(i) for i in range(table.row_count))}


async def test_a_fifo_named_fits_gets_a_reason_not_a_hung_worker(ledger: Path, tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.fits"
    os.mkfifo(fifo)
    app = PlTuiApp(ledger, CONFIG)
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            app.push_screen(InspectorScreen(str(fifo)))
            await asyncio.wait_for(settle(pilot), 5)  # a worker blocked in open() never completes
            title = str(app.screen.query_one("#inspector-title", Static).render())
            assert "not a regular file" in title
    finally:
        # before the fix a reader thread waits in open(): a writer end releases it
        with contextlib.suppress(OSError):
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
async def test_both_panes_share_the_height_and_fit_the_width(ledger: Path, size: tuple[int, int]) -> None:
    app = PlTuiApp(ledger, CONFIG)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        app.push_screen(InspectorScreen(a_demo_frame(ledger)[1]))
        await settle(pilot)
        cards = app.screen.query_one("#inspector-cards", DataTable)
        fields = app.screen.query_one("#inspector-fields", DataTable)
        assert cards.region.height == fields.region.height >= 8
        for table in (cards, fields):  # no sideways scrolling: every column within the pane
            assert table.virtual_size.width <= table.scrollable_content_region.width


async def test_a_long_card_is_shown_whole_under_the_panes(ledger: Path, tmp_path: Path) -> None:
    path = tmp_path / "long.fits"
    write_fits(path, [c if c[0] != "FILTER" else ("FILTER", "Ha", LONG_COMMENT) for c in cards_with(BASE_LIGHT)])
    app = PlTuiApp(ledger, CONFIG)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.push_screen(InspectorScreen(str(path)))
        await settle(pilot)
        cards = app.screen.query_one("#inspector-cards", DataTable)
        keys = [cards.get_row_at(i)[0].plain for i in range(cards.row_count)]
        await pilot.press(*["down"] * keys.index("FILTER"))
        await pilot.pause()
        assert LONG_COMMENT.replace(" ", "") in squeezed(app)


async def test_raw_header_fields_name_their_keyword(ledger: Path) -> None:
    app = PlTuiApp(ledger, CONFIG)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        app.push_screen(InspectorScreen(a_demo_frame(ledger)[1]))
        await settle(pilot)
        fields = fields_of(app)
        # each field names its keyword and shows the value as written (what `pl-tui explain` says)
        assert fields["target"] == ("OBJECT = 'M 81'", "M81")
        assert fields["filter"][0].startswith("FILTER = ") and fields["image_type"][0].startswith("IMAGETYP = ")
        assert fields["sequencer"] == ("computed from SWCREATE", "NINA")
        assert fields["session_date"][0].startswith("night rule")  # truly computed
        assert fields["verdict"][1].startswith("counts: a LIGHT of")


async def test_the_title_is_archive_relative(ledger: Path) -> None:
    root, path = a_demo_frame(ledger)
    app = PlTuiApp(ledger, CONFIG)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.push_screen(InspectorScreen(path))
        await settle(pilot)
        title = str(app.screen.query_one("#inspector-title", Static).render())
        assert title.startswith("2024-03-08/LIGHT/M81/M81_B_120s_0001.fits") and root in title
