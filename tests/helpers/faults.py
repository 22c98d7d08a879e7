"""Real faults for reliability tests: a command SIGKILLed mid-run, and
snapshots (relative path -> SHA-256) of the outputs it must not lose."""

import hashlib
import os
import pathlib
import re
import selectors
import signal
import subprocess
import sys
import time
from typing import Dict, Sequence

ROOT = pathlib.Path(__file__).resolve().parents[2]


def snapshot(directory) -> Dict[str, str]:
  """Every file under `directory` (hidden temporaries excluded) -> its SHA-256."""
  files = {}
  for root, dirs, names in os.walk(directory):
    dirs[:] = sorted(d for d in dirs if not d.startswith("."))
    for name in names:
      if name.startswith("."):
        continue
      path = os.path.join(root, name)
      with open(path, "rb") as f:
        files[os.path.relpath(path, directory)] = hashlib.sha256(f.read()).hexdigest()
  return files


def run_script(script: str, args: Sequence[str], **popen_kwargs) -> subprocess.Popen:
  """Starts one of the root scripts (e.g. "run_finetuning.py") in a new
  process, stdout and stderr merged into a pipe."""
  env = {**os.environ, "PYTHONUNBUFFERED": "1", "TF_CPP_MIN_LOG_LEVEL": "2"}
  return subprocess.Popen([sys.executable, str(ROOT / script), *args], cwd=str(ROOT),
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          env=env, **popen_kwargs)


def kill_when(process: subprocess.Popen, pattern: str, timeout: float = 300.0) -> str:
  """Reads `process`'s output until a line matches `pattern`, then SIGKILLs it.

  Returns:
    The output read. Fails (AssertionError) if the process ends first or
    `timeout` seconds pass.
  """
  output = []
  selector = selectors.DefaultSelector()
  selector.register(process.stdout, selectors.EVENT_READ)
  deadline = time.monotonic() + timeout
  try:
    while time.monotonic() < deadline:
      if not selector.select(timeout=1.0):
        continue
      line = process.stdout.readline()
      if not line:
        raise AssertionError("the process ended before the fault:\n" + "".join(output))
      output.append(line)
      if re.search(pattern, line):
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        return "".join(output)
    raise AssertionError(f"no line matched {pattern!r} in {timeout} s:\n" + "".join(output))
  finally:
    if process.poll() is None:
      process.kill()
      process.wait()
    process.stdout.close()


def assert_kept(before: Dict[str, str], after: Dict[str, str]) -> None:
  """Every file of `before` is in `after`, unchanged (new files are allowed)."""
  lost = sorted(name for name in before if name not in after)
  changed = sorted(name for name in before if name in after and after[name] != before[name])
  assert not lost and not changed, f"lost {lost}, changed {changed}"
