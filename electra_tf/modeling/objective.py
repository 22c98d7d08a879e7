"""The ELECTRA objective as pure tensor functions (`pretrain/pretrain_helpers.py`,
`run_pretraining.py: PretrainingModel`).

Shapes: B batch, L sequence length, N `max_predictions_per_seq`, V vocab size,
D a feature depth.

Randomness is explicit: every random function takes `seeds`, an int32 or int64 [B, 2]
tensor with one stateless seed per example. An example's masking and sampling
depend only on its own seed, never on the rest of the batch, so the same global
batch split over any number of replicas is corrupted identically, and a run
resumed from a checkpoint replays the same corruption. The distributions are
the original's: categorical position draws (with replacement by default),
85% [MASK] / 15% kept, Gumbel-max sampling of the generator's softmax.
"""

import math
from typing import NamedTuple, Optional

import tensorflow as tf

from electra_tf.modeling.counter_hash import counter_bits, mix32
from electra_tf.text.vocab import SpecialTokenIds

# Independent random streams derived from one example seed.
_STREAM_POSITIONS = 1
_STREAM_KEEP = 2
_STREAM_GUMBEL = 3


@tf.function(jit_compile=True)
def _hash_uniform(seeds: tf.Tensor, stream: tf.Tensor, size: int) -> tf.Tensor:
  """float32 [B, size] uniform [0, 1) from int64 [B, 2] seeds; see per_example_uniform."""
  # The four 32-bit words of the two seeds (signed 64-bit ops on [B, 2] only).
  low = tf.cast(seeds, tf.uint32)  # truncates: the low 32 bits
  high = tf.cast(tf.bitwise.right_shift(seeds, tf.constant(32, tf.int64)), tf.uint32)
  words = [low[:, 0:1], high[:, 0:1], low[:, 1:2], high[:, 1:2]]
  stream = tf.bitcast(stream, tf.uint32)
  xor = tf.bitwise.bitwise_xor

  def row_key(salt, order):
    key = mix32(stream + tf.constant(salt, tf.uint32))
    for i in order:
      key = mix32(xor(key, words[i]))
    return key

  k1 = row_key(0x9E3779B9, (0, 1, 2, 3))
  k2 = row_key(0x632BE5AB, (3, 2, 1, 0))
  index = tf.bitcast(tf.range(size, dtype=tf.int32), tf.uint32)[tf.newaxis, :]
  bits = counter_bits(index, k1, k2)
  # The top 24 bits as a float32 in [0, 1 - 2^-24]: exact, every value equally likely.
  return tf.cast(tf.bitwise.right_shift(bits, tf.constant(8, tf.uint32)), tf.float32) * 2.0 ** -24


def per_example_uniform(seeds: tf.Tensor, shape, stream: int) -> tf.Tensor:
  """Uniform [0, 1) noise drawn independently per example, for the whole batch at once.

  A counter-based hash: element i of row b is a hash of (seeds[b], stream, i),
  three rounds of the `lowbias32` bijection keyed by two 32-bit row keys, each
  itself a hash of the stream and the four 32-bit words of seeds[b] (int32
  seeds are sign-extended, so equal values give equal rows in either dtype). Its top 24 bits give a
  float32 on the grid k / 2^24. Only int32/uint32 ops (bit shifts, xor,
  wrapping multiplies), so it runs the same under XLA, on TPU and GPU; it is
  compiled with XLA, which fuses the rounds into one pass (the unfused ops are
  2.4x slower on CPU than `tf.random.stateless_uniform` in a `tf.map_fn` over
  the batch, the fused pass 3x faster; `tf.vectorized_map` falls back to that
  loop for the stateless random ops, which take one seed per call).

  Args:
    seeds: int32 or int64 [B, 2], one stateless seed per example.
    shape: the per-example shape S (a Python list of ints), at most 2^31 elements.
    stream: an int naming the use, so different uses get independent noise.

  Returns:
    float32 [B, *S]; row b depends only on seeds[b] and `stream`, never on the
    other rows or the batch size.
  """
  size = math.prod(shape)
  if size >= 2 ** 31:
    raise ValueError(f"per-example shape {shape} has more than 2^31 elements")
  seeds = tf.cast(seeds, tf.int64)
  uniform = _hash_uniform(seeds, tf.constant(stream, tf.int32), size)
  return tf.reshape(uniform, [-1, *shape])


