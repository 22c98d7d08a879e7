"""One ELECTRA network on its own: an encoder plus, optionally, its head.

`PretrainingModel` holds generator and discriminator together. Checkpoints
often hold only one of them: the discriminator of a Hugging Face
`ElectraForPreTraining`, the generator of an `ElectraForMaskedLM`, a BERT
encoder with its masked-LM head. `ElectraNetwork` is that single network,
with the original's variable names (`model/modeling.py`, see docs/checkpoints.md):

| scope         | head              | names                                                    |
|---------------|-------------------|----------------------------------------------------------|
| `electra`     | `"discriminator"` | `electra/...`, `discriminator_predictions/...`           |
| `generator`   | `"mlm"`           | `electra/embeddings/...` (tied), `generator/...`,        |
|               |                   | `generator_predictions/...`                              |
| `electra`     | `"mlm"`           | `electra/...`, `generator_predictions/...` (BERT-style   |
|               |                   | MLM: the original's `untied_generator=False` layout)     |
| either        | None              | the encoder only                                         |

The generator reads embeddings stored as `electra/embeddings`, because in the
original they are the discriminator's, shared (`run_pretraining.py: build_transformer`).
"""

from typing import Dict, Optional

import tensorflow as tf
import tf_keras

from electra_tf.config.model import TransformerConfig
from electra_tf.modeling.encoder import TransformerEncoder
from electra_tf.modeling.heads import DiscriminatorHead, MaskedLMHead
from electra_tf.modeling.layers import Embeddings

SCOPES = ("electra", "generator")
HEADS = (None, "discriminator", "mlm")


class ElectraNetwork(tf_keras.Model):
  """An encoder named `scope` with an optional pre-training head.

  Call with {"input_ids", "input_mask", "segment_ids"} (int [B, L]); returns
  {"sequence_output": [B, L, H]} plus `disc_logits` [B, L] (discriminator
  head) or `mlm_logits` [B, L, V] (MLM head, at every position).
  """

  def __init__(self, config: TransformerConfig, scope: str = "electra",
               head: Optional[str] = None, **kwargs):
    super().__init__(name=f"{scope}_network", **kwargs)
    if scope not in SCOPES:
      raise ValueError(f"scope must be one of {SCOPES}, got {scope!r}")
    if head not in HEADS:
      raise ValueError(f"head must be one of {HEADS}, got {head!r}")
    config.validate(scope)
    self.config = config
    self.scope = scope
    self.head_kind = head
    self.embeddings = Embeddings(config, name="embeddings")
    self.encoder = TransformerEncoder(config, self.embeddings, name=scope)
    self.head = None
    if head == "discriminator":
      self.head = DiscriminatorHead(config, name="discriminator_predictions")
    elif head == "mlm":
      self.head = MaskedLMHead(config, self.embeddings.width, name="generator_predictions")

  def call(self, inputs, training=None):
    sequence = self.encoder(tf.cast(inputs["input_ids"], tf.int32),
                            tf.cast(inputs["input_mask"], tf.int32),
                            tf.cast(inputs["segment_ids"], tf.int32), training=training)
    outputs = {"sequence_output": sequence}
    if self.head_kind == "discriminator":
      outputs["disc_logits"] = self.head(sequence)
    elif self.head_kind == "mlm":
      outputs["mlm_logits"] = self.head(sequence, self.encoder.embedding_table)
    return outputs

  def build_variables(self, seq_length: int = 8) -> None:
    """Creates all variables by running one small forward pass."""
    ids = tf.zeros([1, seq_length], tf.int32)
    self({"input_ids": ids, "input_mask": tf.ones_like(ids), "segment_ids": ids},
         training=False)

  def named_variables(self) -> Dict[str, tf.Variable]:
    """All variables under their original TF1 checkpoint names."""
    names = {f"electra/embeddings/{k}": v
             for k, v in self.embeddings.named_variables().items()}
    names.update({f"{self.scope}/{k}": v for k, v in
                  self.encoder.named_variables(include_embeddings=False).items()})
    if self.head is not None:
      names.update({f"{self.head.name}/{k}": v
                    for k, v in self.head.named_variables().items()})
    return names
