"""The training loop: replica/accumulation invariance, exact resume, precision."""

import numpy as np
import pytest
import tensorflow as tf
import tf_keras

from electra_tf.config import PretrainingConfig
from electra_tf.hparams import ConfigError
from electra_tf.training import Pretrainer
from tests.conftest import VOCAB_FILE

SEQ = 32
NO_DROPOUT = {"hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0}


def global_batches(num_examples=64, seed=0):
  rng = np.random.default_rng(seed)
  ids = rng.integers(1000, 5000, size=[num_examples, SEQ]).astype(np.int64)
  mask = np.ones_like(ids)
  for i in range(num_examples):
    length = int(rng.integers(8, SEQ + 1))
    ids[i, 0], ids[i, length - 1] = 101, 102
    ids[i, length:], mask[i, length:] = 0, 0
  return {"input_ids": ids, "input_mask": mask, "segment_ids": np.zeros_like(ids)}


def sliced_dataset_fn(data):
  """Each replica reads its slice of the same global batches, in order, so any
  replica count sees the same global batch per step."""
  def dataset_fn(context, global_batch, is_training):
    per_replica = context.get_per_replica_batch_size(global_batch)
    start = context.input_pipeline_id * per_replica
    return (tf.data.Dataset.from_tensor_slices(data).repeat().batch(global_batch, True)
            .map(lambda b: {k: v[start:start + per_replica] for k, v in b.items()}))
  return dataset_fn


def make_config(model_dir, **hparams):
  defaults = dict(model_size="tiny", max_seq_length=SEQ, train_batch_size=8,
                  num_train_steps=3, iterations_per_loop=3, save_checkpoints_steps=1000,
                  num_warmup_steps=1, learning_rate=1e-3, vocab_file=str(VOCAB_FILE), seed=7,
                  model_dir=str(model_dir), model_hparam_overrides=NO_DROPOUT)
  defaults.update(hparams)
  return PretrainingConfig.create("test", str(model_dir), **defaults)


def train(model_dir, strategy=None, data=None, **hparams):
  tf_keras.utils.set_random_seed(1)  # same initial weights in every run
  trainer = Pretrainer(make_config(model_dir, **hparams), sliced_dataset_fn(data or global_batches()),
                       strategy=strategy)
  stats = trainer.train()
  return trainer, stats


def weights(trainer):
  return {k: v.numpy() for k, v in trainer.model.named_variables().items()}


def assert_same_weights(a, b, atol):
  for name in a:
    np.testing.assert_allclose(a[name], b[name], atol=atol, err_msg=name)


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
