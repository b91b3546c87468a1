"""Below the faces nothing imports the UI stack (the layers are in docs/architecture.md; the
import-linter contracts in pyproject.toml check them in CI)."""

import pkgutil
import subprocess
import sys

import pl_tui

FACES = ("pl_tui.cli", "pl_tui.app", "pl_tui.screens", "pl_tui.widgets")
# every module below the faces, found, not listed: a new module is checked the day it is added
BELOW_THE_FACES = sorted(
    m.name for m in pkgutil.walk_packages(pl_tui.__path__, "pl_tui.") if not m.name.startswith(FACES)
)


def test_the_modules_below_the_faces_are_all_checked() -> None:
    assert {"pl_tui.core.headers", "pl_tui.ledger", "pl_tui.domain.retag", "pl_tui.scan", "pl_tui.text"} <= set(
        BELOW_THE_FACES
    )


def test_nothing_below_the_faces_imports_textual_or_rich() -> None:
    code = (
        "import sys\n"
        + "".join(f"import {m}\n" for m in BELOW_THE_FACES)
        + "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'rich'))\n"
        + "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_importing_touches_no_disk(tmp_path) -> None:
    env_code = "import pl_tui.cli, pl_tui.scan, pl_tui.ledger, pl_tui.core.config"
    env = {"HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path / "d"), "XDG_CONFIG_HOME": str(tmp_path / "c"),
           "PATH": "/usr/bin:/bin"}  # fmt: skip
    subprocess.run([sys.executable, "-c", env_code], check=True, env=env)
    assert list(tmp_path.iterdir()) == []


def test_a_reader_process_and_the_launcher_import_no_ledger_domain_or_command_line() -> None:
    """A reader process re-runs the ``pl-tui`` script (as ``__mp_main__``), then imports what its
    work needs: neither may pull in the ledger, SQLite, the configuration, the domain or the CLI,
    or every scan waits longer for its readers to start."""
    code = (
        "import sys\n"
        "import pl_tui.__main__, pl_tui.reading\n"
        "heavy = ('pl_tui.cli', 'pl_tui.scan', 'pl_tui.ledger', 'pl_tui.domain', 'pl_tui.core.config', 'sqlite3')\n"
        "print(','.join(sorted(m for m in sys.modules if m.startswith(heavy))))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
