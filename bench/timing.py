"""Timing calls for the benchmarks: warm-up first, then one perf_counter reading per call."""

import time
from typing import Callable, Dict, List, Sequence

import numpy as np


def time_round_robin(calls: Dict[str, Callable[[], object]], repeats: int,
                     warmup: int = 5) -> Dict[str, List[float]]:
  """{name: [seconds per call]}: `warmup` untimed calls of each (tracing, allocator,
  thread pools), then `repeats` rounds in which the calls take turns, so a change
  in the machine's load reaches every variant alike."""
  for call in calls.values():
    for _ in range(warmup):
      call()
  times: Dict[str, List[float]] = {name: [] for name in calls}
  for _ in range(repeats):
    for name, call in calls.items():
      start = time.perf_counter()
      call()
      times[name].append(time.perf_counter() - start)
  return times


def percentile_ms(seconds: Sequence[float], q: float) -> float:
  """The q-th percentile of `seconds`, in milliseconds."""
  return 1000.0 * float(np.percentile(seconds, q))
