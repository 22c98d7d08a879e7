"""The fine-tuning task framework: what every task family implements.

A task (the original's `finetune/task.py`) owns everything task-specific:

| step              | method                    | e.g. classification                 |
|-------------------|---------------------------|-------------------------------------|
| read a split      | `get_examples(split)`     | TSV rows -> `InputExample`s         |
| featurise         | `featurize(examples, ...)`| [CLS] a [SEP] b [SEP], padded to L  |
| feature schema    | `feature_specs()`         | `<task>_eid`, `<task>_label_ids`    |
| head              | `build_head(bert_config)` | dropout + dense on [CLS]            |
| loss              | `loss(outputs, features)` | softmax cross-entropy per example   |
| dev metrics       | `get_scorer()`            | accuracy, MCC, Pearson/Spearman     |
| test outputs      | `write_test_outputs(...)` | GLUE-submission TSV + pickle        |

The runner owns the loop: caching features, batching, the summed multi-task
loss, the optimizer, trials, results. Families: classification/regression
(`finetune.classification`); span QA and tagging fit the same interface
(several features per example, token-level heads, scorers that decode).

Features are columnar: `featurize` returns {feature name: array [N, ...]},
one row per model input (a QA example can give several rows). Every task
shares `input_ids`, `input_mask`, `segment_ids` ([L] each) and `task_id`;
the rest are named `<task>_<key>` and reach the scorer as `<key>`.
"""

import abc
import dataclasses
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf
import tf_keras

from electra_tf.config.model import TransformerConfig
from electra_tf.errors import UserError
from electra_tf.serving.exportable import SentencePairInputs, TextInputs
from finetune.config import FinetuningConfig


class FinetuningDataError(UserError, ValueError):
  """Missing, malformed or empty fine-tuning data, named by file and line."""


def read_data_file(path: str) -> str:
  """A task's data file as text (local or any tf.io.gfile file system).

  Raises:
    FinetuningDataError: the file is missing or not UTF-8.
  """
  if not tf.io.gfile.exists(path):
    raise FinetuningDataError(f"{path} does not exist")
  with tf.io.gfile.GFile(path, "rb") as f:
    data = f.read()
  try:
    return data.decode("utf-8")
  except UnicodeDecodeError as e:
    raise FinetuningDataError(f"{path} is not UTF-8: {e}") from e


@dataclasses.dataclass
class Example:
  """One input example of a task.

  Attributes:
    task_name: the task it belongs to.
    eid: its id within the split: the row index after the header, plus an
      offset for augmented copies (as the original).
  """
  task_name: str
  eid: int


@dataclasses.dataclass(frozen=True)
class FeatureSpec:
  """One feature of the cached records (the original's `FeatureSpec`).

  Attributes:
    name: e.g. `input_ids` or `rte_label_ids`.
    shape: per-example shape, () for scalars.
    is_int: int64 in the record, int32 in the model; else float32.
    default: the value of examples that lack the feature (other tasks' and
      padding examples).
  """
  name: str
  shape: Tuple[int, ...] = ()
  is_int: bool = True
  default: float = 0

  def parsing_spec(self) -> tf.io.FixedLenFeature:
    return tf.io.FixedLenFeature(list(self.shape), tf.int64 if self.is_int else tf.float32)

  def default_value(self) -> np.ndarray:
    return np.full(self.shape, self.default, np.int64 if self.is_int else np.float32)


def shared_feature_specs(max_seq_length: int) -> List[FeatureSpec]:
  """The features every task has: the encoder inputs and the task id."""
  return [FeatureSpec("input_ids", (max_seq_length,)),
          FeatureSpec("input_mask", (max_seq_length,)),
          FeatureSpec("segment_ids", (max_seq_length,)),
          FeatureSpec("task_id")]


class Scorer(abc.ABC):
  """Accumulates a split's predictions and computes its metrics.

  `update` receives batches of per-example outputs: the head's outputs
  (e.g. `logits`, `predictions`), `loss`, and the task's features without
  the task prefix (e.g. `eid`, `label_ids`), as numpy arrays whose first
  dimension is the example.
  """

  @abc.abstractmethod
  def update(self, outputs: Dict[str, np.ndarray]) -> None:
    """Adds one batch of per-example outputs."""

  @abc.abstractmethod
  def get_results(self) -> Dict[str, float]:
    """The metrics, in report order (the main metric first)."""


class TaskHead(tf_keras.layers.Layer):
  """A task's prediction layers on top of the shared encoder.

  Subclasses implement `call(sequence_output, features, training)`, taking
  the encoder output [B, L, H] and the batch's features (heads that need
  more than the encoder output, e.g. QA's answer mask, read them there) and
  returning a dict of float32/int32 tensors; and `named_variables()`, the
  variables under their original names relative to `task_specific/<task>/`.
  """

  def named_variables(self) -> Dict[str, tf.Variable]:
    raise NotImplementedError


