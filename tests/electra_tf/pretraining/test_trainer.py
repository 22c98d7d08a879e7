"""The training loop: replica/accumulation invariance, exact resume, precision."""

import numpy as np
import pytest
import tensorflow as tf

from electra_tf.config.hparams import ConfigError
from electra_tf.pretraining.trainer import Pretrainer
from tests.helpers.trainer import (assert_same_weights, global_batches, make_config,
                                   sliced_dataset_fn, train, weights)

# Each test runs whole training loops (several compiled steps, checkpoints).
pytestmark = pytest.mark.e2e


def test_two_replicas_match_one_device_on_the_same_global_batch(tmp_path):
  one, one_stats = train(tmp_path / "one")
  mirrored = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
  two, two_stats = train(tmp_path / "two", strategy=mirrored)
  assert two.num_replicas == 2
  np.testing.assert_allclose(two_stats.total_loss, one_stats.total_loss, rtol=1e-5)
  np.testing.assert_allclose(two_stats.disc_loss, one_stats.disc_loss, rtol=1e-5)
  np.testing.assert_allclose(two_stats.mlm_loss, one_stats.mlm_loss, rtol=1e-5)
  assert_same_weights(weights(one), weights(two), atol=2e-5)


def test_gradient_accumulation_matches_the_full_batch(tmp_path):
  full, full_stats = train(tmp_path / "full")
  accumulated, acc_stats = train(tmp_path / "acc", gradient_accumulation_steps=4)
  np.testing.assert_allclose(acc_stats.total_loss, full_stats.total_loss, rtol=1e-5)
  assert_same_weights(weights(full), weights(accumulated), atol=2e-5)


def test_resume_replays_data_randomness_and_optimizer_exactly(tmp_path):
  # A constant learning rate (power 0, no warm-up) so that stopping the first
  # leg at step 2 does not change the schedule.
  flat = dict(iterations_per_loop=2, lr_decay_power=0.0, num_warmup_steps=0)
  straight, _ = train(tmp_path / "straight", num_train_steps=4, **flat)
  train(tmp_path / "resumed", num_train_steps=2, **flat)
  # A new start: fresh objects, same model_dir, the longer run.
  resumed, _ = train(tmp_path / "resumed", num_train_steps=4, **flat)
  assert resumed.step == 4
  assert_same_weights(weights(straight), weights(resumed), atol=1e-6)
  slots = lambda t: [s.numpy() for s in t.base_optimizer._m[:3]]
  for a, b in zip(slots(straight), slots(resumed)):
    np.testing.assert_allclose(a, b, atol=1e-7)


@pytest.mark.parametrize("policy", ["mixed_bfloat16", "mixed_float16"])
def test_mixed_precision_trains_with_float32_losses(tmp_path, policy):
  trainer, stats = train(tmp_path / policy, mixed_precision=policy, num_train_steps=2,
                         iterations_per_loop=2)
  assert np.isfinite(stats.total_loss)
  assert trainer.model.discriminator.transformer_layers[0].query.compute_dtype == policy[6:]
  assert trainer.model.embeddings.word_embeddings.dtype == tf.float32
  outputs = trainer.model(
      {k: v[:2, :] for k, v in global_batches(2).items()}, training=False)
  assert outputs["total_loss"].dtype == tf.float32
  assert outputs["disc_logits"].dtype == tf.float32


def test_batch_not_divisible_by_replicas_fails_before_building(tmp_path):
  mirrored = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
  with pytest.raises(ConfigError, match="cannot be split evenly over 2 replicas"):
    Pretrainer(make_config(tmp_path, train_batch_size=9), sliced_dataset_fn(global_batches()),
               strategy=mirrored)


def test_tpu_requested_without_a_tpu_is_a_clear_error(tmp_path):
  with pytest.raises(ConfigError, match="no TPU could be reached"):
    Pretrainer(make_config(tmp_path, use_tpu=True), sliced_dataset_fn(global_batches()))
