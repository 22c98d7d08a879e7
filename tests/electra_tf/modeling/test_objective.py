"""Known-answer tests for the objective's pure tensor functions."""

import math

import numpy as np
import pytest
import tensorflow as tf
from scipy import stats as scipy_stats

from electra_tf.modeling import objective
from electra_tf.text.vocab import SpecialTokenIds

SPECIAL = SpecialTokenIds()  # BERT uncased: PAD 0, UNK 100, CLS 101, SEP 102, MASK 103


# The dtypes the model hands the objective its logits in: float32, and
# bfloat16 under mixed_bfloat16. The known-answer inputs are exact in both.
LOGIT_DTYPES = [tf.float32, tf.bfloat16]


def seeds_for(batch_size, base=0):
  return tf.constant([[base + 7 * i + 1, 1000 + i] for i in range(batch_size)], tf.int32)


def make_batch(lengths, seq_length, first_id=1000):
  """[CLS] w w ... [SEP] + padding, with distinct word ids per position."""
  ids = np.zeros([len(lengths), seq_length], np.int32)
  mask = np.zeros_like(ids)
  for b, n in enumerate(lengths):
    ids[b, :n] = first_id + np.arange(n)
    ids[b, 0], ids[b, n - 1] = SPECIAL.cls, SPECIAL.sep
    mask[b, :n] = 1
  return tf.constant(ids), tf.constant(mask)


def test_per_example_uniform_is_uniform_on_0_1():
  u = objective.per_example_uniform(seeds_for(10), [100, 100], stream=1).numpy()
  assert u.shape == (10, 100, 100) and u.dtype == np.float32
  assert u.min() >= 0.0 and u.max() < 1.0
  assert scipy_stats.kstest(u.ravel(), "uniform").pvalue > 1e-3
  counts = np.bincount((u.ravel() * 100).astype(int), minlength=100)
  assert scipy_stats.chisquare(counts).pvalue > 1e-3


def test_per_example_uniform_rows_and_streams_are_independent():
  seeds = seeds_for(64)
  a = objective.per_example_uniform(seeds, [2000], stream=1).numpy()
  b = objective.per_example_uniform(seeds, [2000], stream=2).numpy()
  # Neighbouring examples (seeds differing by one), neighbouring elements and
  # two streams of one seed: correlations at the 1 / sqrt(n) noise level.
  for x, y in [(a[:-1], a[1:]), (a[:, :-1], a[:, 1:]), (a, b)]:
    assert abs(np.corrcoef(x.ravel(), y.ravel())[0, 1]) < 4 / math.sqrt(x.size)
  # Seeds that differ in one bit of either word, or only by swapping words.
  base = tf.constant([[12345, 678]] * 5 + [[678, 12345]], tf.int32)
  flips = tf.constant([[0, 0], [1, 0], [0, 1], [2 ** 30, 0], [0, -2 ** 31], [0, 0]], tf.int32)
  rows = objective.per_example_uniform(tf.bitwise.bitwise_xor(base, flips), [5000], 1).numpy()
  corr = np.corrcoef(rows)
  assert np.all(np.abs(corr[np.triu_indices(6, 1)]) < 4 / math.sqrt(5000))


def test_per_example_uniform_row_depends_only_on_its_seed():
  seeds = seeds_for(8)
  whole = objective.per_example_uniform(seeds, [3, 7], stream=3).numpy()
  alone = objective.per_example_uniform(seeds[5:6], [3, 7], stream=3).numpy()
  np.testing.assert_array_equal(alone[0], whole[5])
  shuffled = objective.per_example_uniform(tf.reverse(seeds, [0]), [3, 7], stream=3).numpy()
  np.testing.assert_array_equal(shuffled[::-1], whole)
  traced = tf.function(lambda s: objective.per_example_uniform(s, [3, 7], stream=3))(seeds)
  np.testing.assert_array_equal(traced, whole)
  # The trainer's int64 seeds: equal values give equal rows, and the high
  # 32 bits (an example index past 2^32) count.
  np.testing.assert_array_equal(
      objective.per_example_uniform(tf.cast(seeds, tf.int64), [3, 7], stream=3), whole)
  high = tf.cast(seeds, tf.int64) + tf.constant([[0, 2 ** 32]], tf.int64)
  moved = objective.per_example_uniform(high, [3, 7], stream=3).numpy()
  assert not np.any(np.all(moved == whole, axis=(1, 2)))


def test_gather_positions_2d_and_3d():
  seq = tf.constant([[10, 11, 12, 13], [20, 21, 22, 23]])
  pos = tf.constant([[3, 0], [1, 1]])
  np.testing.assert_array_equal(objective.gather_positions(seq, pos), [[13, 10], [21, 21]])
  seq3 = tf.reshape(tf.range(16, dtype=tf.float32), [2, 4, 2])
  np.testing.assert_array_equal(objective.gather_positions(seq3, pos),
                                [[[6, 7], [0, 1]], [[10, 11], [10, 11]]])


