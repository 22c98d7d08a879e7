"""Pre-training throughput and model FLOP utilisation (MFU), side by side.

For ELECTRA-Small (seq 128) it times full training steps (forward, backward,
optimizer) of electra-tf in fp32 and bf16, with and without XLA, and of Model
Garden's `ElectraPretrainer` on the same config and batch, all in one run. MFU
is model FLOPs/s over the matmul FLOP/s this machine reaches in the same run.

Model FLOPs count the matmuls of one training step, 3x the forward pass
(backward = 2x forward, as `flops_computation.py` assumes): per token per
layer 24 H^2 (Q, K, V, output, FFN) + 4 L H (attention scores and context),
the embedding projections, the discriminator head, and the generator's MLM head
on the masked positions (E x V per prediction).

Usage:
  python bench/pretrain_throughput.py [--batch-size 32] [--steps 5]
      [--skip-model-garden] [--variants fp32,bf16,fp32+xla,bf16+xla]
"""

import argparse
import os
import sys
import time

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import tf_keras  # noqa: E402

from electra_tf.config.model import get_bert_config  # noqa: E402
from electra_tf.config.pretraining import PretrainingConfig, get_generator_config  # noqa: E402
from electra_tf.pretraining.trainer import Pretrainer  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
SEQ = 128


def matmul_peak_flops(dtype, size=2048, repeats=10) -> float:
  """Best FLOP/s of a graph-mode [size, size] x [size, size] matmul chain."""
  a = tf.random.normal([size, size], dtype=tf.float32)
  a = tf.cast(a, dtype)

  @tf.function
  def chain(x):
    for _ in range(repeats):
      x = tf.matmul(x, a) * tf.cast(1e-3, dtype)
    return x

  chain(a).numpy()
  best = 0.0
  for _ in range(3):
    start = time.perf_counter()
    chain(a).numpy()
    best = max(best, 2 * size ** 3 * repeats / (time.perf_counter() - start))
  return best


def transformer_flops(hidden, layers, tokens, seq, embedding_width):
  per_token = layers * (24 * hidden ** 2 + 4 * seq * hidden)
  if embedding_width != hidden:
    per_token += 2 * embedding_width * hidden
  return per_token * tokens


def train_step_flops(config: PretrainingConfig, batch_size: int) -> float:
  disc = get_bert_config(config)
  gen = get_generator_config(config, disc)
  tokens = batch_size * config.max_seq_length
  forward = transformer_flops(disc.hidden_size, disc.num_hidden_layers, tokens,
                              config.max_seq_length, disc.embedding_width)
  forward += tokens * 2 * (disc.hidden_size ** 2 + disc.hidden_size)  # discriminator head
  forward += transformer_flops(gen.hidden_size, gen.num_hidden_layers, tokens,
                               config.max_seq_length, gen.embedding_width)
  predictions = batch_size * config.max_predictions_per_seq
  forward += predictions * 2 * (gen.hidden_size * disc.embedding_width
                                + disc.embedding_width * disc.vocab_size)
  return 3.0 * forward


def random_batch(batch_size, seed=0):
  rng = np.random.default_rng(seed)
  ids = rng.integers(1000, 30000, size=[batch_size, SEQ]).astype(np.int64)
  ids[:, 0], ids[:, -1] = 101, 102
  return {"input_ids": ids, "input_mask": np.ones_like(ids), "segment_ids": np.zeros_like(ids)}


def time_electra_tf(batch_size, steps, precision, jit):
  data = random_batch(batch_size)

  def dataset_fn(context, global_batch, is_training):
    return tf.data.Dataset.from_tensors(data).repeat()

  config = PretrainingConfig.create(
      "bench", "/tmp/electra_tf_bench", model_size="small", train_batch_size=batch_size,
      num_train_steps=10 ** 6, vocab_file=os.path.join(ROOT, "data", "vocab.txt"),
      mixed_precision=precision, jit_compile=jit, seed=0)
  trainer = Pretrainer(config, dataset_fn)
  from electra_tf.pretraining.trainer import ReplicaInput  # pylint: disable=import-outside-toplevel
  loop = trainer._make_train_loop(ReplicaInput(trainer.strategy, dataset_fn, batch_size, True))
  loop(tf.constant(2))  # trace, compile, warm up
  start = time.perf_counter()
  loss = loop(tf.constant(steps))["total_loss"].numpy()
  elapsed = time.perf_counter() - start
  assert np.isfinite(loss)
  return steps * batch_size / elapsed, train_step_flops(config, batch_size) * steps / elapsed


