"""Faults of the machine are one line, not a traceback, and lose nothing:
a disk that fills (a real 256 KiB tmpfs), a file where a directory is expected."""

import json
import shutil
import subprocess

import pytest

from electra_cli import convert_checkpoint, run_finetuning
from tests.conftest import VOCAB_FILE
from tests.helpers import trainer as trainer_helpers
from tests.helpers.faults import snapshot
from tests.helpers.glue_fixtures import write_task


@pytest.fixture
def small_disk(tmp_path):
  """A 256 KiB tmpfs (needs mount rights: root in a container)."""
  mount_point = tmp_path / "small_disk"
  mount_point.mkdir()
  if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount_point)],
                    capture_output=True).returncode != 0:
    pytest.skip("cannot mount a tmpfs here")
  yield mount_point
  subprocess.run(["umount", str(mount_point)], check=True)


@pytest.mark.e2e  # trains a tiny run first
def test_a_full_disk_is_one_line_and_leaves_nothing(tmp_path, small_disk, capsys):
  run_dir = tmp_path / "models" / "m1"
  trainer_helpers.train(run_dir, num_train_steps=1, iterations_per_loop=1)
  before = snapshot(run_dir)
  assert convert_checkpoint.main(["--input", str(run_dir), "--output",
                                  str(small_disk / "converted"), "--to", "original"]) == 2
  err = capsys.readouterr().err
  assert err.startswith("error: ") and err.count("\n") == 1, err
  assert err.rstrip().endswith("the disk is full: free space or write elsewhere"), err
  assert list(small_disk.iterdir()) == []  # no partial output, no temporary
  assert snapshot(run_dir) == before


def test_a_file_where_a_directory_is_expected_is_one_line(tmp_path, capsys):
  shutil.copyfile(VOCAB_FILE, tmp_path / "vocab.txt")
  write_task("sst", str(tmp_path / "finetuning_data" / "sst"))
  (tmp_path / "models").write_text("not a directory\n")
  assert run_finetuning.main([
      "--data-dir", str(tmp_path), "--model-name", "m", "--hparams",
      json.dumps({"model_size": "tiny", "task_names": ["sst"], "max_seq_length": 32,
                  "init_checkpoint": None})]) == 2
  err = capsys.readouterr().err
  assert err.count("\n") == 1 and "models" in err, err
  assert err.rstrip().endswith(
      "a file is where a directory is expected: move it or choose another path"), err
  assert (tmp_path / "models").read_text() == "not a directory\n"
