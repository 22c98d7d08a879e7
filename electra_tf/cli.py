"""What the original's two entry scripts share: their flags and log format."""

import argparse
import logging
import sys
from typing import Optional, Sequence


def parse_run_args(description: str, model_name_help: str,
                   argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
  """The original's `--data-dir`, `--model-name` and `--hparams` flags."""
  parser = argparse.ArgumentParser(description=description)
  parser.add_argument("--data-dir", required=True,
                      help="Location of data files (model weights, etc).")
  parser.add_argument("--model-name", required=True, help=model_name_help)
  parser.add_argument("--hparams", default="{}",
                      help="JSON dict of model hyperparameters, or a path to a JSON file.")
  return parser.parse_args(argv)


def configure_logging() -> None:
  """Timestamped INFO lines on stdout; TensorFlow's and absl's internal INFO
  lines (e.g. per-checkpoint-save timings) silenced."""
  logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s",
                      datefmt="%H:%M:%S", stream=sys.stdout)
  for noisy in ("tensorflow", "absl"):
    logging.getLogger(noisy).setLevel(logging.WARNING)
