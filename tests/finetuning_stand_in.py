"""Stand-ins for the fine-tuning code (finetune/), used by the serving tests and
bench/serving_latency.py until finetune/ lands.

- `original_featurize` is a line-by-line port of the original's
  `SingleOutputTask.featurize` and `_truncate_seq_pair` (`original_electra.md`
  §7.5), the reference the in-graph featurisation must equal.
- `StandInFinetuningModel` follows the `FinetuningModel` contract the
  exporter's `serving.task_exportable` adapter expects: an encoder plus one
  dense head per task on [CLS] (the original's classification/regression
  heads), `call(features, training)` -> {task name: {output: tensor}}, and
  task objects with `name`, `kind` and `label_list`.
"""

import dataclasses
import pathlib
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf
import tf_keras

from electra_tf.config import TransformerConfig
from electra_tf.encoder import TransformerEncoder
from electra_tf.layers import Embeddings

# Also read by bench/serving_latency.py, which must not import tests/conftest.py
# (it splits the CPU into two logical devices).
SENTIMENT_FILE = (pathlib.Path(__file__).resolve().parents[1] / "data" / "sentiment"
                  / "amazonReviewSnippets_GroundTruth.txt")

# A CPU-sized encoder for tests: the BERT vocab, E != H (embeddings_project).
TINY_ENCODER = TransformerConfig(vocab_size=30522, hidden_size=64, num_hidden_layers=2,
                                 num_attention_heads=2, intermediate_size=128,
                                 embedding_size=32)
# The sentiment file's ratings are means of human scores in [-4, 4].
RATING_MIN, RATING_MAX = -4.0, 4.0


def _truncate_seq_pair(tokens_a: List, tokens_b: List, max_length: int) -> None:
  """The original's `_truncate_seq_pair`, verbatim in behaviour."""
  while True:
    total_length = len(tokens_a) + len(tokens_b)
    if total_length <= max_length:
      break
    if len(tokens_a) > len(tokens_b):
      tokens_a.pop()
    else:
      tokens_b.pop()


def original_featurize(tokenizer, text_a: str, text_b: Optional[str],
                       max_seq_length: int) -> Dict[str, List[int]]:
  """`SingleOutputTask.featurize`: tokens -> input_ids, input_mask, segment_ids."""
  tokens_a = tokenizer.tokenize(text_a)
  tokens_b = None
  if text_b:
    tokens_b = tokenizer.tokenize(text_b)
  if tokens_b:
    _truncate_seq_pair(tokens_a, tokens_b, max_seq_length - 3)
  else:
    if len(tokens_a) > max_seq_length - 2:
      tokens_a = tokens_a[0:(max_seq_length - 2)]
  tokens = ["[CLS]"]
  segment_ids = [0]
  for token in tokens_a:
    tokens.append(token)
    segment_ids.append(0)
  tokens.append("[SEP]")
  segment_ids.append(0)
  if tokens_b:
    for token in tokens_b:
      tokens.append(token)
      segment_ids.append(1)
    tokens.append("[SEP]")
    segment_ids.append(1)
  input_ids = tokenizer.convert_tokens_to_ids(tokens)
  input_mask = [1] * len(input_ids)
  while len(input_ids) < max_seq_length:
    input_ids.append(0)
    input_mask.append(0)
    segment_ids.append(0)
  return {"input_ids": input_ids, "input_mask": input_mask, "segment_ids": segment_ids}


def featurize_batch(tokenizer, texts: Sequence[str], texts_b: Sequence[str],
                    max_seq_length: int) -> Dict[str, np.ndarray]:
  """int32 [B, L] features of text pairs ("" = no second text)."""
  rows = [original_featurize(tokenizer, a, b, max_seq_length) for a, b in zip(texts, texts_b)]
  return {key: np.array([row[key] for row in rows], np.int32) for key in rows[0]}


@dataclasses.dataclass(frozen=True)
class StandInTask:
  name: str
  kind: str  # "classification" or "regression"
  label_list: Tuple[str, ...] = ()


SENTIMENT = StandInTask("sentiment", "classification", ("negative", "positive"))
RATING = StandInTask("rating", "regression")


class StandInFinetuningModel(tf_keras.Model):
  """Encoder + per-task dense head on [CLS], with the FinetuningModel outputs.

  Classification: `logits`, `probabilities` [B, C], `predictions` [B].
  Regression: `predictions` [B] on the normalised 0-1 scale the loss uses,
  `score` [B] on the task's scale (here the rating's [-4, 4]).
  """

  def __init__(self, config: TransformerConfig, tasks: Sequence[StandInTask]):
    super().__init__(name="finetuning_model")
    self.config = config
    self.tasks = list(tasks)
    self.embeddings = Embeddings(config, name="embeddings")
    self.encoder = TransformerEncoder(config, self.embeddings, name="electra")
    self.dropout = tf_keras.layers.Dropout(0.1)
    self.heads = {task.name: tf_keras.layers.Dense(
        len(task.label_list) if task.kind == "classification" else 1, name=f"{task.name}_dense")
                  for task in self.tasks}

  def call(self, features, training=None):
    sequence = self.encoder(tf.cast(features["input_ids"], tf.int32),
                            tf.cast(features["input_mask"], tf.int32),
                            tf.cast(features["segment_ids"], tf.int32), training=training)
    cls = self.dropout(sequence[:, 0], training=training)
    outputs = {}
    for task in self.tasks:
      logits = self.heads[task.name](cls)
      if task.kind == "classification":
        outputs[task.name] = {"logits": logits, "probabilities": tf.nn.softmax(logits),
                              "predictions": tf.argmax(logits, axis=-1)}
      else:
        predictions = tf.squeeze(logits, axis=-1)
        outputs[task.name] = {
            "predictions": predictions,
            "score": RATING_MIN + (RATING_MAX - RATING_MIN) * predictions}
    return outputs


def sentiment_sentences() -> Tuple[List[str], np.ndarray]:
  """(sentences, ratings in [-4, 4]) of the shipped review snippets."""
  sentences, ratings = [], []
  for line in SENTIMENT_FILE.read_text(encoding="utf-8").splitlines():
    _, rating, sentence = line.split("\t", 2)
    sentences.append(sentence)
    ratings.append(float(rating))
  return sentences, np.array(ratings, np.float32)


def fine_tune(model: StandInFinetuningModel, tokenizer, max_seq_length: int,
              steps: int = 30, batch_size: int = 32, seed: int = 0) -> None:
  """A few Adam steps on the review snippets: sentiment = rating >= 0, and the
  rating itself normalised to [0, 1]; enough to move off the initialisation."""
  sentences, ratings = sentiment_sentences()
  features = featurize_batch(tokenizer, sentences, [""] * len(sentences), max_seq_length)
  labels = (ratings >= 0).astype(np.int32)
  targets = (ratings - RATING_MIN) / (RATING_MAX - RATING_MIN)
  optimizer = tf_keras.optimizers.Adam(1e-3)
  rng = np.random.default_rng(seed)

  @tf.function
  def train_step(batch, batch_labels, batch_targets):
    with tf.GradientTape() as tape:
      outputs = model(batch, training=True)
      loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
          batch_labels, outputs["sentiment"]["logits"]))
      if "rating" in outputs:
        loss += tf.reduce_mean(tf.square(outputs["rating"]["predictions"] - batch_targets))
    variables = model.trainable_variables
    optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))

  for _ in range(steps):
    rows = rng.choice(len(sentences), batch_size, replace=False)
    train_step({k: v[rows] for k, v in features.items()}, labels[rows], targets[rows])
