"""Sentence(-pair) classification and regression: one prediction per example.

The original's `SingleOutputTask`, `ClassificationTask` and `RegressionTask`
(`finetune/classification/classification_tasks.py`):

- featurisation: tokenise text_a and text_b; truncate a pair by dropping the
  last token of the longer side (of b on a tie) until it fits L - 3, a single
  text to L - 2; `[CLS] a [SEP]` with segment 0, then `b [SEP]` with segment
  1; zero padding;
- head: the [CLS] vector, dropout 0.1 when training (hard-coded in the
  original, independent of `hidden_dropout_prob`), one dense layer
  (`task_specific/<task>/dense`, Glorot-uniform kernel, zero bias);
- loss per example: softmax cross-entropy over the labels, or the squared
  error against the target normalised as (y - min) / max.

Tokenisation runs in one batch per split (`FullTokenizer.encode_batch`);
truncating ids is the same as the original's truncating tokens.
"""

import logging
from typing import Dict, List, Optional, Sequence

import numpy as np
import tensorflow as tf
import tf_keras

from electra_tf.config.model import TransformerConfig
from electra_tf.modeling.layers import Dropout, dense_names
from finetune.classification import metrics
from finetune.task import Example, FeatureSpec, Scorer, Task, TaskHead

logger = logging.getLogger(__name__)

# The original's `tf.nn.dropout(reprs, keep_prob=0.9)` on [CLS].
HEAD_DROPOUT_RATE = 0.1


class InputExample(Example):
  """One text or text pair with its label.

  Attributes:
    text_a, text_b: the texts (text_b None or "" for single-text tasks).
    label: a label string (classification) or float (regression); a dummy
      for test splits, as the original.
    guid: the row's first column (GLUE's `index` in test files), written to
      submission files.
  """

  def __init__(self, task_name: str, eid: int, text_a: str, text_b: Optional[str] = None,
               label=None, guid: str = ""):
    super().__init__(task_name, eid)
    self.text_a = text_a
    self.text_b = text_b
    self.label = label
    self.guid = guid

  def __repr__(self) -> str:
    return (f"InputExample({self.task_name} {self.eid}: {self.text_a!r}, {self.text_b!r}, "
            f"label={self.label!r})")


def truncate_pair(ids_a: List[int], ids_b: List[int], max_length: int) -> None:
  """Shortens the longer list (b on a tie) by one id until both fit `max_length`.

  The original's `_truncate_seq_pair`: a short text keeps its tokens, which
  likely carry more information each than those of a long one. In place.
  """
  while len(ids_a) + len(ids_b) > max_length:
    if len(ids_a) > len(ids_b):
      ids_a.pop()
    else:
      ids_b.pop()


