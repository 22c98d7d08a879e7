"""Data-preparation throughput: tensorflow-text tokenizer vs pure Python.

Builds pre-training TFRecords from the same text three ways, in one run:

- tf-text, 1 process  (`electra_tf.text.tokenization.FullTokenizer`, the default)
- tf-text, 2 processes
- pure Python, 1 process (Model Garden's FullTokenizer adjusted to the
  original, i.e. the original's tokenization speed)

and prints tokens/s and MB/s of input text for each, two ways:

- per process: text / processing CPU seconds of the job process(es), the
  figure the "10x per process" target refers to; CPU time is robust to other
  work on a shared machine, wall time is not;
- aggregate: text / processing wall seconds, from the first job's start to
  the last job's end: what a user waits for (2 processes only help if 2
  cores are free).

Processing excludes process start-up, TensorFlow import and tokenizer set-up
(printed separately as wall time of the whole build). Each configuration runs
`--repeats` times, interleaved, and the fastest run counts. The text is the
shipped Shakespeare corpus (data/corpus), copied `--copies` times, built twice:

- as shipped: blank lines separate documents. Shakespeare's many short
  speeches give short examples (~30 tokens, 75% padding), so the fixed cost
  per example, equal for both tokenizers, weighs most: the worst case for the
  speed-up;
- `blanks_separate_docs=False`: full 128-token examples, as from a corpus of
  long documents (Wikipedia, books, OpenWebText).

  python bench/data_prep_throughput.py [--copies 8] [--repeats 2]
"""

import argparse
import os
import pathlib
import shutil
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# Imported up front so that the first in-process build's wall time does not
# include it (spawned processes still pay it, which "build s" shows).
import tensorflow  # noqa: E402,F401  pylint: disable=unused-import

from bench import machine  # noqa: E402
from data_prep import corpus  # noqa: E402
from data_prep import pretraining_dataset as bpd  # noqa: E402
from electra_tf import cli  # noqa: E402


def make_corpus(source_dir: pathlib.Path, target_dir: str, copies: int) -> None:
  for copy in range(copies):
    for path in sorted(source_dir.iterdir()):
      shutil.copy(path, os.path.join(target_dir, f"{path.name}.{copy}"))


def run(corpus_dir: str, output_dir: str, vocab_file: str, num_processes: int,
        backend: str, max_seq_length: int, blanks_separate_docs: bool) -> dict:
  options = bpd.BuildOptions(
      vocab_file=vocab_file, output_dir=output_dir, max_seq_length=max_seq_length,
      num_processes=num_processes, num_out_files=100, seed=0,
      blanks_separate_docs=blanks_separate_docs, tokenizer_backend=backend,
      progress_interval=1e9)
  start = time.time()
  stats = bpd.build(options, corpus.list_corpus_files(corpus_dir))
  return {"tokens": stats.text_tokens, "bytes": stats.bytes_read,
          "examples": stats.examples, "example_tokens": stats.example_tokens,
          "seconds": stats.seconds, "cpu_seconds": stats.cpu_seconds,
          "wall": time.time() - start}


CONFIGS = (("tf-text, 1 process", 1, "tf_text"),
           ("tf-text, 2 processes", 2, "tf_text"),
           ("pure Python, 1 process", 1, "python"))


def print_table(title: str, best: dict, max_seq_length: int, repeats: int) -> None:
  python = best[CONFIGS[-1][0]]
  python_rate = python["tokens"] / python["cpu_seconds"]
  first = best[CONFIGS[0][0]]
  padding = 1 - first["example_tokens"] / (first["examples"] * max_seq_length)
  print()
  print(f"{title}: {first['bytes'] / 1e6:.1f} MB of text, {first['tokens']:,} "
        f"WordPiece tokens -> {first['examples']:,} examples of length "
        f"{max_seq_length} ({padding:.0%} padding); best "
        f"of {repeats}")
  print(f"{'':<24}{'--- per process (CPU time) ---':>34}"
        f"{'--- aggregate (wall time) ---':>32}")
  print(f"{'path':<24}{'tokens/s':>12}{'MB/s':>8}{'vs Python':>12}"
        f"{'tokens/s':>14}{'MB/s':>8}{'build s':>10}")
  for name, _, _ in CONFIGS:
    r = best[name]
    cpu_rate = r["tokens"] / r["cpu_seconds"]
    print(f"{name:<24}{cpu_rate:>12,.0f}{r['bytes'] / r['cpu_seconds'] / 1e6:>8.2f}"
          f"{cpu_rate / python_rate:>11.1f}x"
          f"{r['tokens'] / r['seconds']:>14,.0f}{r['bytes'] / r['seconds'] / 1e6:>8.2f}"
          f"{r['wall']:>10.1f}")


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--copies", type=cli.positive_int, default=8,
                      help="copies of the Shakespeare corpus (about 1 MB each); "
                      "enough that 2 processes' start-up does not dominate")
  parser.add_argument("--repeats", type=cli.positive_int, default=2,
                      help="runs per configuration; the fastest counts")
  parser.add_argument("--max-seq-length", type=cli.positive_int, default=128)
  parser.add_argument("--vocab-file", default=str(ROOT / "data" / "vocab.txt"))
  args = parser.parse_args()

  variants = (("As shipped (blank lines separate documents)", True),
              ("Full examples (blanks_separate_docs=False)", False))
  best = {variant: {} for variant, _ in variants}
  with tempfile.TemporaryDirectory() as work:
    corpus_dir = os.path.join(work, "corpus")
    os.makedirs(corpus_dir)
    make_corpus(ROOT / "data" / "corpus", corpus_dir, args.copies)
    for _ in range(args.repeats):
      for variant, blanks_separate_docs in variants:
        for name, processes, backend in CONFIGS:
          result = run(corpus_dir, os.path.join(work, "out"), args.vocab_file,
                       processes, backend, args.max_seq_length, blanks_separate_docs)
          current = best[variant].get(name)
          if current is None or result["cpu_seconds"] < current["cpu_seconds"]:
            best[variant][name] = result
  print(machine.cpu_header())
  for variant, _ in variants:
    print_table(variant, best[variant], args.max_seq_length, args.repeats)


if __name__ == "__main__":
  main()
