"""Serving latency and throughput of an exported ELECTRA-Small classifier.

Exports an ELECTRA-Small sentence classifier (the fine-tuning `FinetuningModel`
of the `small` preset with the SST-2 task's head; random weights: timing does
not depend on them) at seq 128,
loads the SavedModel back, and times, in the same run and on the same review
sentences:

- the in-process Keras model, called eagerly and through a tf.function;
- the SavedModel's `serve_ids` (token ids, [B, 128]), and on the same ids
  with the padding trimmed to the batch's longest sequence (`serve_ids`
  takes any length up to 128; the outputs are the same);
- the SavedModel's `serving_default` (raw text: in-graph tokenization and
  featurisation included).

Batch 1: p50 and p99 latency over `--iterations` calls. Batch 32: throughput
(sequences/s) from the median of `--batches` calls. Paths take turns call by
call, so load from other processes on a shared machine hits them alike; the
matmul FLOP/s reached in the same run is printed to put the figures in context.

Usage:
  python bench/serving_latency.py [--iterations 300] [--batches 20] [--keep-export DIR]
"""

import argparse
import functools
import os
import shutil
import sys
import tempfile
import time

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, ROOT)

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import tf_keras  # noqa: E402

from bench import machine, timing  # noqa: E402
from bench.pretrain_throughput import matmul_peak_flops  # noqa: E402
from electra_tf import cli  # noqa: E402
from electra_tf.serving import export  # noqa: E402
from electra_tf.text import tokenization  # noqa: E402
from finetune import modeling, registry  # noqa: E402
from finetune.config import FinetuningConfig  # noqa: E402
from finetune.serving import task_exportable  # noqa: E402
from tests.helpers.featurization_reference import featurize_batch, sentiment_sentences  # noqa: E402

SEQ = 128
VOCAB_FILE = os.path.join(ROOT, "data", "vocab.txt")


def main() -> int:
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--iterations", type=cli.positive_int, default=300,
                      help="batch-1 calls per path")
  parser.add_argument("--batches", type=cli.positive_int, default=20,
                      help="batch-32 calls per path")
  parser.add_argument("--keep-export", help="export here (EXPORT_DIR/1) and keep it")
  args = parser.parse_args()

  finetuning_config = FinetuningConfig.create(
      "bench", "", model_size="small", task_names=["sst"], max_seq_length=SEQ,
      vocab_file=VOCAB_FILE)
  tf_keras.utils.set_random_seed(0)
  task, = registry.get_tasks(finetuning_config)
  model = modeling.build_model(finetuning_config, [task])
  config = model.bert_config
  tokenizer = tokenization.FullTokenizer(VOCAB_FILE)
  sentences = sentiment_sentences()[0]
  export_dir = args.keep_export or tempfile.mkdtemp(prefix="serving_latency_")
  start = time.perf_counter()
  path = export.export_saved_model(
      task_exportable(model, task, encoder_config=config, vocab_file=VOCAB_FILE,
                      max_seq_length=SEQ, do_lower_case=True),
      export_dir, overwrite=True, log=lambda line: None)
  export_seconds = time.perf_counter() - start
  loaded = tf.saved_model.load(path)
  serve_ids = loaded.signatures[export.IDS_SIGNATURE]
  serve_text = loaded.signatures[export.TEXT_SIGNATURE]
  compiled = tf.function(lambda features: model(features, training=False))

  paths = {
      "Keras model, eager": lambda f: model(f, training=False)["sst"]["probabilities"].numpy(),
      "Keras model, tf.function": lambda f: compiled(f)["sst"]["probabilities"].numpy(),
      "SavedModel serve_ids": lambda f: serve_ids(**f)["probabilities"].numpy(),
      "SavedModel serve_ids, trimmed padding": (
          lambda f: serve_ids(**f)["probabilities"].numpy()),
      "SavedModel serving_default (text)": lambda t: serve_text(**t)["probabilities"].numpy(),
  }

  def inputs_for(batch_size):
    texts = sentences[100:100 + batch_size]
    features = {k: tf.constant(v) for k, v in
                featurize_batch(tokenizer, texts, [""] * batch_size, SEQ).items()}
    longest = int(tf.reduce_max(tf.reduce_sum(features["input_mask"], axis=1)))
    trimmed = {k: v[:, :longest] for k, v in features.items()}
    text = {"text": tf.constant(texts), "text_b": tf.constant([""] * batch_size)}
    return {name: text if "text" in name else trimmed if "trimmed" in name else features
            for name in paths}

  single_inputs, batched_inputs = inputs_for(1), inputs_for(32)
  def with_inputs(inputs):
    return {name: functools.partial(run, inputs[name]) for name, run in paths.items()}

  single = timing.time_round_robin(with_inputs(single_inputs), args.iterations)
  batched = timing.time_round_robin(with_inputs(batched_inputs), args.batches)
  peak = matmul_peak_flops(tf.float32)
  print(machine.cpu_header())
  print(f"ELECTRA-Small classifier (hidden {config.hidden_size}, {config.num_hidden_layers} "
        f"layers, embeddings {config.embedding_size}), seq {SEQ}, TensorFlow {tf.__version__}, "
        f"fp32 matmul peak in this run {peak / 1e9:.0f} GFLOP/s; "
        f"export took {export_seconds:.1f} s")
  trimmed = "SavedModel serve_ids, trimmed padding"
  print(f"batch 1: {args.iterations} calls per path; batch 32: {args.batches} calls per path; "
        f"trimmed lengths {single_inputs[trimmed]['input_ids'].shape[1]} (batch 1) and "
        f"{batched_inputs[trimmed]['input_ids'].shape[1]} (batch 32)\n")
  header = f"| {'path':<37} | batch 1 p50 ms | batch 1 p99 ms | batch 32 seq/s |"
  print(header)
  print("|" + "|".join("-" * len(part) for part in header.split("|")[1:-1]) + "|")
  for name in paths:
    throughput = 32 / float(np.median(batched[name]))
    print(f"| {name:<37} | {timing.percentile_ms(single[name], 50):>14.2f} | "
          f"{timing.percentile_ms(single[name], 99):>14.2f} | {throughput:>14.1f} |")
  if not args.keep_export:
    shutil.rmtree(export_dir)
  return 0


if __name__ == "__main__":
  sys.exit(main())
