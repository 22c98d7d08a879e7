"""Span-QA fine-tuning throughput: ELECTRA-Small with the `squad` head.

Times the fine-tuning train step of `finetune.runner` (forward with the
teacher-forced joint end head, the summed loss, backward, global-norm clip,
AdamWeightDecay) at seq 384, batch 32, in float32 and mixed_bfloat16, on
random token ids (speed does not depend on the values) with real answer
positions inside the context. Prints sequences/s from the median step time
of `--steps` steps after 2 warm-up steps, the CPU, and the matmul FLOP/s
reached in the same run.

Usage:
  python bench/qa_finetune_throughput.py [--steps 5] [--batch 32] [--seq 384] [--size small]
"""

import argparse
import os
import sys
import time

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, ROOT)

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import tf_keras  # noqa: E402

from bench import machine  # noqa: E402
from bench.pretrain_throughput import matmul_peak_flops  # noqa: E402
from electra_tf import cli  # noqa: E402
from electra_tf.training import distribution  # noqa: E402
from electra_tf.training.optimization import AdamWeightDecay, clip_by_global_norm  # noqa: E402
from finetune import modeling, registry  # noqa: E402
from finetune.config import FinetuningConfig  # noqa: E402
from finetune.runner import total_loss  # noqa: E402

VOCAB_FILE = os.path.join(ROOT, "data", "vocab.txt")


def batch_features(batch: int, seq: int, question: int = 24):
  rng = np.random.default_rng(0)
  starts = rng.integers(question + 2, seq - 10, batch)
  return {"input_ids": tf.constant(rng.integers(1000, 30000, [batch, seq]), tf.int32),
          "input_mask": tf.ones([batch, seq], tf.int32),
          "segment_ids": tf.constant([[0] * (question + 2) + [1] * (seq - question - 2)] * batch,
                                     tf.int32),
          "task_id": tf.zeros([batch], tf.int32),
          "squad_start_positions": tf.constant(starts, tf.int32),
          "squad_end_positions": tf.constant(starts + 3, tf.int32),
          "squad_is_impossible": tf.zeros([batch], tf.int32),
          "squad_eid": tf.zeros([batch], tf.int32)}


def time_steps(precision: str, args) -> float:
  """Median seconds per train step."""
  config = FinetuningConfig.create("bench", "", model_size=args.size, task_names=["squad"],
                                   max_seq_length=args.seq, vocab_file=VOCAB_FILE,
                                   mixed_precision=precision)
  tf_keras.utils.set_random_seed(0)
  with distribution.precision_policy(precision):
    tasks = registry.get_tasks(config)
    model = modeling.build_model(config, tasks)
    names = model.named_variables()
    optimizer = AdamWeightDecay(1e-4, names, weight_decay_rate=0.01)
    variables = model.trainable_variables
    optimizer.build(variables)

    @tf.function
    def step(features):
      with tf.GradientTape() as tape:
        loss = total_loss(tasks, model(features, training=True), features, 1)
      grads, _ = clip_by_global_norm(tape.gradient(loss, variables))
      optimizer.apply_gradients(zip(grads, variables))
      return loss

    features = batch_features(args.batch, args.seq)
    for _ in range(2):
      step(features).numpy()
    times = []
    for _ in range(args.steps):
      start = time.perf_counter()
      step(features).numpy()
      times.append(time.perf_counter() - start)
  return float(np.median(times))


def main() -> int:
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--steps", type=cli.positive_int, default=5)
  parser.add_argument("--batch", type=cli.positive_int, default=32)
  parser.add_argument("--seq", type=cli.positive_int, default=384)
  parser.add_argument("--size", default="small")
  args = parser.parse_args()
  print(machine.cpu_header())
  print(f"matmul peak: {matmul_peak_flops(tf.float32) / 1e9:.0f} GFLOP/s fp32, "
        f"{matmul_peak_flops(tf.bfloat16) / 1e9:.0f} GFLOP/s bf16")
  for precision in ("float32", "mixed_bfloat16"):
    seconds = time_steps(precision, args)
    print(f"ELECTRA-{args.size} squad fine-tuning, seq {args.seq}, batch {args.batch}, "
          f"{precision}: {args.batch / seconds:.2f} seq/s ({seconds:.2f} s/step, median of "
          f"{args.steps})")
  return 0


if __name__ == "__main__":
  sys.exit(main())