def gather_positions(sequence: tf.Tensor, positions: tf.Tensor) -> tf.Tensor:
  """Gathers the values at `positions` of each sequence.

  Args:
    sequence: [B, L] or [B, L, D].
    positions: int32 [B, N] indices into L.

  Returns:
    [B, N] or [B, N, D].
  """
  return tf.gather(sequence, positions, batch_dims=1)


def scatter_update(sequence: tf.Tensor, updates: tf.Tensor, positions: tf.Tensor):
  """Writes `updates` into `sequence` at `positions`, as the original does.

  Writes to position 0 are ignored (it is the padding slot of unused
  predictions). A position written several times receives the mean of its
  updates: floor division for integers, true division for floats. For token
  ids this is the original's duplicate-position quirk (issue #41): two
  different samples at one position are replaced by their floor-averaged id.

  Args:
    sequence: int32 or float [B, L] or [B, L, D].
    updates: [B, N] or [B, N, D], the sequence's dtype.
    positions: int32 [B, N].

  Returns:
    (updated_sequence like `sequence`, updated_mask int32 [B, L] with 1 where
    any update landed).
  """
  has_depth = sequence.shape.rank == 3
  if not has_depth:
    sequence = sequence[..., tf.newaxis]
    updates = updates[..., tf.newaxis]
  batch_size, seq_length = sequence.shape[0], sequence.shape[1]
  batch_index = tf.broadcast_to(tf.range(batch_size)[:, tf.newaxis], tf.shape(positions))
  indices = tf.stack([batch_index, positions], axis=-1)  # [B, N, 2]
  depth = sequence.shape[2]
  summed = tf.scatter_nd(indices, updates, [batch_size, seq_length, depth])
  counts = tf.scatter_nd(indices, tf.ones_like(positions), [batch_size, seq_length])
  not_first = tf.concat([tf.zeros([batch_size, 1], tf.int32),
                         tf.ones([batch_size, seq_length - 1], tf.int32)], axis=1)
  counts *= not_first
  counts_3d = counts[..., tf.newaxis]
  if sequence.dtype.is_integer:
    averaged = tf.math.floordiv(summed, tf.maximum(1, counts_3d))
  else:
    averaged = summed / tf.maximum(1.0, tf.cast(counts_3d, summed.dtype))
  updated_mask = tf.minimum(counts, 1)
  updated = tf.where(updated_mask[..., tf.newaxis] > 0, averaged, sequence)
  if not has_depth:
    updated = updated[..., 0]
  return updated, updated_mask


def candidates_mask(input_ids: tf.Tensor, input_mask: tf.Tensor,
                    special_ids: SpecialTokenIds) -> tf.Tensor:
  """bool [B, L]: real tokens other than [CLS], [SEP], [MASK] and [PAD]."""
  mask = tf.cast(input_mask, tf.bool)
  for token_id in (special_ids.sep, special_ids.cls, special_ids.mask, special_ids.pad):
    mask &= tf.not_equal(input_ids, token_id)
  return mask


class MaskedInputs(NamedTuple):
  """Output of `mask`."""
  input_ids: tf.Tensor            # int32 [B, L], generator input with [MASK]s
  masked_lm_positions: tf.Tensor  # int32 [B, N], 0 in unused slots
  masked_lm_ids: tf.Tensor        # int32 [B, N], original ids, 0 in unused slots
  masked_lm_weights: tf.Tensor    # float32 [B, N], 1 for used slots


def num_to_predict(input_mask: tf.Tensor, mask_prob: float,
                   max_predictions_per_seq: int) -> tf.Tensor:
  """int32 [B]: max(1, min(N, round(mask_prob * sum(input_mask)))).

  The length counts [CLS] and [SEP] (original quirk); `tf.round` rounds half
  to even, as in the original.
  """
  num_tokens = tf.cast(tf.reduce_sum(input_mask, axis=-1), tf.float32)
  count = tf.cast(tf.round(num_tokens * mask_prob), tf.int32)
  return tf.maximum(1, tf.minimum(max_predictions_per_seq, count))


