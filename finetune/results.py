"""A fine-tuning run's results: the original's results files (`task: metric:
value - ...` lines and a pickle of per-trial dicts) and the trials' summary table."""

from typing import Dict, List, Sequence, Tuple

import numpy as np

from electra_tf import fileio
from finetune.config import FinetuningConfig

Results = Dict[str, Dict[str, float]]  # task -> metric -> value


def format_results(task_results: Dict[str, float]) -> str:
  """`metric: value - metric: value`, 2 decimals: the original's results line."""
  return " - ".join(f"{k}: {v:.2f}" for k, v in task_results.items())


def write_results(config: FinetuningConfig, results: Sequence[Results]) -> None:
  """The original's results files: one `task: metric: value - ...` line per
  task and trial (2 decimals), and the list of per-trial dicts as a pickle."""
  lines = []
  for trial_results in results:
    for task_name, task_results in trial_results.items():
      lines.append(f"{task_name}: {format_results(task_results)}")
  fileio.write_pickle(config.results_pkl, list(results))
  fileio.atomic_write(config.results_txt, "".join(line + "\n" for line in lines))


def results_table(results: Sequence[Results]) -> str:
  """A table of every task and metric: mean and standard deviation over the
  trials, the number of trials, and each trial's value."""
  rows = [("task", "metric", "mean", "std", "trials", "per trial")]
  metrics: Dict[Tuple[str, str], List[float]] = {}
  for trial_results in results:
    for task_name, task_results in trial_results.items():
      for metric, value in task_results.items():
        metrics.setdefault((task_name, metric), []).append(value)
  for (task_name, metric), values in metrics.items():
    rows.append((task_name, metric, f"{np.mean(values):.2f}", f"{np.std(values):.2f}",
                 str(len(values)), " ".join(f"{v:.2f}" for v in values)))
  widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
  return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip()
                   for row in rows)
