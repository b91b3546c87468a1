"""The Buckets screen by keys only: tabs with counts, marking, the retag modal, undo, the audit
log, merge suggestions — asserting on the ledger, which is what a retag is for."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import DataTable, Static, Tab

from pl_tui import ledger as L
from pl_tui.app import PlTuiApp
from pl_tui.domain import history
from pl_tui.domain import triage as T
from pl_tui.domain.triage import BucketFrame
from pl_tui.screens.buckets import AuditModal, BucketsScreen, MergeModal, RetagModal
from pl_tui.screens.inspector import InspectorScreen
from pl_tui.widgets.frame_list import FrameList

from .conftest import CONFIG, settle


def totals(ledger: Path) -> dict[tuple, int]:
    conn = L.connect(ledger, create=False)
    try:
        return {(t.target, t.filter): t.frame_count for t in L.totals(conn)}
    finally:
        conn.close()


async def open_buckets(pilot) -> BucketsScreen:
    await settle(pilot)
    await pilot.press("b")
    await settle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, BucketsScreen)
    return screen


def tab_label(screen: BucketsScreen, name: str) -> str:
    return str(screen.query_one(f"#{name}", Tab).label)


async def test_mark_a_group_retag_it_and_undo(ledger: Path) -> None:
    before = totals(ledger)
    app = PlTuiApp(ledger, CONFIG)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_buckets(pilot)
        assert tab_label(screen, "unknown") == "Unknown 3" and tab_label(screen, "suspect") == "Suspect 2"
        frames = screen.query_one(FrameList)
        assert [f.name for f in frames.frames] == [
            "M81_nofilter_0001.fits",
            "noname_Ha_0001.fits",
            "noname_Ha_0002.fits",
        ]
        await pilot.press("down", "down")  # past the first group's frame, onto the NGC7000 group's header
        await pilot.press("a")  # the whole group under the cursor
        assert len(frames.marks) == 2 and "2 of 3 marked" in str(screen.query_one("#buckets-status", Static).render())
        await pilot.press("r")
        await settle(pilot)
        assert isinstance(app.screen, RetagModal)
        await pilot.press(*"ngc 7000")
        await settle(pilot)
        preview = str(app.screen.query_one("#retag-preview", Static).render())
        assert preview == "Retag 2 frames: target NGC7000 → NGC7000"  # inferred from the folder, now confirmed
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, BucketsScreen)
        await settle(pilot)
        assert tab_label(screen, "unknown") == "Unknown 1"
        conn = L.connect(ledger, create=False)
        [entry] = history.audit_log(conn)
        assert entry.frames == 2 and entry.selection == "Buckets/Unknown: 2 marked frames"
        conn.close()
        await pilot.press("ctrl+z")
        await settle(pilot)
        assert tab_label(screen, "unknown") == "Unknown 3"
    conn = L.connect(ledger, create=False)
    assert history.audit_log(conn)[0].undone_ms is not None
    assert conn.execute("SELECT count(*) FROM overrides").fetchone()[0] == 0
    conn.close()
    assert totals(ledger) == before


async def test_retag_a_mislabelled_frame_to_its_real_target(ledger: Path) -> None:
    before = totals(ledger)
    app = PlTuiApp(ledger, CONFIG)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_buckets(pilot)
        await pilot.press("right")  # the Suspect tab
        await settle(pilot)
        frames = screen.query_one(FrameList)
        assert [f.why for f in frames.frames] == [
            "DATE-OBS and DATE-LOC disagree with the site offset",
            "pointing 66.1° off M81",
        ]
        await pilot.press("down", "r")  # nothing marked: the frame under the cursor
        await settle(pilot)
        await pilot.press(*"NGC7000", "enter")
        await settle(pilot)
        await settle(pilot)
        assert tab_label(screen, "suspect") == "Suspect 1"
        assert [f.why for f in frames.frames] == ["DATE-OBS and DATE-LOC disagree with the site offset"]
    after = totals(ledger)
    assert after[("M81", "Ha")] == before[("M81", "Ha")] - 1
    assert after[("NGC7000", "Ha")] == before[("NGC7000", "Ha")] + 1


async def test_retag_status_with_the_field_keys_and_see_the_log(ledger: Path) -> None:
    app = PlTuiApp(ledger, CONFIG)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_buckets(pilot)
        await pilot.press("3")  # Copies
        await settle(pilot)
        assert len(screen.query_one(FrameList).frames) == 5
        await pilot.press("A", "r")  # every copy in the bucket
        await settle(pilot)
        await pilot.press("down", "down", "down")  # target → filter → image_type → status
        await pilot.press(*"rejected")
        await settle(pilot)
        assert (
            str(app.screen.query_one("#retag-preview", Static).render()) == "Retag 5 frames: status accepted → rejected"
        )
        await pilot.press("enter")
        await settle(pilot)
        await settle(pilot)
        assert tab_label(screen, "rejected") == "Rejected 8"  # 3 + the 5 originals; the copies stay copies
        await pilot.press("l")
        await settle(pilot)
        assert isinstance(app.screen, AuditModal)
        table = app.screen.query_one("#audit-table", DataTable)
        assert table.row_count == 1
        assert "status accepted → rejected" in str(table.get_row_at(0)[1])
        await pilot.press("escape")
        assert isinstance(app.screen, BucketsScreen)


async def test_bad_values_are_explained_in_the_modal(ledger: Path) -> None:
    app = PlTuiApp(ledger, CONFIG)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_buckets(pilot)
        await pilot.press("r", "down", "down", "down", *"derived")
        await settle(pilot)
        assert "status can be set to accepted or rejected" in str(
            app.screen.query_one("#retag-preview", Static).render()
        )
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, RetagModal)  # nothing applied, the modal stays
        await pilot.press("escape")
    conn = L.connect(ledger, create=False)
    assert history.audit_log(conn) == []
    conn.close()


async def test_merge_suggestion_becomes_an_alias(ledger: Path) -> None:
    app = PlTuiApp(ledger, CONFIG)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_buckets(pilot)
        assert "1 merge suggestion (m)" in str(screen.query_one("#buckets-header", Static).render())
        await pilot.press("m")
        await settle(pilot)
        assert isinstance(app.screen, MergeModal)
        await pilot.press("enter")
        await settle(pilot)
        await settle(pilot)
        assert "merge" not in str(screen.query_one("#buckets-header", Static).render())
    before = totals(ledger)  # the OSC frames have no filter
    assert ("Andromeda Galaxy", None) not in before and before[("M31", None)] == 30 + 8


async def test_a_running_scan_makes_retag_wait_with_a_clear_message(ledger: Path) -> None:
    app = PlTuiApp(ledger, CONFIG)
    async with app.run_test(size=(100, 30)) as pilot:
        await open_buckets(pilot)
        with L.writer_lock(ledger):
            await pilot.press("r", *"M82", "enter")
            await settle(pilot)
            assert isinstance(app.screen, RetagModal)
            assert "ledger is busy" in str(app.screen.query_one("#retag-preview", Static).render())
        await pilot.press("enter")  # the scan is over: now it applies
        await settle(pilot)
        assert isinstance(app.screen, BucketsScreen)
    assert totals(ledger)[("M82", None)] == 1


async def test_enter_inspects_and_escape_goes_back_to_targets(ledger: Path) -> None:
    app = PlTuiApp(ledger, CONFIG)
    async with app.run_test(size=(100, 30)) as pilot:
        await open_buckets(pilot)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, InspectorScreen)
        await pilot.press("escape")
        await pilot.press("escape")
        await settle(pilot)
        assert type(app.screen).__name__ == "TargetsScreen"


async def test_marking_a_hundred_thousand_frames_is_set_arithmetic() -> None:
    """No widget per frame: the list holds plain tuples and draws only what is visible."""
    from textual.app import App

    frames = [
        BucketFrame(i, i, f"/a/{i // 1000:03d}", f"f{i:06d}.fits", "M81", "Ha", "2024-08-13", "no filter (mono)")
        for i in range(100_000)
    ]

    class One(App[None]):
        def compose(self):
            yield FrameList()

    app = One()
    async with app.run_test(size=(80, 24)) as pilot:
        frames_list = app.query_one(FrameList)
        frames_list.set_frames(frames)
        frames_list.focus()
        await pilot.press("A")
        assert len(frames_list.marks) == 100_000
        await pilot.press("down", "n")  # unmark the first folder's 1,000
        assert len(frames_list.marks) == 99_000 and frames_list.groups[0].marked == 0
        await pilot.press("I")
        assert len(frames_list.marks) == 1_000
        await pilot.press("end", "space")
        assert len(frames_list.marks) == 1_001 and frames_list.groups[-1].marked == 1
        assert len(app.query("*")) < 10  # the screen, the list, its scrollbars: not 100,000 rows
        assert T.BUCKETS[0] == "unknown"


async def test_80x24_shows_every_count_and_the_whole_reason_of_the_row(ledger: Path) -> None:
    from .helpers import screen_lines, squeezed

    app = PlTuiApp(ledger, CONFIG)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_buckets(pilot)
        tabs = screen_lines(app)[1]
        for label in ("Unknown 3", "Suspect 2", "Copies 5", "Rejected 3", "Unread. 4"):  # one title shortened
            assert label in tabs
        assert screen.query_one("#unreadable", Tab).region.right <= 80
        await pilot.press("3", "down")  # Copies: the second copy
        await settle(pilot)
        reason = "Processing/M81 stack project/M81_B_120s_0002.fits — copy of 2024-03-08/LIGHT/M81/M81_B_120s_0002.fits"
        assert reason.replace(" ", "") in squeezed(app)  # wrapped over two lines, whole
        assert str(Path(ledger).parent) not in screen_lines(app)[-3]  # archive-relative


async def test_120x40_shows_the_whole_reason_too(ledger: Path) -> None:
    from .helpers import squeezed

    app = PlTuiApp(ledger, CONFIG)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_buckets(pilot)
        assert tab_label(screen, "unreadable") == "Unreadable 4"  # the full titles fit here
        await pilot.press("3", "down")
        await settle(pilot)
        assert "copyof2024-03-08/LIGHT/M81/M81_B_120s_0002.fits" in squeezed(app)


async def test_the_audit_log_shows_undone_at_80x24(ledger: Path) -> None:
    from .helpers import screen_lines

    app = PlTuiApp(ledger, CONFIG)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_buckets(pilot)
        await pilot.press("r", *"M82", "enter")
        await settle(pilot)
        await settle(pilot)
        await pilot.press("ctrl+z")
        await settle(pilot)
        await pilot.press("l")
        await settle(pilot)
        assert isinstance(app.screen, AuditModal)
        row = next(ln for ln in screen_lines(app) if "target" in ln and "M82" in ln)
        assert row.rstrip(" █").endswith("undone")


async def test_the_merge_modal_offers_both_directions(ledger: Path) -> None:
    app = PlTuiApp(ledger, CONFIG)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_buckets(pilot)
        await pilot.press("m")
        await settle(pilot)
        assert isinstance(app.screen, MergeModal)
        options = app.screen.query_one("#merge-list")
        prompts = [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]
        assert len(prompts) == 2
        assert prompts[0].startswith("Andromeda Galaxy") and "alias of M31" in prompts[0]
        assert prompts[1].startswith("M31") and "alias of Andromeda Galaxy" in prompts[1]
        await pilot.press("down", "enter")  # M31 becomes an alias of Andromeda Galaxy
        await settle(pilot)
        await settle(pilot)
    after = totals(ledger)
    assert ("M31", None) not in after and after[("Andromeda Galaxy", None)] == 30 + 8


def test_tab_labels_fit_80_columns_whatever_the_counts() -> None:
    from pl_tui.screens.buckets import TITLES, tab_labels

    mix = dict(zip(T.BUCKETS, (1_234, 56, 34_000, 8_765, 120, 0, 12), strict=True))  # a 100,000-frame archive
    for counts in [dict.fromkeys(T.BUCKETS, n) for n in (3, 999, 1_234, 9_999, 54_321)] + [mix]:
        labels, tight = tab_labels(counts, 80)
        assert sum(len(label) + (1 if tight else 2) for label in labels.values()) <= 78, labels
        assert all(label.split()[-1][0].isdigit() for label in labels.values())  # every count shown
    assert tab_labels(mix, 80)[0] == {
        "unknown": "Unkn. 1,234", "suspect": "Susp. 56", "duplicates": "Copies 34,000", "derived": "Deriv. 8,765",
        "rejected": "Rej. 120", "missing": "Miss. 0", "unreadable": "Unread. 12",
    }  # fmt: skip
    assert tab_labels(dict.fromkeys(T.BUCKETS, 54_321), 80)[0]["unreadable"] == "Unread. 54k"
    assert tab_labels(dict.fromkeys(T.BUCKETS, 12_345), 160) == (
        {name: f"{TITLES[name]} 12,345" for name in T.BUCKETS},
        False,
    )
