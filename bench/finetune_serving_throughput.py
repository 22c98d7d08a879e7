"""GLUE-classification fine-tuning throughput and batch-1 serving latency, vs PyTorch.

ELECTRA-Small, seq 128, in one run, each measurement in its own process:

- electra-tf fine-tuning: the project's own training loop
  (`finetune.runner.ModelRunner.make_train_loop`, as `run_finetuning.py`
  trains: cached SST-2 records of the shipped review sentences, the original's
  AdamW with layer-wise decay, clipping), random weights (timing does not
  depend on them), in float32, in mixed_bfloat16 and in the `auto` default's
  choice for this CPU: `--steps` timed steps after two untimed ones (tracing).
- electra-tf serving: the exported SavedModel's `serve_ids` signature (float32)
  and the in-process Keras model in a tf.function in mixed_bfloat16, on one
  full-length sequence (128 real tokens, as the peer's), p50 / p90 over
  `--serve-calls` calls.
- The PyTorch / Hugging Face peers (bench/torch_peers.py `finetune` and `serve`:
  `ElectraForSequenceClassification`, 2 labels, AdamW and clipping; fp32 and
  `torch.autocast` bf16) in the peers' venv (bash bench/setup_peers_venv.sh;
  without it they are skipped with a note).

Prints the CPU model and flags (lscpu), the table, and our best over the
peer's best for both.

Usage:
  python bench/finetune_serving_throughput.py [--steps 10] [--batch-size 32]
      [--serve-calls 100] [--peer-python PATH | --skip-peers]
"""

import argparse
import os
import sys
import tempfile
import time

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, ROOT)

import json  # noqa: E402
import logging  # noqa: E402
import shutil  # noqa: E402

import numpy as np  # noqa: E402

from bench import timing  # noqa: E402
from bench.machine import cpu_header  # noqa: E402
from bench.pretrain_throughput import HERE, peer_python, run_child  # noqa: E402
from electra_tf import cli  # noqa: E402

SEQ = 128
VOCAB_FILE = os.path.join(ROOT, "data", "vocab.txt")
SENTIMENT_FILE = os.path.join(ROOT, "data", "sentiment", "amazonReviewSnippets_GroundTruth.txt")
CHILDREN = ("finetune-fp32", "finetune-bf16", "finetune-auto", "serve")


def write_sst_task(data_dir: str, num_sentences: int) -> None:
  """An SST-2-format task (`sentence\\tlabel`) of the shipped review sentences."""
  from finetune import datasets  # pylint: disable=import-outside-toplevel
  rows = datasets.read_sentiment_file(SENTIMENT_FILE)[:num_sentences]
  task_dir = os.path.join(data_dir, "finetuning_data", "sst")
  os.makedirs(task_dir)
  lines = ["sentence\tlabel"] + [f"{' '.join(sentence.split())}\t{int(rating > 0)}"
                                 for _, rating, sentence in rows]
  for split in ("train", "dev"):
    with open(os.path.join(task_dir, f"{split}.tsv"), "w", encoding="utf-8") as f:
      f.write("\n".join(lines) + "\n")
  shutil.copyfile(VOCAB_FILE, os.path.join(data_dir, "vocab.txt"))


def finetune_child(precision: str, steps: int, batch_size: int) -> dict:
  """Sequences/s of `steps` timed fine-tuning steps after 2 untimed ones (tracing)."""
  import tensorflow as tf  # pylint: disable=import-outside-toplevel
  from electra_tf.training import distribution  # pylint: disable=import-outside-toplevel
  from finetune.config import FinetuningConfig  # pylint: disable=import-outside-toplevel
  from finetune.runner import ModelRunner, prepare_run  # pylint: disable=import-outside-toplevel
  data_dir = tempfile.mkdtemp(prefix="electra_tf_finetune_bench_")
  try:
    write_sst_task(data_dir, 4 * batch_size)
    config = FinetuningConfig.create(
        "bench", data_dir, model_size="small", task_names=["sst"], max_seq_length=SEQ,
        init_checkpoint=None, train_batch_size=batch_size, mixed_precision=precision, seed=0,
        do_eval=False, model_dir=os.path.join(data_dir, "model"))
    tasks, preprocessor, data = prepare_run(config)
    runner = ModelRunner(config, tasks, preprocessor, data,
                         distribution.create_strategy(config), trial=1, seed=0)
    train_loop, _, _ = runner.make_train_loop(num_steps=10 ** 6)
    train_loop(tf.constant(2))  # trace and warm up
    start = time.perf_counter()
    loss_sum, _ = train_loop(tf.constant(steps))
    elapsed = time.perf_counter() - start
    if not np.isfinite(float(loss_sum)):
      raise RuntimeError(f"non-finite loss {float(loss_sum)} in a timed step")
  finally:
    shutil.rmtree(data_dir, ignore_errors=True)
  return {"seq_per_s": batch_size * steps / elapsed, "policy": config.mixed_precision}


