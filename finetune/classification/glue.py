"""The GLUE tasks: TSV files, the original's column choices, submission files.

Data layout (the original's README): `<data_dir>/finetuning_data/<task>/`
holds the GLUE download's `train.tsv`, `dev.tsv` and `test.tsv` (MNLI:
`dev_matched.tsv`, `dev_mismatched.tsv`, `test_matched.tsv`,
`test_mismatched.tsv`, and `diagnostic.tsv` moved in from `diagnostic/`).

| task   | train/dev columns (a, b, label) | test (a, b) | labels                          | metrics             |
|--------|---------------------------------|-------------|---------------------------------|---------------------|
| `cola` | 3, -, 1 (no header)             | 1, -        | 0, 1                            | mcc                 |
| `sst`  | 0, -, 1                         | 1, -        | 0, 1                            | accuracy            |
| `mrpc` | 3, 4, 0                         | 3, 4        | 0, 1                            | accuracy, f1        |
| `sts`  | -3, -2, -1                      | -2, -1      | score in [0, 5]                 | pearson, spearman   |
| `qqp`  | 3, 4, 5                         | 1, 2        | 0, 1                            | accuracy, f1        |
| `mnli` | 8, 9, last                      | 8, 9        | contradiction, entailment, neutral | accuracy (matched, mismatched) |
| `qnli` | 1, 2, 3                         | 1, 2        | entailment, not_entailment      | accuracy            |
| `rte`  | 1, 2, 3                         | 1, 2        | entailment, not_entailment      | accuracy            |
| `wnli` | 1, 2, 3                         | 1, 2        | 0, 1                            | accuracy            |

WNLI is not in the original (its leaderboard entry used a separate trick,
original issue #1); it is here with the same layout as RTE. MNLI's
`diagnostic` split (GLUE's AX) reads columns 1, 2.

Rows are split on tabs with quotes kept literally (the original's
`csv.reader(delimiter="\\t", quotechar=None)`). Every file but CoLA's
train/dev has a header row. A row whose column count differs from the
header's (or, without a header, from the first row's) is an error naming
the file and line, unless `skip_malformed_lines` (the original logged and
skipped it). `double_unordered` appends MRPC's and STS-B's training pairs
again with the two sentences swapped.

Test predictions go to the original's pickle (eid -> logits, or the
normalised STS-B prediction) and to GLUE-submission TSVs (`index`,
`prediction`; label strings; STS-B scores on 0-5, clipped to the range).
"""

import dataclasses
import logging
import os
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf

from electra_tf import fileio
from finetune.classification import metrics
from finetune.classification.tasks import ClassificationTask, InputExample, RegressionTask
from finetune.task import FinetuningDataError, read_data_file

logger = logging.getLogger(__name__)

# Rows read per file in debug mode, as the original.
DEBUG_MAX_LINES = 100
_MAX_REPORTED_LINES = 10


@dataclasses.dataclass(frozen=True)
class Columns:
  """Which columns a split reads (negative indices count from the end)."""
  text_a: int
  text_b: Optional[int]
  label: Optional[int]
  header: bool = True

  def min_columns(self) -> int:
    """The fewest columns a row needs for every index to exist."""
    used = [c for c in (self.text_a, self.text_b, self.label) if c is not None]
    return max(c + 1 if c >= 0 else -c for c in used)


def read_tsv(path: str, max_lines: Optional[int] = None) -> List[Tuple[int, List[str]]]:
  """Reads a TSV as (1-based line number, fields) pairs.

  Splits lines on "\\n" (dropping a trailing "\\r") and fields on "\\t",
  keeping quotes: what csv.reader with quotechar=None does. Blank lines are
  dropped (they hold no example).

  Raises:
    FinetuningDataError: the file is missing or not UTF-8.
  """
  text = read_data_file(path)
  lines = text.split("\n")
  if lines and lines[-1] == "":
    lines.pop()
  if max_lines is not None:
    lines = lines[:max_lines]
  rows = []
  for number, line in enumerate(lines, start=1):
    if line.endswith("\r"):
      line = line[:-1]
    if line.strip():
      rows.append((number, line.split("\t")))
  return rows