def test_scatter_update_ignores_position_zero_and_floor_averages_duplicates():
  seq = tf.constant([[1, 2, 3, 4, 5]])
  updates = tf.constant([[10, 13, 99, 7]])
  positions = tf.constant([[2, 2, 0, 4]])
  updated, mask = objective.scatter_update(seq, updates, positions)
  # position 2 written twice: floor((10 + 13) / 2) = 11; position 0 ignored.
  np.testing.assert_array_equal(updated, [[1, 2, 11, 4, 7]])
  np.testing.assert_array_equal(mask, [[0, 0, 1, 0, 1]])


def test_scatter_update_float_true_average_with_depth():
  seq = tf.zeros([1, 3, 2])
  updates = tf.constant([[[1.0, 2.0], [2.0, 5.0]]])
  updated, mask = objective.scatter_update(seq, updates, tf.constant([[1, 1]]))
  np.testing.assert_allclose(updated, [[[0, 0], [1.5, 3.5], [0, 0]]])
  np.testing.assert_array_equal(mask, [[0, 1, 0]])


def test_candidates_exclude_cls_sep_mask_and_padding():
  ids = tf.constant([[101, 5, 103, 100, 102, 0]])
  input_mask = tf.constant([[1, 1, 1, 1, 1, 0]])
  np.testing.assert_array_equal(objective.candidates_mask(ids, input_mask, SPECIAL),
                                [[False, True, False, True, False, False]])


@pytest.mark.parametrize("length,expected", [
    (128, 19),  # round(19.2), clipped to N = 19 anyway
    (100, 15),
    (10, 2),    # round(1.5) = 2 (half to even)
    (30, 4),    # round(4.5) = 4 (half to even)
    (5, 1),     # round(0.75)
    (3, 1),     # round(0.45) = 0 -> at least 1
])
def test_num_to_predict_counts_cls_and_sep(length, expected):
  input_mask = tf.sequence_mask([length], 128, dtype=tf.int32)
  assert int(objective.num_to_predict(input_mask, 0.15, 19)[0]) == expected


def test_mask_known_structure():
  ids, input_mask = make_batch([128, 40, 10, 3], 128)
  out = objective.mask(ids, input_mask, mask_prob=0.15, max_predictions_per_seq=19,
                       special_ids=SPECIAL, seeds=seeds_for(4))
  weights = out.masked_lm_weights.numpy()
  np.testing.assert_array_equal(weights.sum(1), [19, 6, 2, 1])
  positions = out.masked_lm_positions.numpy()
  original = ids.numpy()
  masked = out.input_ids.numpy()
  candidates = objective.candidates_mask(ids, input_mask, SPECIAL).numpy()
  for b in range(4):
    used = weights[b] > 0
    # used slots come first, point at candidates, and carry the original ids
    assert used[:int(used.sum())].all()
    assert candidates[b, positions[b, used]].all()
    np.testing.assert_array_equal(out.masked_lm_ids.numpy()[b, used], original[b, positions[b, used]])
    # unused slots: position 0 and id 0
    assert (positions[b, ~used] == 0).all() and (out.masked_lm_ids.numpy()[b, ~used] == 0).all()
    # only masked positions change, and only to [MASK]
    changed = np.nonzero(masked[b] != original[b])[0]
    assert set(changed) <= set(positions[b, used])
    assert (masked[b, changed] == SPECIAL.mask).all()


def test_mask_keeps_15_percent_of_slots_unchanged_in_expectation():
  ids, input_mask = make_batch([128] * 256, 128)
  out = objective.mask(ids, input_mask, mask_prob=0.15, max_predictions_per_seq=19,
                       special_ids=SPECIAL, seeds=seeds_for(256),
                       with_replacement=False)
  masked_at_slot = objective.gather_positions(out.input_ids, out.masked_lm_positions).numpy()
  is_mask = masked_at_slot == SPECIAL.mask
  kept = masked_at_slot == out.masked_lm_ids.numpy()
  assert (is_mask | kept).all()  # never a random replacement token
  fraction = is_mask.mean()  # 256 * 19 = 4864 slots: std of the mean ~0.005
  assert abs(fraction - 0.85) < 0.025, fraction


def test_mask_positions_uniform_over_candidates():
  ids, input_mask = make_batch([12] * 2000, 12)  # 10 candidates (positions 1..10)
  out = objective.mask(ids, input_mask, mask_prob=0.15, max_predictions_per_seq=1,
                       special_ids=SPECIAL, seeds=seeds_for(2000))
  counts = np.bincount(out.masked_lm_positions.numpy()[:, 0], minlength=12)
  assert counts[0] == 0 and counts[11] == 0
  expected = 2000 / 10
  chi2 = ((counts[1:11] - expected) ** 2 / expected).sum()
  assert chi2 < 27.9, counts  # p = 0.001 for 9 degrees of freedom


