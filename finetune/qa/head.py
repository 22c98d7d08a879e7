"""The span-QA head, as the original's `QATask.get_prediction_module`
(`finetune/qa/qa_tasks.py`), under `task_specific/<task>/`.

With the defaults (`joint_prediction`, `answerable_classifier`,
`answerable_uses_start_logits`):

- answer mask = input_mask * segment_ids + one_hot(0): [CLS] and the
  context (with its final [SEP]);
- start: `dense` (H -> 1), logits + 1000 (mask - 1), log-softmax; at
  inference the top `beam_size` starts;
- end (joint): `qa_hidden` (2H -> 512, gelu) on [start token's hidden,
  each token's hidden], then `dense_1` (512 -> 1), masked. Training feeds the
  gold start (teacher forcing); inference runs it for each top start and
  keeps the top `beam_size` ends per start;
- answerability: [CLS] and the start-probability-weighted hidden state
  through `dense_2` (2H -> 512, gelu) and `dense_3` (512 -> 1).

Without `joint_prediction` the end is an independent `dense_1` (H -> 1) and
the answerability layers keep the names `dense_2`/`dense_3`; without
`answerable_uses_start_logits` the classifier is `dense_2` (H -> 1) on
[CLS]. These are the TF1 names the original's `tf.layers.dense` calls get.

Memory: the original tiles the hidden states to [B, beam, L, 2H] and
concatenates before `qa_hidden`. Since dense(concat(s, e)) = s W_s + e W_e
+ b, `factorized_end` computes s W_s [B, beam, 512] and e W_e + b
[B, L, 512] and adds them by broadcasting: the same variables and numbers
without the [B, beam, L, 2H] tensor (and with (beam + L) instead of
beam * L products with the 2H-wide kernel).
"""

from typing import Dict

import tensorflow as tf
import tf_keras

from electra_tf.modeling.layers import dense_names, gelu
from finetune.task import TaskHead

MASK_PENALTY = 1000.0  # the original's logits += 1000 * (mask - 1)
HIDDEN_SIZE = 512  # the original's qa_hidden / answerable hidden width


def answer_mask(input_mask: tf.Tensor, segment_ids: tf.Tensor) -> tf.Tensor:
  """[B, L] int -> [B, L] float32: 1 for [CLS] and the context, else 0."""
  seq_length = tf.shape(input_mask)[1]
  return (tf.cast(input_mask, tf.float32) * tf.cast(segment_ids, tf.float32)
          + tf.one_hot(0, seq_length, dtype=tf.float32))


def _dense(units: int, name: str, activation=None) -> tf_keras.layers.Dense:
  # tf.layers.dense's defaults: Glorot-uniform kernel, zero bias.
  return tf_keras.layers.Dense(units, activation=activation, name=name,
                               kernel_initializer=tf_keras.initializers.GlorotUniform())


def literal_end_logits(hidden: tf.Tensor, start_hidden: tf.Tensor,
                       qa_hidden: tf_keras.layers.Dense,
                       end_dense: tf_keras.layers.Dense) -> tf.Tensor:
  """The original's tiled end head (reference and benchmark).

  Args:
    hidden: [B, L, H] encoder output.
    start_hidden: [B, K, H] the hidden state of each of K start positions.
    qa_hidden: the 2H -> 512 gelu layer; end_dense: 512 -> 1.

  Returns:
    [B, K, L] unmasked end logits.
  """
  seq_length, beam = tf.shape(hidden)[1], tf.shape(start_hidden)[1]
  end_features = tf.tile(hidden[:, tf.newaxis], [1, beam, 1, 1])
  start_features = tf.tile(start_hidden[:, :, tf.newaxis], [1, 1, seq_length, 1])
  return tf.squeeze(end_dense(qa_hidden(tf.concat([start_features, end_features], -1))), -1)


