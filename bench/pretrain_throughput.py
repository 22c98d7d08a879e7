"""Pre-training throughput and model FLOP utilisation (MFU), side by side.

For ELECTRA-Small or -Base (seq 128, 256 or 512) it times full training steps
(forward, backward, optimizer) of electra-tf in fp32 and bf16, with and
without XLA, of Model Garden's `ElectraPretrainer` on the same config and
batch, and of the PyTorch / Hugging Face peers (bench/torch_peers.py, its own
ELECTRA step on HF's ElectraForMaskedLM + ElectraForPreTraining, fp32 and bf16
autocast) in the peers' venv, all in one run. MFU is model FLOPs/s over the
matmul FLOP/s this machine reaches in the same run (TF, fp32); the peers run
the same dims, so the same model FLOPs.

Each variant runs in its own subprocess, one after another, and its peak RSS
is that child's own `ru_maxrss` as the kernel reports it to `os.wait4`: a
variant's memory is never mixed with another's or with this parent's (a
`getrusage` over all children would only give the largest so far).

Model FLOPs count the matmuls of one training step, 3x the forward pass
(backward = 2x forward, as `flops_computation.py` assumes): per token per
layer 24 H^2 (Q, K, V, output, FFN) + 4 L H (attention scores and context),
the embedding projections, the discriminator head, and the generator's MLM head
on the masked positions (E x V per prediction).

Usage:
  python bench/pretrain_throughput.py [--batch-size 32] [--steps 5] [--seq 128]
      [--model-size small] [--skip-model-garden]
      [--variants fp32,bf16,fp32+xla,bf16+xla] [--peer-python PATH | --skip-peers]
The peers' venv: `bash bench/setup_peers_venv.sh` (bench/.venv-peers, the default
--peer-python; without it the peers are skipped with a note).
"""

import argparse
import json
import os
import subprocess
import sys
import time

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import tf_keras  # noqa: E402

from bench import machine  # noqa: E402
from electra_tf import cli  # noqa: E402
from electra_tf.config.model import get_bert_config  # noqa: E402
from electra_tf.config.pretraining import PretrainingConfig, get_generator_config  # noqa: E402
from electra_tf.pretraining.trainer import Pretrainer  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..")
DEFAULT_PEER_PYTHON = os.path.join(HERE, ".venv-peers", "bin", "python")


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


def random_batch(batch_size, seq, seed=0):
  """input_ids / input_mask / segment_ids, each [batch, seq] int64, no padding."""
  rng = np.random.default_rng(seed)
  ids = rng.integers(1000, 30000, size=[batch_size, seq]).astype(np.int64)
  ids[:, 0], ids[:, -1] = 101, 102
  return {"input_ids": ids, "input_mask": np.ones_like(ids), "segment_ids": np.zeros_like(ids)}


def bench_config(model_size, seq, batch_size, **hparams) -> PretrainingConfig:
  return PretrainingConfig.create(
      "bench", "/tmp/electra_tf_bench", model_size=model_size, max_seq_length=seq,
      train_batch_size=batch_size, num_train_steps=10 ** 6,
      vocab_file=os.path.join(ROOT, "data", "vocab.txt"), seed=0, **hparams)


def time_electra_tf(config: PretrainingConfig, steps):
  batch_size = config.train_batch_size
  data = random_batch(batch_size, config.max_seq_length)

  def dataset_fn(context, global_batch, is_training):
    return tf.data.Dataset.from_tensors(data).repeat()

  trainer = Pretrainer(config, dataset_fn)
  from electra_tf.pretraining.trainer import ReplicaInput  # pylint: disable=import-outside-toplevel
  loop = trainer._make_train_loop(ReplicaInput(trainer.strategy, dataset_fn, batch_size, True))
  loop(tf.constant(2))  # trace, compile, warm up
  start = time.perf_counter()
  loss = loop(tf.constant(steps))["total_loss"].numpy()
  elapsed = time.perf_counter() - start
  assert np.isfinite(loss)
  return steps * batch_size / elapsed, train_step_flops(config, batch_size) * steps / elapsed