def test_mask_with_replacement_has_duplicates_at_the_birthday_rate():
  # 10 candidates, 5 draws with replacement: P(some duplicate) = 1 - 10*9*8*7*6 / 10^5.
  ids, input_mask = make_batch([12] * 2000, 12)
  out = objective.mask(ids, input_mask, mask_prob=0.45, max_predictions_per_seq=5,
                       special_ids=SPECIAL, seeds=seeds_for(2000))
  positions = out.masked_lm_positions.numpy()
  assert (out.masked_lm_weights.numpy().sum(1) == 5).all()
  has_duplicate = np.array([len(set(p)) < 5 for p in positions])
  expected = 1 - 10 * 9 * 8 * 7 * 6 / 10 ** 5
  assert abs(has_duplicate.mean() - expected) < 0.04, has_duplicate.mean()


def test_mask_without_replacement_never_duplicates():
  ids, input_mask = make_batch([12] * 500, 12)
  out = objective.mask(ids, input_mask, mask_prob=0.45, max_predictions_per_seq=5,
                       special_ids=SPECIAL, seeds=seeds_for(500), with_replacement=False)
  assert all(len(set(p)) == 5 for p in out.masked_lm_positions.numpy())


def test_mask_example_without_candidates_predicts_nothing():
  ids, input_mask = make_batch([2, 6], 8)  # "[CLS] [SEP]" has no candidate
  for with_replacement in (True, False):
    out = objective.mask(ids, input_mask, mask_prob=0.15, max_predictions_per_seq=3,
                         special_ids=SPECIAL, seeds=seeds_for(2),
                         with_replacement=with_replacement)
    np.testing.assert_array_equal(out.masked_lm_weights.numpy().sum(1), [0, 1])
    np.testing.assert_array_equal(out.input_ids[0], ids[0])


def test_mask_depends_only_on_each_examples_seed():
  ids, input_mask = make_batch([30, 25, 20, 15], 32)
  seeds = seeds_for(4)
  kwargs = dict(mask_prob=0.15, max_predictions_per_seq=4, special_ids=SPECIAL)
  whole = objective.mask(ids, input_mask, seeds=seeds, **kwargs)
  halves = [objective.mask(ids[i:i + 2], input_mask[i:i + 2], seeds=seeds[i:i + 2], **kwargs)
            for i in (0, 2)]
  for field in whole._fields:
    np.testing.assert_array_equal(getattr(whole, field),
                                  tf.concat([getattr(h, field) for h in halves], 0))
  other = objective.mask(ids, input_mask, seeds=seeds_for(4, base=99), **kwargs)
  assert not np.array_equal(whole.masked_lm_positions, other.masked_lm_positions)


def test_sampling_at_tiny_temperature_is_argmax():
  logits = tf.random.stateless_normal([3, 5, 50], seed=[1, 2])
  sampled = objective.sample_from_softmax(logits, seeds=seeds_for(3), temperature=1e-6)
  np.testing.assert_array_equal(sampled, tf.argmax(logits, -1, output_type=tf.int32))


def test_disallow_correct_never_returns_the_original():
  # The original id has by far the highest logit, yet is never sampled.
  targets = tf.constant([[3, 1, 0, 2]] * 64)
  logits = 20.0 * tf.one_hot(targets, 4)
  sampled = objective.sample_from_softmax(logits, seeds=seeds_for(64), disallow_ids=targets)
  assert not np.any(sampled.numpy() == targets.numpy())
  unrestricted = objective.sample_from_softmax(logits, seeds=seeds_for(64))
  assert np.mean(unrestricted.numpy() == targets.numpy()) > 0.99


@pytest.mark.parametrize("dtype", LOGIT_DTYPES)
@pytest.mark.parametrize("temperature", [1.0, 2.0])
def test_sampling_frequencies_match_softmax(temperature, dtype):
  logits_row = np.array([2.0, 1.0, 0.0, -1.0], np.float32)
  logits = tf.constant(np.tile(logits_row, [4000, 1, 1]), dtype)
  sampled = objective.sample_from_softmax(logits, seeds=seeds_for(4000), temperature=temperature)
  freq = np.bincount(sampled.numpy().ravel(), minlength=4) / 4000
  expected = np.exp(logits_row / temperature) / np.exp(logits_row / temperature).sum()
  np.testing.assert_allclose(freq, expected, atol=0.025)