class Task(abc.ABC):
  """A fine-tuning task. Subclass a family (e.g. `ClassificationTask`).

  Attributes:
    name: the task name of the registry and of `task_specific/<name>/`.
    kind: the family: "classification", "regression", "span", "tagging".
    label_list: the label strings of a classification task, else None.
    serving_output_names: what the task's SavedModel returns from token ids
      (`serving_outputs`), in order; empty if the task cannot be exported.
  """
  kind: str = ""
  label_list: Optional[List[str]] = None
  serving_output_names: Tuple[str, ...] = ()

  def __init__(self, config: FinetuningConfig, name: str, tokenizer=None):
    """
    Args:
      config: the run's config.
      name: the task name.
      tokenizer: a `FullTokenizer`; only needed to featurise (not to build
        or restore a model).
    """
    self.config = config
    self.name = name
    self.tokenizer = tokenizer

  def __repr__(self) -> str:
    return f"{type(self).__name__}({self.name})"

  @property
  def task_id(self) -> int:
    """The task's index in `config.task_names` (the `task_id` feature)."""
    return self.config.task_names.index(self.name)

  # --- data ------------------------------------------------------------------

  @abc.abstractmethod
  def data_file(self, split: str) -> str:
    """The file `get_examples(split)` reads."""

  @abc.abstractmethod
  def get_examples(self, split: str) -> List[Example]:
    """Reads a split ("train", "dev", a test split, ...).

    Raises:
      FinetuningDataError: a missing file, a malformed row (naming file and
        line) or a split without examples.
    """

  def eval_splits(self) -> List[Tuple[str, str]]:
    """(split, metric-name prefix) pairs evaluated with `do_eval`."""
    return [("dev", "")]

  def test_splits(self) -> List[str]:
    """The splits `write_test_outputs` predicts; none unless the task writes them."""
    return []

  # --- features ----------------------------------------------------------------

  @abc.abstractmethod
  def feature_specs(self) -> List[FeatureSpec]:
    """The task's own features (`<task>_...`), besides the shared ones."""

  @abc.abstractmethod
  def featurize(self, examples: Sequence[Example], is_training: bool,
                log: bool = False) -> Dict[str, np.ndarray]:
    """Examples -> columns of features, one row per model input.

    Args:
      examples: examples of this task.
      is_training: featurising the training split.
      log: log the first featurised example.

    Returns:
      {feature name: array [N, ...]}: the shared features and this task's.
    """

  def featurize_with_metadata(self, examples: Sequence[Example], is_training: bool,
                              log: bool = False) -> Tuple[Dict[str, np.ndarray], Optional[Dict]]:
    """`featurize`, plus what the split's scorer needs besides the model's
    outputs (JSON-serialisable; e.g. QA's tokens and maps), or None.

    The metadata is stored beside the cached records (same cache key), so a
    cache hit gives it back to `get_split_scorer` and `write_split_test_outputs`.
    """
    return self.featurize(examples, is_training, log), None

  def featurization_params(self) -> Dict[str, Any]:
    """Every hparam `featurize` depends on besides the tokenizer: a cache key."""
    return {"max_seq_length": self.config.max_seq_length}

  def tokenizer_casing(self, do_lower_case: bool, strip_accents: bool) -> Tuple[bool, bool]:
    """(lower-case, strip accents) of the task's featurisation (and served
    tokenizer) given the run's flags; tagging always lower-cases."""
    return do_lower_case, strip_accents

  # --- model -------------------------------------------------------------------

  def save_to_model_dir(self, model_dir: str) -> None:
    """Writes what rebuilding the task needs besides the config (e.g. a label
    mapping built from the data) into a fine-tuned model directory."""

  def load_from_model_dir(self, model_dir: str) -> None:
    """Reads back what `save_to_model_dir` wrote, before the head is built."""

  @abc.abstractmethod
  def build_head(self, bert_config: TransformerConfig) -> TaskHead:
    """A new head (its layers are built on first call)."""

  @abc.abstractmethod
  def loss(self, outputs: Dict[str, tf.Tensor], features: Dict[str, tf.Tensor]) -> tf.Tensor:
    """Per-example losses [B] (float32) from the head's outputs and the labels."""

  # --- evaluation ----------------------------------------------------------------

  @abc.abstractmethod
  def get_scorer(self) -> Scorer:
    """A fresh scorer for one split."""

  def get_split_scorer(self, split: str, metadata: Optional[Dict]) -> Scorer:
    """A fresh scorer for `split`, given its `featurize_with_metadata` metadata."""
    return self.get_scorer()

  # --- serving -----------------------------------------------------------------------

  def serving_outputs(self, outputs: Dict[str, tf.Tensor]) -> Dict[str, tf.Tensor]:
    """The head's inference outputs [B, ...] -> `serving_output_names` tensors."""
    raise NotImplementedError(f"task {self.name} declares no serving outputs")

  def serving_text_inputs(self) -> TextInputs:
    """The raw-text signature's inputs; one or two texts unless a family says otherwise."""
    return SentencePairInputs()

  def write_test_outputs(self, split: str, outputs: Dict[str, np.ndarray],
                         trial: int) -> List[str]:
    """Writes a test split's predictions; returns the files written.

    Args:
      split: one of `test_splits()`.
      outputs: per-example outputs, as a scorer gets them.
      trial: the 1-based trial number (part of the file names).
    """
    raise NotImplementedError(f"task {self.name} does not write test outputs")

  def write_split_test_outputs(self, split: str, outputs: Dict[str, np.ndarray], trial: int,
                               metadata: Optional[Dict]) -> List[str]:
    """`write_test_outputs`, given the split's `featurize_with_metadata` metadata."""
    return self.write_test_outputs(split, outputs, trial)
