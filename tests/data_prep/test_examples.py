"""ExampleBuilder known answers with a scripted random stream, and serialization."""

import random

import pytest
import tensorflow as tf

from data_prep.examples import ExampleBuilder, ExampleSerializer, PretrainingExample
from electra_tf.config.model import INPUT_FEATURES

CLS, SEP = 101, 102


class ScriptedRandom:
  """Returns given values from `random()` and `randint()`, in order.

  Fixes every packing decision so each rule gets a known answer; `done()`
  checks the builder drew exactly the scripted numbers.
  """

  def __init__(self, randoms=(), randints=()):
    self.randoms = list(randoms)
    self.randints = list(randints)
    self.randint_args = []

  def random(self):
    assert self.randoms, "the builder drew more random() numbers than scripted"
    return self.randoms.pop(0)

  def randint(self, low, high):
    assert self.randints, "the builder drew more randint() numbers than scripted"
    self.randint_args.append((low, high))
    return self.randints.pop(0)

  def done(self):
    return not self.randoms and not self.randints


# Draws of one example: [segment choice, (coin flips...), next-target choice]
TWO_SEGMENTS, ONE_SEGMENT = 0.5, 0.05  # >= 0.1 / < 0.1
KEEP_MAX_LENGTH = 0.9  # >= 0.05: next target = max_length
JOIN, NO_JOIN = 0.3, 0.7  # coin < 0.5 joins the first segment


def builder(max_length, rng):
  return ExampleBuilder(max_length, CLS, SEP, rng)


def padded(values, length):
  return list(values) + [0] * (length - len(values))


def test_two_segments_and_tensors():
  # max_length 16: first-segment target (16 - 3) // 2 = 6.
  rng = ScriptedRandom([TWO_SEGMENTS, NO_JOIN, KEEP_MAX_LENGTH])
  b = builder(16, rng)
  assert b.add_line([1, 2, 3]) is None
  assert b.add_line([4, 5, 6, 7]) is None  # 3 + 4 = 7 would overflow 6: coin says B
  example = b.end_document()
  assert rng.done()
  assert example.input_ids == padded([CLS, 1, 2, 3, SEP, 4, 5, 6, 7, SEP], 16)
  assert example.segment_ids == padded([0] * 5 + [1] * 5, 16)
  assert example.input_mask == padded([1] * 10, 16)
  assert example.num_tokens == 10


def test_overflowing_line_joins_first_segment_on_heads():
  rng = ScriptedRandom([TWO_SEGMENTS, JOIN, KEEP_MAX_LENGTH])
  b = builder(16, rng)
  b.add_line([1, 2, 3])
  b.add_line([4, 5, 6, 7])
  example = b.end_document()
  assert rng.done()
  assert example.input_ids == padded([CLS, 1, 2, 3, 4, 5, 6, 7, SEP], 16)
  assert example.segment_ids == [0] * 16


def test_lines_that_fit_need_no_coin_and_b_takes_the_rest():
  # A: [1,2] (empty A), [3,4,5] fits (2+3 < 6); [6] would make 6, not < 6 and
  # A=5 < 6: coin (no) -> B; once B has tokens, everything goes to B.
  rng = ScriptedRandom([TWO_SEGMENTS, NO_JOIN, KEEP_MAX_LENGTH])
  b = builder(16, rng)
  for line in ([1, 2], [3, 4, 5], [6], [7]):
    assert b.add_line(line) is None
  example = b.end_document()
  assert rng.done()
  assert example.token_ids == [CLS, 1, 2, 3, 4, 5, SEP, 6, 7, SEP]
  assert example.first_segment_length == 7


def test_first_segment_full_sends_lines_to_b_without_coin():
  # len(A) = 6 is not < 6, so no coin is flipped.
  rng = ScriptedRandom([TWO_SEGMENTS, KEEP_MAX_LENGTH])
  b = builder(16, rng)
  b.add_line([1, 2, 3, 4, 5, 6])
  b.add_line([7])
  example = b.end_document()
  assert rng.done()
  assert example.token_ids == [CLS, 1, 2, 3, 4, 5, 6, SEP, 7, SEP]


def test_single_segment_example():
  rng = ScriptedRandom([ONE_SEGMENT, KEEP_MAX_LENGTH])
  b = builder(16, rng)
  b.add_line([1, 2, 3])
  b.add_line([4, 5, 6, 7])
  example = b.end_document()
  assert rng.done()
  assert example.token_ids == [CLS, 1, 2, 3, 4, 5, 6, 7, SEP]
  assert example.segment_ids == [0] * 16


def test_example_is_emitted_when_target_is_reached_and_truncated():
  # max_length 10: A is cut to 8 tokens, B to max(0, 10 - 8 - 3) = 0.
  rng = ScriptedRandom([ONE_SEGMENT, KEEP_MAX_LENGTH, TWO_SEGMENTS, KEEP_MAX_LENGTH])
  b = builder(10, rng)
  assert b.add_line([1, 2, 3, 4, 5, 6]) is None
  example = b.add_line([7, 8, 9, 10, 11, 12])  # 12 >= 10
  assert example is not None
  assert example.token_ids == [CLS, 1, 2, 3, 4, 5, 6, 7, 8, SEP]
  assert b.truncated_tokens == 4
  # The cut tokens are discarded: the next example starts from the next line.
  b.add_line([20, 21])
  assert b.end_document().token_ids == [CLS, 20, 21, SEP]
  assert rng.done()


