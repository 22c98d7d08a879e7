"""Peak memory of a span-QA eval step: the factorised end head vs the literal one.

Builds the fine-tuning model of ELECTRA-Base with the `squad` head (random
weights: memory does not depend on them) and runs one inference step
(`training=False`, the beam of 20 starts) at batch 32, seq 512, once with
the project's factorised end head and once with the original's literal one
(hidden states tiled to [32, 20, 512, 1536] and concatenated before
`qa_hidden`). Each variant runs in its own subprocess (same seed, same
weights); the figure is the process's peak resident memory (`ru_maxrss`)
after the step, minus its peak before the step (the model and inputs). The
variants' outputs are compared (beam-order independent values).

Usage:
  python bench/qa_end_head_memory.py [--batch 32] [--seq 512] [--size base]
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import time

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, ROOT)

from bench import machine  # noqa: E402
from electra_tf import cli  # noqa: E402

VOCAB_FILE = os.path.join(ROOT, "data", "vocab.txt")


def peak_rss_mb() -> float:
  return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def run_variant(variant: str, batch: int, seq: int, size: str) -> dict:
  """One eval step in this process; returns its figures."""
  import numpy as np  # pylint: disable=import-outside-toplevel
  import tensorflow as tf  # pylint: disable=import-outside-toplevel
  import tf_keras  # pylint: disable=import-outside-toplevel

  from finetune import modeling, registry  # pylint: disable=import-outside-toplevel
  from finetune.config import FinetuningConfig  # pylint: disable=import-outside-toplevel
  from finetune.qa import head  # pylint: disable=import-outside-toplevel

  config = FinetuningConfig.create("bench", "", model_size=size, task_names=["squad"],
                                   max_seq_length=seq, max_query_length=min(64, seq - 4),
                                   vocab_file=VOCAB_FILE)
  tf_keras.utils.set_random_seed(0)  # the same weights in both processes
  model = modeling.build_model(config, registry.get_tasks(config))
  if variant == "literal":
    model.heads["squad"].end_logits_fn = head.literal_end_logits
  rng = np.random.default_rng(0)
  question = 16
  features = {"input_ids": tf.constant(rng.integers(1000, 30000, [batch, seq]), tf.int32),
              "input_mask": tf.ones([batch, seq], tf.int32),
              "segment_ids": tf.constant([[0] * question + [1] * (seq - question)] * batch,
                                         tf.int32)}
  step = tf.function(lambda f: model(f, training=False)["squad"])
  before = peak_rss_mb()
  start = time.perf_counter()
  outputs = step(features)
  seconds = time.perf_counter() - start
  return {"variant": variant, "peak_before_mb": before, "peak_after_mb": peak_rss_mb(),
          "step_seconds": seconds,
          # Beam-order independent: per example, the best start log-prob, the best
          # end log-prob over the beam, and the answerable logit.
          "check": np.stack([outputs["start_top_log_probs"].numpy()[:, 0],
                             outputs["end_top_log_probs"].numpy().max(axis=(1, 2)),
                             outputs["answerable_logit"].numpy()], -1).tolist()}


def main() -> int:
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--batch", type=cli.positive_int, default=32)
  parser.add_argument("--seq", type=cli.positive_int, default=512)
  parser.add_argument("--size", default="base")
  parser.add_argument("--variant", choices=["factorized", "literal"],
                      help="(internal) run one variant in this process")
  args = parser.parse_args()
  if args.variant:
    print(json.dumps(run_variant(args.variant, args.batch, args.seq, args.size)))
    return 0
  print(machine.cpu_header())
  results = {}
  for variant in ("factorized", "literal"):
    out = subprocess.run([sys.executable, __file__, "--variant", variant, "--batch",
                          str(args.batch), "--seq", str(args.seq), "--size", args.size],
                         capture_output=True, text=True, check=True).stdout
    results[variant] = json.loads(out.strip().splitlines()[-1])
  for variant, r in results.items():
    print(f"{args.size} batch {args.batch} seq {args.seq}, {variant} end head: peak RSS "
          f"{r['peak_after_mb']:.0f} MB ({r['peak_after_mb'] - r['peak_before_mb']:.0f} MB for "
          f"the step), first step {r['step_seconds']:.1f} s")
  difference = max(abs(a - b) for row_a, row_b in zip(results["factorized"]["check"],
                                                      results["literal"]["check"])
                   for a, b in zip(row_a, row_b))
  print(f"largest difference of the best start/end log-probs and answerable logits: "
        f"{difference:.2e}")
  return 0


if __name__ == "__main__":
  sys.exit(main())
