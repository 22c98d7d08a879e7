"""Dev-set metrics of tagging tasks (the original's `finetune/tagging/tagging_metrics.py`).

Each example contributes its first round(sum(labels_mask)) words: the words
that kept a tagged position after truncation (truncated words are not
scored, as in the original). Span tasks (`EntityLevelF1Scorer`) decode gold
and predicted label ids with the original's lenient `get_span_labels` and
report micro-averaged span `f1`, `precision`, `recall` (x100; all 0 when no
span is right), and token `accuracy`; token-level tasks (`AccuracyScorer`)
report `accuracy`. Both report `loss`, the summed loss per scored word.
Fixed: the original's `WordLevelScorer.update` added the loss twice.
"""

from typing import Dict, List, Sequence

import numpy as np

from finetune.tagging import labels
from finetune.task import Scorer


def span_prf(gold: Sequence[Sequence[labels.Span]],
             predicted: Sequence[Sequence[labels.Span]]) -> Dict[str, float]:
  """Micro-averaged precision, recall and F1 (x100) over sentences' span sets."""
  correct = n_gold = n_predicted = 0
  for gold_spans, predicted_spans in zip(gold, predicted):
    gold_set, predicted_set = set(gold_spans), set(predicted_spans)
    correct += len(gold_set & predicted_set)
    n_gold += len(gold_set)
    n_predicted += len(predicted_set)
  if correct == 0:
    return {"f1": 0.0, "precision": 0.0, "recall": 0.0}
  precision = 100.0 * correct / n_predicted
  recall = 100.0 * correct / n_gold
  return {"f1": 2 * precision * recall / (precision + recall), "precision": precision,
          "recall": recall}


class WordLevelScorer(Scorer):
  """Collects the scored words' gold and predicted label ids, and the loss."""

  def __init__(self):
    self.gold: List[np.ndarray] = []
    self.predicted: List[np.ndarray] = []
    self._total_loss = 0.0
    self._total_words = 0

  def update(self, outputs: Dict[str, np.ndarray]) -> None:
    for row_labels, row_predictions, row_mask, loss in zip(
        outputs["labels"], outputs["predictions"], outputs["labels_mask"], outputs["loss"]):
      num_words = int(round(float(np.sum(row_mask))))
      self.gold.append(np.asarray(row_labels[:num_words]))
      self.predicted.append(np.asarray(row_predictions[:num_words]))
      self._total_loss += float(loss)
      self._total_words += num_words

  def accuracy(self) -> float:
    if not self._total_words:
      raise ValueError("no words were scored")
    correct = sum(int(np.sum(g == p)) for g, p in zip(self.gold, self.predicted))
    return 100.0 * correct / self._total_words

  def loss(self) -> float:
    return self._total_loss / max(1, self._total_words)


class AccuracyScorer(WordLevelScorer):
  """Token-level tasks: `accuracy` (x100) and `loss`."""

  def get_results(self):
    return {"accuracy": self.accuracy(), "loss": self.loss()}


class EntityLevelF1Scorer(WordLevelScorer):
  """Span tasks: span `f1`, `precision`, `recall`, token `accuracy`, `loss`."""

  def __init__(self, label_list: Sequence[str]):
    super().__init__()
    self.label_list = list(label_list)

  def get_results(self):
    gold = [labels.decode_ids(ids, self.label_list) for ids in self.gold]
    predicted = [labels.decode_ids(ids, self.label_list) for ids in self.predicted]
    return {**span_prf(gold, predicted), "accuracy": self.accuracy(), "loss": self.loss()}