class SingleOutputTask(Task):
  """A task with one prediction per example from the [CLS] vector."""

  def encode(self, texts_a: Sequence[str],
             texts_b: Optional[Sequence[Optional[str]]] = None) -> Dict[str, np.ndarray]:
    """Texts -> encoder inputs laid out as the original's `featurize`.

    Args:
      texts_a: N first texts.
      texts_b: N second texts (None or "" for none), or None.

    Returns:
      `input_ids`, `input_mask`, `segment_ids`: int32 [N, max_seq_length].
    """
    if self.tokenizer is None:
      raise ValueError(f"task {self.name} was built without a tokenizer")
    length = self.config.max_seq_length
    num = len(texts_a)
    texts_b = list(texts_b) if texts_b is not None else [None] * num
    has_b = [bool(text) for text in texts_b]
    encoded = self.tokenizer.encode_batch(
        list(texts_a) + [text for text, present in zip(texts_b, has_b) if present])
    ids_b = iter(encoded[num:])
    cls_id, sep_id = self.tokenizer.convert_tokens_to_ids(["[CLS]", "[SEP]"])
    input_ids = np.zeros([num, length], np.int32)
    input_mask = np.zeros([num, length], np.int32)
    segment_ids = np.zeros([num, length], np.int32)
    for i in range(num):
      a = list(encoded[i])
      b = list(next(ids_b)) if has_b[i] else []
      if b:
        truncate_pair(a, b, length - 3)
      else:
        # Also when text_b tokenises to nothing: the original checks the tokens.
        a = a[:length - 2]
      ids = [cls_id] + a + [sep_id]
      first = len(ids)
      if b:
        ids += b + [sep_id]
      input_ids[i, :len(ids)] = ids
      input_mask[i, :len(ids)] = 1
      segment_ids[i, first:len(ids)] = 1
    return {"input_ids": input_ids, "input_mask": input_mask, "segment_ids": segment_ids}

  def featurize(self, examples: Sequence[InputExample], is_training: bool,
                log: bool = False) -> Dict[str, np.ndarray]:
    features = self.encode([e.text_a for e in examples], [e.text_b for e in examples])
    features["task_id"] = np.full([len(examples)], self.task_id, np.int32)
    features[f"{self.name}_eid"] = np.array([e.eid for e in examples], np.int32)
    self._add_labels(features, examples)
    if log and examples:
      tokens = self.tokenizer.convert_ids_to_tokens(
          features["input_ids"][0][features["input_mask"][0] == 1].tolist())
      logger.info("%s example %d: %s\n  tokens: %s\n  segment_ids: %s\n  label: %s",
                  self.name, examples[0].eid, examples[0], " ".join(tokens),
                  features["segment_ids"][0][:len(tokens)].tolist(),
                  {k: v[0] for k, v in features.items() if k.startswith(self.name + "_")})
    return features

  def featurization_params(self):
    return {**super().featurization_params(), "double_unordered": self.config.double_unordered}

  def _add_labels(self, features: Dict[str, np.ndarray],
                  examples: Sequence[InputExample]) -> None:
    raise NotImplementedError


class ClassificationHead(TaskHead):
  """Dropout on [CLS] -> `dense` to the labels.

  Outputs: `logits` and `probabilities` float32 [B, C]; `predictions`
  int32 [B], the argmax.
  """

  def __init__(self, num_labels: int, **kwargs):
    super().__init__(**kwargs)
    self.dropout = Dropout(HEAD_DROPOUT_RATE)
    self.dense = tf_keras.layers.Dense(num_labels, name="dense",
                                       kernel_initializer=tf_keras.initializers.GlorotUniform())

  def call(self, sequence_output, features=None, training=None):
    reprs = self.dropout(sequence_output[:, 0], training=training)
    logits = tf.cast(self.dense(reprs), tf.float32)
    return {"logits": logits, "probabilities": tf.nn.softmax(logits),
            "predictions": tf.argmax(logits, axis=-1, output_type=tf.int32)}

  def named_variables(self):
    return dense_names("dense", self.dense)


class RegressionHead(TaskHead):
  """Dropout on [CLS] -> `dense` to one value.

  Outputs: `predictions` float32 [B] on the normalised scale the loss uses,
  and `score` [B] on the task's scale (predictions * max + min, the inverse
  of the original's normalisation; e.g. 0-5 for STS-B).
  """

  def __init__(self, min_value: float, max_value: float, **kwargs):
    super().__init__(**kwargs)
    self.min_value = min_value
    self.max_value = max_value
    self.dropout = Dropout(HEAD_DROPOUT_RATE)
    self.dense = tf_keras.layers.Dense(1, name="dense",
                                       kernel_initializer=tf_keras.initializers.GlorotUniform())

  def call(self, sequence_output, features=None, training=None):
    reprs = self.dropout(sequence_output[:, 0], training=training)
    predictions = tf.squeeze(tf.cast(self.dense(reprs), tf.float32), axis=-1)
    return {"predictions": predictions,
            "score": predictions * self.max_value + self.min_value}

  def named_variables(self):
    return dense_names("dense", self.dense)


