"""A CPU-only start-up prints no error-level line (`cli.quiet_cpu_only_startup`)."""

import os
import subprocess
import sys

import pytest

from electra_tf import cli
from tests.conftest import ROOT
from tests.helpers.output_lines import error_lines

START_TENSORFLOW = ("import tensorflow as tf, sys; tf.constant(1) + 1; "
                    "sys.stderr.write('after start-up\\n')")


def run_python(code):
  env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
  return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True,
                        text=True, timeout=300, check=True)


def test_error_line_pattern():
  assert error_lines("2026-12-02 04:30:00.868478: E external/local_xla/x.cc:51] failed\n"
                     "E0000 00:00:1700000000.1 123 x.cc:1] boom\nERROR:root:bad\n"
                     "04:30:01 step 10 loss 3.2\nI0000 fine\nerror-free text") == [
                         "2026-12-02 04:30:00.868478: E external/local_xla/x.cc:51] failed",
                         "E0000 00:00:1700000000.1 123 x.cc:1] boom", "ERROR:root:bad"]


@pytest.mark.skipif(cli.has_nvidia_driver(), reason="CUDA errors are real on a GPU machine")
def test_cuda_noise_is_dropped_and_other_stderr_kept():
  plain = run_python(START_TENSORFLOW)
  quiet = run_python("import electra_cli; " + START_TENSORFLOW)
  assert "after start-up" in quiet.stderr
  assert error_lines(quiet.stderr) == [], quiet.stderr
  # Without the hook, this TensorFlow build does print the cuInit error line.
  if not any(noise in plain.stderr for noise in cli.CPU_ONLY_NOISE):
    pytest.skip("this TensorFlow build prints no CPU-only noise to drop")
  assert error_lines(plain.stderr)
