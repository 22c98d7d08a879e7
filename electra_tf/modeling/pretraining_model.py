"""Generator + discriminator pre-training model (the original's `PretrainingModel`).

Which networks exist follows the original's branches
(`run_pretraining.py: PretrainingModel.__init__`):

| setting                                  | generator                                 |
|------------------------------------------|-------------------------------------------|
| `uniform_generator`                      | none: all-zero logits (uniform samples)   |
| two-tower (Electric)                     | `generator_ltr` + `generator_rtl`, cloze head |
| ELECTRA/Electric and `untied_generator`  | small `generator` transformer             |
| otherwise (`untied_generator=False`, or  | the full-size `electra` transformer,      |
| the MLM-only objective)                  | shared with the discriminator             |

Embeddings (word, position, token type, embedding LayerNorm) are one object
passed to every network unless `untied_generator_embeddings`. The generator's
MLM head is tied to the word embeddings it reads, plus its own output bias.
"""

from typing import Dict

import tensorflow as tf
import tf_keras

from electra_tf.config.hparams import ConfigError
from electra_tf.config.model import get_bert_config
from electra_tf.config.pretraining import PretrainingConfig, get_generator_config
from electra_tf.modeling import objective
from electra_tf.modeling.encoder import TransformerEncoder
from electra_tf.modeling.heads import DiscriminatorHead, MaskedLMHead
from electra_tf.modeling.layers import Embeddings
from electra_tf.text.vocab import SpecialTokenIds


