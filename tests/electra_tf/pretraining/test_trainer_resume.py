"""A resumed pre-training run is the run it claims to be: its drawn seed, its
hparams (changes refused, or accepted from a safe list and logged), and its
saved config rewritten only once the run has trained cleanly."""

import json
import logging

import pytest

from electra_tf.config.hparams import ConfigError
from electra_tf.pretraining.trainer import Pretrainer
from tests.helpers.faults import assert_kept, snapshot
from tests.helpers.trainer import global_batches, make_config, sliced_dataset_fn, train

# Whole (tiny) training runs, resumed.
pytestmark = pytest.mark.e2e


def saved_config(model_dir):
  return json.loads((model_dir / "pretrain_config.json").read_text())


def test_an_unseeded_run_resumes_with_the_seed_it_drew(tmp_path, caplog):
  model_dir = tmp_path / "run"
  first, _ = train(model_dir, num_train_steps=2, iterations_per_loop=2, seed=None)
  drawn = saved_config(model_dir)["seed"]
  assert isinstance(drawn, int) and first.config.seed == drawn
  caplog.set_level(logging.INFO)
  resumed, _ = train(model_dir, num_train_steps=4, iterations_per_loop=2, seed=None)
  assert resumed.step == 4 and resumed.config.seed == drawn
  assert saved_config(model_dir)["seed"] == drawn
  assert f"resuming with the seed the run drew, {drawn}" in caplog.text
  assert "resuming with changed hparams: num_train_steps 2 -> 4" in caplog.text
  assert saved_config(model_dir)["num_train_steps"] == 4


def test_changed_hparams_on_resume_are_refused_naming_them(tmp_path):
  model_dir = tmp_path / "run"
  train(model_dir, num_train_steps=2, iterations_per_loop=2)
  before = snapshot(model_dir)
  with pytest.raises(ConfigError) as error:
    train(model_dir, num_train_steps=4, learning_rate=2e-3, mask_prob=0.25)
  message = str(error.value)
  assert message.startswith(f"{model_dir} holds a run with other hparams "
                            f"({model_dir / 'pretrain_config.json'}): learning_rate 0.001 -> "
                            "0.002, mask_prob 0.15 -> 0.25")
  assert "max_predictions_per_seq 4 -> 8" in message
  assert "num_train_steps" in message.split("; only ")[1]  # listed as allowed, not refused
  assert snapshot(model_dir) == before


def test_the_saved_config_is_kept_when_the_resumed_run_fails_to_train(tmp_path):
  model_dir = tmp_path / "run"
  train(model_dir, num_train_steps=2, iterations_per_loop=2)
  before = snapshot(model_dir)
  # Records without segment_ids: the resumed run fails in its first loop,
  # after restoring the checkpoint.
  data = global_batches()
  del data["segment_ids"]
  trainer = Pretrainer(make_config(model_dir, num_train_steps=4, iterations_per_loop=2),
                       sliced_dataset_fn(data))
  with pytest.raises(RuntimeError, match="segment_ids"):
    trainer.train()
  assert trainer.step == 2
  assert_kept(before, snapshot(model_dir))  # a new TensorBoard events file only
  assert saved_config(model_dir)["num_train_steps"] == 2


def test_auto_precision_is_saved_resolved_and_kept_on_resume(tmp_path, caplog):
  model_dir = tmp_path / "run"
  first, _ = train(model_dir, num_train_steps=2, iterations_per_loop=2, mixed_precision="auto")
  resolved = saved_config(model_dir)["mixed_precision"]
  assert resolved != "auto" and first.config.mixed_precision == resolved
  # A run that resolved to another policy (e.g. on another machine) keeps it.
  other = "mixed_bfloat16" if resolved == "float32" else "float32"
  config = saved_config(model_dir)
  config["mixed_precision"] = other
  (model_dir / "pretrain_config.json").write_text(json.dumps(config))
  caplog.set_level(logging.INFO)
  resumed, _ = train(model_dir, num_train_steps=4, iterations_per_loop=2, mixed_precision="auto")
  assert resumed.config.mixed_precision == other
  assert f"resuming with the run's mixed_precision, {other}" in caplog.text
  assert saved_config(model_dir)["mixed_precision"] == other