def factorized_end_logits(hidden: tf.Tensor, start_hidden: tf.Tensor,
                          qa_hidden: tf_keras.layers.Dense,
                          end_dense: tf_keras.layers.Dense) -> tf.Tensor:
  """`literal_end_logits` without the [B, K, L, 2H] concatenation: same
  arguments, same [B, K, L] result."""
  width = hidden.shape[-1]
  kernel = tf.cast(qa_hidden.kernel, hidden.dtype)
  bias = tf.cast(qa_hidden.bias, hidden.dtype)
  start_part = tf.einsum("bkh,hd->bkd", start_hidden, kernel[:width])  # [B, K, 512]
  end_part = tf.einsum("blh,hd->bld", hidden, kernel[width:]) + bias  # [B, L, 512]
  activations = gelu(start_part[:, :, tf.newaxis] + end_part[:, tf.newaxis])  # [B, K, L, 512]
  return tf.squeeze(end_dense(activations), -1)


class SpanQAHead(TaskHead):
  """The original's QA head.

  Inputs: `sequence_output` [B, L, H]; features `input_mask`, `segment_ids`
  [B, L] and, in training with `joint_prediction`, `<task>_start_positions` [B].

  Outputs (float32 unless noted): `start_logits` [B, L] (masked);
  `end_logits` [B, L] (masked; zeros at inference in joint mode, as the
  original); `answerable_logit` [B] (high = unanswerable; zeros without the
  classifier); `start_top_log_probs` [B, K], `start_top_index` int32 [B, K],
  `end_top_log_probs` [B, K, K], `end_top_index` int32 [B, K, K] (K =
  beam_size; zeros in training or without `joint_prediction`).
  """

  def __init__(self, task_name: str, beam_size: int, joint_prediction: bool = True,
               answerable_classifier: bool = True, answerable_uses_start_logits: bool = True,
               factorized: bool = True, **kwargs):
    super().__init__(**kwargs)
    self.task_name = task_name
    self.beam_size = beam_size
    self.joint_prediction = joint_prediction
    self.answerable_classifier = answerable_classifier
    self.answerable_uses_start_logits = answerable_uses_start_logits
    self.end_logits_fn = factorized_end_logits if factorized else literal_end_logits
    self.layers_by_name: Dict[str, tf_keras.layers.Dense] = {"dense": _dense(1, "dense")}
    if joint_prediction:
      self.layers_by_name["qa_hidden"] = _dense(HIDDEN_SIZE, "qa_hidden", gelu)
    self.layers_by_name["dense_1"] = _dense(1, "dense_1")
    if answerable_classifier:
      if answerable_uses_start_logits:
        self.layers_by_name["dense_2"] = _dense(HIDDEN_SIZE, "dense_2", gelu)
        self.layers_by_name["dense_3"] = _dense(1, "dense_3")
      else:
        self.layers_by_name["dense_2"] = _dense(1, "dense_2")

  def build(self, input_shape):
    width = input_shape[-1]
    if self.joint_prediction:
      self.layers_by_name["qa_hidden"].build([None, None, 2 * width])
    super().build(input_shape)

  def call(self, sequence_output, features=None, training=None):
    """sequence_output [B, L, H], features int [B, L] -> the outputs above."""
    hidden = sequence_output
    input_mask, segment_ids = features["input_mask"], features["segment_ids"]
    seq_length = tf.shape(hidden)[1]
    static_length = hidden.shape[1]
    padded = static_length is None and self.joint_prediction and not training
    if padded:
      # The top-k needs K <= L, but a dynamic-length input (`serve_ids`) may
      # be shorter: pad it with masked, zero-hidden positions to K. Their
      # logits carry the mask penalty, so the input's own candidates and
      # probabilities are unchanged; candidates on the padding point past the
      # input (index >= L), as the original's decoder expects of padding.
      padding = [[0, 0], [0, tf.maximum(self.beam_size - seq_length, 0)]]
      hidden = tf.pad(hidden, padding + [[0, 0]])
      input_mask, segment_ids = tf.pad(input_mask, padding), tf.pad(segment_ids, padding)
    outputs = self._decode(hidden, input_mask, segment_ids, static_length, features, training)
    if padded:
      for name in ("start_logits", "end_logits"):
        outputs[name] = outputs[name][:, :seq_length]
    return outputs

  def _decode(self, hidden, input_mask, segment_ids, static_length, features, training):
    layers = self.layers_by_name
    batch_size, seq_length = tf.shape(hidden)[0], tf.shape(hidden)[1]
    mask_bias = MASK_PENALTY * (answer_mask(input_mask, segment_ids) - 1)
    start_logits = tf.cast(tf.squeeze(layers["dense"](hidden), -1), tf.float32) + mask_bias
    # Only `build_variables`' short dummy input has a static L below beam_size
    # (the task refuses max_seq_length < beam_size).
    k = self.beam_size if static_length is None else min(self.beam_size, static_length)
    outputs = {
        "start_top_log_probs": tf.zeros([batch_size, k]),
        "start_top_index": tf.zeros([batch_size, k], tf.int32),
        "end_top_log_probs": tf.zeros([batch_size, k, k]),
        "end_top_index": tf.zeros([batch_size, k, k], tf.int32),
    }
    if self.joint_prediction:
      if training:
        start_positions = features[f"{self.task_name}_start_positions"][:, tf.newaxis]
        start_hidden = tf.gather(hidden, start_positions, batch_dims=1)  # [B, 1, H]
        end_logits = tf.cast(self.end_logits_fn(hidden, start_hidden, layers["qa_hidden"],
                                                layers["dense_1"])[:, 0], tf.float32) + mask_bias
      else:
        start_log_probs = tf.nn.log_softmax(start_logits)
        top_log_probs, top_index = tf.math.top_k(start_log_probs, k=k)
        start_hidden = tf.gather(hidden, top_index, batch_dims=1)  # [B, K, H]
        beam_end_logits = tf.cast(self.end_logits_fn(hidden, start_hidden, layers["qa_hidden"],
                                                     layers["dense_1"]), tf.float32)
        beam_end_logits += mask_bias[:, tf.newaxis]
        end_top_log_probs, end_top_index = tf.math.top_k(tf.nn.log_softmax(beam_end_logits), k=k)
        outputs.update(start_top_log_probs=top_log_probs, start_top_index=top_index,
                       end_top_log_probs=end_top_log_probs, end_top_index=end_top_index)
        end_logits = tf.zeros([batch_size, seq_length])
    else:
      end_logits = tf.cast(tf.squeeze(layers["dense_1"](hidden), -1), tf.float32) + mask_bias
    outputs.update(start_logits=start_logits, end_logits=end_logits,
                   answerable_logit=self._answerable_logit(hidden, start_logits))
    return outputs

  def _answerable_logit(self, hidden: tf.Tensor, start_logits: tf.Tensor) -> tf.Tensor:
    """[B] logit that the question is unanswerable (zeros without the classifier)."""
    if not self.answerable_classifier:
      return tf.zeros(tf.shape(hidden)[:1])
    layers = self.layers_by_name
    representation = hidden[:, 0]
    if self.answerable_uses_start_logits:
      start_probs = tf.cast(tf.nn.softmax(start_logits), hidden.dtype)
      start_feature = tf.einsum("bl,blh->bh", start_probs, hidden)
      representation = layers["dense_2"](tf.concat([representation, start_feature], -1))
      return tf.cast(tf.squeeze(layers["dense_3"](representation), -1), tf.float32)
    return tf.cast(tf.squeeze(layers["dense_2"](representation), -1), tf.float32)

  def named_variables(self):
    names = {}
    for name, layer in self.layers_by_name.items():
      names.update(dense_names(name, layer))
    return names


def span_loss(outputs: Dict[str, tf.Tensor], start_positions: tf.Tensor,
              end_positions: tf.Tensor, is_impossible: tf.Tensor,
              answerable_weight: float, answerable_classifier: bool) -> tf.Tensor:
  """The original's per-example loss [B]: (CE_start + CE_end) / 2, plus
  `answerable_weight` * sigmoid CE of `answerable_logit` against
  `is_impossible` with the classifier."""
  def cross_entropy(logits, positions):
    return -tf.reduce_sum(tf.one_hot(positions, tf.shape(logits)[-1])
                          * tf.nn.log_softmax(logits), -1)
  losses = (cross_entropy(outputs["start_logits"], start_positions)
            + cross_entropy(outputs["end_logits"], end_positions)) / 2.0
  if answerable_classifier:
    losses += answerable_weight * tf.nn.sigmoid_cross_entropy_with_logits(
        labels=tf.cast(is_impossible, tf.float32), logits=outputs["answerable_logit"])
  return losses
