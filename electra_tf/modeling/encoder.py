"""The transformer encoder (the original's `BertModel`): level two of
layers -> encoder -> models."""

from typing import Dict, Optional

import tensorflow as tf
import tf_keras

from electra_tf.config.model import TransformerConfig
from electra_tf.modeling.layers import Embeddings, TransformerLayer, attention_bias, dense_names


class TransformerEncoder(tf_keras.layers.Layer):
  """Embeddings (possibly shared) -> optional `embeddings_project` -> layers.

  The original's `BertModel`. `embeddings_project` (E -> H, Glorot-uniform,
  no activation or dropout) exists only when the embedding width differs
  from the hidden size. No pooler: [CLS] is `sequence_output[:, 0]`.
  """

  def __init__(self, config: TransformerConfig, embeddings: Embeddings,
               attention_direction: Optional[str] = None, **kwargs):
    super().__init__(**kwargs)
    if attention_direction not in (None, "ltr", "rtl"):
      raise ValueError(f"attention_direction must be None, 'ltr' or 'rtl', "
                       f"got {attention_direction!r}")
    self.config = config
    self.embeddings = embeddings
    self.attention_direction = attention_direction
    self.embeddings_project = (
        tf_keras.layers.Dense(config.hidden_size, name="embeddings_project")
        if embeddings.width != config.hidden_size else None)
    self.transformer_layers = [TransformerLayer(config, name=f"layer_{i}")
                               for i in range(config.num_hidden_layers)]

  @property
  def embedding_table(self) -> tf.Variable:
    """[V, E] word embeddings (the MLM head's tied output matrix)."""
    return self.embeddings.word_embeddings

  def call(self, input_ids, input_mask, segment_ids, training=None):
    """int [B, L] ids, mask, segments -> sequence_output [B, L, H]."""
    hidden = self.embeddings(input_ids, segment_ids, training=training)
    if self.embeddings_project is not None:
      hidden = self.embeddings_project(hidden)
    bias = attention_bias(input_mask, self.attention_direction)
    for layer in self.transformer_layers:
      hidden = layer(hidden, bias, training=training)
    return hidden

  def named_variables(self, include_embeddings: bool = True) -> Dict[str, tf.Variable]:
    """Variables named relative to the encoder's scope (e.g. `electra/`)."""
    names = {}
    if include_embeddings:
      names.update({f"embeddings/{k}": v for k, v in self.embeddings.named_variables().items()})
    if self.embeddings_project is not None:
      names.update(dense_names("embeddings_project", self.embeddings_project))
    for i, layer in enumerate(self.transformer_layers):
      names.update({f"encoder/layer_{i}/{k}": v for k, v in layer.named_variables().items()})
    return names