def used_slot_counts(input_ids: tf.Tensor, input_mask: tf.Tensor, *, mask_prob: float,
                     max_predictions_per_seq: int, special_ids: SpecialTokenIds,
                     with_replacement: bool = True) -> tf.Tensor:
  """int32 [B]: how many of the N prediction slots `mask` uses per example.

  `num_to_predict`, except 0 without candidates and, without replacement, at
  most the number of candidates.
  """
  num_candidates = tf.reduce_sum(
      tf.cast(candidates_mask(input_ids, input_mask, special_ids), tf.int32), axis=-1)
  count = num_to_predict(input_mask, mask_prob, max_predictions_per_seq)
  if with_replacement:
    return tf.where(num_candidates > 0, count, 0)
  return tf.minimum(count, num_candidates)


def mask(input_ids: tf.Tensor, input_mask: tf.Tensor, *, mask_prob: float,
         max_predictions_per_seq: int, special_ids: SpecialTokenIds,
         seeds: tf.Tensor, with_replacement: bool = True,
         mask_token_prob: float = 0.85) -> MaskedInputs:
  """Dynamic masking (`pretrain_helpers.mask`).

  Draws N positions uniformly among the candidates (with replacement by
  default, as the original); the first `num_to_predict` slots are used. Each
  used slot is replaced by [MASK] with probability 0.85 and otherwise kept
  unchanged (no random-token replacement).

  Deviation: an example with no candidate at all (e.g. "[CLS] [SEP]") gets no
  predictions (all weights 0) instead of the original's NaN-driven draw.
  Without replacement, at most as many slots as candidates are used.

  Args:
    input_ids: int32 [B, L].
    input_mask: int32 [B, L].
    mask_prob: fraction of tokens to predict.
    max_predictions_per_seq: N.
    special_ids: the vocab's special-token ids.
    seeds: int32 or int64 [B, 2] per-example seeds.
    with_replacement: draw positions with replacement (original) or not.
    mask_token_prob: probability that a used slot becomes [MASK].

  Returns:
    MaskedInputs.
  """
  n = max_predictions_per_seq
  batch_size, seq_length = input_ids.shape
  candidates = candidates_mask(input_ids, input_mask, special_ids)
  count = used_slot_counts(input_ids, input_mask, mask_prob=mask_prob,
                           max_predictions_per_seq=n, special_ids=special_ids,
                           with_replacement=with_replacement)
  if with_replacement:
    # One Gumbel-max draw per slot over uniform logits on the candidates is a
    # categorical draw, as tf.random.categorical in the original.
    noise = per_example_uniform(seeds, [n, seq_length], _STREAM_POSITIONS)
    scores = tf.where(candidates[:, tf.newaxis, :], -tf.math.log(-tf.math.log(noise)),
                      -math.inf)
    positions = tf.argmax(scores, axis=-1, output_type=tf.int32)
  else:
    if n > seq_length:
      raise ValueError(f"cannot draw {n} distinct positions from length {seq_length}")
    noise = per_example_uniform(seeds, [seq_length], _STREAM_POSITIONS)
    scores = tf.where(candidates, -tf.math.log(-tf.math.log(noise)), -math.inf)
    positions = tf.math.top_k(scores, k=n, sorted=True).indices
  weights = tf.sequence_mask(count, n, dtype=tf.float32)
  weights_int = tf.cast(weights, tf.int32)
  positions *= weights_int
  masked_lm_ids = gather_positions(input_ids, positions) * weights_int
  keep_noise = per_example_uniform(seeds, [n], _STREAM_KEEP)
  mask_positions = positions * tf.cast(keep_noise < mask_token_prob, tf.int32)
  masked_ids, _ = scatter_update(
      input_ids, tf.fill([batch_size, n], special_ids.mask), mask_positions)
  return MaskedInputs(input_ids=tf.stop_gradient(masked_ids),
                      masked_lm_positions=positions,
                      masked_lm_ids=masked_lm_ids,
                      masked_lm_weights=weights)


