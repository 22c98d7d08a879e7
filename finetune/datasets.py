"""Builds GLUE-format task directories from data the project ships.

`build_sentiment_task` turns `data/sentiment/amazonReviewSnippets_GroundTruth.txt`
(3,708 product-review sentences rated by people from -4 to 4; Hutto & Gilbert
2014) into an SST-2-style binary task: `train.tsv` and `dev.tsv` with a
`sentence\\tlabel` header, `test.tsv` with `index\\tsentence` (GLUE's test
layout, no labels) and, for scoring test predictions offline,
`test_labels.tsv` (`index\\tlabel`). Label 1 means a mean rating > 0.
Sentences rated near neutral (|rating| < `min_abs_rating`) are dropped,
as are repeated sentences (kept once, so no sentence is in two splits).
The split is stratified by label and seeded: the same arguments give the
same files.
"""

import dataclasses
import os
import random
from typing import Dict, List, Tuple

from electra_tf import fileio
from finetune.task import FinetuningDataError


@dataclasses.dataclass
class SplitSummary:
  """What `build_sentiment_task` wrote.

  Attributes:
    sizes: examples per split ("train", "dev", "test").
    positives: label-1 examples per split.
    dropped_neutral: sentences with |rating| < min_abs_rating.
    dropped_duplicates: repeated sentences.
  """
  sizes: Dict[str, int]
  positives: Dict[str, int]
  dropped_neutral: int
  dropped_duplicates: int

  def majority_rate(self, split: str) -> float:
    """Accuracy (%) on `split` of always predicting the training set's majority label."""
    train_majority_positive = 2 * self.positives["train"] >= self.sizes["train"]
    positives = self.positives[split]
    return 100.0 * (positives if train_majority_positive
                    else self.sizes[split] - positives) / self.sizes[split]


def read_sentiment_file(path: str) -> List[Tuple[str, float, str]]:
  """(id, mean rating, sentence) rows of the VADER ground-truth format.

  Raises:
    FinetuningDataError: a missing file or a row without three tab-separated
      fields and a numeric rating, naming the line.
  """
  if not os.path.exists(path):
    raise FinetuningDataError(f"sentiment file {path} does not exist")
  rows = []
  with open(path, encoding="utf-8", newline="") as f:
    for number, line in enumerate(f, start=1):
      line = line.rstrip("\r\n")
      if not line.strip():
        continue
      fields = line.split("\t", 2)
      try:
        if len(fields) != 3:
          raise ValueError(f"{len(fields)} tab-separated fields, expected 3 (id, rating, "
                           "sentence)")
        rows.append((fields[0], float(fields[1]), fields[2]))
      except ValueError as e:
        raise FinetuningDataError(f"{path}:{number}: {e}") from None
  return rows


def build_sentiment_task(source_file: str, output_dir: str, *, min_abs_rating: float = 0.5,
                         dev_fraction: float = 0.15, test_fraction: float = 0.15,
                         seed: int = 0) -> SplitSummary:
  """Writes `train.tsv`, `dev.tsv`, `test.tsv` and `test_labels.tsv` to output_dir.

  Args:
    source_file: the ground-truth file (id, mean rating, sentence per line).
    output_dir: e.g. `<data_dir>/finetuning_data/sst`; created.
    min_abs_rating: sentences with |rating| below it are dropped as neutral.
    dev_fraction, test_fraction: shares of the kept sentences.
    seed: the shuffle seed.

  Returns:
    A SplitSummary.
  """
  if not (0 < dev_fraction and 0 < test_fraction and dev_fraction + test_fraction < 1):
    raise ValueError("dev_fraction and test_fraction must be positive and sum below 1")
  rows = read_sentiment_file(source_file)
  kept, seen = [], set()
  neutral = duplicates = 0
  for _, rating, sentence in rows:
    # Tabs and line breaks would break the TSV layout; they are spaces to the tokenizer.
    sentence = " ".join(sentence.split())
    if abs(rating) < min_abs_rating:
      neutral += 1
    elif sentence in seen:
      duplicates += 1
    else:
      seen.add(sentence)
      kept.append((sentence, "1" if rating > 0 else "0"))
  # Stratified: each split gets the same share of each label, so the majority
  # rate is the same everywhere; then each split is shuffled.
  rng = random.Random(seed)
  splits = {"train": [], "dev": [], "test": []}
  for label in ("0", "1"):
    group = [row for row in kept if row[1] == label]
    rng.shuffle(group)
    num_dev, num_test = round(len(group) * dev_fraction), round(len(group) * test_fraction)
    splits["dev"] += group[:num_dev]
    splits["test"] += group[num_dev:num_dev + num_test]
    splits["train"] += group[num_dev + num_test:]
  for rows in splits.values():
    rng.shuffle(rows)
  if not all(splits.values()):
    raise FinetuningDataError(f"{source_file}: too few sentences ({len(kept)}) for three splits")
  for split in ("train", "dev"):
    fileio.atomic_write(os.path.join(output_dir, f"{split}.tsv"), "sentence\tlabel\n" + "".join(
        f"{sentence}\t{label}\n" for sentence, label in splits[split]))
  fileio.atomic_write(os.path.join(output_dir, "test.tsv"), "index\tsentence\n" + "".join(
      f"{i}\t{sentence}\n" for i, (sentence, _) in enumerate(splits["test"])))
  fileio.atomic_write(os.path.join(output_dir, "test_labels.tsv"), "index\tlabel\n" + "".join(
      f"{i}\t{label}\n" for i, (_, label) in enumerate(splits["test"])))
  return SplitSummary(
      sizes={k: len(v) for k, v in splits.items()},
      positives={k: sum(label == "1" for _, label in v) for k, v in splits.items()},
      dropped_neutral=neutral, dropped_duplicates=duplicates)
