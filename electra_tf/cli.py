"""What every command line shares: flag style, help, logging and user errors.

- Flags are spelled `--data-dir` style (the original's); where an earlier
  release of ours spelled one with underscores (`convert_checkpoint.py
  --hf_generator`, `--global_step`), that spelling stays an alias.
- `--help` shows every flag's default (`new_parser`).
- A user error (`electra_tf.errors.UserError`, or a file that does not
  exist) is one `error: <message>` line on stderr and exit status 2, before
  any heavy work where the inputs allow it (`run_main`); so is a fault of the
  machine (disk full, a file where a directory is expected, permission
  denied, a read-only file system); anything else keeps its traceback.
- On a machine without an NVIDIA driver, TensorFlow's start-up prints no
  CUDA error line (`quiet_cpu_only_startup`, installed by `electra_cli`).
"""

import argparse
import ctypes.util
import errno
import importlib.abc
import importlib.util
import logging
import os
import sys
import tempfile
from typing import Callable, Optional, Sequence

from electra_tf.errors import UserError

USER_ERROR_EXIT_CODE = 2


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter,
                    argparse.RawDescriptionHelpFormatter):
  """Shows defaults after each flag's help and keeps the description's layout."""


def new_parser(description: str, epilog: Optional[str] = None) -> argparse.ArgumentParser:
  return argparse.ArgumentParser(description=description, epilog=epilog,
                                 formatter_class=HelpFormatter)


def parse_bool(value: str) -> bool:
  """"true"/"false" (also 1/0, yes/no, any case) -> bool, for argparse."""
  lowered = value.strip().lower()
  if lowered in ("true", "1", "yes", "y", "t"):
    return True
  if lowered in ("false", "0", "no", "n", "f"):
    return False
  raise argparse.ArgumentTypeError(f"expected true or false, got {value!r}")


def positive_int(value: str) -> int:
  """An integer above 0, for argparse (a count of steps, calls, examples...)."""
  try:
    number = int(value)
  except ValueError:
    number = 0  # not an integer: refused below with the same message
  if number <= 0:
    raise argparse.ArgumentTypeError(f"expected a positive integer, got {value!r}")
  return number


def add_run_flags(parser: argparse.ArgumentParser, model_name_help: str) -> None:
  """The original's `--data-dir`, `--model-name` and `--hparams` flags."""
  parser.add_argument("--data-dir", required=True,
                      help="Location of data files (model weights, etc).")
  parser.add_argument("--model-name", required=True, help=model_name_help)
  parser.add_argument("--hparams", action="append", default=[],
                      help="JSON dict of model hyperparameters, or a path to a JSON file. "
                           "Repeatable, applied in order (a later key wins), e.g. "
                           "--hparams configs/small_corpus.json --hparams "
                           "'{\"num_train_steps\": 20}'.")


def add_case_flags(parser: argparse.ArgumentParser) -> None:
  """The tokenizer's lower-casing and accent flags, with the original's defaults."""
  parser.add_argument("--do-lower-case", dest="do_lower_case", action="store_true",
                      help="Lower case input text.")
  parser.add_argument("--no-lower-case", dest="do_lower_case", action="store_false",
                      help="Don't lower case input text.")
  parser.add_argument("--do-strip-accents", dest="strip_accents", action="store_true",
                      help="Strip accents (only when lower-casing).")
  parser.add_argument("--no-strip-accents", dest="strip_accents", action="store_false",
                      help="Don't strip accents.")
  parser.set_defaults(do_lower_case=True, strip_accents=True)


class LevelTaggedFormatter(logging.Formatter):
  """`HH:MM:SS message`; a warning or error says so: `HH:MM:SS WARNING: message`."""

  def format(self, record: logging.LogRecord) -> str:
    text = super().format(record)
    if record.levelno < logging.WARNING:
      return text
    stamp, _, message = text.partition(" ")
    return f"{stamp} {record.levelname}: {message}"


def configure_logging() -> None:
  """Timestamped INFO lines on stdout, warnings and errors tagged with their
  level; TensorFlow's and absl's internal INFO lines (e.g. per-checkpoint-save
  timings) silenced."""
  handler = logging.StreamHandler(sys.stdout)
  handler.setFormatter(LevelTaggedFormatter("%(asctime)s %(message)s", datefmt="%H:%M:%S"))
  logging.basicConfig(level=logging.INFO, handlers=[handler])
  for noisy in ("tensorflow", "absl"):
    logging.getLogger(noisy).setLevel(logging.WARNING)


def report_user_error(error: BaseException) -> int:
  """Prints `error: <message>` on stderr; returns the user-error exit status."""
  print(f"error: {error}", file=sys.stderr, flush=True)
  return USER_ERROR_EXIT_CODE