def latency_ms(run, calls: int):
  """(p50, p90) ms of `run()` over `calls` calls after 5 warm-up calls."""
  times = timing.time_round_robin({"run": run}, calls)["run"]
  return timing.percentile_ms(times, 50), timing.percentile_ms(times, 90)


def serve_child(calls: int) -> dict:
  """Batch-1 p50/p90 of the fp32 SavedModel `serve_ids` and of a bf16 tf.function."""
  import tensorflow as tf  # pylint: disable=import-outside-toplevel
  import tf_keras  # pylint: disable=import-outside-toplevel
  from electra_tf.serving import export  # pylint: disable=import-outside-toplevel
  from electra_tf.training import distribution  # pylint: disable=import-outside-toplevel
  from finetune import modeling, registry  # pylint: disable=import-outside-toplevel
  from finetune.config import FinetuningConfig  # pylint: disable=import-outside-toplevel
  from finetune.serving import task_exportable  # pylint: disable=import-outside-toplevel

  rng = np.random.default_rng(0)
  ids = rng.integers(1000, 30000, size=[1, SEQ]).astype(np.int32)
  ids[:, 0], ids[:, -1] = 101, 102
  features = {"input_ids": tf.constant(ids), "input_mask": tf.ones_like(ids),
              "segment_ids": tf.zeros_like(ids)}

  def build(precision):
    config = FinetuningConfig.create("bench", "", model_size="small", task_names=["sst"],
                                     max_seq_length=SEQ, vocab_file=VOCAB_FILE,
                                     mixed_precision=precision)
    tf_keras.utils.set_random_seed(0)
    task, = registry.get_tasks(config)
    with distribution.precision_policy(precision):
      return modeling.build_model(config, [task]), task

  model, task = build("float32")
  export_dir = tempfile.mkdtemp(prefix="finetune_serving_bench_")
  try:
    path = export.export_saved_model(
        task_exportable(model, task, encoder_config=model.bert_config, vocab_file=VOCAB_FILE,
                        max_seq_length=SEQ, do_lower_case=True),
        export_dir, overwrite=True, log=lambda line: None)
    serve_ids = tf.saved_model.load(path).signatures[export.IDS_SIGNATURE]
    rows = {"savedmodel_fp32": latency_ms(
        lambda: serve_ids(**features)["probabilities"].numpy(), calls)}
  finally:
    shutil.rmtree(export_dir, ignore_errors=True)
  bf16_model, _ = build("mixed_bfloat16")
  with distribution.precision_policy("mixed_bfloat16"):
    compiled = tf.function(lambda f: bf16_model(f, training=False))
    rows["function_bf16"] = latency_ms(
        lambda: tf.cast(compiled(features)["sst"]["probabilities"], tf.float32).numpy(), calls)
  return rows


def peer_rows(args):
  """JSON rows of the torch peers (finetune and serve, fp32 then bf16), or []."""
  python = peer_python(args)
  if python is None:
    return []
  rows = []
  for what in ("finetune", "serve"):
    for dtype in ("fp32", "bf16"):
      row, rss = run_child([python, os.path.join(HERE, "torch_peers.py"), "--what", what,
                            "--dtypes", dtype, "--seq", str(SEQ),
                            "--batch-size", str(args.batch_size), "--steps", str(args.steps),
                            "--serve-calls", str(args.serve_calls)])
      if "skipped" in row:
        print(f"{row['name']} skipped: {row['skipped']}")
        continue
      rows.append(dict(row, peak_rss_mb=rss))
  return rows


