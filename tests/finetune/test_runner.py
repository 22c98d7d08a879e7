"""run_finetuning.py end to end: bad input fails early; pretrain -> fine-tune -> evaluate."""

import json
import logging
import os
import pickle
import re
import shutil

import numpy as np
import pytest
import tensorflow as tf

from electra_cli import run_finetuning
from finetune import datasets, modeling
from finetune.config import FinetuningConfig
from finetune.runner import ModelRunner, prepare_run
from tests.conftest import SENTIMENT_FILE, VOCAB_FILE
from tests.finetune.conftest import PRETRAINED_MODEL
from tests.helpers.glue_fixtures import write_task

# Whole fine-tuning runs from a pre-trained checkpoint.
pytestmark = pytest.mark.e2e


def run(data_dir, model_name="m", **hparams):
  hparams = {"model_size": "tiny", "task_names": ["sst"], "max_seq_length": 32, **hparams}
  return run_finetuning.main(["--data-dir", str(data_dir), "--model-name", model_name,
                              "--hparams", json.dumps(hparams)])


@pytest.fixture
def data_dir(tmp_path):
  shutil.copyfile(VOCAB_FILE, tmp_path / "vocab.txt")
  write_task("sst", str(tmp_path / "finetuning_data" / "sst"))
  return tmp_path


def assert_fails_early(data_dir, capsys, message, **hparams):
  assert run(data_dir, **hparams) == 2
  captured = capsys.readouterr()
  assert captured.err.startswith("error: ") and re.search(message, captured.err), captured.err
  # Nothing was built: no cached features, no model directory, no training.
  model_root = data_dir / "models" / "m"
  assert not list(model_root.glob("finetuning_tfrecords/*/*.metadata"))
  assert not os.path.exists(model_root / "finetuning_models")
  assert not re.search(r"training \d+ steps", captured.out)


def test_unknown_task_lists_the_valid_ones(data_dir, capsys):
  assert_fails_early(data_dir, capsys, r"Unknown task\(s\) \['sst2'\] in task_names\. Valid "
                     r"tasks: chunk, cola, mnli, mrpc, naturalqs, ner, newsqa, pos, qnli, qqp, rte, "
                     r"searchqa, squad, squadv1, sst, sts, triviaqa, wnli, or mrqa_<name>",
                     task_names=["sst2"])


def test_wrong_column_count_names_file_and_line(data_dir, capsys):
  path = data_dir / "finetuning_data" / "sst" / "dev.tsv"
  with open(path, "a") as f:
    f.write("a sentence\twith a tab\t1\n")
  assert_fails_early(data_dir, capsys, re.escape(f"{path}:8: 3 tab-separated columns where the "
                                                 "header has 2"), init_checkpoint=None)


def test_unknown_label_names_file_and_line(data_dir, capsys):
  path = data_dir / "finetuning_data" / "sst" / "train.tsv"
  with open(path, "a") as f:
    f.write("a fine sentence\tpositive\n")
  assert_fails_early(data_dir, capsys, re.escape(f"{path}:8: unknown label 'positive'; the sst "
                                                 "labels are ['0', '1']"), init_checkpoint=None)


def test_empty_split_is_named(data_dir, capsys):
  path = data_dir / "finetuning_data" / "sst" / "train.tsv"
  path.write_text("sentence\tlabel\n")
  assert_fails_early(data_dir, capsys, re.escape(f"{path} has no examples"),
                     init_checkpoint=None)


def test_missing_data_files_are_listed(data_dir, capsys):
  os.remove(data_dir / "finetuning_data" / "sst" / "test.tsv")
  assert_fails_early(data_dir, capsys, r"missing fine-tuning data: .*sst/test\.tsv \(sst test\)",
                     init_checkpoint=None, write_test_outputs=True)


def test_missing_init_checkpoint_is_named(data_dir, capsys):
  # The default init_checkpoint, DATA_DIR/models/m, holds nothing.
  assert_fails_early(data_dir, capsys, r"init_checkpoint '.*models/m' does not exist.*"
                     r"\"init_checkpoint\": null")
  assert_fails_early(data_dir, capsys, r"init_checkpoint '/no/such/ckpt' does not exist",
                     init_checkpoint="/no/such/ckpt")
  os.makedirs(data_dir / "models" / "m")
  assert_fails_early(data_dir, capsys, r"init_checkpoint: no checkpoint in directory")
  assert_fails_early(data_dir, capsys, r"do_train is false but there is nothing to evaluate",
                     init_checkpoint=None, do_train=False)