def run_main(main: Callable[[Optional[Sequence[str]]], Optional[int]],
             argv: Optional[Sequence[str]] = None) -> int:
  """Runs a command's `main(argv)`, turning user errors into exit status 2.

  Returns:
    `main`'s status (None counts as 0), or 2 after a user error.
  """
  try:
    status = main(argv)
  except (UserError, FileNotFoundError) as e:
    return report_user_error(e)
  except Exception as e:  # pylint: disable=broad-except
    message = environment_error_message(e)
    if message is None:
      raise
    return report_user_error(message)
  return 0 if status is None else status


# TensorFlow's C++ start-up lines that only say "there is no GPU here". They
# are at ERROR level, so TF_CPP_MIN_LOG_LEVEL=2 keeps them, and 3 would hide
# every real C++ error too.
CPU_ONLY_NOISE = ("failed call to cuInit", "Unable to register cuDNN factory",
                  "Unable to register cuFFT factory", "Unable to register cuBLAS factory")


def has_nvidia_driver() -> bool:
  """True when an NVIDIA driver is installed (then CUDA errors are real news)."""
  return (os.path.exists("/proc/driver/nvidia/version") or os.path.exists("/dev/nvidiactl")
          or ctypes.util.find_library("cuda") is not None)


class _QuietTensorFlowImport(importlib.abc.MetaPathFinder, importlib.abc.Loader):
  """Imports `tensorflow` and initialises its devices with file descriptor 2
  sent to a temporary file, then replays every captured line but the
  CPU-only noise. Only that bounded start-up is captured: later output goes
  to stderr directly."""

  def __init__(self):
    self._real_loader = None

  def find_spec(self, fullname, path=None, target=None):
    if fullname != "tensorflow":
      return None
    sys.meta_path.remove(self)  # one use: find the real module, then step aside
    spec = importlib.util.find_spec(fullname)
    if spec is None or spec.loader is None:
      return spec
    self._real_loader = spec.loader
    spec.loader = self
    return spec

  def create_module(self, spec):
    return self._real_loader.create_module(spec)

  def exec_module(self, module):
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
      os.dup2(captured.fileno(), 2)
      try:
        self._real_loader.exec_module(module)
        module.config.list_physical_devices()  # the platform init that logs cuInit
      finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        captured.seek(0)
        kept = [line for line in captured.read().decode("utf-8", "replace").splitlines(True)
                if not any(noise in line for noise in CPU_ONLY_NOISE)]
        sys.stderr.write("".join(kept))
        sys.stderr.flush()


def quiet_cpu_only_startup() -> None:
  """Drops TensorFlow's "no GPU" error lines (`CPU_ONLY_NOISE`) from its
  start-up when no NVIDIA driver is installed; a no-op if TensorFlow is
  already imported or a driver is present."""
  if "tensorflow" in sys.modules or has_nvidia_driver():
    return
  if not any(isinstance(f, _QuietTensorFlowImport) for f in sys.meta_path):
    sys.meta_path.insert(0, _QuietTensorFlowImport())


# Faults of the machine rather than of the code: errno -> what to do.
_ENVIRONMENT_ERRNOS = {
    errno.ENOSPC: "the disk is full: free space or write elsewhere",
    errno.EDQUOT: "the disk quota is exhausted: free space or write elsewhere",
    errno.ENOTDIR: "a file is where a directory is expected: move it or choose another path",
    errno.EISDIR: "a directory is where a file is expected: choose another path",
    errno.EACCES: "permission denied: check the path's owner and mode",
    errno.EROFS: "the file system is read-only: write elsewhere",
}


def environment_error_message(error: BaseException) -> Optional[str]:
  """One line for a disk-full, not-a-directory, permission or similar fault
  (Python's OSError or TensorFlow's file-system errors); None for others."""
  if isinstance(error, OSError) and error.errno in _ENVIRONMENT_ERRNOS:
    where = f" ({error.filename})" if error.filename else ""
    return f"{error.strerror}{where}; {_ENVIRONMENT_ERRNOS[error.errno]}"
  tf = sys.modules.get("tensorflow")
  if tf is None or not isinstance(error, tf.errors.OpError):
    return None
  first_line = (error.message or "").splitlines()[0] if error.message else ""
  lowered = first_line.lower()
  for needle, code in (("no space left", errno.ENOSPC), ("quota", errno.EDQUOT),
                       ("not a directory", errno.ENOTDIR), ("is a directory", errno.EISDIR),
                       ("read-only file system", errno.EROFS)):
    if needle in lowered:
      return f"{first_line}; {_ENVIRONMENT_ERRNOS[code]}"
  if isinstance(error, tf.errors.PermissionDeniedError):
    return f"{first_line}; {_ENVIRONMENT_ERRNOS[errno.EACCES]}"
  return None
