"""Running a builder's jobs in parallel processes that die with the builder."""

import concurrent.futures
import multiprocessing
import os
import threading
import time
from typing import Any, Callable, List, Sequence

from data_prep.corpus import DataPrepError


def _exit_with_parent(parent_pid: int) -> None:
  """Worker initializer: the worker exits as soon as the builder process is
  gone, so a killed build leaves no orphans that keep reading and writing."""
  def watch() -> None:
    while os.getppid() == parent_pid:
      time.sleep(0.5)
    os._exit(1)  # pylint: disable=protected-access
  threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def run_jobs(job_fn: Callable[[int, Any, Sequence[str]], Any], options: Any,
             splits: List[List[str]]) -> List[Any]:
  """Runs one job per split, in this process or in spawned subprocesses."""
  if len(splits) == 1:
    return [job_fn(0, options, splits[0])]
  # "spawn": forking a process that may hold TensorFlow state can deadlock.
  context = multiprocessing.get_context("spawn")
  with concurrent.futures.ProcessPoolExecutor(len(splits), mp_context=context,
                                              initializer=_exit_with_parent,
                                              initargs=(os.getpid(),)) as pool:
    futures = [pool.submit(job_fn, job_id, options, split)
               for job_id, split in enumerate(splits)]
    concurrent.futures.wait(futures)
  failures = [(job_id, future.exception()) for job_id, future in enumerate(futures)
              if future.exception() is not None]
  if failures:
    details = "; ".join(f"job {job_id}: {type(e).__name__}: {e}" for job_id, e in failures)
    raise DataPrepError(f"{len(failures)} of {len(splits)} jobs failed ({details})")
  return [future.result() for future in futures]