def model_garden_encoders(config: PretrainingConfig):
  """Model Garden `BertEncoder`s with our dims (its electra task's sharing:
  the generator reuses the discriminator's embedding layer)."""
  from official.nlp.modeling import networks  # pylint: disable=import-outside-toplevel
  gelu = lambda x: tf.nn.gelu(x, approximate=False)
  disc_dims = get_bert_config(config)
  gen_dims = get_generator_config(config, disc_dims)
  encoders = []
  for dims in (disc_dims, gen_dims):
    shared = {"embedding_layer": encoders[0].get_embedding_layer()} if encoders else {}
    encoders.append(networks.BertEncoder(
        vocab_size=dims.vocab_size, hidden_size=dims.hidden_size,
        num_layers=dims.num_hidden_layers, num_attention_heads=dims.num_attention_heads,
        inner_dim=dims.intermediate_size, inner_activation=gelu,
        embedding_width=disc_dims.embedding_width, max_sequence_length=512, dict_outputs=True,
        **shared))
  return encoders[0], encoders[1], gelu


def time_model_garden(config: PretrainingConfig, steps):
  """Model Garden's ElectraPretrainer on our dims, static masks."""
  from official.modeling.optimization import legacy_adamw  # pylint: disable=import-outside-toplevel
  from official.nlp.modeling import models  # pylint: disable=import-outside-toplevel
  disc, gen, gelu = model_garden_encoders(config)
  batch_size, seq = config.train_batch_size, config.max_seq_length
  n = config.max_predictions_per_seq
  pretrainer = models.ElectraPretrainer(gen, disc, vocab_size=30522, num_classes=2,
                                        num_token_predictions=n, mlm_activation=gelu)
  optimizer = legacy_adamw.AdamWeightDecay(learning_rate=1e-4, weight_decay_rate=0.01,
                                           epsilon=1e-6, global_clipnorm=1.0)
  data = random_batch(batch_size, seq)
  rng = np.random.default_rng(1)
  positions = np.sort(rng.choice(np.arange(1, seq - 1), size=[batch_size, n]), axis=1)
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
  return steps * batch_size / elapsed, train_step_flops(config, batch_size) * steps / elapsed


def run_child(command):
  """(last JSON line of the child's stdout, its peak RSS in MB) for one child
  process; its own ru_maxrss from os.wait4, so no other process counts."""
  child = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
  out = child.stdout.read()
  _, status, usage = os.wait4(child.pid, 0)
  child.returncode = os.waitstatus_to_exitcode(status)
  if child.returncode != 0:
    raise SystemExit(f"{' '.join(command)} failed with exit code {child.returncode}")
  rows = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
  if not rows:
    raise SystemExit(f"{' '.join(command)} printed no JSON result line")
  return rows[-1], usage.ru_maxrss / 1024


def child_main(args):
  """One variant in this process; prints {"seq_per_s", "flops_per_s"}."""
  tf_keras.utils.set_random_seed(0)
  if args.child_variant == "model-garden":
    config = bench_config(args.model_size, args.seq, args.batch_size)
    seq_per_s, flops = time_model_garden(config, args.steps)
  else:
    precision = "mixed_bfloat16" if args.child_variant.startswith("bf16") else "float32"
    config = bench_config(args.model_size, args.seq, args.batch_size, mixed_precision=precision,
                          jit_compile=args.child_variant.endswith("+xla"))
    seq_per_s, flops = time_electra_tf(config, args.steps)
  print(json.dumps({"seq_per_s": seq_per_s, "flops_per_s": flops}), flush=True)


def peer_python(args):
  """The peers' python (--peer-python or bench/.venv-peers), or None with a printed reason."""
  if args.skip_peers:
    print("torch peers skipped (--skip-peers)")
    return None
  python = args.peer_python or (DEFAULT_PEER_PYTHON if os.path.exists(DEFAULT_PEER_PYTHON)
                                else None)
  if python is None:
    print("torch peers skipped: no bench/.venv-peers (bash bench/setup_peers_venv.sh) "
          "and no --peer-python")
  return python


