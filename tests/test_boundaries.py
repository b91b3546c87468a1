"""The core never imports the UI stack (STYLE: core/UI boundary)."""

import subprocess
import sys

CORE = ("scan", "headers", "normalize", "ledger", "export", "config", "demo", "fitsgen")


def test_core_imports_no_textual_and_no_rich() -> None:
    code = (
        "import sys\n"
        + "".join(f"import pl_tui.{m}\n" for m in CORE)
        + "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'rich'))\n"
        + "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_importing_touches_no_disk(tmp_path) -> None:
    env_code = "import pl_tui.cli, pl_tui.scan, pl_tui.ledger, pl_tui.config"
    env = {"HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path / "d"), "XDG_CONFIG_HOME": str(tmp_path / "c"),
           "PATH": "/usr/bin:/bin"}  # fmt: skip
    subprocess.run([sys.executable, "-c", env_code], check=True, env=env)
    assert list(tmp_path.iterdir()) == []
