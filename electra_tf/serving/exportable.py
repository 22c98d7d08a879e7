"""The seam between models and the SavedModel exporter.

An `ExportableModel` is a function from the three id tensors to named
outputs, the outputs it declares, how its raw-text signature reads text
(`text_inputs`) and the metadata serving needs (vocab, casing, length). The
exporter (`serving.export`) knows nothing about tasks: a model family declares
its outputs (the pre-trained discriminator in `serving.discriminator`;
fine-tuning tasks in `finetune`), and a family whose text signature is not
one or two texts (span QA's question + context, tagging's words) brings its
own `TextInputs`.
"""

import dataclasses
from typing import Any, Callable, Dict, Mapping, Optional, Sequence, Tuple

import tensorflow as tf

from electra_tf.config.model import TransformerConfig
from electra_tf.errors import UserError
from electra_tf.text.ingraph import InGraphTokenizer
from electra_tf.text.packing import pack_inputs


class ExportError(UserError, ValueError):
  """An export that cannot be done as asked (existing version, bad model)."""


# forward({"input_ids", "input_mask", "segment_ids"}: int32 [B, L]) -> outputs
Forward = Callable[[Dict[str, tf.Tensor]], Dict[str, tf.Tensor]]


@dataclasses.dataclass(frozen=True)
class ServingContext:
  """What a text signature may use: the in-graph tokenizer, the special ids,
  the featurisation length, and `run`, the model on int32 [B, L] features
  (returning the declared outputs)."""
  tokenizer: InGraphTokenizer
  cls_id: int
  sep_id: int
  max_seq_length: int
  run: Forward


class TextInputs:
  """How the raw-text signature (`serving_default`) reads its string inputs.

  Subclasses set `names` (the string [B] inputs, in signature order) and
  implement `serve(context, **inputs)`, a graph of core TF ops returning the
  signature's outputs.
  """
  names: Tuple[str, ...] = ()

  def serve(self, context: ServingContext, **inputs: tf.Tensor) -> Dict[str, tf.Tensor]:
    raise NotImplementedError


class SentencePairInputs(TextInputs):
  """`text`, `text_b`: string [B] ("" = single text), featurised as the
  original's sentence(-pair) tasks (`text.packing.pack_inputs`); returns the
  model's outputs plus the int32 [B, max_seq_length] features it saw."""
  names = ("text", "text_b")

  def serve(self, context, text, text_b):
    check = tf.debugging.assert_equal(tf.shape(text), tf.shape(text_b), message=(
        "serving_default: text and text_b must have the same batch size (pass \"\" as "
        "text_b for single texts)"))
    with tf.control_dependencies([check]):
      # One tokenizer call for both columns.
      tokens = context.tokenizer.tokenize(tf.concat([text, text_b], axis=0))
    batch_size = tf.shape(text)[0]
    features = pack_inputs(tokens[:batch_size], tokens[batch_size:], context.max_seq_length,
                           context.cls_id, context.sep_id)
    return {**context.run(features), **features}


@dataclasses.dataclass
class ExportableModel:
  """A model and what serving it needs.

  Attributes:
    forward: inference-mode function from int32 [B, L] `input_ids`,
      `input_mask`, `segment_ids` to a dict holding at least `outputs`
      (extra keys are dropped); traced with a dynamic L.
    variables: every variable `forward` reads; they are saved.
    outputs: the names of the outputs of `serve_ids` (and, for
      `SentencePairInputs`, of `serving_default`), in order.
    kind: what the model is, for assets/config.json (e.g. "discriminator",
      "classification").
    name: e.g. "discriminator" or a task name.
    max_seq_length: the featurisation length of `serving_default` and the
      longest input `serve_ids` accepts.
    vocab_file: the WordPiece vocab the model was trained with.
    do_lower_case, strip_accents: the tokenizer's casing (as the original's
      flags; accents are only stripped when lower-casing).
    encoder_config: the transformer's dimensions (vocab and segment ranges
      are checked against it).
    label_names: class names in class-id order (written to labels.txt).
    config: JSON-able description written to assets/config.json (e.g. the
      pre-training or fine-tuning hparams).
    text_inputs: the raw-text signature's inputs.
  """
  forward: Forward
  variables: Sequence[tf.Variable]
  outputs: Sequence[str]
  kind: str
  name: str
  max_seq_length: int
  vocab_file: str
  do_lower_case: bool
  encoder_config: TransformerConfig
  strip_accents: bool = True
  label_names: Optional[Sequence[str]] = None
  config: Mapping[str, Any] = dataclasses.field(default_factory=dict)
  text_inputs: TextInputs = dataclasses.field(default_factory=SentencePairInputs)

  def validate(self) -> None:
    """Raises ExportError for metadata no export can serve."""
    if not self.outputs:
      raise ExportError(f"{self.name}: the model declares no outputs")
    if not self.variables:
      raise ExportError(f"{self.name}: the model has no variables; build it (run it once) "
                        "and load its weights before exporting")
    positions = self.encoder_config.max_position_embeddings
    if not 3 <= self.max_seq_length <= positions:
      raise ExportError(f"max_seq_length {self.max_seq_length} must be in [3, "
                        f"max_position_embeddings={positions}]")
    if self.label_names is not None:
      if not self.label_names or len(set(self.label_names)) != len(self.label_names):
        raise ExportError(f"{self.name}: label names must be distinct, got "
                          f"{self.label_names!r}")
      if any("\n" in str(label) for label in self.label_names):
        raise ExportError(f"{self.name}: label names cannot contain newlines (labels.txt)")
