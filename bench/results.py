"""bench/RESULTS.md: each benchmark owns one '## …' section and rewrites it in place."""

from __future__ import annotations

from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


def replace_section(heading_prefix: str, lines: list[str]) -> None:
    """Put ``lines`` (starting with a '## …' heading) where the section whose heading starts with
    ``heading_prefix`` stands, or at the end when there is none yet."""
    text = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    body = "\n".join(lines).rstrip() + "\n"
    start = text.find(heading_prefix)
    if start < 0:
        RESULTS.write_text(text.rstrip() + "\n\n" + body)
        return
    end = text.find("\n## ", start + 1)
    rest = text[end + 1 :] if end >= 0 else ""
    RESULTS.write_text(text[:start] + body + ("\n" + rest if rest else ""))
