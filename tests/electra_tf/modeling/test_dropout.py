"""`layers.Dropout`: tf.nn.dropout's distribution from counter-hash bits."""

import numpy as np
import pytest
import tensorflow as tf

from electra_tf.modeling.layers import Dropout

DTYPES = [tf.float32, tf.bfloat16]


def binomial_bound(n, p, sigmas=6.0):
  return sigmas * np.sqrt(p * (1 - p) / n)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.name)
@pytest.mark.parametrize("rate", [0.1, 0.5])
def test_keeps_one_minus_rate_and_scales_kept_values(dtype, rate):
  x = tf.random.stateless_uniform([64, 4, 32, 32], [1, 2], 0.5, 2.0)
  y = Dropout(rate)(tf.cast(x, dtype), training=True)
  assert y.dtype == dtype and y.shape == x.shape
  y = tf.cast(y, tf.float32).numpy()
  kept = y != 0
  assert abs(kept.mean() - (1 - rate)) < binomial_bound(kept.size, rate)
  # Kept values are x * float32(1 / (1 - rate)) rounded once to the dtype.
  expected = tf.cast(tf.cast(x, dtype), tf.float32).numpy() * np.float32(1 / (1 - rate))
  expected = tf.cast(tf.cast(expected, dtype), tf.float32).numpy()
  np.testing.assert_array_equal(y[kept], expected[kept])


def test_elements_are_independent():
  # Adjacent elements, rows and the two halves of the tensor: pairs are both
  # kept with probability 1/4 at rate 1/2.
  y = Dropout(0.5)(tf.ones([256, 1024]), training=True).numpy() != 0
  n = y.size // 2
  for a, b in [(y[:, :-1], y[:, 1:]), (y[:-1], y[1:]), (y[:128], y[128:])]:
    assert abs((a & b).mean() - 0.25) < binomial_bound(n, 0.25)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.name)
def test_gradient_is_the_forward_mask(dtype):
  # The backward pass recomputes the mask from the key: it must be the one
  # the forward pass used, scaled the same way.
  layer = Dropout(0.3)
  x = tf.cast(tf.random.stateless_uniform([8, 16, 24], [3, 4], 1.0, 2.0), dtype)
  weights = tf.cast(tf.random.stateless_uniform([8, 16, 24], [5, 6], -1.0, 1.0), dtype)
  with tf.GradientTape() as tape:
    tape.watch(x)
    y = layer(x, training=True)
    loss = tf.reduce_sum(tf.cast(y * weights, tf.float32))
  grad = tf.cast(tape.gradient(loss, x), tf.float32).numpy()
  y = tf.cast(y, tf.float32).numpy()
  np.testing.assert_array_equal(grad == 0, y == 0)
  expected = tf.cast(weights, tf.float32).numpy() * np.float32(1 / 0.7)
  expected = tf.cast(tf.cast(expected, dtype), tf.float32).numpy()
  np.testing.assert_array_equal(grad[y != 0], expected[y != 0])


def test_identity_at_inference_and_rate_zero():
  x = tf.random.stateless_normal([4, 5], [7, 8])
  assert Dropout(0.1)(x, training=False) is x
  assert Dropout(0.1)(x) is x
  assert Dropout(0.0)(x, training=True) is x


def test_seeded_runs_repeat_and_calls_differ():
  layer = Dropout(0.5)
  step = tf.function(lambda x: (layer(x, training=True), layer(x, training=True)))
  x = tf.ones([32, 64])

  def run():
    tf.random.set_seed(11)
    return [t.numpy() for t in step(x)]

  first, second = run(), run()
  np.testing.assert_array_equal(first[0], second[0])
  np.testing.assert_array_equal(first[1], second[1])
  assert not np.array_equal(first[0], first[1])


def test_dynamic_batch_dimension_under_tf_function():
  layer = Dropout(0.25)
  step = tf.function(lambda x: layer(x, training=True),
                     input_signature=[tf.TensorSpec([None, 40], tf.float32)])
  for batch in (3, 50):
    y = step(tf.ones([batch, 40])).numpy()
    assert y.shape == (batch, 40)
    assert set(np.unique(y)) <= {0.0, np.float32(1 / 0.75)}


@pytest.mark.parametrize("rate", [-0.1, 1.0, 1.5])
def test_rejects_rates_outside_0_1(rate):
  with pytest.raises(ValueError, match=r"dropout rate must be in \[0, 1\)"):
    Dropout(rate)