def parse_args():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--steps", type=cli.positive_int, default=10,
                      help="fine-tuning steps per timing (and twice that); default 10")
  parser.add_argument("--batch-size", type=cli.positive_int, default=32)
  parser.add_argument("--serve-calls", type=cli.positive_int, default=100,
                      help="timed batch-1 calls per serving path; default 100")
  parser.add_argument("--peer-python", default=None,
                      help="python of the torch peers' venv (default: bench/.venv-peers/bin/"
                           "python if it exists, else the peers are skipped)")
  parser.add_argument("--skip-peers", action="store_true")
  parser.add_argument("--child", choices=CHILDREN, help=argparse.SUPPRESS)
  args = parser.parse_args()
  if min(args.steps, args.batch_size, args.serve_calls) < 1:
    parser.error("--steps, --batch-size and --serve-calls must be >= 1")
  if args.peer_python and not os.path.exists(args.peer_python):
    parser.error(f"--peer-python {args.peer_python} does not exist; run "
                 "bash bench/setup_peers_venv.sh or drop the flag")
  return args


def main() -> int:
  args = parse_args()
  if args.child:
    logging.basicConfig(level=logging.WARNING)
    if args.child == "serve":
      result = serve_child(args.serve_calls)
    else:
      precision = {"fp32": "float32", "bf16": "mixed_bfloat16", "auto": "auto"}[
          args.child.split("-")[1]]
      result = finetune_child(precision, args.steps, args.batch_size)
    print(json.dumps(result), flush=True)
    return 0

  print(cpu_header())
  print(f"ELECTRA-Small GLUE classifier (2 labels), seq {SEQ}; fine-tuning batch "
        f"{args.batch_size}, {args.steps} timed steps; serving batch 1, "
        f"{args.serve_calls} calls; each measurement in its own process\n")
  finetune, serve = [], []
  for variant in ("fp32", "bf16", "auto"):
    row, rss = run_child([sys.executable, os.path.abspath(__file__), "--child",
                          f"finetune-{variant}", "--steps", str(args.steps),
                          "--batch-size", str(args.batch_size)])
    label = f"auto (= {row['policy']})" if variant == "auto" else variant
    finetune.append((f"electra-tf {label}", row["seq_per_s"], rss))
  row, rss = run_child([sys.executable, os.path.abspath(__file__), "--child", "serve",
                        "--serve-calls", str(args.serve_calls)])
  serve.append(("electra-tf SavedModel serve_ids fp32", *row["savedmodel_fp32"]))
  serve.append(("electra-tf Keras tf.function bf16", *row["function_bf16"]))
  for peer in peer_rows(args):
    name = f"torch HF {peer['dtype']}{' autocast' if peer['dtype'] == 'bf16' else ''} " \
           f"({peer['torch']})"
    if peer["what"] == "finetune":
      finetune.append((name, peer["seq_per_s"], peer["peak_rss_mb"]))
    else:
      serve.append((name, peer["p50_ms"], peer["p90_ms"]))

  print("| fine-tuning | seq/s | peak RSS |\n| --- | --- | --- |")
  for name, seq_per_s, rss in finetune:
    print(f"| {name} | {seq_per_s:.2f} | {rss:,.0f} MB |")
  print("\n| batch-1 serving | p50 ms | p90 ms |\n| --- | --- | --- |")
  for name, p50, p90 in serve:
    print(f"| {name} | {p50:.2f} | {p90:.2f} |")
  ours = [row for row in finetune if row[0].startswith("electra-tf")]
  peers = [row for row in finetune if row[0].startswith("torch")]
  if peers:
    print(f"\nfine-tuning: our auto {ours[-1][1]:.2f} seq/s = "
          f"{ours[-1][1] / max(r[1] for r in peers):.2f}x the peer's best")
    best_ours = min(r[1] for r in serve if r[0].startswith("electra-tf"))
    best_peer = min(r[1] for r in serve if r[0].startswith("torch"))
    print(f"serving: our best p50 {best_ours:.2f} ms vs the peer's best {best_peer:.2f} ms "
          f"({best_peer / best_ours:.2f}x)")
  return 0


if __name__ == "__main__":
  sys.exit(main())