@pytest.mark.parametrize("tokens, why", [
    (["[UNK]"], "which WordPiece needs for unknown words"),
    (["[CLS]", "[SEP]"], "which every fine-tuning input starts and ends with"),
])
def test_a_vocab_without_a_token_fine_tuning_needs_is_named(data_dir, capsys, tokens, why):
  vocab = data_dir / "vocab.txt"
  text = vocab.read_text()
  for token in tokens:  # same line count, so vocab_size still matches
    text = text.replace(f"{token}\n", f"{token.lower()}_gone\n", 1)
  vocab.write_text(text)
  assert_fails_early(data_dir, capsys, re.escape(
      f"vocab file {str(vocab)!r} lacks {' and '.join(tokens)}, {why}; use a WordPiece vocab "
      "that has them, e.g. the model's own"), init_checkpoint=None)


def test_unknown_hparam_is_named(data_dir, capsys):
  assert_fails_early(data_dir, capsys, r"Unknown hparam 'num_epochs'", num_epochs=3)


# --- end to end -------------------------------------------------------------------------

PROGRESS = re.compile(r"step \d+/\d+ \(\d+\.\d%\) \| loss \d+\.\d{4} \| lr \S+ \| "
                      r"\d+\.\d+ steps/s \| elapsed \S+ ETA \S+")


def finetune_sentiment(data_dir, caplog, **hparams):
  """Fine-tunes the pre-trained model on the shipped sentiment set; returns the
  trial results, the dev majority rate and the hparams used."""
  summary = datasets.build_sentiment_task(str(SENTIMENT_FILE),
                                          str(data_dir / "finetuning_data" / "sst"))
  hparams = {"model_size": "tiny", "task_names": ["sst"], "max_seq_length": 64,
             "learning_rate": 5e-4, "num_train_epochs": 3.0, "num_trials": 2, "seed": 1,
             "write_test_outputs": True, "iterations_per_loop": 66, **hparams}
  caplog.set_level(logging.INFO)
  assert run_finetuning.main(["--data-dir", str(data_dir), "--model-name", PRETRAINED_MODEL,
                              "--hparams", json.dumps(hparams)]) == 0
  results_pkl = data_dir / "models" / PRETRAINED_MODEL / "results" / "sst_results.pkl"
  with open(results_pkl, "rb") as f:
    results = pickle.load(f)
  return results, summary.majority_rate("dev"), hparams


def test_pretrain_then_finetune_sentiment_beats_the_majority_class(pretrained_data_dir, caplog):
  data_dir = pretrained_data_dir
  results, majority, hparams = finetune_sentiment(data_dir, caplog)
  model_root = data_dir / "models" / PRETRAINED_MODEL
  # Initialised from the pre-training run (the default init_checkpoint).
  assert f"loaded 39 variables from {model_root / 'ckpt-15'}" in caplog.text

  # Two trials, each clearly above always answering the majority class.
  assert len(results) == 2
  accuracies = [r["sst"]["accuracy"] for r in results]
  print(f"dev accuracy per trial {accuracies}, majority class {majority:.2f}")
  assert all(a > majority + 5 for a in accuracies), (accuracies, majority)
  assert accuracies[0] != accuracies[1]  # different seeds
  lines = (model_root / "results" / "sst_results.txt").read_text().splitlines()
  assert lines == [f"sst: accuracy: {a:.2f} - loss: {r['sst']['loss']:.2f}"
                   for a, r in zip(accuracies, results)]
  assert PROGRESS.search(caplog.text), caplog.text
  # The original's step count (padded examples // batch * epochs) and 10% warm-up.
  assert ("training 198 steps: 2083 records (2112 with padding) x 3 epochs / batch 32 | "
          "lr 0.0005, warm-up 19 steps, linear decay | layer-wise decay 0.8 over 2 layers | "
          "weight decay 0.01") in caplog.text
  assert "step 198/198 (100.0%)" in caplog.text and "| lr 0.000e+00 |" in caplog.text
  assert re.search(r"task\s+metric\s+mean\s+std\s+trials\s+per trial\n"
                   r"sst\s+accuracy\s+\d+\.\d\d\s+\d+\.\d\d\s+2\s", caplog.text)

  for trial, seed in ((1, 1), (2, 2)):
    trial_dir = model_root / "finetuning_models" / f"sst_model_{trial}"
    saved = json.loads((trial_dir / "finetune_config.json").read_text())
    assert saved["seed"] == seed and saved["task_names"] == ["sst"]
    assert (trial_dir / "vocab.txt").read_bytes() == VOCAB_FILE.read_bytes()
    submission = (model_root / "test_predictions" / f"sst_submission_{trial}" /
                  "SST-2.tsv").read_text().splitlines()
    assert submission[0] == "index\tprediction" and len(submission) == 448
    assert {line.split("\t")[1] for line in submission[1:]} == {"0", "1"}
    assert (model_root / "test_predictions" / f"sst_test_{trial}_predictions.pkl").exists()

  # The saved model reproduces trial 1's dev accuracy (as the serving export loads it).
  finetuned = modeling.load_finetuned_model(
      str(model_root / "finetuning_models" / "sst_model_1"))
  dev = [line.split("\t") for line in
         (data_dir / "finetuning_data" / "sst" / "dev.tsv").read_text().splitlines()[1:]]
  features = finetuned.tasks[0].encode([text for text, _ in dev])
  predictions = finetuned.model(features, training=False)["sst"]["predictions"].numpy()
  labels = np.array([int(label) for _, label in dev])
  assert 100 * np.mean(predictions == labels) == pytest.approx(accuracies[0], abs=1e-9)

  # Evaluation only (do_train false): each trial's checkpoint gives the same numbers.
  caplog.clear()
  assert run_finetuning.main(["--data-dir", str(data_dir), "--model-name", PRETRAINED_MODEL,
                              "--hparams", json.dumps({**hparams, "do_train": False,
                                                       "write_test_outputs": False})]) == 0
  with open(model_root / "results" / "sst_results.pkl", "rb") as f:
    evaluated = pickle.load(f)
  assert [r["sst"]["accuracy"] for r in evaluated] == pytest.approx(accuracies, abs=1e-9)
  assert not re.search(r"training \d+ steps", caplog.text)


