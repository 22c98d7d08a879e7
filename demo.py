"""End-to-end demo on the data the project ships, with the real commands.

1. build_pretraining_dataset: data/corpus (8 Shakespeare plays) -> TFRecords;
2. run_pretraining: the `tiny` ELECTRA for a few hundred steps on the CPU;
3. run_pretraining with do_eval: the original's metrics, written to
   DEMO_DIR/models/demo/results/unsup_results.txt.

  python demo.py [--demo-dir demo_output] [--num-train-steps 300]

Rerunning resumes from the checkpoint in DEMO_DIR (delete it to start over).
"""

import argparse
import json
import os
import shutil
import sys
import time

import electra_tf  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow loads)

ROOT = os.path.dirname(os.path.abspath(__file__))


def main() -> int:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--demo-dir", default=os.path.join(ROOT, "demo_output"))
  parser.add_argument("--num-train-steps", type=int, default=300)
  args = parser.parse_args()

  from data_prep import build_pretraining_dataset  # pylint: disable=import-outside-toplevel
  import run_pretraining  # pylint: disable=import-outside-toplevel

  data_dir = args.demo_dir
  os.makedirs(data_dir, exist_ok=True)
  shutil.copyfile(os.path.join(ROOT, "data", "vocab.txt"), os.path.join(data_dir, "vocab.txt"))
  start = time.time()
  print("== 1/3 build_pretraining_dataset: data/corpus -> TFRecords", flush=True)
  if build_pretraining_dataset.main([
      "--corpus-dir", os.path.join(ROOT, "data", "corpus"),
      "--vocab-file", os.path.join(data_dir, "vocab.txt"),
      "--output-dir", os.path.join(data_dir, "pretrain_tfrecords"),
      "--max-seq-length", "128", "--num-out-files", "8", "--seed", "0"]):
    return 1

  with open(os.path.join(ROOT, "configs", "demo_pretrain.json")) as f:
    hparams = json.load(f)
  hparams["num_train_steps"] = args.num_train_steps
  print(f"== 2/3 run_pretraining: tiny model, {args.num_train_steps} steps", flush=True)
  common = ["--data-dir", data_dir, "--model-name", "demo"]
  if run_pretraining.main(common + ["--hparams", json.dumps(hparams)]):
    return 1
  print("== 3/3 run_pretraining with do_eval: the original's metrics", flush=True)
  hparams.update(do_train=False, do_eval=True, eval_batch_size=32, num_eval_steps=20)
  if run_pretraining.main(common + ["--hparams", json.dumps(hparams)]):
    return 1
  results = os.path.join(data_dir, "models", "demo", "results", "unsup_results.txt")
  print(f"== done in {time.time() - start:.0f} s; results in {results}:")
  with open(results) as f:
    print(f.read())
  return 0


if __name__ == "__main__":
  sys.exit(main())