def time_model_garden(batch_size, steps):
  """Model Garden's ElectraPretrainer with ELECTRA-Small dims (its electra task's
  sharing: generator reuses the discriminator's embedding layer), static masks."""
  from official.modeling.optimization import legacy_adamw  # pylint: disable=import-outside-toplevel
  from official.nlp.modeling import models, networks  # pylint: disable=import-outside-toplevel
  gelu = lambda x: tf.nn.gelu(x, approximate=False)
  disc = networks.BertEncoder(vocab_size=30522, hidden_size=256, num_layers=12,
                              num_attention_heads=4, inner_dim=1024, inner_activation=gelu,
                              embedding_width=128, max_sequence_length=512, dict_outputs=True)
  gen = networks.BertEncoder(vocab_size=30522, hidden_size=64, num_layers=12,
                             num_attention_heads=1, inner_dim=256, inner_activation=gelu,
                             embedding_width=128, max_sequence_length=512, dict_outputs=True,
                             embedding_layer=disc.get_embedding_layer())
  n = int(0.155 * SEQ)
  pretrainer = models.ElectraPretrainer(gen, disc, vocab_size=30522, num_classes=2,
                                        num_token_predictions=n, mlm_activation=gelu)
  optimizer = legacy_adamw.AdamWeightDecay(learning_rate=1e-4, weight_decay_rate=0.01,
                                           epsilon=1e-6, global_clipnorm=1.0)
  data = random_batch(batch_size)
  rng = np.random.default_rng(1)
  positions = np.sort(rng.choice(np.arange(1, SEQ - 1), size=[batch_size, n]), axis=1)
  inputs = {"input_word_ids": tf.constant(data["input_ids"], tf.int32),
            "input_mask": tf.constant(data["input_mask"], tf.int32),
            "input_type_ids": tf.constant(data["segment_ids"], tf.int32),
            "masked_lm_positions": tf.constant(positions, tf.int32),
            "masked_lm_ids": tf.constant(np.take_along_axis(data["input_ids"], positions, 1),
                                         tf.int32),
            "masked_lm_weights": tf.ones([batch_size, n])}

  @tf.function
  def loop(num_steps):
    for _ in tf.range(num_steps):
      with tf.GradientTape() as tape:
        out = pretrainer(inputs, training=True)
        mlm = tf.reduce_mean(tf.keras.losses.sparse_categorical_crossentropy(
            inputs["masked_lm_ids"], out["lm_outputs"], from_logits=True))
        disc_loss = tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(
            labels=tf.cast(out["disc_label"], tf.float32), logits=out["disc_logits"]))
        loss = mlm + 50.0 * disc_loss
      grads = tape.gradient(loss, pretrainer.trainable_variables)
      optimizer.apply_gradients(zip(grads, pretrainer.trainable_variables))
    return loss

  loop(tf.constant(2))
  start = time.perf_counter()
  loop(tf.constant(steps)).numpy()
  elapsed = time.perf_counter() - start
  config = PretrainingConfig.create("bench", "/tmp", model_size="small")
  return steps * batch_size / elapsed, train_step_flops(config, batch_size) * steps / elapsed


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--batch-size", type=int, default=32)
  parser.add_argument("--steps", type=int, default=5)
  parser.add_argument("--variants", default="fp32,bf16,fp32+xla,bf16+xla")
  parser.add_argument("--skip-model-garden", action="store_true")
  args = parser.parse_args()
  tf_keras.utils.set_random_seed(0)

  peak = {"fp32": matmul_peak_flops(tf.float32), "bf16": matmul_peak_flops(tf.bfloat16)}
  print(f"matmul peak: fp32 {peak['fp32'] / 1e9:.1f} GFLOP/s, bf16 {peak['bf16'] / 1e9:.1f} "
        f"GFLOP/s ({os.cpu_count()} CPU cores)")
  print(f"ELECTRA-Small, seq {SEQ}, batch {args.batch_size}, {args.steps} timed steps; "
        "MFU vs the fp32 matmul peak")
  rows = []
  if not args.skip_model_garden:
    rows.append(("Model Garden ElectraPretrainer fp32",) + time_model_garden(args.batch_size,
                                                                             args.steps))
  for variant in args.variants.split(","):
    precision = "mixed_bfloat16" if variant.startswith("bf16") else "float32"
    rows.append((f"electra-tf {variant}",) + time_electra_tf(
        args.batch_size, args.steps, precision, variant.endswith("+xla")))
  baseline = rows[0][1] if not args.skip_model_garden else None
  print(f"{'variant':40s} {'seq/s':>8s} {'GFLOP/s':>8s} {'MFU':>6s} {'vs MG':>6s}")
  for name, seq_per_s, flops in rows:
    ratio = f"{seq_per_s / baseline:5.2f}x" if baseline else "   -"
    print(f"{name:40s} {seq_per_s:8.2f} {flops / 1e9:8.1f} {flops / peak['fp32']:6.1%} {ratio:>6s}")


if __name__ == "__main__":
  main()
