"""Small GLUE-format task directories with the real files' column layouts.

Each writer returns what a correct reader must produce per split: a list of
(text_a, text_b, label) in file order (label None for unlabelled splits),
written from the GLUE files' documented layouts, not from the readers.
"""

import os
import random
from typing import Dict, List, Optional, Tuple

Expected = Dict[str, List[Tuple[str, Optional[str], Optional[str]]]]

SENTENCES = [
    "The cat sat on the mat.", 'He said "hello" and left.', "A man is playing a guitar.",
    "Stocks fell sharply on Monday.", "'Quoted' words stay as they are.", "It rained all day.",
    "She bought three apples.", "The committee approved the plan.", "Nobody expected that.",
    "Is this the right way to the station?", "The film was surprisingly good.",
    "Birds sing at dawn.",
]

MNLI_LABELS = ["contradiction", "entailment", "neutral"]
NLI_LABELS = ["entailment", "not_entailment"]


def _write(path: str, header: Optional[List[str]], rows: List[List[str]]) -> None:
  os.makedirs(os.path.dirname(path), exist_ok=True)
  lines = ([header] if header else []) + rows
  with open(path, "w", encoding="utf-8") as f:
    f.write("".join("\t".join(fields) + "\n" for fields in lines))


def _pairs(rng: random.Random, n: int) -> List[Tuple[str, str]]:
  return [(rng.choice(SENTENCES), rng.choice(SENTENCES)) for _ in range(n)]


def _labels(rng: random.Random, n: int, choices) -> List[str]:
  return [rng.choice(choices) for _ in range(n)]


def _write_single_sentence(task_dir: str, rng: random.Random, n: int,
                           header: Optional[List[str]], row) -> Expected:
  """train/dev rows `row(sentence, label)` under `header`, and a GLUE test file."""
  expected: Expected = {}
  for split in ("train", "dev"):
    sentences, ys = [rng.choice(SENTENCES) for _ in range(n)], _labels(rng, n, ["0", "1"])
    _write(os.path.join(task_dir, f"{split}.tsv"), header,
           [row(s, y) for s, y in zip(sentences, ys)])
    expected[split] = [(s, None, y) for s, y in zip(sentences, ys)]
  sentences = [rng.choice(SENTENCES) for _ in range(n)]
  _write(os.path.join(task_dir, "test.tsv"), ["index", "sentence"],
         [[str(i), s] for i, s in enumerate(sentences)])
  expected["test"] = [(s, None, None) for s in sentences]
  return expected


def _write_cola(task_dir: str, rng: random.Random, n: int) -> Expected:
  return _write_single_sentence(task_dir, rng, n, None,
                                lambda s, y: ["gj04", y, "" if y == "1" else "*", s])


def _write_sst(task_dir: str, rng: random.Random, n: int) -> Expected:
  return _write_single_sentence(task_dir, rng, n, ["sentence", "label"], lambda s, y: [s, y])


def _write_mrpc(task_dir: str, rng: random.Random, n: int) -> Expected:
  expected: Expected = {}
  for split in ("train", "dev"):
    pairs, ys = _pairs(rng, n), _labels(rng, n, ["0", "1"])
    _write(os.path.join(task_dir, f"{split}.tsv"),
           ["Quality", "#1 ID", "#2 ID", "#1 String", "#2 String"],
           [[y, str(100 + i), str(200 + i), a, b] for i, ((a, b), y) in enumerate(zip(pairs, ys))])
    expected[split] = [(a, b, y) for (a, b), y in zip(pairs, ys)]
  pairs = _pairs(rng, n)
  _write(os.path.join(task_dir, "test.tsv"),
         ["index", "#1 ID", "#2 ID", "#1 String", "#2 String"],
         [[str(i), "1", "2", a, b] for i, (a, b) in enumerate(pairs)])
  expected["test"] = [(a, b, None) for a, b in pairs]
  return expected


def _write_sts(task_dir: str, rng: random.Random, n: int) -> Expected:
  expected: Expected = {}
  header = ["index", "genre", "filename", "year", "old_index", "source1", "source2",
            "sentence1", "sentence2"]
  for split in ("train", "dev"):
    pairs = _pairs(rng, n)
    ys = [f"{rng.uniform(0, 5):.3f}" for _ in range(n)]
    _write(os.path.join(task_dir, f"{split}.tsv"), header + ["score"],
           [[str(i), "main-captions", "MSRvid", "2012test", f"{i:04d}", "none", "none", a, b, y]
            for i, ((a, b), y) in enumerate(zip(pairs, ys))])
    expected[split] = [(a, b, y) for (a, b), y in zip(pairs, ys)]
  pairs = _pairs(rng, n)
  _write(os.path.join(task_dir, "test.tsv"), header,
         [[str(i), "main-news", "headlines", "2015", f"{i:04d}", "none", "none", a, b]
          for i, (a, b) in enumerate(pairs)])
  expected["test"] = [(a, b, None) for a, b in pairs]
  return expected


