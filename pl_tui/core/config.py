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

from .errors import PlTuiError, UserInputError, finite
from .normalize import NightRule

APP = "pl-tui"
DEFAULT_REJECTS = ("**/reject*/**", "**/Rejected/**", "**/bad/**")
WORKERS_PER_CPU = 4  # reader processes beyond this only queue for the CPUs (and each costs ~40 MB)


class ConfigError(PlTuiError):
    """The config file is unreadable or says something that cannot be used."""


def cpu_count() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


def max_workers() -> int:
    """The most reader processes a scan starts on this machine."""
    return WORKERS_PER_CPU * cpu_count()


def check_workers(n: int, what: str = "--workers") -> int:
    """A number of reader processes the user asked for: 0 (read in-process) up to max_workers()."""
    if isinstance(n, bool) or not isinstance(n, int) or not 0 <= n <= max_workers():
        raise UserInputError(
            f"{what} takes 0 (no reader processes) to {max_workers()} ({WORKERS_PER_CPU} per CPU here), not {n!r}"
        )
    return n


def check_poll(seconds: float | str, what: str = "--poll") -> float:
    """The seconds between two rescans of a watched archive: finite, at least 1, at most a day
    (NaN made the watch spin; infinity overflowed the sleep)."""
    try:
        return finite(seconds, what, 1, 86_400)
    except UserInputError:
        raise UserInputError(
            f"{what} takes a positive number of seconds between rescans, from 1 to 86400, not {seconds!r}"
        ) from None


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
    # what the file says that pl-tui ignores (unknown keys, capped values): the faces show these
    warnings: tuple[str, ...] = ()

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
    except (TypeError, ValueError, OverflowError) as e:  # UserInputError is a ValueError
        raise ConfigError(f"config {path}: {e}") from e


def _zone(name: object, where: str) -> str:
    if not isinstance(name, str):
        raise ValueError(f"{where} must be an IANA time zone name such as 'Europe/Berlin'")
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as e:  # "Europe" is a folder of zones: OSError
        raise ValueError(f"{where}: unknown time zone {name!r} (a name such as 'Europe/Berlin')") from e
    return name


def _table(v: object, where: str) -> dict:
    if not isinstance(v, dict):
        raise ValueError(f"{where} must be a table ([{where}] with keys below it), not {v!r}")
    return v


def _str_map(d: object, where: str) -> dict[str, str]:
    if not isinstance(d, dict) or not all(isinstance(v, str) for v in d.values()):
        raise ValueError(f"[{where}] must map names to names")
    return {str(k): v for k, v in d.items()}


def _globs(v: object, where: str) -> tuple[str, ...]:
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        raise ValueError(f"{where} must be a list of glob strings")
    return tuple(v)


def _number(v: object, where: str, low: float, high: float | None = None) -> float:
    if not isinstance(v, int | float) or isinstance(v, bool):
        raise ValueError(f"{where} must be a number, not {v!r}")
    return finite(v, where, low, high)


def _whole(v: object, where: str, low: int, high: int) -> int:
    if not isinstance(v, int) or isinstance(v, bool) or not low <= v <= high:
        raise ValueError(f"{where} must be a whole number from {low} to {high}, not {v!r}")
    return v


KNOWN_KEYS = {
    "settle_seconds", "night_boundary_hour", "time_zone", "exclude", "reject", "workers", "archives",
    "aliases", "astrobin", "goals", "flat_nights",
}  # fmt: skip


def _unknown(table: dict, known: set[str] | tuple[str, ...], where: str, path: Path) -> list[str]:
    """A warning per key pl-tui does not know (a typo is noticed, not silently ignored)."""
    return [
        f"{path}: unknown key {where}{k!r} ignored (known: {', '.join(sorted(known))})" for k in table if k not in known
    ]


def _from_dict(data: dict, path: Path) -> Config:
    cfg = Config(path=path)
    warnings = _unknown(data, KNOWN_KEYS, "", path)
    if "settle_seconds" in data:
        cfg.settle_seconds = _number(data["settle_seconds"], "settle_seconds", 0, 86_400)
    if "night_boundary_hour" in data:
        h = _number(data["night_boundary_hour"], "night_boundary_hour", 0, 24)
        if h >= 24:
            raise ValueError("night_boundary_hour must be between 0 and 24")
        cfg.night_boundary_hour = h
    if "time_zone" in data:
        cfg.time_zone = _zone(data["time_zone"], "time_zone")
    if "exclude" in data:
        cfg.exclude = _globs(data["exclude"], "exclude")
    if "reject" in data:
        cfg.reject = _globs(data["reject"], "reject")
    if "workers" in data:
        n = _whole(data["workers"], "workers", 0, 1 << 20)
        if n > max_workers():
            warnings.append(f"{path}: workers = {n} is more than this machine uses; {max_workers()} it is")
            n = max_workers()
        cfg.workers = n
    for root, raw in _table(data.get("archives", {}), "archives").items():
        where = f"archives.{root!r}"
        section = _table(raw, where)
        warnings += _unknown(section, ("time_zone",), f"[{where}] ", path)
        if "time_zone" in section:
            cfg.archive_time_zones[os.path.normpath(os.path.expanduser(root))] = _zone(
                section["time_zone"], f"[{where}] time_zone"
            )
    aliases = _table(data.get("aliases", {}), "aliases")
    warnings += _unknown(aliases, ("target", "filter"), "[aliases] ", path)
    cfg.target_aliases = _str_map(aliases.get("target", {}), "aliases.target")
    cfg.filter_aliases = _str_map(aliases.get("filter", {}), "aliases.filter")
    astrobin = _table(data.get("astrobin", {}), "astrobin")
    warnings += _unknown(astrobin, ("filters",), "[astrobin] ", path)
    ab = astrobin.get("filters", {})
    if not isinstance(ab, dict) or not all(isinstance(v, int) and not isinstance(v, bool) for v in ab.values()):
        raise ValueError("[astrobin.filters] must map filter names to AstroBin numeric ids")
    cfg.astrobin_filters = dict(ab)
    goals = _table(data.get("goals", {}), "goals")
    message = "[goals] must map targets to filters and hours: [goals.M81] Ha = 10"
    if not all(isinstance(per, dict) for per in goals.values()):
        raise ValueError(message)
    try:
        cfg.goals = {
            str(t): {str(f): _number(h, f"[goals.{t!r}] {f}", 0, 100_000) for f, h in per.items()}
            for t, per in goals.items()
        }
    except ValueError as e:
        raise ValueError(f"{message} ({e})") from None
    if "flat_nights" in data:
        v = data["flat_nights"]
        if isinstance(v, int) and not isinstance(v, bool) and v < 0:
            raise ValueError("flat_nights must be 0 or more")
        cfg.flat_nights = _whole(v, "flat_nights", 0, 366)
    cfg.warnings = tuple(warnings)
    return cfg
