"""Exclude and reject globs (the config's ``exclude`` and ``reject``) over paths below a root."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(slots=True, frozen=True)
class Globs:
    """Case-insensitive globs over '/' + the path below the root. Globs that end in ``/**``
    (``**/_trash/**``, ``**/reject*/**``) name folders and are decided once per folder; the
    others are tried on each file."""

    folders: re.Pattern[str] | None
    files: re.Pattern[str] | None

    @classmethod
    def compile(cls, patterns: Sequence[str]) -> Globs:
        def rx(ps: list[str]) -> re.Pattern[str] | None:
            return re.compile("|".join(fnmatch.translate(p) for p in ps), re.IGNORECASE) if ps else None

        return cls(rx([p for p in patterns if p.endswith("/**")]), rx([p for p in patterns if not p.endswith("/**")]))

    def folder(self, parts: tuple[str, ...]) -> bool:
        return self.folders is not None and self.folders.match("/".join(("", *parts, "x"))) is not None

    def file(self, parts: tuple[str, ...], name: str) -> bool:
        return self.files is not None and self.files.match("/".join(("", *parts, name))) is not None