def peer_rows(args, flops_per_seq):
  """(name, seq/s, FLOP/s, peak RSS MB) of the torch peers, fp32 then bf16."""
  python = peer_python(args)
  if python is None:
    return []
  rows = []
  for dtype in ("fp32", "bf16"):
    row, rss = run_child([python, os.path.join(HERE, "torch_peers.py"), "--what", "pretrain",
                          "--dtypes", dtype, "--seq", str(args.seq),
                          "--batch-size", str(args.batch_size), "--steps", str(args.steps),
                          "--model-size", args.model_size])
    if "skipped" in row:
      print(f"{row['name']} skipped: {row['skipped']}")
      continue
    rows.append((f"{row['name']} ({row['torch']})", row["seq_per_s"],
                 row["seq_per_s"] * flops_per_seq, rss))
  return rows


def parse_args():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--batch-size", type=cli.positive_int, default=32)
  parser.add_argument("--steps", type=cli.positive_int, default=5, help="timed steps per variant")
  parser.add_argument("--seq", type=int, choices=(128, 256, 512), default=128)
  parser.add_argument("--model-size", choices=("small", "base"), default="small")
  parser.add_argument("--variants", default="fp32,bf16,fp32+xla,bf16+xla")
  parser.add_argument("--skip-model-garden", action="store_true")
  parser.add_argument("--peer-python", default=None,
                      help="python of the torch peers' venv (default: bench/.venv-peers/bin/"
                           "python if it exists, else the peers are skipped)")
  parser.add_argument("--skip-peers", action="store_true")
  parser.add_argument("--child-variant", help=argparse.SUPPRESS)
  args = parser.parse_args()
  bad = [v for v in args.variants.split(",") if v not in ("fp32", "bf16", "fp32+xla", "bf16+xla")]
  if bad:
    parser.error(f"unknown --variants {bad}; use fp32, bf16, fp32+xla, bf16+xla")
  if args.peer_python and not os.path.exists(args.peer_python):
    parser.error(f"--peer-python {args.peer_python} does not exist; run "
                 "bash bench/setup_peers_venv.sh or drop the flag")
  return args


def print_table(rows, peak_fp32):
  """rows: (name, seq/s, FLOP/s, peak RSS MB); ratios vs Model Garden and our fp32."""
  by_name = {row[0]: row[1] for row in rows}
  baselines = (by_name.get("Model Garden ElectraPretrainer fp32"), by_name.get("electra-tf fp32"))
  print(f"{'variant':44s} {'seq/s':>8s} {'GFLOP/s':>8s} {'MFU':>6s} {'vs MG':>6s} "
        f"{'vs fp32':>7s} {'peak RSS':>9s}")
  for name, seq_per_s, flops, rss in rows:
    ratios = [f"{seq_per_s / b:5.2f}x" if b else "-" for b in baselines]
    print(f"{name:44s} {seq_per_s:8.2f} {flops / 1e9:8.1f} {flops / peak_fp32:6.1%} "
          f"{ratios[0]:>6s} {ratios[1]:>7s} {rss:6.0f} MB")


def main():
  args = parse_args()
  if args.child_variant:
    return child_main(args)
  print(machine.cpu_header())
  peak = {"fp32": matmul_peak_flops(tf.float32), "bf16": matmul_peak_flops(tf.bfloat16)}
  print(f"matmul peak: fp32 {peak['fp32'] / 1e9:.1f} GFLOP/s, bf16 {peak['bf16'] / 1e9:.1f} "
        "GFLOP/s")
  print(f"ELECTRA-{args.model_size.capitalize()}, seq {args.seq}, batch {args.batch_size}, "
        f"{args.steps} timed steps; MFU vs the fp32 matmul peak; each variant in its own process")
  variants = ([] if args.skip_model_garden else ["model-garden"]) + args.variants.split(",")
  rows = []
  for variant in variants:
    row, rss = run_child([sys.executable, os.path.abspath(__file__), "--child-variant", variant,
                          "--seq", str(args.seq), "--batch-size", str(args.batch_size),
                          "--steps", str(args.steps), "--model-size", args.model_size])
    name = ("Model Garden ElectraPretrainer fp32" if variant == "model-garden"
            else f"electra-tf {variant}")
    rows.append((name, row["seq_per_s"], row["flops_per_s"], rss))
  flops_per_seq = train_step_flops(bench_config(args.model_size, args.seq, args.batch_size),
                                   args.batch_size) / args.batch_size
  rows += peer_rows(args, flops_per_seq)
  print_table(rows, peak["fp32"])
  return 0


if __name__ == "__main__":
  sys.exit(main())
