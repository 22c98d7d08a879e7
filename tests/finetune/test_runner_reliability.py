"""Fine-tuning never loses a previous model or its input: real runs, real faults."""

import json
import logging
import re
import shutil

import pytest

from electra_cli import run_finetuning
from tests.conftest import VOCAB_FILE
from tests.helpers.faults import kill_when, run_script, snapshot
from tests.helpers.glue_fixtures import write_task

pytestmark = pytest.mark.e2e

HPARAMS = {"model_size": "tiny", "task_names": ["sst"], "max_seq_length": 32,
           "init_checkpoint": None, "seed": 0, "train_batch_size": 8}


def args(data_dir, **hparams):
  return ["--data-dir", str(data_dir), "--model-name", "m",
          "--hparams", json.dumps({**HPARAMS, **hparams})]


@pytest.fixture
def trained(tmp_path):
  """A data dir with one finished fine-tuning run: (data_dir, model root)."""
  shutil.copyfile(VOCAB_FILE, tmp_path / "vocab.txt")
  write_task("sst", str(tmp_path / "finetuning_data" / "sst"), n=16)
  assert run_finetuning.main(args(tmp_path)) == 0
  return tmp_path, tmp_path / "models" / "m"


def test_killed_rerun_keeps_the_previous_model_and_results(trained):
  data_dir, model_root = trained
  before = snapshot(model_root / "finetuning_models")
  results_before = snapshot(model_root / "results")
  assert "sst_model_1/finetune_config.json" in before and any(
      name.startswith("sst_model_1/ckpt-") for name in before)
  # A long re-run, killed while it trains (after its first progress line).
  process = run_script("run_finetuning.py", args(data_dir, num_train_epochs=2000.0, seed=5,
                                                 iterations_per_loop=5))
  output = kill_when(process, r"step 5/\d+ ")
  assert "training " in output
  assert snapshot(model_root / "finetuning_models") == before
  assert snapshot(model_root / "results") == results_before

  # A complete re-run replaces the model and the results together, and
  # deletes the killed run's temporary directory.
  leftovers = list((model_root / "finetuning_models").glob(".sst_model_1.tmp-*"))
  assert len(leftovers) == 1
  assert run_finetuning.main(args(data_dir, seed=5)) == 0
  after = snapshot(model_root / "finetuning_models")
  assert after["sst_model_1/finetune_config.json"] != before["sst_model_1/finetune_config.json"]
  assert json.loads((model_root / "finetuning_models" / "sst_model_1" /
                     "finetune_config.json").read_text())["seed"] == 5
  assert snapshot(model_root / "results") != results_before
  assert sorted(p.name for p in (model_root / "finetuning_models").iterdir()) == ["sst_model_1"]


def test_init_checkpoint_in_the_trial_dir_it_replaces_is_refused(trained, capsys):
  data_dir, model_root = trained
  trial_dir = model_root / "finetuning_models" / "sst_model_1"
  before = snapshot(model_root)
  for init in (trial_dir, next(trial_dir.glob("ckpt-*.index")).with_suffix("")):
    assert run_finetuning.main(args(data_dir, init_checkpoint=str(init))) == 2
    err = capsys.readouterr().err
    assert re.fullmatch(
        rf"error: init_checkpoint {re.escape(str(init))} is in {re.escape(str(trial_dir))}, "
        r"the trial directory this run replaces with a new model: copy it elsewhere and point "
        r"init_checkpoint at the copy, or set model_dir to another directory\n", err), err
    assert snapshot(model_root) == before
  # Trial 2's directory is not replaced by a one-trial run: fine as init_checkpoint.
  shutil.copytree(trial_dir, model_root / "finetuning_models" / "sst_model_2")
  assert run_finetuning.main(args(data_dir, init_checkpoint=str(
      model_root / "finetuning_models" / "sst_model_2"))) == 0


def test_evaluation_only_runs_delete_no_trial_model(trained):
  data_dir, model_root = trained
  shutil.copytree(model_root / "finetuning_models" / "sst_model_1",
                  model_root / "finetuning_models" / "sst_model_2")
  before = snapshot(model_root / "finetuning_models")
  assert run_finetuning.main(args(data_dir, do_train=False, num_trials=2)) == 0
  assert snapshot(model_root / "finetuning_models") == before


def test_progress_is_logged_before_iterations_per_loop_steps(tmp_path, caplog):
  # 16 records / batch 8 x 20 epochs = 40 steps, iterations_per_loop 1000:
  # before, the only progress line came at the end.
  shutil.copyfile(VOCAB_FILE, tmp_path / "vocab.txt")
  write_task("sst", str(tmp_path / "finetuning_data" / "sst"), n=16)
  caplog.set_level(logging.INFO)
  assert run_finetuning.main(args(tmp_path, num_train_epochs=20.0)) == 0
  steps = [int(m) for m in re.findall(r"step (\d+)/40 \(", caplog.text)]
  assert steps[0] == 10 and steps[-1] == 40 and steps == sorted(steps), steps
