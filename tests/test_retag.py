"""Retag, aliases, the audit log and undo (SPEC §7) on real FITS files and real scans."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pl_tui import ledger as L
from pl_tui.core.config import Config
from pl_tui.core.fitsgen import write_fits
from pl_tui.domain import history
from pl_tui.domain import retag as R
from pl_tui.domain import triage as T

from .conftest import BASE_LIGHT, cards_with, tree_digest
from .test_scan import invariants, totals


@pytest.fixture
def night(make_fits, archive: Path) -> Path:
    """M81 Ha ×3 (300 s), M81 OIII ×2 (300 s), and 4 frames whose header lacks OBJECT (180 s)."""
    for i in range(3):
        make_fits(f"2024-08-13/M81/Ha/h{i}.fits", {"DATE-OBS": f"2024-08-13T21:0{i}:00.000"})
    for i in range(2):
        make_fits(f"2024-08-13/M81/OIII/o{i}.fits", {"DATE-OBS": f"2024-08-13T22:0{i}:00.000", "FILTER": "O3"})
    for i in range(4):
        make_fits(
            f"2024-08-13/unsorted/u{i}.fits",
            {"DATE-OBS": f"2024-08-13T23:0{i}:00.000", "OBJECT": None, "EXPTIME": 180.0, "FILTER": "Ha"},
        )
    return archive


def open_ledger(ledger_path: Path) -> sqlite3.Connection:
    return L.connect(ledger_path, create=False)


def test_retag_changes_totals_by_exactly_the_retagged_frames(night, run_scan, ledger_path) -> None:
    run_scan(night)
    before = totals(ledger_path)
    assert ("M81", "Ha", 3, 900.0) in before
    conn = open_ledger(ledger_path)
    chosen = R.select(conn, R.parse_where(["path=*/unsorted/*"]))
    assert len(chosen) == 4
    assert R.preview(conn, chosen, {"target": "M81"}).describe({"target": "M81"}) == "4 frames: target (none) → M81"
    result = R.retag(conn, chosen, {"target": "M81"}, "path=*/unsorted/*")
    assert (result.frames, result.description) == (4, "4 frames: target (none) → M81")
    conn.close()
    after = totals(ledger_path)
    assert ("M81", "Ha", 7, 900.0 + 4 * 180.0) in after
    assert not any(t[0] is None for t in after)  # the (no target) row is gone
    invariants(ledger_path)
    conn = open_ledger(ledger_path)
    entry = history.undo(conn)
    assert entry is not None and entry.frames == 4
    conn.close()
    assert totals(ledger_path) == before
    invariants(ledger_path)


def test_an_override_survives_rescan_move_rename_and_a_new_copy(night, run_scan, ledger_path, tmp_path) -> None:
    run_scan(night)
    conn = open_ledger(ledger_path)
    R.retag(conn, R.select(conn, R.Where(path="*/unsorted/*")), {"target": "NGC 3077"}, "test")
    conn.close()
    expected = ("NGC3077", "Ha", 4, 720.0)
    run_scan(night)
    assert expected in totals(ledger_path)
    (night / "2024-08-13/unsorted").rename(night / "2024-08-13/moved")  # the folder moves
    (night / "2024-08-13/moved/u0.fits").rename(night / "2024-08-13/moved/renamed.fits")
    run_scan(night)
    assert expected in totals(ledger_path)
    backup = tmp_path / "backup"  # a copy on a second drive: same exposures, counted once
    shutil.copytree(night / "2024-08-13/moved", backup)
    run_scan(night, backup)
    assert expected in totals(ledger_path)
    assert len(T.bucket_rows(open_ledger(ledger_path), "duplicates")) == 4
    shutil.rmtree(night / "2024-08-13/moved")  # the originals go: the copies carry the retag on
    run_scan(night, backup)
    assert expected in totals(ledger_path)
    invariants(ledger_path)


@pytest.mark.parametrize(
    ("where", "changes", "check"),
    [
        (["filter=OIII"], {"filter": "SII"}, ("M81", "SII", 2, 600.0)),
        (["target=M81", "filter=Ha"], {"image_type": "dark"}, None),  # darks do not count
        (["path=*/h1.fits"], {"status": "rejected"}, ("M81", "Ha", 2, 600.0)),
        (["session_date=2024-08-13"], {"target": "M82", "filter": "L"}, ("M82", "L", 9, 5 * 300.0 + 4 * 180.0)),
        (["session_date=2024-08-01..2024-08-31", "target=-"], {"target": "M82"}, ("M82", "Ha", 4, 720.0)),
        (["bucket=unknown"], {"target": "M82"}, ("M82", "Ha", 4, 720.0)),
    ],
)
def test_undo_of_each_kind_restores_everything(night, run_scan, ledger_path, where, changes, check) -> None:
    run_scan(night)
    before = totals(ledger_path)
    conn = open_ledger(ledger_path)
    tallies = conn.execute("SELECT * FROM tallies ORDER BY 1, 2, 3, 4").fetchall()
    values = {f: R.normalise_value(f, v) for f, v in changes.items()}
    result = R.retag(conn, R.select(conn, R.parse_where(where)), values, " ".join(where))
    assert result.frames > 0
    conn.close()
    after = totals(ledger_path)
    assert after != before
    if check:
        assert check in after
    invariants(ledger_path)
    conn = open_ledger(ledger_path)
    history.undo(conn)
    assert conn.execute("SELECT * FROM tallies ORDER BY 1, 2, 3, 4").fetchall() == tallies
    assert conn.execute("SELECT count(*) FROM overrides").fetchone()[0] == 0
    assert conn.execute("SELECT count(*) FROM exposures WHERE ov_target IS NOT NULL OR ov_filter IS NOT NULL "
                        "OR ov_type IS NOT NULL OR ov_status IS NOT NULL").fetchone()[0] == 0  # fmt: skip
    conn.close()
    assert totals(ledger_path) == before


def test_undo_is_repeatable_newest_first_and_logged(night, run_scan, ledger_path) -> None:
    run_scan(night)
    conn = open_ledger(ledger_path)
    unsorted = R.select(conn, R.Where(target="-"))
    R.retag(conn, unsorted, {"target": "M82"}, "first")
    R.retag(conn, unsorted, {"target": "M83"}, "second")
    R.set_alias(conn, "filter", "SII", "S")  # no frame has it: still a rule, still undoable
    R.set_alias(conn, "filter", "OIII", "O")
    R.retag(conn, unsorted, {"target": "-"}, "third: drop the override")
    assert R.retag(conn, unsorted, {"target": "-"}, "again").audit_id is None  # nothing left to drop
    log = history.audit_log(conn)
    assert [e.selection for e in log] == ["third: drop the override", "OIII", "SII", "second", "first"]
    assert log[3].description == "4 frames: target M82 → M83"
    assert log[0].description == "4 frames: target M83 → (from header)"
    assert log[1].description == "filter alias OIII: (none) → O"
    undone = [history.undo(conn).selection for _ in range(5)]
    assert undone == ["third: drop the override", "OIII", "SII", "second", "first"]
    assert history.undo(conn) is None
    assert all(e.undone_ms for e in history.audit_log(conn))
    assert conn.execute("SELECT count(*) FROM overrides").fetchone()[0] == 0
    assert conn.execute("SELECT count(*) FROM aliases").fetchone()[0] == 0
    conn.close()
    invariants(ledger_path)


def test_alias_applies_and_removes_with_counts(night, make_fits, run_scan, ledger_path) -> None:
    for i in range(2):
        make_fits(f"2024-08-14/And/a{i}.fits", {"DATE-OBS": f"2024-08-14T21:0{i}:00", "OBJECT": "Andromeda  Galaxy"})
        make_fits(f"2024-08-14/M31/m{i}.fits", {"DATE-OBS": f"2024-08-14T22:0{i}:00", "OBJECT": "M 31"})
    run_scan(night)
    conn = open_ledger(ledger_path)
    result = R.set_alias(conn, "target", "Andromeda Galaxy", "m 31")
    assert result.description == "target Andromeda Galaxy → M31: 2 frames renamed; M31 2 → 4 frames"
    assert [(a.from_name, a.to_name, a.source, a.frames) for a in R.aliases(conn)] == [
        ("Andromeda Galaxy", "M31", "user", 2)
    ]
    conn.close()
    assert ("M31", "Ha", 4, 1200.0) in totals(ledger_path)
    # a frame that arrives later is renamed by the rule as it is scanned
    make_fits("2024-08-15/And/a9.fits", {"DATE-OBS": "2024-08-15T21:00:00", "OBJECT": "Andromeda Galaxy"})
    run_scan(night)
    assert ("M31", "Ha", 5, 1500.0) in totals(ledger_path)
    conn = open_ledger(ledger_path)
    removed = R.set_alias(conn, "target", "Andromeda Galaxy", None)
    assert removed.description == "target alias Andromeda Galaxy → M31 removed: Andromeda Galaxy 0 → 3 frames"
    conn.close()
    assert ("M31", "Ha", 2, 600.0) in totals(ledger_path)
    assert ("Andromeda Galaxy", "Ha", 3, 900.0) in totals(ledger_path)
    invariants(ledger_path)


def test_a_per_frame_override_wins_over_an_alias(night, run_scan, ledger_path) -> None:
    run_scan(night)
    conn = open_ledger(ledger_path)
    R.retag(conn, R.select(conn, R.Where(path="*/o0.fits")), {"filter": "Ha"}, "mislabelled")
    R.set_alias(conn, "filter", "OIII", "O")
    conn.close()
    assert ("M81", "Ha", 4, 1200.0) in totals(ledger_path)
    assert ("M81", "O", 1, 300.0) in totals(ledger_path)


def test_config_aliases_become_rules_and_leave_with_the_config(night, run_scan, ledger_path) -> None:
    run_scan(night, config=Config(settle_seconds=0, filter_aliases={"O3": "Oxygen", "Ha": "H-alpha"}))
    # O3 normalises to OIII and H-alpha to Ha: the rule 'Ha → Ha' is a no-op and dropped
    assert ("M81", "Oxygen", 2, 600.0) in totals(ledger_path)
    conn = open_ledger(ledger_path)
    assert [(a.from_name, a.to_name, a.source) for a in R.aliases(conn)] == [("OIII", "Oxygen", "config")]
    R.set_alias(conn, "filter", "OIII", "O")  # the user's own rule wins over the file's
    conn.close()
    run_scan(night, config=Config(settle_seconds=0, filter_aliases={"O3": "Oxygen"}))
    assert ("M81", "O", 2, 600.0) in totals(ledger_path)
    run_scan(night)  # the user's rule stays when the config has none
    assert ("M81", "O", 2, 600.0) in totals(ledger_path)
    conn = open_ledger(ledger_path)
    history.undo(conn)
    conn.close()
    run_scan(night)  # the config rule went with the config; undo removed the user's
    assert ("M81", "OIII", 2, 600.0) in totals(ledger_path)
    invariants(ledger_path)


@pytest.mark.parametrize(
    ("field", "text", "message"),
    [
        ("status", "derived", "status can be set to accepted or rejected"),
        ("image_type", "Master Dark", "unknown frame type"),
        ("image_type", "galaxy", "unknown frame type"),
        ("exposure", "300", "cannot set 'exposure'"),
    ],
)
def test_bad_values_are_refused_with_what_is_allowed(field, text, message) -> None:
    with pytest.raises(R.RetagError, match=message):
        R.normalise_value(field, text)


@pytest.mark.parametrize(
    ("items", "message"),
    [
        (["nonsense"], "FIELD=VALUE"),
        (["colour=red"], "FIELD=VALUE"),
        (["session_date=yesterday"], "YYYY-MM-DD"),
        (["bucket=later"], "unknown bucket"),
        (["bucket=unreadable"], "no header"),
        (["target=M81", "target=M82"], "given twice"),
    ],
)
def test_bad_selections_are_refused(items, message) -> None:
    with pytest.raises(R.RetagError, match=message):
        R.parse_where(items)


def test_a_session_of_retags_undos_and_rescans_never_touches_the_archive(night, run_scan, ledger_path) -> None:
    digest = tree_digest(night)
    run_scan(night)
    conn = open_ledger(ledger_path)
    for where, changes in (
        (["bucket=unknown"], {"target": "M82"}),
        (["filter=Ha"], {"status": "rejected"}),
        (["target=M81"], {"image_type": "FLAT"}),
    ):
        R.retag(conn, R.select(conn, R.parse_where(where)), changes, "x")
    R.set_alias(conn, "target", "M82", "M81")
    history.undo(conn)
    conn.close()
    run_scan(night)
    conn = open_ledger(ledger_path)
    history.undo(conn)
    history.undo(conn)
    conn.close()
    run_scan(night)
    assert tree_digest(night) == digest


_ACTIONS = st.lists(
    st.tuples(
        st.sampled_from(["target", "filter", "image_type", "status"]),
        st.sampled_from(["-", "M81", "M82", "Ha", "L", "LIGHT", "DARK", "accepted", "rejected"]),
        st.sampled_from(["target=M81", "target=-", "filter=Ha", "path=*/h*", "bucket=unknown", "status=accepted"]),
    ),
    max_size=8,
)


@settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(actions=_ACTIONS)
def test_any_sequence_of_retags_then_as_many_undos_is_the_start(tmp_path_factory, actions) -> None:
    root = tmp_path_factory.mktemp("archive")
    for i, (obj, filt, kind) in enumerate([("M81", "Ha", "LIGHT"), ("M81", "OIII", "LIGHT"), (None, "Ha", "LIGHT"),
                                           ("M81", "Ha", "DARK"), ("M82", "L", "LIGHT")]):  # fmt: skip
        path = root / f"h{i}.fits"
        write_fits(path, cards_with(BASE_LIGHT, {"DATE-OBS": f"2024-08-13T21:0{i}:00", "OBJECT": obj,
                                                 "FILTER": filt, "IMAGETYP": kind}))  # fmt: skip
    ledger_path = tmp_path_factory.mktemp("ledger") / "l.sqlite"
    from pl_tui.scan import scan

    scan(ledger_path, [str(root)], Config(settle_seconds=0), workers=0)
    conn = open_ledger(ledger_path)
    start = conn.execute("SELECT * FROM tallies ORDER BY 1, 2, 3, 4").fetchall()
    done = 0
    for field, value, where in actions:
        try:
            changes = {field: R.normalise_value(field, value)}
        except R.RetagError:
            continue
        done += R.retag(conn, R.select(conn, R.parse_where([where])), changes, where).audit_id is not None
        recount = conn.execute("SELECT * FROM tallies ORDER BY 1, 2, 3, 4").fetchall()
        L.rebuild_tallies(conn)
        assert conn.execute("SELECT * FROM tallies ORDER BY 1, 2, 3, 4").fetchall() == recount
    for _ in range(done):
        assert history.undo(conn) is not None
    assert history.undo(conn) is None
    assert conn.execute("SELECT * FROM tallies ORDER BY 1, 2, 3, 4").fetchall() == start
    assert conn.execute("SELECT count(*) FROM overrides").fetchone()[0] == 0
    conn.close()
