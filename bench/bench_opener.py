"""An opener that answers every open late, like a NAS. Importable by spawned reader processes."""

import os
import time

_LATENCY_S = float(os.environ.get("PL_BENCH_LATENCY_MS", "1")) / 1000


def slow_open(path: str, flags: int) -> int:
    time.sleep(_LATENCY_S)  # sleeps without the GIL, as a blocking network open does
    return os.open(path, flags)