class ClassificationTask(SingleOutputTask):
  """One label out of `label_list` per example.

  Serves `logits`, `probabilities` float32 [B, C], `predictions` int32 [B],
  `predicted_label` string [B] and `label_names` string [B, C] (the label
  strings, repeated per row so that row-format JSON requests work).
  """
  kind = "classification"
  serving_output_names = ("logits", "probabilities", "predictions", "predicted_label",
                          "label_names")

  def __init__(self, config, name: str, label_list: List[str], tokenizer=None):
    super().__init__(config, name, tokenizer)
    self.label_list = list(label_list)
    self._label_ids = {label: i for i, label in enumerate(self.label_list)}

  def dummy_label(self) -> str:
    """The label of test examples (the original's `_get_dummy_label`)."""
    return self.label_list[0]

  def check_label(self, label: str) -> str:
    """Returns the label, or raises ValueError naming the valid ones."""
    if label not in self._label_ids:
      raise ValueError(f"unknown label {label!r}; the {self.name} labels are {self.label_list}")
    return label

  def feature_specs(self):
    return [FeatureSpec(f"{self.name}_eid"), FeatureSpec(f"{self.name}_label_ids")]

  def _add_labels(self, features, examples):
    features[f"{self.name}_label_ids"] = np.array(
        [self._label_ids[e.label] for e in examples], np.int32)

  def build_head(self, bert_config: TransformerConfig) -> ClassificationHead:
    return ClassificationHead(len(self.label_list), name=f"task_specific_{self.name}")

  def loss(self, outputs, features):
    labels = tf.one_hot(features[f"{self.name}_label_ids"], len(self.label_list),
                        dtype=tf.float32)
    return -tf.reduce_sum(labels * tf.nn.log_softmax(outputs["logits"], axis=-1), axis=-1)

  def get_scorer(self) -> Scorer:
    return metrics.AccuracyScorer()

  def serving_outputs(self, outputs):
    labels = tf.constant(self.label_list)
    predictions = tf.cast(outputs["predictions"], tf.int32)
    return {"logits": tf.cast(outputs["logits"], tf.float32),
            "probabilities": tf.cast(outputs["probabilities"], tf.float32),
            "predictions": predictions,
            "predicted_label": tf.gather(labels, predictions),
            "label_names": tf.tile(labels[tf.newaxis], [tf.shape(predictions)[0], 1])}


class RegressionTask(SingleOutputTask):
  """A real-valued score in [min_value, max_value] per example.

  Serves `predictions` float32 [B] (the normalised target the model was
  trained on) and `score` [B] (on the task's scale).
  """
  kind = "regression"
  serving_output_names = ("predictions", "score")

  def __init__(self, config, name: str, min_value: float, max_value: float, tokenizer=None):
    super().__init__(config, name, tokenizer)
    self.min_value = min_value
    self.max_value = max_value

  def dummy_label(self) -> float:
    return 0.0

  def check_label(self, label: str) -> float:
    """Parses a score; ValueError unless a number in [min_value, max_value]."""
    try:
      value = float(label)
    except ValueError:
      raise ValueError(f"label {label!r} is not a number") from None
    if not self.min_value <= value <= self.max_value:
      raise ValueError(f"label {value} is outside the {self.name} range "
                       f"[{self.min_value}, {self.max_value}]")
    return value

  def normalize(self, values: np.ndarray) -> np.ndarray:
    """The original's label normalisation, (y - min) / max."""
    return (np.asarray(values, np.float32) - self.min_value) / self.max_value

  def feature_specs(self):
    return [FeatureSpec(f"{self.name}_eid"),
            FeatureSpec(f"{self.name}_targets", is_int=False)]

  def _add_labels(self, features, examples):
    features[f"{self.name}_targets"] = self.normalize([float(e.label) for e in examples])

  def build_head(self, bert_config: TransformerConfig) -> RegressionHead:
    return RegressionHead(self.min_value, self.max_value, name=f"task_specific_{self.name}")

  def loss(self, outputs, features):
    return tf.square(outputs["predictions"] - features[f"{self.name}_targets"])

  def get_scorer(self) -> Scorer:
    return metrics.RegressionScorer()

  def serving_outputs(self, outputs):
    return {"predictions": tf.cast(outputs["predictions"], tf.float32),
            "score": tf.cast(outputs["score"], tf.float32)}