class GlueTask:
  """Reading, augmentation and test outputs shared by the GLUE tasks.

  Subclasses set `submission_files` ({test split: GLUE file name}), may set
  `unordered` (pairs whose order does not matter: `double_unordered`
  applies) and `split_files` ({split: file stem} where it differs), and
  implement `columns(split)`.
  """
  submission_files: Dict[str, str] = {}
  split_files: Dict[str, str] = {}
  unordered = False

  def columns(self, split: str) -> Columns:
    raise NotImplementedError

  def data_file(self, split: str) -> str:
    return os.path.join(self.config.raw_data_dir(self.name),
                        self.split_files.get(split, split) + ".tsv")

  def test_splits(self) -> List[str]:
    return list(self.submission_files)

  @staticmethod
  def is_unlabelled(split: str) -> bool:
    """Test splits and MNLI's diagnostic set carry a dummy label (as the original)."""
    return "test" in split or "diagnostic" in split

  def get_examples(self, split: str) -> List[InputExample]:
    path = self.data_file(split)
    if not tf.io.gfile.exists(path):
      raise FinetuningDataError(
          f"{path} does not exist: the {self.name} {split} split. Put the GLUE files in "
          f"{self.config.raw_data_dir(self.name)} (see finetune/classification/glue.py)")
    rows = read_tsv(path, DEBUG_MAX_LINES if self.config.debug else None)
    columns = self.columns(split)
    examples = self._load(rows, path, split, columns)
    if not examples:
      raise FinetuningDataError(f"{path} has no examples (the {self.name} {split} split "
                                "is empty)")
    if self.unordered and self.config.double_unordered and split == "train":
      offset = len(examples)
      examples += [InputExample(self.name, e.eid + offset, e.text_b, e.text_a, e.label, e.guid)
                   for e in examples]
    return examples

  def _load(self, rows: Sequence[Tuple[int, List[str]]], path: str, split: str,
            columns: Columns) -> List[InputExample]:
    needed = columns.min_columns()
    expected = None
    examples, malformed = [], []
    for index, (line, fields) in enumerate(rows):
      if index == 0 and columns.header:
        expected = len(fields)
        if expected < needed:
          raise FinetuningDataError(
              f"{path}:{line}: the header has {expected} columns, but the {self.name} "
              f"{split} split reads {needed} ({columns}); is this the right file?")
        continue
      if expected is None:
        expected = max(len(fields), needed)
      if len(fields) != expected:
        if not self.config.skip_malformed_lines:
          raise FinetuningDataError(
              f"{path}:{line}: {len(fields)} tab-separated columns where "
              f"{'the header has' if columns.header else 'the first row has'} {expected} "
              f"(the {self.name} {split} split reads {columns}); fix the row (a tab or "
              "line break inside a text?) or set skip_malformed_lines to skip such "
              "rows as the original did")
        malformed.append(line)
        continue
      eid = index - 1 if columns.header else index
      if self.is_unlabelled(split) or columns.label is None:
        label = self.dummy_label()
      else:
        try:
          label = self.check_label(fields[columns.label])
        except ValueError as e:
          raise FinetuningDataError(f"{path}:{line}: {e}") from None
      examples.append(InputExample(
          self.name, eid, fields[columns.text_a],
          None if columns.text_b is None else fields[columns.text_b], label, guid=fields[0]))
    if malformed:
      logger.warning("%s: skipped %d malformed row(s) (lines %s%s)", path, len(malformed),
                     ", ".join(map(str, malformed[:_MAX_REPORTED_LINES])),
                     ", ..." if len(malformed) > _MAX_REPORTED_LINES else "")
    return examples

  def write_test_outputs(self, split: str, outputs: Dict[str, np.ndarray],
                         trial: int) -> List[str]:
    """The original's pickle and a GLUE-submission TSV of one test split."""
    eids = outputs["eid"].tolist()
    pickled_key = "logits" if "logits" in outputs else "predictions"
    pickled = {eid: outputs[pickled_key][i] for i, eid in enumerate(eids)}
    pickle_path = self.config.test_predictions(self.name, split, trial)
    fileio.write_pickle(pickle_path, pickled)

    guids = {e.eid: e.guid for e in self.get_examples(split)}
    if sorted(guids) != sorted(eids):
      raise ValueError(f"{self.name} {split}: predicted {len(eids)} examples, the file has "
                       f"{len(guids)}")
    labels = self.prediction_strings(outputs)
    lines = ["index\tprediction"] + [f"{guids[eid]}\t{label}"
                                     for eid, label in sorted(zip(eids, labels))]
    submission_path = os.path.join(self.config.submission_dir(trial),
                                   self.submission_files[split])
    fileio.atomic_write(submission_path, "\n".join(lines) + "\n")
    return [pickle_path, submission_path]

  def prediction_strings(self, outputs: Dict[str, np.ndarray]) -> List[str]:
    raise NotImplementedError


