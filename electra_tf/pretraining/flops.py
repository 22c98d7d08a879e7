"""Pre-training FLOPs counted as the original's `flops_computation.py` counts them.

The original's conventions (`TransformerHparams`, `get_electra_train_flops`): a
matrix multiply of [m, n] by [n, k] is 2 m n k FLOPs; elementwise work is
counted with fixed costs per element (dropout 4, LayerNorm 5, GELU 8, softmax 5);
embedding lookups are dense (a one-hot times the table); the backward pass costs
as much as the forward pass; a masked-LM output softmax is paid on
`output_frac` = 0.15625 of the positions. ELECTRA's cost is the discriminator
(with its binary classifier) plus the generator (with its MLM softmax); BERT's
(`electra_objective: false`) is one full-size transformer with the MLM softmax.

Used to compare objectives at equal compute (bench/pretraining_pays_off.py).
"""

import dataclasses
from typing import Optional

from electra_tf.config.model import get_bert_config
from electra_tf.config.pretraining import PretrainingConfig, get_generator_config

DROPOUT_FLOPS = 4     # draw, compare, mask, rescale
LAYER_NORM_FLOPS = 5  # mean, variance (square and sum), bias, scale
ACTIVATION_FLOPS = 8  # GELU's tanh approximation
SOFTMAX_FLOPS = 5     # max, subtract, exp, sum, divide
OUTPUT_FRAC = 0.15625  # the original's share of positions with an MLM softmax


@dataclasses.dataclass(frozen=True)
class TransformerFlops:
  """One transformer's dimensions, as the original's `TransformerHparams`."""
  hidden_size: int
  num_layers: int
  seq_length: int = 512
  vocab_size: int = 30522
  embedding_size: Optional[int] = None     # None = hidden_size
  intermediate_size: Optional[int] = None  # None = 4 * hidden_size
  num_heads: Optional[int] = None          # None = max(1, hidden_size // 64)
  output_frac: float = OUTPUT_FRAC

  @property
  def embedding_width(self) -> int:
    return self.embedding_size or self.hidden_size

  @property
  def ffn_width(self) -> int:
    return self.intermediate_size or 4 * self.hidden_size

  @property
  def heads(self) -> int:
    return self.num_heads or max(1, self.hidden_size // 64)

  def block_flops(self) -> float:
    """Forward FLOPs of one layer over a whole sequence."""
    h, s, i, heads = self.hidden_size, self.seq_length, self.ffn_width, self.heads
    attention = (3 * 2 * h * h + 3 * h            # Q, K, V projections and biases
                 + 2 * h * s                      # scores
                 + (SOFTMAX_FLOPS + DROPOUT_FLOPS + 1) * s * heads  # softmax, dropout, scale
                 + 2 * h * s                      # weighted values
                 + 2 * h * h + h                  # output projection and bias
                 + DROPOUT_FLOPS * h + h          # dropout, residual
                 + LAYER_NORM_FLOPS)              # (the original counts 5, not 5 h, here)
    feed_forward = (2 * h * i + ACTIVATION_FLOPS * i + i  # intermediate, GELU, bias
                    + 2 * h * i + h                       # output and bias
                    + DROPOUT_FLOPS * h + h               # dropout, residual
                    + LAYER_NORM_FLOPS * h)
    return (attention + feed_forward) * s

  def input_embedding_flops(self) -> float:
    """Forward FLOPs of the (dense) embedding lookup and its post-processing."""
    e, h, s = self.embedding_width, self.hidden_size, self.seq_length
    per_token = (2 * e * self.vocab_size        # one-hot times the table
                 + 2 * e * (s + 2) + 2 * e      # token type and position lookups, adds
                 + (LAYER_NORM_FLOPS + DROPOUT_FLOPS) * e)
    if e != h:
      per_token += 2 * h * e + h                # embeddings_project
    return per_token * s

  def mlm_output_flops(self) -> float:
    """Forward FLOPs of the MLM head on `output_frac` of the positions."""
    e, h, v = self.embedding_width, self.hidden_size, self.vocab_size
    per_token = (2 * e * v + 2 * h * e + e
                 + (ACTIVATION_FLOPS + LAYER_NORM_FLOPS) * e
                 + SOFTMAX_FLOPS * v + 2 * v)
    return self.output_frac * per_token * self.seq_length

  def binary_classifier_flops(self) -> float:
    """Forward FLOPs of the discriminator's per-token dense + logit head."""
    h = self.hidden_size
    return (2 * h * h + h + ACTIVATION_FLOPS * h + 2 * h) * self.seq_length

  def train_flops(self, batch_size: int, num_steps: float, discriminator: bool = False) -> float:
    """FLOPs of `num_steps` steps of `batch_size` sequences (forward + backward)."""
    head = self.binary_classifier_flops() if discriminator else self.mlm_output_flops()
    per_sequence = self.num_layers * self.block_flops() + self.input_embedding_flops() + head
    return 2 * batch_size * num_steps * per_sequence


def electra_train_flops(disc_hidden: int, disc_layers: int, gen_hidden: int, gen_layers: int,
                        batch_size: int, num_steps: float, *, tied_embeddings: bool = True,
                        embedding_size: Optional[int] = None, seq_length: int = 512,
                        vocab_size: int = 30522) -> float:
  """Discriminator plus generator, as `get_electra_train_flops`.

  With tied embeddings the generator uses the discriminator's embedding width.
  """
  width = embedding_size or disc_hidden
  disc = TransformerFlops(disc_hidden, disc_layers, seq_length, vocab_size, width)
  gen = TransformerFlops(gen_hidden, gen_layers, seq_length, vocab_size,
                         width if tied_embeddings else None)
  return (disc.train_flops(batch_size, num_steps, discriminator=True)
          + gen.train_flops(batch_size, num_steps))


def pretraining_flops(config: PretrainingConfig, num_steps: Optional[float] = None) -> float:
  """FLOPs of a pre-training run (default: `num_train_steps` steps of `train_batch_size`).

  Counts the models the config builds: ELECTRA's discriminator and generator, or
  for `electra_objective: false` the one full-size masked-LM transformer.

  Raises:
    ValueError: for objectives the original's counting does not cover
      (Electric, the uniform or full-size generator with ELECTRA).
  """
  if config.electric_objective or config.uniform_generator:
    raise ValueError("FLOPs are counted for ELECTRA and masked-LM pre-training only")
  steps = config.num_train_steps if num_steps is None else num_steps
  disc = get_bert_config(config)
  disc_flops = TransformerFlops(
      disc.hidden_size, disc.num_hidden_layers, config.max_seq_length, disc.vocab_size,
      disc.embedding_size, disc.intermediate_size, disc.num_attention_heads)
  if not config.electra_objective:
    return disc_flops.train_flops(config.train_batch_size, steps)
  if not config.untied_generator:
    raise ValueError("FLOPs are counted for ELECTRA with a separate (smaller) generator only")
  gen = get_generator_config(config, disc)  # its embedding_size: tied -> disc's, untied -> None
  gen_flops = TransformerFlops(
      gen.hidden_size, gen.num_hidden_layers, config.max_seq_length, gen.vocab_size,
      gen.embedding_size, gen.intermediate_size, gen.num_attention_heads)
  return (disc_flops.train_flops(config.train_batch_size, steps, discriminator=True)
          + gen_flops.train_flops(config.train_batch_size, steps))
