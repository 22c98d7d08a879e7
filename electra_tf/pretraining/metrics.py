"""The original's pre-training eval metrics (`run_pretraining.py: model_fn_builder.metric_fn`)."""

from typing import Dict

import tensorflow as tf
import tf_keras


class PretrainingMetrics:
  """Streaming versions of the original's `tf.metrics`, fed model outputs.

  Create under the strategy's scope and call `update` in replica context;
  `result` sums over replicas.
  """

  def __init__(self, has_discriminator: bool):
    self.has_discriminator = has_discriminator
    accuracy, mean = tf_keras.metrics.Accuracy, tf_keras.metrics.Mean
    self.metrics = {"masked_lm_accuracy": accuracy(), "masked_lm_loss": mean(), "loss": mean()}
    if has_discriminator:
      self.metrics.update(
          sampled_masked_lm_accuracy=accuracy(), disc_loss=mean(),
          # tf.metrics.auc: 200 thresholds, ROC, trapezoidal rule.
          disc_auc=tf_keras.metrics.AUC(num_thresholds=200, curve="ROC",
                                        summation_method="interpolation"),
          disc_accuracy=accuracy(), disc_precision=accuracy(), disc_recall=accuracy())

  def update(self, outputs: Dict[str, tf.Tensor]) -> None:
    """Accumulates one batch of `PretrainingModel` outputs."""
    m = self.metrics
    slot_weights = tf.reshape(outputs["masked_lm_weights"], [-1])
    targets = tf.reshape(outputs["masked_lm_ids"], [-1])
    m["masked_lm_accuracy"].update_state(targets, tf.reshape(outputs["mlm_preds"], [-1]),
                                         sample_weight=slot_weights)
    m["masked_lm_loss"].update_state(tf.reshape(outputs["mlm_per_slot_loss"], [-1]),
                                     sample_weight=slot_weights)
    m["loss"].update_state(outputs["total_loss"])
    if not self.has_discriminator:
      return
    m["sampled_masked_lm_accuracy"].update_state(
        targets, tf.reshape(outputs["sampled_ids"], [-1]), sample_weight=slot_weights)
    m["disc_loss"].update_state(outputs["disc_per_example_loss"])
    input_mask = outputs["input_mask"]
    labels, preds = outputs["disc_labels"], outputs["disc_preds"]
    # As the original: padding enters the AUC with label 0 and prediction 0.
    m["disc_auc"].update_state(labels * input_mask,
                               outputs["disc_probs"] * tf.cast(input_mask, tf.float32))
    m["disc_accuracy"].update_state(labels, preds, sample_weight=input_mask)
    m["disc_precision"].update_state(labels, preds, sample_weight=preds * input_mask)
    m["disc_recall"].update_state(labels, preds, sample_weight=labels * input_mask)

  def result(self) -> Dict[str, float]:
    return {name: float(metric.result()) for name, metric in sorted(self.metrics.items())}

  def reset(self) -> None:
    for metric in self.metrics.values():
      metric.reset_state()
