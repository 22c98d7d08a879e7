"""Running the pre-training loop on in-memory batches, for tests of the loop
and of what consumes its checkpoints."""

import numpy as np
import tensorflow as tf
import tf_keras

from electra_tf.config.pretraining import PretrainingConfig
from electra_tf.pretraining.trainer import Pretrainer
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
                  model_dir=str(model_dir), model_hparam_overrides=NO_DROPOUT,
                  # float32 whatever `auto` picks on this CPU (bf16 with AMX or
                  # AVX512-BF16): the parity tests compare runs to float32 rounding.
                  mixed_precision="float32")
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
