"""Shared by the screen tests: the demo archive scanned once per module, a private copy of its
ledger per test, and a helper that waits until the app's workers are done."""

from __future__ import annotations

from pathlib import Path

import pytest

from pl_tui import ledger as L
from pl_tui.core.config import Config
from pl_tui.demo import build_demo_archive
from pl_tui.scan import scan

CONFIG = Config(settle_seconds=0)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(archive, ledger) of the demo, scanned once for the module; tests copy the ledger."""
    root = tmp_path_factory.mktemp("demo")
    archive = root / "archive"
    build_demo_archive(archive)
    ledger = root / "ledger.sqlite"
    scan(ledger, [str(archive)], CONFIG, workers=0)
    return archive, ledger


@pytest.fixture
def ledger(demo: tuple[Path, Path], tmp_path: Path) -> Path:
    copy = tmp_path / "ledger.sqlite"
    conn = L.connect(demo[1], create=False)
    conn.execute(f"VACUUM INTO '{copy}'")
    conn.close()
    return copy


async def settle(pilot) -> None:
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