def test_second_segment_truncation():
  # max_length 12, target (12 - 3) // 2 = 4: A = [1..3], B cut to 12 - 3 - 3 = 6.
  rng = ScriptedRandom([TWO_SEGMENTS, NO_JOIN, KEEP_MAX_LENGTH])
  b = builder(12, rng)
  b.add_line([1, 2, 3])
  example = b.add_line([4, 5, 6, 7, 8, 9, 10, 11, 12])
  assert rng.done()
  assert example.token_ids == [CLS, 1, 2, 3, SEP, 4, 5, 6, 7, 8, 9, SEP]
  assert example.segment_ids == [0] * 5 + [1] * 7
  assert b.truncated_tokens == 3


def test_random_target_length_for_the_next_example():
  # 0.01 < 0.05: the next target is randint(5, 16) = 7; that example is
  # emitted at 7 tokens, its first-segment target is (7 - 3) // 2 = 2, and
  # truncation still uses max_length 16, not the target.
  rng = ScriptedRandom([TWO_SEGMENTS, 0.01,
                        ONE_SEGMENT, 0.01,
                        TWO_SEGMENTS, NO_JOIN, KEEP_MAX_LENGTH], randints=[7, 7])
  b = builder(16, rng)
  b.add_line([1])
  b.end_document()
  assert b.target_length == 7 and rng.randint_args == [(5, 16)]
  long_line = list(range(30, 42))  # 12 tokens >= 7: emitted, and not cut to 7
  assert b.add_line(long_line).token_ids == [CLS] + long_line + [SEP]
  assert b.target_length == 7
  assert b.add_line([2]) is None
  example = b.add_line([3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15])
  # B is cut to 16 - 1 - 3 = 12 tokens.
  assert example.token_ids == [CLS, 2, SEP, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, SEP]
  assert b.target_length == 16
  assert rng.done()


def test_blank_lines_and_empty_sentences_draw_nothing():
  rng = ScriptedRandom([TWO_SEGMENTS, KEEP_MAX_LENGTH])
  b = builder(16, rng)
  assert b.end_document() is None  # nothing collected: no example, no draws
  assert b.add_line([]) is None  # a line that tokenizes to nothing
  assert b.end_document() is None
  b.add_line([1, 2, 3, 4, 5, 6])
  b.add_line([])  # empty sentence after a full first segment: no coin
  assert b.end_document().token_ids == [CLS, 1, 2, 3, 4, 5, 6, SEP]
  assert rng.done()


def test_max_length_below_five_is_rejected():
  with pytest.raises(ValueError, match="max_length"):
    builder(4, random.Random(0))


def test_seeded_builds_repeat_and_statistics_match_the_rules():
  def build(seed):
    rng = random.Random(seed)
    line_rng = random.Random(99)
    b = builder(128, rng)
    examples = []
    for _ in range(20000):
      example = b.add_line([1000 + line_rng.randrange(100)
                            for _ in range(line_rng.randrange(1, 30))])
      if example:
        examples.append(example)
    return examples

  examples = build(0)
  assert [e.token_ids for e in examples] == [e.token_ids for e in build(0)]
  assert [e.token_ids for e in examples] != [e.token_ids for e in build(1)]
  single = sum(e.first_segment_length == e.num_tokens for e in examples) / len(examples)
  short = sum(e.num_tokens < 100 for e in examples) / len(examples)
  assert 0.07 < single < 0.13  # ~10% single-segment (+ rare overflow joins)
  assert 0.02 < short < 0.08  # ~5% random shorter targets
  assert all(e.num_tokens <= 128 for e in examples)


def to_proto(example: PretrainingExample) -> tf.train.Example:
  values = (example.input_ids, example.input_mask, example.segment_ids)
  return tf.train.Example(features=tf.train.Features(feature={
      name: tf.train.Feature(int64_list=tf.train.Int64List(value=v))
      for name, v in zip(INPUT_FEATURES, values)}))


@pytest.mark.parametrize("max_length,vocab_size", [(128, 30522), (512, 250000), (5, 10)])
def test_serializer_matches_tf_train_example(max_length, vocab_size):
  rng = random.Random(0)
  serializer = ExampleSerializer(vocab_size - 1)
  for _ in range(300):
    num_tokens = rng.randint(2, max_length)
    first = rng.randint(2, num_tokens)
    token_ids = [rng.randrange(vocab_size) for _ in range(num_tokens)]
    token_ids[:3] = [vocab_size - 1, 0, min(127, vocab_size - 1)]  # varint edges
    example = PretrainingExample(token_ids, first, max_length)
    parsed = tf.train.Example.FromString(serializer.serialize(example))
    assert parsed == to_proto(example)
