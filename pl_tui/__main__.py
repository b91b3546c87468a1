"""``pl-tui`` and ``python -m pl_tui``.

The console script imports this module, not the CLI: a reader process is spawned with the
parent's main script re-run as ``__mp_main__``, and that run should cost an import of this file,
not of the whole command line (its ledger, domain and export modules). The CLI is imported when
the command runs."""

from __future__ import annotations


def main() -> int:
    from .cli import main as cli_main

    return cli_main()


if __name__ == "__main__":
    raise SystemExit(main())