def test_two_replicas_train_and_evaluate(pretrained_data_dir, tmp_path):
  """MirroredStrategy over the two logical CPUs: every example is scored once."""
  shutil.copyfile(VOCAB_FILE, tmp_path / "vocab.txt")
  write_task("rte", str(tmp_path / "finetuning_data" / "rte"), n=10)
  config = FinetuningConfig.create(
      "m", str(tmp_path), model_size="tiny", task_names=["rte"], max_seq_length=32,
      train_batch_size=4, eval_batch_size=4, num_train_epochs=1.0, init_checkpoint=None,
      seed=3)
  tasks, preprocessor, data = prepare_run(config)
  # Not the default collective all-reduce: TF keys collectives per device group
  # for the whole process, and tests/electra_tf/pretraining/test_trainer.py's MirroredStrategy on the
  # same two devices would collide with this one's.
  strategy = tf.distribute.MirroredStrategy(
      ["/cpu:0", "/cpu:1"], cross_device_ops=tf.distribute.ReductionToOneDevice())
  runner = ModelRunner(config, tasks, preprocessor, data, strategy, trial=1, seed=3)
  assert np.isfinite(runner.train())
  outputs = runner.predict(tasks[0], data.evals["rte"][0][2], batch_size=4)
  assert sorted(outputs["eid"].tolist()) == list(range(10))  # no duplicates, no padding
  expected = 100.0 * np.mean(outputs["predictions"] == outputs["label_ids"])
  assert runner.evaluate()["rte"]["accuracy"] == pytest.approx(expected)


def test_mixed_precision_trains_with_float32_outputs(tmp_path):
  shutil.copyfile(VOCAB_FILE, tmp_path / "vocab.txt")
  write_task("sts", str(tmp_path / "finetuning_data" / "sts"), n=8)
  config = FinetuningConfig.create(
      "m", str(tmp_path), model_size="tiny", task_names=["sts"], max_seq_length=32,
      train_batch_size=8, num_train_epochs=1.0, init_checkpoint=None, seed=3,
      mixed_precision="mixed_bfloat16")
  tasks, preprocessor, data = prepare_run(config)
  runner = ModelRunner(config, tasks, preprocessor, data, tf.distribute.get_strategy(), 1, 3)
  assert np.isfinite(runner.train())
  assert runner.model.backbone.encoder.transformer_layers[0].query.compute_dtype == "bfloat16"
  outputs = runner.predict(tasks[0], data.evals["sts"][0][2], batch_size=8)
  assert outputs["predictions"].dtype == np.float32 and len(outputs["eid"]) == 8


@pytest.mark.slow
def test_every_seed_beats_the_majority_class(pretrained_data_dir, tmp_path, caplog):
  """Five trials at length 128 for 4 epochs: each seed, not just the mean, learns."""
  shutil.copytree(pretrained_data_dir / "models" / PRETRAINED_MODEL,
                  tmp_path / "models" / PRETRAINED_MODEL)
  shutil.copyfile(VOCAB_FILE, tmp_path / "vocab.txt")
  results, majority, _ = finetune_sentiment(tmp_path, caplog, num_trials=5, max_seq_length=128,
                                            num_train_epochs=4.0, write_test_outputs=False)
  accuracies = [r["sst"]["accuracy"] for r in results]
  print(f"dev accuracy per trial {accuracies}, majority class {majority:.2f}")
  assert len(accuracies) == 5 and min(accuracies) > majority + 5
