"""Equal quality: the `tiny` model pre-trained in float32 and in mixed_bfloat16.

Builds the demo's pre-training data from the shipped corpus (data/corpus, as
demo.py: build_pretraining_dataset, seq 128, seed 0), then runs the project's
run_pretraining twice with the demo's hparams (configs/demo_pretrain.json) and
the same seed, once per precision, each followed by its do_eval run. Prints
the training losses (total, masked-LM, discriminator) the trainer logged every
100 steps, side by side, and the two runs' eval metrics side by side, under
the machine's lscpu header (the bf16 numerics depend on the CPU's bf16 support).

  python bench/precision_quality.py [--steps 1000] [--work-dir /tmp/electra_tf_precision]

The work dir is emptied first: both runs start from scratch.
"""

import argparse
import glob
import json
import os
import pickle
import shutil
import sys

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import tensorflow as tf  # noqa: E402

from bench import machine  # noqa: E402
from electra_cli import build_pretraining_dataset, run_pretraining  # noqa: E402
from electra_tf import cli  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
PRECISIONS = ("float32", "mixed_bfloat16")
LOSSES = ("total_loss", "mlm_loss", "disc_loss")


def build_data(work_dir: str) -> None:
  shutil.copyfile(os.path.join(ROOT, "data", "vocab.txt"), os.path.join(work_dir, "vocab.txt"))
  if build_pretraining_dataset.main([
      "--corpus-dir", os.path.join(ROOT, "data", "corpus"),
      "--vocab-file", os.path.join(work_dir, "vocab.txt"),
      "--output-dir", os.path.join(work_dir, "pretrain_tfrecords"),
      "--max-seq-length", "128", "--num-out-files", "8", "--seed", "0"]):
    raise SystemExit("build_pretraining_dataset failed")


def pretrain(work_dir: str, precision: str, steps: int, every: int) -> None:
  """Trains model `precision` for `steps` steps, then evaluates it."""
  with open(os.path.join(ROOT, "configs", "demo_pretrain.json")) as f:
    hparams = json.load(f)
  hparams.update(num_train_steps=steps, iterations_per_loop=every,
                 save_checkpoints_steps=steps, mixed_precision=precision)
  common = ["--data-dir", work_dir, "--model-name", precision]
  if run_pretraining.main(common + ["--hparams", json.dumps(hparams)]):
    raise SystemExit(f"run_pretraining ({precision}) failed")
  hparams.update(do_train=False, do_eval=True, eval_batch_size=32, num_eval_steps=20)
  if run_pretraining.main(common + ["--hparams", json.dumps(hparams)]):
    raise SystemExit(f"run_pretraining do_eval ({precision}) failed")


def logged_losses(model_dir: str):
  """{step: {loss name: value}} from the trainer's train/* TensorBoard scalars."""
  losses = {}
  for path in sorted(glob.glob(os.path.join(model_dir, "events.out.tfevents.*"))):
    for event in tf.compat.v1.train.summary_iterator(path):
      for value in event.summary.value:
        name = value.tag.split("/", 1)[-1]
        if value.tag.startswith("train/") and name in LOSSES:
          losses.setdefault(event.step, {})[name] = float(tf.make_ndarray(value.tensor))
  return losses


def main() -> int:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--steps", type=cli.positive_int, default=1000,
                      help="pre-training steps per run")
  parser.add_argument("--work-dir", default="/tmp/electra_tf_precision",
                      help="data and models (emptied first)")
  args = parser.parse_args()
  every = min(100, args.steps)
  shutil.rmtree(args.work_dir, ignore_errors=True)
  os.makedirs(args.work_dir)
  build_data(args.work_dir)
  for precision in PRECISIONS:
    pretrain(args.work_dir, precision, args.steps, every)

  model_dirs = {p: os.path.join(args.work_dir, "models", p) for p in PRECISIONS}
  losses = {p: logged_losses(d) for p, d in model_dirs.items()}
  print(f"\n{machine.cpu_header()}")
  print(f"tiny model, demo hparams and data, seed 0, {args.steps} steps; "
        f"training losses as logged every {every} steps (fp32 | bf16)\n")
  print("| step | " + " | ".join(f"{name} fp32 | {name} bf16" for name in LOSSES) + " |")
  print("| --- " * (1 + 2 * len(LOSSES)) + "|")
  for step in sorted(set(losses["float32"]) | set(losses["mixed_bfloat16"])):
    cells = [f"{losses[p].get(step, {}).get(name, float('nan')):.4f}"
             for name in LOSSES for p in PRECISIONS]
    print(f"| {step} | " + " | ".join(cells) + " |")
  results = {}
  for precision, model_dir in model_dirs.items():
    with open(os.path.join(model_dir, "results", "unsup_results.pkl"), "rb") as f:
      results[precision] = pickle.load(f)
  print("\neval (20 batches of 32) | fp32 | bf16\n| --- | --- | --- |")
  for key in sorted(results["float32"]):
    print(f"| {key} | {results['float32'][key]:.4f} | "
          f"{results['mixed_bfloat16'].get(key, float('nan')):.4f} |")
  return 0


if __name__ == "__main__":
  sys.exit(main())
