"""Tagging fine-tuning throughput: ELECTRA-Small, seq 128, batch 32.

Runs the project's own path (`finetune.runner`: CoNLL reader, featurisation,
cached records, `ModelRunner.train` with the original's AdamW, layer-wise
decay and clipping) on the `chunk` task, from random weights (timing does not
depend on them), on sentences of the review corpus in `data/sentiment/`
written as a CoNLL file (one word a line; tags do not affect timing). Each
configuration trains twice, for `--steps` and for 2 x `--steps` steps; the
difference of the wall times over the difference of the steps is the time
per step without tracing and start-up. Prints sentences/s, real (non-padding)
tokens/s, the CPU model and its flags (from lscpu), and the load average (the
machine may be shared).

Usage:
  python bench/tagging_throughput.py [--steps 10] [--batch-size 32]
"""

import argparse
import logging
import os
import shutil
import sys
import tempfile
import time

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, ROOT)

from bench.machine import cpu_header  # noqa: E402
from electra_tf import cli  # noqa: E402
from electra_tf.training import distribution  # noqa: E402
from finetune import datasets  # noqa: E402
from finetune.config import FinetuningConfig  # noqa: E402
from finetune.runner import ModelRunner, prepare_run  # noqa: E402

SEQ = 128
SENTIMENT_FILE = os.path.join(ROOT, "data", "sentiment", "amazonReviewSnippets_GroundTruth.txt")


def write_corpus(data_dir: str, num_sentences: int) -> None:
  """The review sentences, one word a line, each word a one-word NP."""
  sentences = [sentence.split() for _, _, sentence in datasets.read_sentiment_file(SENTIMENT_FILE)]
  task_dir = os.path.join(data_dir, "finetuning_data", "chunk")
  os.makedirs(task_dir, exist_ok=True)
  text = "\n".join("".join(f"{word} B-NP\n" for word in words)
                   for words in sentences[:num_sentences])
  for split in ("train", "dev"):
    with open(os.path.join(task_dir, f"{split}.txt"), "w", encoding="utf-8") as f:
      f.write(text)
  shutil.copyfile(os.path.join(ROOT, "data", "vocab.txt"), os.path.join(data_dir, "vocab.txt"))


def time_training(data_dir: str, steps: int, batch_size: int, jit: bool) -> float:
  """Wall seconds of `ModelRunner.train` for `steps` steps (one loop)."""
  num_sentences = 4 * batch_size
  config = FinetuningConfig.create(
      "bench", data_dir, model_size="small", max_seq_length=SEQ, init_checkpoint=None,
      train_batch_size=batch_size, num_train_epochs=steps / 4, iterations_per_loop=steps,
      jit_compile=jit, seed=0, do_eval=False)
  assert num_sentences // batch_size * config.num_train_epochs == steps
  tasks, preprocessor, data = prepare_run(config)
  runner = ModelRunner(config, tasks, preprocessor, data, distribution.create_strategy(config),
                       trial=1, seed=0)
  start = time.perf_counter()
  runner.train()
  return time.perf_counter() - start


def real_tokens_per_sentence(data_dir: str, batch_size: int) -> float:
  config = FinetuningConfig.create("bench", data_dir, model_size="small", max_seq_length=SEQ,
                                   init_checkpoint=None, do_eval=False)
  tasks, _, _ = prepare_run(config)
  task, = tasks
  features = task.featurize(task.get_examples("train")[:4 * batch_size], is_training=True)
  return float(features["input_mask"].sum(axis=1).mean())


def main() -> int:
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--steps", type=cli.positive_int, default=10)
  parser.add_argument("--batch-size", type=cli.positive_int, default=32)
  args = parser.parse_args()
  logging.basicConfig(level=logging.WARNING)
  data_dir = tempfile.mkdtemp(prefix="electra_tf_tagging_bench_")
  try:
    write_corpus(data_dir, 4 * args.batch_size)
    tokens = real_tokens_per_sentence(data_dir, args.batch_size)
    print(cpu_header())
    print(f"ELECTRA-Small chunk tagging, seq {SEQ}, batch {args.batch_size}, "
          f"{tokens:.1f} real tokens per sentence")
    for jit in (False, True):
      short = time_training(data_dir, args.steps, args.batch_size, jit)
      long = time_training(data_dir, 2 * args.steps, args.batch_size, jit)
      step = (long - short) / args.steps
      print(f"jit_compile={jit}: {1000 * step:.0f} ms/step | "
            f"{args.batch_size / step:.1f} sentences/s | "
            f"{args.batch_size * tokens / step:.0f} real tokens/s "
            f"({args.batch_size * SEQ / step:.0f} positions/s) | load average "
            f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
  finally:
    shutil.rmtree(data_dir, ignore_errors=True)
  return 0


if __name__ == "__main__":
  sys.exit(main())
