"""Dev-set metrics of classification and regression tasks.

The original's `classification_metrics.py` (`finetune/classification/classification_metrics.py`):
accuracy, Matthews correlation (CoLA), Pearson/Spearman/MSE (STS-B), each
with the mean per-example loss; scores x100 as the original reports them.
Added: F1 of the positive class (label id 1) for MRPC and QQP, which GLUE
reports beside accuracy (the original's `F1Scorer` counted gold positives by
the prediction and no task used it).
"""

from typing import Dict, List

import numpy as np
import scipy.stats

from finetune.task import Scorer


class SentenceLevelScorer(Scorer):
  """Collects one label (`label_ids` or `targets`), prediction and loss per example."""

  def __init__(self):
    self._labels: List[np.ndarray] = []
    self._preds: List[np.ndarray] = []
    self._losses: List[np.ndarray] = []

  def update(self, outputs: Dict[str, np.ndarray]) -> None:
    self._labels.append(np.asarray(outputs["label_ids"] if "label_ids" in outputs
                                   else outputs["targets"]))
    self._preds.append(np.asarray(outputs["predictions"]))
    self._losses.append(np.asarray(outputs["loss"], np.float64))

  @property
  def labels(self) -> np.ndarray:
    return np.concatenate(self._labels) if self._labels else np.zeros([0])

  @property
  def predictions(self) -> np.ndarray:
    return np.concatenate(self._preds) if self._preds else np.zeros([0])

  def mean_loss(self) -> float:
    losses = np.concatenate(self._losses) if self._losses else np.zeros([0])
    if not losses.size:
      raise ValueError("no examples were scored")
    return float(losses.mean())


def accuracy(labels: np.ndarray, predictions: np.ndarray) -> float:
  """Percentage of exact matches."""
  return 100.0 * float(np.mean(labels == predictions))


def f1_score(labels: np.ndarray, predictions: np.ndarray, positive: int = 1) -> float:
  """F1 (x100) of the positive class; 0 when it is never predicted nor gold."""
  true_pos = np.sum((predictions == positive) & (labels == positive))
  false_pos = np.sum((predictions == positive) & (labels != positive))
  false_neg = np.sum((predictions != positive) & (labels == positive))
  denominator = 2 * true_pos + false_pos + false_neg
  return 100.0 * float(2 * true_pos / denominator) if denominator else 0.0


def matthews_corrcoef(labels: np.ndarray, predictions: np.ndarray) -> float:
  """Matthews correlation for any number of classes (Gorodkin's R_K).

  With the confusion matrix C: (c s - t.p) / sqrt((s^2 - p.p)(s^2 - t.t)),
  where t and p count each class among labels and predictions, c = trace(C)
  and s the number of examples; 0 when undefined, as sklearn's.
  """
  classes = np.union1d(labels, predictions)
  t = np.array([np.sum(labels == k) for k in classes], np.float64)
  p = np.array([np.sum(predictions == k) for k in classes], np.float64)
  correct = float(np.sum(labels == predictions))
  total = float(len(labels))
  denominator = np.sqrt((total ** 2 - p @ p) * (total ** 2 - t @ t))
  return float((correct * total - t @ p) / denominator) if denominator else 0.0


class AccuracyScorer(SentenceLevelScorer):
  """`accuracy` (x100) and `loss`."""

  def get_results(self):
    return {"accuracy": accuracy(self.labels, self.predictions), "loss": self.mean_loss()}


class AccuracyF1Scorer(SentenceLevelScorer):
  """`accuracy` and `f1` of label id 1 (x100), and `loss` (MRPC, QQP)."""

  def get_results(self):
    labels, predictions = self.labels, self.predictions
    return {"accuracy": accuracy(labels, predictions), "f1": f1_score(labels, predictions),
            "loss": self.mean_loss()}


class MCCScorer(SentenceLevelScorer):
  """`mcc` (x100) and `loss` (CoLA)."""

  def get_results(self):
    return {"mcc": 100.0 * matthews_corrcoef(self.labels, self.predictions),
            "loss": self.mean_loss()}


class RegressionScorer(SentenceLevelScorer):
  """`pearson` and `spearman` (x100), `mse` and `loss` on the normalised scale."""

  def get_results(self):
    targets = self.labels.astype(np.float64)
    predictions = self.predictions.astype(np.float64).reshape(-1)
    return {"pearson": 100.0 * float(scipy.stats.pearsonr(targets, predictions)[0]),
            "spearman": 100.0 * float(scipy.stats.spearmanr(targets, predictions)[0]),
            "mse": float(np.mean(np.square(targets - predictions))),
            "loss": self.mean_loss()}
