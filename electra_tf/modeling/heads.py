"""The pre-training heads, with the original's variable names.

- `MaskedLMHead`: `generator_predictions` (Electric: `cloze_predictions`),
  the original's `run_pretraining.py: get_token_logits`;
- `DiscriminatorHead`: `discriminator_predictions`, the original's
  `PretrainingModel._get_discriminator_output`.
"""

from typing import Dict

import tensorflow as tf
import tf_keras

from electra_tf.config.model import TransformerConfig
from electra_tf.modeling.layers import (dense_names, get_activation, layer_norm, layer_norm_names,
                                        truncated_normal)


class MaskedLMHead(tf_keras.layers.Layer):
  """`generator_predictions` (or Electric's `cloze_predictions`).

  dense to the embedding width (gelu, truncated normal) -> LayerNorm ->
  logits = hidden @ word_embeddings^T + output_bias.
  """

  def __init__(self, config: TransformerConfig, embedding_width: int, **kwargs):
    super().__init__(**kwargs)
    self.vocab_size = config.vocab_size
    self.dense = tf_keras.layers.Dense(
        embedding_width, activation=get_activation(config.hidden_act), name="dense",
        kernel_initializer=truncated_normal(config.initializer_range))
    self.layer_norm = layer_norm()

  def build(self, input_shape):
    self.output_bias = self.add_weight("output_bias", [self.vocab_size],
                                       initializer="zeros")
    super().build(input_shape)

  def call(self, hidden, embedding_table):
    """hidden [B, N, H_g], embedding_table [V, E] -> logits [B, N, V]."""
    hidden = self.layer_norm(self.dense(hidden))
    table = tf.cast(embedding_table, hidden.dtype)
    # One [B*N, E] x [E, V] GEMM: a rank-3 matmul against the shared table
    # would run B small batched GEMMs and sum B copies of the table gradient.
    batch_shape = tf.shape(hidden)[:-1]
    logits = tf.matmul(tf.reshape(hidden, [-1, hidden.shape[-1]]), table, transpose_b=True)
    logits = tf.reshape(logits, tf.concat([batch_shape, [self.vocab_size]], 0))
    return logits + tf.cast(self.output_bias, hidden.dtype)

  def named_variables(self) -> Dict[str, tf.Variable]:
    return {**dense_names("dense", self.dense),
            **layer_norm_names("LayerNorm", self.layer_norm),
            "output_bias": self.output_bias}


class DiscriminatorHead(tf_keras.layers.Layer):
  """`discriminator_predictions`: dense H->H (gelu) -> dense_1 H->1 (Glorot)."""

  def __init__(self, config: TransformerConfig, **kwargs):
    super().__init__(**kwargs)
    self.dense = tf_keras.layers.Dense(
        config.hidden_size, activation=get_activation(config.hidden_act), name="dense",
        kernel_initializer=truncated_normal(config.initializer_range))
    self.dense_1 = tf_keras.layers.Dense(1, name="dense_1")

  def call(self, sequence_output):
    """[B, L, H] -> logits [B, L]."""
    return tf.squeeze(self.dense_1(self.dense(sequence_output)), axis=-1)

  def named_variables(self) -> Dict[str, tf.Variable]:
    return {**dense_names("dense", self.dense), **dense_names("dense_1", self.dense_1)}