def sample_from_softmax(logits: tf.Tensor, *, seeds: tf.Tensor,
                        temperature: float = 1.0,
                        disallow_ids: Optional[tf.Tensor] = None) -> tf.Tensor:
  """Gumbel-max sampling from softmax(logits / temperature), stop-gradient.

  As `pretrain_helpers.sample_from_softmax`: g = -log(-log(u + 1e-9) + 1e-9)
  and the sample is argmax(logits / T - 1000 * disallow + g). (The original
  takes the argmax of softmax(...), which has the same argmax.)

  Args:
    logits: float [B, N, V].
    seeds: int32 or int64 [B, 2] per-example seeds.
    temperature: T > 0.
    disallow_ids: optional int32 [B, N]; that id's logit is lowered by 1000
      (`disallow_correct`).

  Returns:
    int32 [B, N] sampled ids.
  """
  logits = tf.cast(logits, tf.float32) / temperature
  if disallow_ids is not None:
    logits -= 1000.0 * tf.one_hot(disallow_ids, logits.shape[-1], dtype=tf.float32)
  uniform = per_example_uniform(seeds, logits.shape[1:].as_list(), _STREAM_GUMBEL)
  gumbel = -tf.math.log(-tf.math.log(uniform + 1e-9) + 1e-9)
  return tf.stop_gradient(tf.argmax(logits + gumbel, axis=-1, output_type=tf.int32))


def replace_tokens(input_ids: tf.Tensor, masked_lm_positions: tf.Tensor,
                   sampled_ids: tf.Tensor, *, electric: bool = False):
  """Builds the discriminator input and its labels (`_get_fake_data`).

  Args:
    input_ids: int32 [B, L], the original (unmasked) ids.
    masked_lm_positions: int32 [B, N].
    sampled_ids: int32 [B, N], generator samples.
    electric: Electric labels every updated position as fake.

  Returns:
    (fake_input_ids int32 [B, L], disc_labels int32 [B, L]). ELECTRA labels a
    position 1 only if it was updated and now differs from the original, so
    a sample equal to the original counts as original.
  """
  fake_ids, updated = scatter_update(input_ids, sampled_ids, masked_lm_positions)
  if electric:
    labels = updated
  else:
    labels = updated * tf.cast(tf.not_equal(fake_ids, input_ids), tf.int32)
  return fake_ids, labels


class SoftmaxOutput(NamedTuple):
  loss: tf.Tensor              # float32 scalar: loss_sum / (weight_sum + 1e-6)
  loss_sum: tf.Tensor          # float32 scalar: sum(weights * nll)
  weight_sum: tf.Tensor        # float32 scalar: sum(weights)
  per_example_loss: tf.Tensor  # float32 [B, N]: nll per slot
  preds: tf.Tensor             # int32 [B, N]: argmax


def masked_lm_loss(logits: tf.Tensor, targets: tf.Tensor, weights: tf.Tensor) -> SoftmaxOutput:
  """Weighted MLM cross-entropy (`get_softmax_output`).

  loss = sum(weights * nll) / (sum(weights) + 1e-6): a mean over every used
  slot of the batch; a duplicated position counts once per slot.

  Args:
    logits: float [B, N, V] (any float dtype; computed in float32).
    targets: int32 [B, N].
    weights: float [B, N].
  """
  logits = tf.cast(logits, tf.float32)
  weights = tf.cast(weights, tf.float32)
  nll = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=targets, logits=logits)
  loss_sum = tf.reduce_sum(weights * nll)
  weight_sum = tf.reduce_sum(weights)
  preds = tf.argmax(logits, axis=-1, output_type=tf.int32)
  return SoftmaxOutput(loss=normalise(loss_sum, weight_sum), loss_sum=loss_sum,
                       weight_sum=weight_sum, per_example_loss=nll, preds=preds)


class DiscriminatorOutput(NamedTuple):
  loss: tf.Tensor              # float32 scalar: loss_sum / (weight_sum + 1e-6)
  loss_sum: tf.Tensor          # float32 scalar: sum of masked token losses
  weight_sum: tf.Tensor        # float32 scalar: number of real tokens
  per_example_loss: tf.Tensor  # float32 [B]: per-sequence token mean
  probs: tf.Tensor             # float32 [B, L]
  preds: tf.Tensor             # int32 [B, L]


