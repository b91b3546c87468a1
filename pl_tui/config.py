"""Where things live (platformdirs) and the user's TOML configuration.

The ledger defaults to the platform's user data dir (``PL_TUI_LEDGER`` or ``--ledger`` override
it); the config to the user config dir (``--config`` overrides it). Nothing is created at import.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import platformdirs

from .normalize import NightRule

APP = "pl-tui"
DEFAULT_REJECTS = ("**/reject*/**", "**/Rejected/**", "**/bad/**")


class ConfigError(Exception):
    """The config file is unreadable or says something that cannot be used."""


def default_ledger_path() -> Path:
    env = os.environ.get("PL_TUI_LEDGER")
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_data_dir(APP, appauthor=False)) / "ledger.sqlite"


def default_config_path() -> Path:
    return Path(platformdirs.user_config_dir(APP, appauthor=False)) / "config.toml"


@dataclass(slots=True)
class Config:
    settle_seconds: float = 30.0
    night_boundary_hour: float = 12.0
    time_zone: str | None = None  # IANA zone for every archive unless the archive has its own
    exclude: tuple[str, ...] = ()
    reject: tuple[str, ...] = DEFAULT_REJECTS
    archive_time_zones: dict[str, str] = field(default_factory=dict)
    target_aliases: dict[str, str] = field(default_factory=dict)
    filter_aliases: dict[str, str] = field(default_factory=dict)
    astrobin_filters: dict[str, int] = field(default_factory=dict)
    workers: int | None = None  # reader processes; None = by CPU count
    goals: dict[str, dict[str, float]] = field(default_factory=dict)  # target → filter → hours
    flat_nights: int = 0  # flats match lights this many nights apart (0: the same night)
    path: Path | None = None

    def night_rule(self, root: str) -> NightRule:
        tz = self.archive_time_zones.get(os.path.normpath(root), self.time_zone)
        return NightRule(boundary_hour=self.night_boundary_hour, tz=tz)


def load_config(path: Path | None = None) -> Config:
    """Read the TOML config; a missing default file is an empty config, a bad one an error."""
    explicit = path is not None
    path = path or default_config_path()
    if not path.exists():
        if explicit:
            raise ConfigError(f"config file not found: {path}")
        return Config()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise ConfigError(f"cannot read config {path}: {e}") from e
    try:
        return _from_dict(data, path)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"config {path}: {e}") from e


def _zone(name: object, where: str) -> str:
    if not isinstance(name, str):
        raise ValueError(f"{where} must be an IANA time zone name such as 'Europe/Berlin'")
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as e:
        raise ValueError(f"{where}: unknown time zone {name!r}") from e
    return name


def _str_map(d: object, where: str) -> dict[str, str]:
    if not isinstance(d, dict) or not all(isinstance(v, str) for v in d.values()):
        raise ValueError(f"[{where}] must map names to names")
    return {str(k): v for k, v in d.items()}


def _globs(v: object, where: str) -> tuple[str, ...]:
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        raise ValueError(f"{where} must be a list of glob strings")
    return tuple(v)


def _from_dict(data: dict, path: Path) -> Config:
    cfg = Config(path=path)
    if "settle_seconds" in data:
        cfg.settle_seconds = float(data["settle_seconds"])
    if "night_boundary_hour" in data:
        h = float(data["night_boundary_hour"])
        if not 0 <= h < 24:
            raise ValueError("night_boundary_hour must be between 0 and 24")
        cfg.night_boundary_hour = h
    if "time_zone" in data:
        cfg.time_zone = _zone(data["time_zone"], "time_zone")
    if "exclude" in data:
        cfg.exclude = _globs(data["exclude"], "exclude")
    if "reject" in data:
        cfg.reject = _globs(data["reject"], "reject")
    if "workers" in data:
        cfg.workers = int(data["workers"])
    for root, section in (data.get("archives") or {}).items():
        if isinstance(section, dict) and "time_zone" in section:
            where = f"[archives.{root!r}] time_zone"
            cfg.archive_time_zones[os.path.normpath(os.path.expanduser(root))] = _zone(section["time_zone"], where)
    aliases = data.get("aliases") or {}
    cfg.target_aliases = _str_map(aliases.get("target", {}), "aliases.target")
    cfg.filter_aliases = _str_map(aliases.get("filter", {}), "aliases.filter")
    ab = (data.get("astrobin") or {}).get("filters", {})
    if not isinstance(ab, dict) or not all(isinstance(v, int) for v in ab.values()):
        raise ValueError("[astrobin.filters] must map filter names to AstroBin numeric ids")
    cfg.astrobin_filters = dict(ab)
    goals = data.get("goals") or {}
    if not isinstance(goals, dict) or not all(
        isinstance(per, dict) and all(isinstance(h, int | float) and h >= 0 for h in per.values())
        for per in goals.values()
    ):
        raise ValueError("[goals] must map targets to filters and hours: [goals.M81] Ha = 10")
    cfg.goals = {str(t): {str(f): float(h) for f, h in per.items()} for t, per in goals.items()}
    if "flat_nights" in data:
        cfg.flat_nights = int(data["flat_nights"])
        if cfg.flat_nights < 0:
            raise ValueError("flat_nights must be 0 or more")
    return cfg