class PretrainingModel(tf_keras.Model):
  """ELECTRA generator + discriminator with the original's objective.

  Call with {"input_ids", "input_mask", "segment_ids"} (int [B, L]) and
  optionally `example_seeds` (int32 [B, 2]) to fix the per-example masking and
  sampling; returns a dict of tensors (see `call`).
  """

  def __init__(self, config: PretrainingConfig, special_ids: SpecialTokenIds, **kwargs):
    super().__init__(name="electra_pretraining", **kwargs)
    if config.uniform_generator and not config.uses_discriminator:
      raise ConfigError("uniform_generator with neither electra_objective nor "
                        "electric_objective trains nothing; enable one of them")
    if config.electric_objective and not (config.two_tower_generator
                                          and config.builds_small_generator):
      raise ConfigError("electric_objective needs the two-tower generator: keep "
                        "untied_generator=true and uniform_generator=false")
    self.config = config
    self.special_ids = special_ids
    self.bert_config = get_bert_config(config)
    bert = self.bert_config
    self.embeddings = Embeddings(bert, name="embeddings")
    self.discriminator = None
    self.generator = None
    self.generator_ltr = self.generator_rtl = None
    self.generator_head = None
    full_size_generator = None
    if config.uses_discriminator or not config.builds_small_generator:
      full_size_generator = TransformerEncoder(bert, self.embeddings, name="electra")
    if config.uses_discriminator:
      self.discriminator = full_size_generator
      self.discriminator_head = DiscriminatorHead(bert, name="discriminator_predictions")
    if config.uniform_generator:
      return
    if config.builds_small_generator:
      gen_config = get_generator_config(config, bert)
      if config.two_tower_generator:
        self.generator_ltr = self._generator_encoder(gen_config, "generator_ltr", "ltr")
        self.generator_rtl = self._generator_encoder(gen_config, "generator_rtl", "rtl")
        table_width = self.generator_ltr.embeddings.width
        self.generator_head = MaskedLMHead(bert, table_width, name="cloze_predictions")
        return
      self.generator = self._generator_encoder(gen_config, "generator")
    else:
      self.generator = full_size_generator
    self.generator_head = MaskedLMHead(bert, self.generator.embeddings.width,
                                       name="generator_predictions")

  def _generator_encoder(self, gen_config, name, direction=None):
    embeddings = (Embeddings(gen_config, name=f"{name}_embeddings")
                  if self.config.untied_generator_embeddings else self.embeddings)
    return TransformerEncoder(gen_config, embeddings, attention_direction=direction,
                              name=name)

  def call(self, inputs, training=None, example_seeds=None):
    """One forward pass of the objective.

    Args:
      inputs: dict with int `input_ids`, `input_mask`, `segment_ids` [B, L].
      training: enables dropout.
      example_seeds: int32 [B, 2] per-example seeds; fresh random if None.

    Returns:
      dict: `total_loss`, `mlm_loss` (scalars); `loss_sums` and
      `weight_sums` (dicts of scalars: each loss's numerator and denominator,
      see `objective.combine_losses`); `mlm_logits` [B, N, V],
      `mlm_preds`, `mlm_per_slot_loss`, `masked_lm_positions`,
      `masked_lm_ids`, `masked_lm_weights` [B, N]; `masked_input_ids`,
      `input_mask` [B, L]. With a discriminator also `disc_loss`,
      `sampled_ids` [B, N], `fake_input_ids`, `disc_logits`, `disc_labels`,
      `disc_probs`, `disc_preds` [B, L] and `disc_per_example_loss` [B].
      Electric adds `cloze_loss`.
    """
    config = self.config
    input_ids = tf.cast(inputs["input_ids"], tf.int32)
    input_mask = tf.cast(inputs["input_mask"], tf.int32)
    segment_ids = tf.cast(inputs["segment_ids"], tf.int32)
    batch_size = input_ids.shape[0]
    if example_seeds is None:
      example_seeds = tf.random.uniform([batch_size, 2], maxval=2**31 - 1, dtype=tf.int32)

    masked = objective.mask(
        input_ids, input_mask, mask_prob=config.mask_prob,
        max_predictions_per_seq=config.max_predictions_per_seq,
        special_ids=self.special_ids, seeds=example_seeds,
        with_replacement=config.mask_positions_with_replacement)
    outputs = {
        "masked_input_ids": masked.input_ids,
        "masked_lm_positions": masked.masked_lm_positions,
        "masked_lm_ids": masked.masked_lm_ids,
        "masked_lm_weights": masked.masked_lm_weights,
        "input_mask": input_mask,
    }

    mlm_logits, cloze = self._generator_logits(masked, input_ids, input_mask, segment_ids,
                                               training)
    mlm = objective.masked_lm_loss(mlm_logits, masked.masked_lm_ids, masked.masked_lm_weights)
    outputs.update(mlm_logits=mlm_logits, mlm_loss=mlm.loss, mlm_preds=mlm.preds,
                   mlm_per_slot_loss=mlm.per_example_loss)
    loss_sums = {"mlm": mlm.loss_sum}
    weight_sums = {"mlm": mlm.weight_sum}
    cloze_logits = None
    if cloze is not None:
      cloze_logits, cloze_loss = cloze
      outputs["cloze_loss"] = cloze_loss.loss
      loss_sums["cloze"], weight_sums["cloze"] = cloze_loss.loss_sum, cloze_loss.weight_sum

    if self.discriminator is not None:
      disc_outputs, disc = self._discriminate(
          masked, mlm_logits, cloze_logits, input_ids, input_mask, segment_ids, example_seeds,
          training)
      outputs.update(disc_outputs)
      loss_sums["disc"], weight_sums["disc"] = disc.loss_sum, disc.weight_sum
    outputs.update(loss_sums=loss_sums, weight_sums=weight_sums,
                   total_loss=objective.combine_losses(
                       loss_sums, weight_sums, gen_weight=config.gen_weight,
                       disc_weight=config.disc_weight))
    return outputs

  def _generator_logits(self, masked, input_ids, input_mask, segment_ids, training):
    """The generator's logits at the masked slots.

    Returns:
      (mlm_logits [B, N, V], cloze): cloze is None, or for Electric the
      (cloze logits [B, L, V], its `SoftmaxOutput` over the candidates).
    """
    if self.config.uniform_generator:
      return tf.zeros(masked.masked_lm_ids.shape + [self.bert_config.vocab_size]), None
    if self.generator_ltr is not None:
      # Electric: both towers read the unmasked input; position t sees
      # ltr(t - 1) and rtl(t + 1).
      ltr = self.generator_ltr(input_ids, input_mask, segment_ids, training=training)
      rtl = self.generator_rtl(input_ids, input_mask, segment_ids, training=training)
      reprs = tf.concat([objective.roll(ltr, -1), objective.roll(rtl, 1)], axis=-1)
      cloze_logits = self.generator_head(reprs, self.generator_ltr.embedding_table)
      cloze_weights = objective.candidates_mask(input_ids, input_mask, self.special_ids)
      cloze = objective.masked_lm_loss(cloze_logits, input_ids, tf.cast(cloze_weights, tf.float32))
      mlm_logits = objective.gather_positions(cloze_logits, masked.masked_lm_positions)
      return mlm_logits, (cloze_logits, cloze)
    sequence = self.generator(masked.input_ids, input_mask, segment_ids, training=training)
    hidden = objective.gather_positions(sequence, masked.masked_lm_positions)
    return self.generator_head(hidden, self.generator.embedding_table), None

  def _discriminate(self, masked, mlm_logits, cloze_logits, input_ids, input_mask,
                    segment_ids, example_seeds, training):
    """Samples fake tokens, runs the discriminator; returns (outputs, DiscriminatorOutput)."""
    config = self.config
    sampled_ids = objective.sample_from_softmax(
        mlm_logits, seeds=example_seeds, temperature=config.temperature,
        disallow_ids=masked.masked_lm_ids if config.disallow_correct else None)
    # Sampling starts from the original ids: the original's unmask() of the
    # masked input restores exactly these.
    fake_ids, labels = objective.replace_tokens(
        input_ids, masked.masked_lm_positions, sampled_ids, electric=config.electric_objective)
    sequence = self.discriminator(fake_ids, input_mask, segment_ids, training=training)
    disc_logits = tf.cast(self.discriminator_head(sequence), tf.float32)
    if config.electric_objective:
      disc_logits += objective.electric_logit_adjustment(cloze_logits, fake_ids, config.mask_prob)
    disc = objective.discriminator_loss(disc_logits, labels, input_mask)
    outputs = dict(sampled_ids=sampled_ids, fake_input_ids=fake_ids, disc_logits=disc_logits,
                   disc_labels=labels, disc_loss=disc.loss, disc_probs=disc.probs,
                   disc_preds=disc.preds, disc_per_example_loss=disc.per_example_loss)
    return outputs, disc

  def build_variables(self, seq_length: int = 8) -> None:
    """Creates all variables by running one small forward pass."""
    ids = tf.fill([1, seq_length], self.special_ids.cls)
    self({"input_ids": ids, "input_mask": tf.ones_like(ids),
          "segment_ids": tf.zeros_like(ids)}, training=False)

  def named_variables(self) -> Dict[str, tf.Variable]:
    """All variables under their original TF1 checkpoint names.

    The single source of names for checkpoint conversion, weight-decay
    exclusion and parameter counts. Requires built variables.
    """
    names: Dict[str, tf.Variable] = {}

    def add(prefix: str, table: Dict[str, tf.Variable]) -> None:
      names.update({f"{prefix}/{k}": v for k, v in table.items()})

    encoders = [self.discriminator] if self.discriminator is not None else []
    if self.generator is not None and self.generator is not self.discriminator:
      encoders.append(self.generator)
    encoders += [e for e in (self.generator_ltr, self.generator_rtl) if e is not None]
    # The shared embeddings live in `electra/embeddings` whichever network
    # reads them; untied generator embeddings live under the generator's scope.
    if any(e.embeddings is self.embeddings for e in encoders):
      add("electra/embeddings", self.embeddings.named_variables())
    for encoder in encoders:
      add(encoder.name, encoder.named_variables(
          include_embeddings=encoder.embeddings is not self.embeddings))
    if self.discriminator is not None:
      add("discriminator_predictions", self.discriminator_head.named_variables())
    if self.generator_head is not None:
      add(self.generator_head.name, self.generator_head.named_variables())
    return names