def _write_qqp(task_dir: str, rng: random.Random, n: int) -> Expected:
  expected: Expected = {}
  for split in ("train", "dev"):
    pairs, ys = _pairs(rng, n), _labels(rng, n, ["0", "1"])
    _write(os.path.join(task_dir, f"{split}.tsv"),
           ["id", "qid1", "qid2", "question1", "question2", "is_duplicate"],
           [[str(i), str(2 * i), str(2 * i + 1), a, b, y]
            for i, ((a, b), y) in enumerate(zip(pairs, ys))])
    expected[split] = [(a, b, y) for (a, b), y in zip(pairs, ys)]
  pairs = _pairs(rng, n)
  _write(os.path.join(task_dir, "test.tsv"), ["id", "question1", "question2"],
         [[str(i), a, b] for i, (a, b) in enumerate(pairs)])
  expected["test"] = [(a, b, None) for a, b in pairs]
  return expected


def _write_mnli(task_dir: str, rng: random.Random, n: int) -> Expected:
  expected: Expected = {}
  front = ["index", "promptID", "pairID", "genre", "sentence1_binary_parse",
           "sentence2_binary_parse", "sentence1_parse", "sentence2_parse",
           "sentence1", "sentence2"]

  def row(i, a, b):
    return [str(i), "31193", f"{i}n", "government", "( ( x ) )", "( y )", "(ROOT x)",
            "(ROOT y)", a, b]
  splits = {"train": front + ["label1", "gold_label"],
            "dev_matched": front + [f"label{k}" for k in range(1, 6)] + ["gold_label"],
            "dev_mismatched": front + [f"label{k}" for k in range(1, 6)] + ["gold_label"]}
  for split, header in splits.items():
    pairs, ys = _pairs(rng, n), _labels(rng, n, MNLI_LABELS)
    extra = len(header) - len(front) - 1
    _write(os.path.join(task_dir, f"{split}.tsv"), header,
           [row(i, a, b) + [rng.choice(MNLI_LABELS) for _ in range(extra)] + [y]
            for i, ((a, b), y) in enumerate(zip(pairs, ys))])
    expected[split] = [(a, b, y) for (a, b), y in zip(pairs, ys)]
  for split in ("test_matched", "test_mismatched"):
    pairs = _pairs(rng, n)
    _write(os.path.join(task_dir, f"{split}.tsv"), front,
           [row(i, a, b) for i, (a, b) in enumerate(pairs)])
    expected[split] = [(a, b, None) for a, b in pairs]
  pairs = _pairs(rng, n)
  _write(os.path.join(task_dir, "diagnostic.tsv"), ["index", "sentence1", "sentence2"],
         [[str(i), a, b] for i, (a, b) in enumerate(pairs)])
  expected["diagnostic"] = [(a, b, None) for a, b in pairs]
  return expected


def _write_nli_pair(task_dir: str, rng: random.Random, n: int, task: str) -> Expected:
  expected: Expected = {}
  header = (["index", "question", "sentence"] if task == "qnli"
            else ["index", "sentence1", "sentence2"])
  choices = ["0", "1"] if task == "wnli" else NLI_LABELS
  for split in ("train", "dev"):
    pairs, ys = _pairs(rng, n), _labels(rng, n, choices)
    _write(os.path.join(task_dir, f"{split}.tsv"), header + ["label"],
           [[str(i), a, b, y] for i, ((a, b), y) in enumerate(zip(pairs, ys))])
    expected[split] = [(a, b, y) for (a, b), y in zip(pairs, ys)]
  pairs = _pairs(rng, n)
  _write(os.path.join(task_dir, "test.tsv"), header,
         [[str(i), a, b] for i, (a, b) in enumerate(pairs)])
  expected["test"] = [(a, b, None) for a, b in pairs]
  return expected


def write_task(task: str, task_dir: str, n: int = 6, seed: int = 0) -> Expected:
  """Writes `task`'s files into task_dir; returns the expected examples per split."""
  rng = random.Random(seed)
  if task in ("qnli", "rte", "wnli"):
    return _write_nli_pair(task_dir, rng, n, task)
  writers = {"cola": _write_cola, "sst": _write_sst, "mrpc": _write_mrpc, "sts": _write_sts,
             "qqp": _write_qqp, "mnli": _write_mnli}
  if task not in writers:
    raise ValueError(task)
  return writers[task](task_dir, rng, n)


def write_glue(data_dir: str, tasks, n: int = 6) -> Dict[str, Expected]:
  """Writes every task of `tasks` under data_dir/finetuning_data/."""
  return {task: write_task(task, os.path.join(data_dir, "finetuning_data", task), n, seed=i)
          for i, task in enumerate(tasks)}
