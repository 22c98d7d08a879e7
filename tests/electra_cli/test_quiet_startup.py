"""A CPU-only start-up prints no error-level line (`cli.quiet_cpu_only_startup`); a tiny
run prints each warning once."""

import json
import logging
import os
import shutil
import subprocess
import sys

import pytest

from electra_tf import cli
from tests.conftest import ROOT
from tests.helpers import glue_fixtures
from tests.helpers.archives import write_archive
from tests.helpers.output_lines import error_lines, repeated_warnings

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


@pytest.mark.e2e  # two Python processes starting TensorFlow
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



def run_script(script, *args):
  result = subprocess.run([sys.executable, str(ROOT / script), *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, timeout=600, check=False)
  output = result.stdout + result.stderr
  assert result.returncode == 0, output
  return output


@pytest.mark.e2e
@pytest.mark.slow
def test_every_script_starts_without_error_lines(tmp_path):
  """Each command's real run path on tiny inputs, as a user starts it."""
  data_dir = tmp_path / "data"
  corpus_dir = tmp_path / "text"
  corpus_dir.mkdir()
  lines = (ROOT / "data" / "corpus" / "hamlet_gut.txt").read_text().splitlines()[200:600]
  (corpus_dir / "hamlet.txt").write_text("\n".join(lines) + "\n")
  outputs = {}
  outputs["build_vocab"] = run_script("build_vocab.py", "--corpus-dir", corpus_dir,
                                      "--output-file", tmp_path / "vocab.txt",
                                      "--vocab-size", 500)
  data_dir.mkdir()
  shutil.copy(ROOT / "data" / "vocab.txt", data_dir / "vocab.txt")
  outputs["build_pretraining_dataset"] = run_script(
      "build_pretraining_dataset.py", "--corpus-dir", corpus_dir, "--vocab-file",
      data_dir / "vocab.txt", "--output-dir", data_dir / "pretrain_tfrecords",
      "--max-seq-length", 32, "--num-out-files", 2)
  hparams = {"model_size": "tiny", "max_seq_length": 32, "train_batch_size": 8,
             "num_train_steps": 2, "num_warmup_steps": 1, "iterations_per_loop": 2}
  outputs["run_pretraining"] = run_script("run_pretraining.py", "--data-dir", data_dir,
                                          "--model-name", "m", "--hparams", json.dumps(hparams))
  evaluation = {**hparams, "do_train": False, "do_eval": True, "eval_batch_size": 8,
                "num_eval_steps": 2}
  outputs["run_pretraining do_eval"] = run_script(
      "run_pretraining.py", "--data-dir", data_dir, "--model-name", "m", "--hparams",
      json.dumps(evaluation))
  glue_fixtures.write_glue(str(data_dir), ["sst"], n=8)
  finetuning = {"model_size": "tiny", "task_names": ["sst"], "max_seq_length": 32,
                "train_batch_size": 8, "num_train_epochs": 1, "seed": 0, "num_trials": 3,
                "write_test_outputs": True}
  outputs["run_finetuning"] = run_script("run_finetuning.py", "--data-dir", data_dir,
                                         "--model-name", "m", "--hparams", json.dumps(finetuning))
  expected = [line for line in outputs["run_finetuning"].splitlines() if "as expected" in line]
  assert len(expected) == 3 and "generator" in expected[0], outputs["run_finetuning"]
  outputs["export_saved_model"] = run_script("export_saved_model.py", "--model-dir",
                                             data_dir / "models" / "m", "--export-dir",
                                             tmp_path / "exports")
  outputs["convert_checkpoint"] = run_script(
      "convert_checkpoint.py", "--input", data_dir / "models" / "m" / "finetuning_models" /
      "sst_model_1", "--output", tmp_path / "hf_sst", "--to", "hf")
  owt_dir = tmp_path / "owt"
  (owt_dir / "openwebtext").mkdir(parents=True)
  shutil.copy(ROOT / "data" / "vocab.txt", owt_dir / "vocab.txt")
  write_archive(owt_dir / "openwebtext" / "urlsf_subset00-0_data.xz",
                {"0.txt": "\n".join(lines[:50]) + "\n", "1.txt": "\n".join(lines[50:99]) + "\n"})
  outputs["build_openwebtext_pretraining_dataset"] = run_script(
      "build_openwebtext_pretraining_dataset.py", "--data-dir", owt_dir, "--max-seq-length", 32,
      "--num-out-files", 2)
  for script, output in outputs.items():
    assert error_lines(output) == [], f"{script}:\n{output}"
    # Each warning once: e.g. TensorFlow's retracing warning, which fine-tuning
    # printed twice when it traced a prediction step per task and split.
    assert repeated_warnings(output) == [], f"{script}:\n{output}"


def test_repeated_warning_pattern():
  retracing = ("{} out of the last {} calls to <function f at 0x{}> triggered tf.function "
               "retracing.")
  text = "\n".join([
      "05:14:52 WARNING: " + retracing.format(5, 7, "7f1e592f8e00"),
      "05:14:53 WARNING: " + retracing.format(6, 9, "7f1e592f8ae0"),
      "2026-12-02 04:30:00.1: W tensorflow/core/x.cc:404] End of sequence",
      "2026-12-02 04:30:01.2: W tensorflow/core/x.cc:404] End of sequence",
      "/a/b.py:3: UserWarning: once", "05:14:54 no optimizer slots", "05:14:55 no optimizer slots"])
  assert repeated_warnings(text) == [
      "05:14:53 WARNING: " + retracing.format(6, 9, "7f1e592f8ae0"),
      "2026-12-02 04:30:01.2: W tensorflow/core/x.cc:404] End of sequence"]


def test_log_lines_name_warning_and_error_levels():
  formatter = cli.LevelTaggedFormatter("%(asctime)s %(message)s", datefmt="%H:%M:%S")

  def line(level):
    record = logging.LogRecord("x", level, __file__, 1, "a %s", ("message",), None)
    return formatter.format(record).split(" ", 1)[1]

  assert [line(logging.INFO), line(logging.WARNING), line(logging.ERROR)] == [
      "a message", "WARNING: a message", "ERROR: a message"]