class GlueClassificationTask(GlueTask, ClassificationTask):
  """A GLUE task with labels; subclasses give the name, labels and columns."""
  name = ""
  labels: List[str] = []

  def __init__(self, config, tokenizer=None):
    ClassificationTask.__init__(self, config, self.name, self.labels, tokenizer)

  def prediction_strings(self, outputs):
    return [self.label_list[p] for p in outputs["predictions"]]


class CoLA(GlueClassificationTask):
  """Corpus of Linguistic Acceptability."""
  name, labels = "cola", ["0", "1"]
  submission_files = {"test": "CoLA.tsv"}

  def columns(self, split):
    if split == "test":
      return Columns(1, None, None)
    return Columns(3, None, 1, header=False)

  def get_scorer(self):
    return metrics.MCCScorer()


class SST(GlueClassificationTask):
  """Stanford Sentiment Treebank (SST-2)."""
  name, labels = "sst", ["0", "1"]
  submission_files = {"test": "SST-2.tsv"}

  def columns(self, split):
    return Columns(1, None, None) if "test" in split else Columns(0, None, 1)


class MRPC(GlueClassificationTask):
  """Microsoft Research Paraphrase Corpus."""
  name, labels = "mrpc", ["0", "1"]
  submission_files = {"test": "MRPC.tsv"}
  unordered = True

  def columns(self, split):
    return Columns(3, 4, 0)

  def get_scorer(self):
    return metrics.AccuracyF1Scorer()


class QQP(GlueClassificationTask):
  """Quora Question Pairs."""
  name, labels = "qqp", ["0", "1"]
  submission_files = {"test": "QQP.tsv"}

  def columns(self, split):
    return Columns(1, 2, None) if split == "test" else Columns(3, 4, 5)

  def get_scorer(self):
    return metrics.AccuracyF1Scorer()


class MNLI(GlueClassificationTask):
  """Multi-Genre NLI; dev = matched; also scores the mismatched dev set."""
  name, labels = "mnli", ["contradiction", "entailment", "neutral"]
  submission_files = {"test_matched": "MNLI-m.tsv", "test_mismatched": "MNLI-mm.tsv",
                      "diagnostic": "AX.tsv"}
  split_files = {"dev": "dev_matched"}

  def columns(self, split):
    return Columns(1, 2, None) if split == "diagnostic" else Columns(8, 9, -1)

  def eval_splits(self):
    splits = [("dev", "")]
    if tf.io.gfile.exists(self.data_file("dev_mismatched")):
      splits.append(("dev_mismatched", "mismatched_"))
    else:
      logger.warning("%s not found: scoring MNLI matched only",
                     self.data_file("dev_mismatched"))
    return splits


class QNLI(GlueClassificationTask):
  """Question NLI."""
  name, labels = "qnli", ["entailment", "not_entailment"]
  submission_files = {"test": "QNLI.tsv"}

  def columns(self, split):
    return Columns(1, 2, None if "test" in split else 3)


class RTE(GlueClassificationTask):
  """Recognizing Textual Entailment."""
  name, labels = "rte", ["entailment", "not_entailment"]
  submission_files = {"test": "RTE.tsv"}

  def columns(self, split):
    return Columns(1, 2, None if "test" in split else 3)


class WNLI(GlueClassificationTask):
  """Winograd NLI (not in the original)."""
  name, labels = "wnli", ["0", "1"]
  submission_files = {"test": "WNLI.tsv"}

  def columns(self, split):
    return Columns(1, 2, None if "test" in split else 3)


class STS(GlueTask, RegressionTask):
  """Semantic Textual Similarity Benchmark: a score in [0, 5]."""
  name = "sts"
  submission_files = {"test": "STS-B.tsv"}
  unordered = True

  def __init__(self, config, tokenizer=None):
    RegressionTask.__init__(self, config, self.name, 0.0, 5.0, tokenizer)

  def columns(self, split):
    return Columns(-2, -1, None) if split == "test" else Columns(-3, -2, -1)

  def prediction_strings(self, outputs):
    scores = np.clip(outputs["score"], self.min_value, self.max_value)
    return [f"{score:.3f}" for score in scores]


GLUE_TASKS = (CoLA, SST, MRPC, STS, QQP, MNLI, QNLI, RTE, WNLI)