def test_replace_tokens_labels_count_a_correct_sample_as_original():
  ids = tf.constant([[101, 10, 11, 12, 13, 102]])
  positions = tf.constant([[1, 2, 4, 0]])
  sampled = tf.constant([[10, 50, 60, 77]])  # slot 0 samples the original id; slot 3 unused
  fake, labels = objective.replace_tokens(ids, positions, sampled)
  np.testing.assert_array_equal(fake, [[101, 10, 50, 12, 60, 102]])
  np.testing.assert_array_equal(labels, [[0, 0, 1, 0, 1, 0]])
  _, electric_labels = objective.replace_tokens(ids, positions, sampled, electric=True)
  np.testing.assert_array_equal(electric_labels, [[0, 1, 1, 0, 1, 0]])


def test_replace_tokens_duplicate_position_gets_floor_average():
  ids = tf.constant([[101, 10, 11, 102]])
  fake, labels = objective.replace_tokens(ids, tf.constant([[2, 2]]), tf.constant([[40, 45]]))
  np.testing.assert_array_equal(fake, [[101, 10, 42, 102]])  # floor(85 / 2)
  np.testing.assert_array_equal(labels, [[0, 0, 1, 0]])


def np_log_softmax(x):
  x = x - x.max(-1, keepdims=True)
  return x - np.log(np.exp(x).sum(-1, keepdims=True))


@pytest.mark.parametrize("dtype", LOGIT_DTYPES)
def test_masked_lm_loss_known_answer(dtype):
  logits = np.array([[[1.0, 2.0, 3.0], [0.5, 0.5, 0.0]], [[0.0, 0.0, 5.0], [1.0, 1.0, 1.0]]],
                    np.float32)
  targets = np.array([[2, 0], [1, 1]], np.int32)
  weights = np.array([[1.0, 1.0], [1.0, 0.0]], np.float32)
  out = objective.masked_lm_loss(tf.constant(logits, dtype), tf.constant(targets),
                                 tf.constant(weights))
  nll = -np.take_along_axis(np_log_softmax(logits), targets[..., None], -1)[..., 0]
  np.testing.assert_allclose(out.per_example_loss, nll, rtol=1e-6)
  np.testing.assert_allclose(out.loss, (nll * weights).sum() / (weights.sum() + 1e-6), rtol=1e-6)
  np.testing.assert_array_equal(out.preds, [[2, 0], [2, 0]])


def test_masked_lm_loss_uniform_logits_is_log_vocab():
  out = objective.masked_lm_loss(tf.zeros([2, 3, 30522]), tf.ones([2, 3], tf.int32),
                                 tf.ones([2, 3]))
  np.testing.assert_allclose(out.loss, math.log(30522) * 6 / (6 + 1e-6), rtol=1e-6)


@pytest.mark.parametrize("dtype", LOGIT_DTYPES)
def test_discriminator_loss_known_answer(dtype):
  logits = np.array([[2.0, -1.0, 0.0, 3.0], [0.5, -0.5, 4.0, 4.0]], np.float32)
  labels = np.array([[0, 1, 0, 1], [1, 0, 0, 1]], np.int32)
  input_mask = np.array([[1, 1, 1, 0], [1, 1, 1, 1]], np.int32)
  out = objective.discriminator_loss(tf.constant(logits, dtype), tf.constant(labels),
                                     tf.constant(input_mask))
  bce = np.maximum(logits, 0) - logits * labels + np.log1p(np.exp(-np.abs(logits)))
  w = input_mask.astype(np.float32)
  np.testing.assert_allclose(out.loss, (bce * w).sum() / (1e-6 + w.sum()), rtol=1e-6)
  np.testing.assert_allclose(out.per_example_loss, (bce * w).sum(1) / (1e-6 + w.sum(1)), rtol=1e-6)
  np.testing.assert_allclose(out.probs, 1 / (1 + np.exp(-logits)), rtol=1e-6)
  np.testing.assert_array_equal(out.preds, [[1, 0, 0, 1], [1, 0, 1, 1]])  # logit 0 -> 0


@pytest.mark.parametrize("dtype", LOGIT_DTYPES)
def test_electric_logit_adjustment_known_answer(dtype):
  cloze = np.array([[[1.0, 2.0, 0.0], [0.0, 0.0, 3.0]]], np.float32)
  ids = np.array([[1, 2]], np.int32)
  got = objective.electric_logit_adjustment(tf.constant(cloze, dtype), tf.constant(ids), 0.15)
  log_q = np.take_along_axis(np_log_softmax(cloze), ids[..., None], -1)[..., 0]
  np.testing.assert_allclose(got, log_q + math.log(0.15 / 0.85), rtol=1e-6)


def test_roll_shifts_left_and_right_cyclically():
  x = tf.reshape(tf.range(4, dtype=tf.float32), [1, 4, 1])
  np.testing.assert_array_equal(objective.roll(x, -1)[0, :, 0], [3, 0, 1, 2])  # t sees t-1
  np.testing.assert_array_equal(objective.roll(x, 1)[0, :, 0], [1, 2, 3, 0])   # t sees t+1
