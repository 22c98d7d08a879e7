"""The original's pre-training eval metrics on hand-built outputs, against
values worked out by hand (`run_pretraining.py: model_fn_builder.metric_fn`)."""

import numpy as np
import pytest
import tensorflow as tf

from electra_tf.pretraining.metrics import PretrainingMetrics

# Two sequences, L = 4 (the last position of the second is padding), N = 3
# prediction slots (the second sequence uses two).
INPUT_MASK = [[1, 1, 1, 1], [1, 1, 1, 0]]
DISC_LABELS = [[0, 1, 0, 1], [0, 0, 1, 0]]
DISC_PREDS = [[0, 1, 1, 0], [0, 0, 1, 1]]  # the padding position's prediction must not count
DISC_PROBS = [[0.1, 0.9, 0.6, 0.4], [0.2, 0.3, 0.8, 0.95]]


def outputs(**changes):
  values = {
      "masked_lm_ids": [[5, 6, 7], [8, 9, 0]],
      "masked_lm_weights": [[1.0, 1.0, 1.0], [1.0, 1.0, 0.0]],
      "mlm_preds": [[5, 0, 7], [8, 1, 3]],
      "sampled_ids": [[5, 6, 1], [2, 9, 0]],
      "mlm_per_slot_loss": [[1.0, 2.0, 3.0], [4.0, 5.0, 100.0]],
      "total_loss": 7.5,
      "disc_per_example_loss": [0.2, 0.4],
      "input_mask": INPUT_MASK,
      "disc_labels": DISC_LABELS,
      "disc_preds": DISC_PREDS,
      "disc_probs": DISC_PROBS,
  }
  values.update(changes)
  dtypes = {"masked_lm_weights": tf.float32, "mlm_per_slot_loss": tf.float32,
            "total_loss": tf.float32, "disc_per_example_loss": tf.float32,
            "disc_probs": tf.float32}
  return {k: tf.constant(v, dtypes.get(k, tf.int32)) for k, v in values.items()}


def test_known_answers_for_every_metric():
  metrics = PretrainingMetrics(has_discriminator=True)
  metrics.update(outputs())
  results = metrics.result()
  # 5 weighted slots: predictions 5, 0, 7, 8, 1 against 5, 6, 7, 8, 9 -> 3 right.
  assert results["masked_lm_accuracy"] == pytest.approx(3 / 5)
  # Samples 5, 6, 1, 2, 9 against 5, 6, 7, 8, 9 -> 3 right.
  assert results["sampled_masked_lm_accuracy"] == pytest.approx(3 / 5)
  assert results["masked_lm_loss"] == pytest.approx((1 + 2 + 3 + 4 + 5) / 5)  # slot 6 unweighted
  assert results["loss"] == pytest.approx(7.5)
  assert results["disc_loss"] == pytest.approx(0.3)  # mean of the per-sequence losses
  # 7 real tokens; predictions right at (0,0), (0,1), (1,0), (1,1), (1,2) -> 5/7.
  assert results["disc_accuracy"] == pytest.approx(5 / 7)
  # Predicted fake among real tokens: (0,1) yes, (0,2) no, (1,2) yes -> 2/3.
  assert results["disc_precision"] == pytest.approx(2 / 3)
  # Fake tokens (0,1), (0,3), (1,2): detected (0,1) and (1,2) -> 2/3.
  assert results["disc_recall"] == pytest.approx(2 / 3)
  # AUC over all 8 positions, padding as label 0 / score 0: positives score
  # 0.9, 0.4, 0.8; negatives 0.1, 0.6, 0.2, 0.3, 0.0. Pairs ranked right:
  # 0.9 beats all 5, 0.8 all 5, 0.4 beats 4 of 5 -> 14 / 15.
  assert results["disc_auc"] == pytest.approx(14 / 15, abs=2e-3)


def test_metrics_accumulate_over_batches_and_reset():
  metrics = PretrainingMetrics(has_discriminator=True)
  metrics.update(outputs())
  metrics.update(outputs(mlm_preds=[[5, 6, 7], [8, 9, 0]], total_loss=2.5))
  results = metrics.result()
  assert results["masked_lm_accuracy"] == pytest.approx((3 + 5) / 10)
  assert results["loss"] == pytest.approx(5.0)
  metrics.reset()
  metrics.update(outputs(mlm_preds=[[5, 6, 7], [8, 9, 0]]))
  assert metrics.result()["masked_lm_accuracy"] == pytest.approx(1.0)


def test_without_a_discriminator_only_the_generator_metrics_exist():
  metrics = PretrainingMetrics(has_discriminator=False)
  metrics.update({k: v for k, v in outputs().items() if not k.startswith(("disc", "sampled"))})
  assert sorted(metrics.result()) == ["loss", "masked_lm_accuracy", "masked_lm_loss"]


def test_auc_matches_a_pairwise_count_on_random_scores():
  rng = np.random.default_rng(0)
  labels = rng.integers(0, 2, size=[8, 16])
  probs = np.clip(0.3 * labels + 0.7 * rng.random([8, 16]), 0, 1).round(2)
  mask = np.ones_like(labels)
  metrics = PretrainingMetrics(has_discriminator=True)
  base = outputs()
  metrics.update({**base, "input_mask": tf.constant(mask, tf.int32),
                  "disc_labels": tf.constant(labels, tf.int32),
                  "disc_preds": tf.constant((probs > 0.5).astype(np.int32)),
                  "disc_probs": tf.constant(probs, tf.float32)})
  positives, negatives = probs[labels == 1], probs[labels == 0]
  wins = (positives[:, None] > negatives[None, :]).sum() + 0.5 * (
      positives[:, None] == negatives[None, :]).sum()
  assert metrics.result()["disc_auc"] == pytest.approx(wins / (len(positives) * len(negatives)),
                                                       abs=5e-3)
