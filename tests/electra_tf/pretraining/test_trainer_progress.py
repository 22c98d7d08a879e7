"""Pre-training evaluation shows its progress."""

import logging
import re

import pytest

from electra_tf.pretraining.trainer import Pretrainer
from tests.helpers.trainer import global_batches, make_config, sliced_dataset_fn, train

# A (tiny) training run, then evaluation.
pytestmark = pytest.mark.e2e


def test_evaluation_logs_progress_and_scores_every_step(tmp_path, caplog):
  model_dir = tmp_path / "run"
  train(model_dir, num_train_steps=2, iterations_per_loop=2)
  caplog.set_level(logging.INFO)
  config = make_config(model_dir, num_train_steps=2, do_train=False, do_eval=True,
                       num_eval_steps=12, eval_batch_size=8)
  results = Pretrainer(config, sliced_dataset_fn(global_batches())).evaluate()
  steps = [int(s) for s in re.findall(r"eval step (\d+)/12 \| elapsed", caplog.text)]
  assert steps[0] == 10 and steps[-1] == 12, steps
  assert results["global_step"] == 2 and 0.0 <= results["masked_lm_accuracy"] <= 1.0