def discriminator_loss(logits: tf.Tensor, labels: tf.Tensor,
                       input_mask: tf.Tensor) -> DiscriminatorOutput:
  """Replaced-token-detection loss (`_get_discriminator_output`).

  Sigmoid cross-entropy per token weighted by `input_mask` ([CLS] and [SEP]
  included), summed over the batch and divided by (1e-6 + number of real
  tokens): a token-level mean over the whole batch.

  Args:
    logits: float [B, L].
    labels: int32 [B, L], 1 = replaced.
    input_mask: int32 [B, L].
  """
  logits = tf.cast(logits, tf.float32)
  weights = tf.cast(input_mask, tf.float32)
  losses = tf.nn.sigmoid_cross_entropy_with_logits(
      labels=tf.cast(labels, tf.float32), logits=logits) * weights
  per_example = tf.reduce_sum(losses, axis=-1) / (1e-6 + tf.reduce_sum(weights, axis=-1))
  loss_sum, weight_sum = tf.reduce_sum(losses), tf.reduce_sum(weights)
  # The original's round((sign(x) + 1) / 2) is 1 for x > 0, 0 for x < 0 and
  # round(0.5) = 0 (half to even) at x = 0.
  preds = tf.cast(logits > 0, tf.int32)
  return DiscriminatorOutput(loss=normalise(loss_sum, weight_sum), loss_sum=loss_sum,
                             weight_sum=weight_sum, per_example_loss=per_example,
                             probs=tf.sigmoid(logits), preds=preds)


def normalise(loss_sum: tf.Tensor, weight_sum: tf.Tensor) -> tf.Tensor:
  """The original's normalisation of both losses: sum / (weights + 1e-6)."""
  return loss_sum / (weight_sum + 1e-6)


def loss_weight_sums(input_ids: tf.Tensor, input_mask: tf.Tensor, *, mask_prob: float,
                     max_predictions_per_seq: int, special_ids: SpecialTokenIds,
                     with_replacement: bool = True):
  """The losses' denominators, computed from the inputs alone.

  They equal the `weight_sum`s the model's losses report, but are known
  before the forward pass, so a trainer can sum them over replicas and
  micro-batches and normalise every partial loss by the global total: the
  summed gradients then equal the single-device gradient of the whole batch.

  Args:
    input_ids, input_mask: int [B, L].

  Returns:
    dict of float32 scalars: `mlm` (used prediction slots), `disc` (real
    tokens) and `cloze` (candidate tokens, Electric's generator loss).
  """
  slots = used_slot_counts(input_ids, input_mask, mask_prob=mask_prob,
                           max_predictions_per_seq=max_predictions_per_seq,
                           special_ids=special_ids, with_replacement=with_replacement)
  candidates = candidates_mask(input_ids, input_mask, special_ids)
  return {"mlm": tf.cast(tf.reduce_sum(slots), tf.float32),
          "disc": tf.cast(tf.reduce_sum(input_mask), tf.float32),
          "cloze": tf.reduce_sum(tf.cast(candidates, tf.float32))}


def combine_losses(loss_sums, weight_sums, *, gen_weight: float, disc_weight: float):
  """total = gen_weight * generator loss + disc_weight * discriminator loss.

  Args:
    loss_sums: dict with `mlm` or `cloze` (the generator loss; `cloze` wins,
      as Electric trains the cloze loss) and optionally `disc`.
    weight_sums: dict of the matching denominators (local or global).

  Returns:
    float32 scalar.
  """
  generator = "cloze" if "cloze" in loss_sums else "mlm"
  total = gen_weight * normalise(loss_sums[generator], weight_sums[generator])
  if "disc" in loss_sums:
    total += disc_weight * normalise(loss_sums["disc"], weight_sums["disc"])
  return total


def electric_logit_adjustment(cloze_logits: tf.Tensor, input_ids: tf.Tensor,
                              mask_prob: float) -> tf.Tensor:
  """Electric's discriminator offset: stop_grad(log q(x_t)) + log(p / (1 - p)).

  Args:
    cloze_logits: float [B, L, V], the two-tower cloze model's logits.
    input_ids: int32 [B, L], the discriminator's (fake) input.
    mask_prob: p.

  Returns:
    float32 [B, L].
  """
  log_probs = tf.nn.log_softmax(tf.cast(cloze_logits, tf.float32))
  log_q = tf.gather(log_probs, input_ids, batch_dims=2)
  return tf.stop_gradient(log_q) + math.log(mask_prob / (1.0 - mask_prob))


def roll(sequence: tf.Tensor, shift: int) -> tf.Tensor:
  """Cyclic shift along the length axis (`run_pretraining.roll`).

  roll(x, -1)[:, t] = x[:, t - 1] and roll(x, 1)[:, t] = x[:, t + 1].

  Args:
    sequence: [B, L, D].
    shift: -1 or 1.
  """
  return tf.concat([sequence[:, shift:, :], sequence[:, :shift, :]], axis=1)
