"""Counter-based random bits: element i of a draw is a hash of (i, key).

Used where a random op must be cheap, stateless and the same on every device:
the objective's per-example noise (`objective.per_example_uniform`) and
dropout (`layers.Dropout`). Only uint32 bit shifts, xors and wrapping
multiplies, so it runs the same under XLA, on TPU, GPU and CPU; compiled with
XLA its rounds fuse into one vectorised pass with the op that consumes the bits.
"""

import tensorflow as tf


def mix32(x: tf.Tensor) -> tf.Tensor:
  """The `lowbias32` integer hash (a bijection of uint32, good avalanche)."""
  x = tf.bitwise.bitwise_xor(x, tf.bitwise.right_shift(x, tf.constant(16, tf.uint32)))
  x *= tf.constant(0x7FEB352D, tf.uint32)
  x = tf.bitwise.bitwise_xor(x, tf.bitwise.right_shift(x, tf.constant(15, tf.uint32)))
  x *= tf.constant(0x846CA68B, tf.uint32)
  return tf.bitwise.bitwise_xor(x, tf.bitwise.right_shift(x, tf.constant(16, tf.uint32)))


def counter_bits(index: tf.Tensor, key1: tf.Tensor, key2: tf.Tensor) -> tf.Tensor:
  """Three keyed `mix32` rounds of each counter: uniform uint32 bits.

  Args:
    index: uint32 counters, any shape; distinct counters give independent bits.
    key1, key2: uint32 keys broadcastable against `index` (e.g. [B, 1] per row).

  Returns:
    uint32 of the broadcast shape.
  """
  xor = tf.bitwise.bitwise_xor
  return mix32(xor(mix32(xor(mix32(xor(index, key1)), key2)), key1))
