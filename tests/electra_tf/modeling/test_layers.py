"""Layers and encoder: exact math, initialisers, parity with Model Garden."""

import math

import numpy as np
import pytest
import tensorflow as tf
from official.nlp.modeling import layers as mg_layers

from electra_tf.config.model import TransformerConfig
from electra_tf.modeling.encoder import TransformerEncoder
from electra_tf.modeling.layers import (Embeddings, LayerNorm, TransformerLayer, attention_bias,
                                        fused_gelu, gelu)

TINY = TransformerConfig(vocab_size=50, hidden_size=16, num_hidden_layers=2,
                         num_attention_heads=2, intermediate_size=32,
                         hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
                         max_position_embeddings=12, embedding_size=8)


def np_layer_norm(x, gamma, beta, eps=1e-12):
  mean = x.mean(-1, keepdims=True)
  var = ((x - mean) ** 2).mean(-1, keepdims=True)
  return (x - mean) / np.sqrt(var + eps) * gamma + beta


def test_gelu_is_exact_erf_form():
  x = np.linspace(-5, 5, 41).astype(np.float32)
  exact = 0.5 * x * (1 + np.array([math.erf(v / math.sqrt(2)) for v in x]))
  np.testing.assert_allclose(gelu(tf.constant(x)), exact, atol=1e-6)
  tanh_approx = tf.nn.gelu(tf.constant(x), approximate=True)
  assert np.abs(tanh_approx.numpy() - exact).max() > 1e-4  # we are not the approximation


def np_gelu_and_derivative(x):
  erf = np.vectorize(math.erf)
  cdf = 0.5 * (1 + erf(x / math.sqrt(2)))
  return x * cdf, cdf + x * np.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)


@pytest.mark.parametrize("dtype,atol,rtol",
                         [(tf.float32, 1e-6, 1e-6), (tf.bfloat16, 1e-6, 2.0 ** -7)],
                         ids=["float32", "bfloat16"])
def test_fused_gelu_and_its_gradient_are_gelus(dtype, atol, rtol):
  x = tf.cast(tf.constant(np.linspace(-6, 6, 97), tf.float32), dtype)
  upstream = tf.cast(tf.constant(np.linspace(-2, 3, 97), tf.float32), dtype)
  x64 = tf.cast(x, tf.float64).numpy()
  value, derivative = np_gelu_and_derivative(x64)
  with tf.GradientTape() as tape:
    tape.watch(x)
    y = fused_gelu(x)
  grad = tape.gradient(y, x, output_gradients=upstream)
  assert y.dtype == grad.dtype == dtype
  expected_grad = tf.cast(upstream, tf.float64).numpy() * derivative
  if dtype == tf.bfloat16:  # computed in float32, rounded once to bfloat16
    value = tf.cast(tf.cast(value, tf.bfloat16), tf.float64).numpy()
    expected_grad = tf.cast(tf.cast(expected_grad, tf.bfloat16), tf.float64).numpy()
    # within one bfloat16 ulp (2^-7 relative): the float32 result may round either way
  np.testing.assert_allclose(tf.cast(y, tf.float64), value, atol=atol, rtol=rtol)
  np.testing.assert_allclose(tf.cast(grad, tf.float64), expected_grad, atol=atol, rtol=rtol)
  if dtype == tf.float32:
    np.testing.assert_allclose(y, gelu(x), atol=1e-6)


def float64_layer_norm_and_gradients(x, residual, gamma, beta, upstream):
  """y = LN(x + residual) and d(x, residual, gamma, beta) by float64 autodiff."""
  x, gamma, beta, upstream = (tf.cast(t, tf.float64) for t in (x, gamma, beta, upstream))
  residual = tf.zeros_like(x) if residual is None else tf.cast(residual, tf.float64)
  with tf.GradientTape() as tape:
    tape.watch([x, residual, gamma, beta])
    z = x + residual
    mean, variance = tf.nn.moments(z, axes=[-1], keepdims=True)
    y = (z - mean) / tf.sqrt(variance + 1e-12) * gamma + beta
  return [y.numpy()] + [g.numpy() for g in tape.gradient(y, [x, residual, gamma, beta],
                                                       output_gradients=upstream)]


@pytest.mark.parametrize("policy", ["float32", "mixed_bfloat16"])
@pytest.mark.parametrize("with_residual", [True, False], ids=["residual", "no_residual"])
@pytest.mark.parametrize("compiled", [True, False], ids=["tf.function", "eager"])
def test_fused_layer_norm_and_gradients_match_float64(policy, with_residual, compiled):
  import tf_keras  # pylint: disable=import-outside-toplevel
  tf_keras.mixed_precision.set_global_policy(policy)
  try:
    layer = LayerNorm(name="attention_LayerNorm")
    layer.build([3, 5, 16])
  finally:
    tf_keras.mixed_precision.set_global_policy("float32")
  keras_layer = tf_keras.layers.LayerNormalization(epsilon=1e-12)
  keras_layer.build([3, 5, 16])
  # Keras' own variables, so checkpoints and the name mapping are unchanged.
  assert [v.name for v in layer.weights] == [v.name for v in keras_layer.weights]
  assert layer.gamma.dtype == tf.float32
  layer.gamma.assign(tf.random.stateless_normal([16], seed=[1, 2]) + 1.0)
  layer.beta.assign(tf.random.stateless_normal([16], seed=[3, 4]))
  dtype = tf.bfloat16 if policy == "mixed_bfloat16" else tf.float32
  # An offset mean and uneven scales, so the centring and the variance both matter.
  x = tf.cast(3.0 + 2.0 * tf.random.stateless_normal([3, 5, 16], seed=[5, 6]), dtype)
  residual = (tf.cast(tf.random.stateless_normal([3, 5, 16], seed=[7, 8]), dtype)
              if with_residual else None)
  upstream = tf.cast(tf.random.stateless_normal([3, 5, 16], seed=[9, 10]), dtype)

  def fused(x, residual):
    with tf.GradientTape() as tape:
      tape.watch([x] + ([residual] if with_residual else []))
      y = layer(x, residual, training=True)
    sources = [x] + ([residual] if with_residual else []) + [layer.gamma, layer.beta]
    return [y] + tape.gradient(y, sources, output_gradients=upstream)

  got = (tf.function(fused) if compiled else fused)(x, residual)
  expected = float64_layer_norm_and_gradients(x, residual, layer.gamma, layer.beta, upstream)
  if not with_residual:
    del expected[2]
  assert got[0].dtype == got[1].dtype == dtype
  assert got[-1].dtype == got[-2].dtype == tf.float32
  # float32: to float32 rounding; bfloat16 outputs and input gradients are
  # float32 results rounded once (2^-8 relative, 2 ulps allowed), gamma/beta
  # gradients stay float32 sums of bfloat16 products.
  rtol, atol = (1e-5, 1e-5) if dtype == tf.float32 else (2.0 ** -7, 1e-3)
  for value, reference in zip(got, expected):
    np.testing.assert_allclose(tf.cast(value, tf.float64), reference, rtol=rtol, atol=atol)
  # Inference (plain ops, no XLA) gives the training step's values.
  np.testing.assert_allclose(tf.cast(layer(x, residual, training=False), tf.float64),
                             tf.cast(got[0], tf.float64), rtol=rtol, atol=atol)


def test_training_step_equals_inference_without_dropout():
  # Training uses the fused GELU, inference the plain one: same values and
  # gradients when dropout is off.
  layer = TransformerLayer(TINY)
  hidden = tf.random.stateless_normal([2, 6, 16], seed=[9, 10])
  bias = attention_bias(tf.constant([[1] * 6, [1, 1, 1, 0, 0, 0]]))
  outputs, grads = [], []
  for training in (False, True):
    with tf.GradientTape() as tape:
      out = layer(hidden, bias, training=training)
      loss = tf.reduce_sum(out * tf.range(16, dtype=tf.float32))
    outputs.append(out.numpy())
    grads.append([g.numpy() for g in tape.gradient(loss, layer.trainable_variables)])
  np.testing.assert_allclose(outputs[1], outputs[0], atol=1e-6)
  for trained, inferred in zip(*grads):
    np.testing.assert_allclose(trained, inferred, rtol=1e-6, atol=1e-5)


def test_attention_bias_padding_and_causal_directions():
  input_mask = tf.constant([[1, 1, 1, 0]])
  plain = attention_bias(input_mask)[0, 0, 0].numpy()
  np.testing.assert_array_equal(plain, [0, 0, 0, -10000])
  ltr = attention_bias(input_mask, "ltr")[0, 0].numpy()
  rtl = attention_bias(input_mask, "rtl")[0, 0].numpy()
  allowed_ltr = np.tril(np.ones([4, 4])) * [1, 1, 1, 0]
  allowed_rtl = np.triu(np.ones([4, 4])) * [1, 1, 1, 0]
  np.testing.assert_array_equal(ltr, (1 - allowed_ltr) * -10000)
  np.testing.assert_array_equal(rtl, (1 - allowed_rtl) * -10000)


def test_embeddings_match_numpy_and_layer_norm_eps():
  layer = Embeddings(TINY)
  ids = tf.constant([[1, 5, 7, 0]])
  segments = tf.constant([[0, 0, 1, 1]])
  out = layer(ids, segments, training=False).numpy()
  w, t, p = (layer.word_embeddings.numpy(), layer.token_type_embeddings.numpy(),
             layer.position_embeddings.numpy())
  summed = w[ids.numpy()] + t[segments.numpy()] + p[None, :4]
  expected = np_layer_norm(summed, layer.layer_norm.gamma.numpy(), layer.layer_norm.beta.numpy())
  np.testing.assert_allclose(out, expected, atol=1e-5)
  assert layer.layer_norm.epsilon == 1e-12
  with pytest.raises(ValueError, match="exceeds max_position_embeddings"):
    layer(tf.zeros([1, 13], tf.int32), tf.zeros([1, 13], tf.int32))


def test_initialisers_follow_the_original():
  config = TransformerConfig(vocab_size=3000, hidden_size=64, num_hidden_layers=1,
                             num_attention_heads=1, intermediate_size=256, embedding_size=32)
  encoder = TransformerEncoder(config, Embeddings(config))
  ids = tf.zeros([1, 4], tf.int32)
  encoder(ids, tf.ones_like(ids), ids)
  word = encoder.embeddings.word_embeddings.numpy()
  position = encoder.embeddings.position_embeddings.numpy()
  assert not np.allclose(word[:position.shape[0]], position)  # independent draws
  assert np.abs(word).max() <= 0.04 + 1e-7  # truncated at 2 stddev
  assert abs(word.std() - 0.02 * 0.88) < 0.001  # truncated normal shrinks the std by ~0.88
  query = encoder.transformer_layers[0].query.kernel.numpy()
  assert np.abs(query).max() <= 0.04 + 1e-7
  # embeddings_project uses TF's default Glorot-uniform: |w| <= sqrt(6 / (32 + 64)).
  project = encoder.embeddings_project.kernel.numpy()
  limit = math.sqrt(6 / (32 + 64))
  assert np.abs(project).max() <= limit and np.abs(project).max() > 0.04
  assert np.all(encoder.transformer_layers[0].query.bias.numpy() == 0)
  layer_norm = encoder.transformer_layers[0].output_layer_norm
  assert np.all(layer_norm.gamma.numpy() == 1) and np.all(layer_norm.beta.numpy() == 0)


def test_transformer_layer_equals_model_garden_block_on_same_weights():
  config = TINY
  ours = TransformerLayer(config)
  hidden = tf.random.stateless_normal([2, 6, 16], seed=[3, 4])
  input_mask = tf.constant([[1] * 6, [1, 1, 1, 1, 0, 0]])
  ours_out = ours(hidden, attention_bias(input_mask), training=False)

  block = mg_layers.TransformerEncoderBlock(
      num_attention_heads=2, inner_dim=32, inner_activation=gelu, output_dropout=0.0,
      attention_dropout=0.0, norm_first=False, norm_epsilon=1e-12)
  mask_3d = tf.cast(tf.broadcast_to(input_mask[:, None, :], [2, 6, 6]), tf.float32)
  block([hidden, mask_3d])
  heads, size = 2, 8
  attention = block._attention_layer
  for mg_dense, our_dense in ((attention._query_dense, ours.query),
                              (attention._key_dense, ours.key),
                              (attention._value_dense, ours.value)):
    mg_dense.kernel.assign(tf.reshape(our_dense.kernel, [16, heads, size]))
    mg_dense.bias.assign(tf.reshape(our_dense.bias, [heads, size]))
  attention._output_dense.kernel.assign(tf.reshape(ours.attention_output.kernel, [heads, size, 16]))
  attention._output_dense.bias.assign(ours.attention_output.bias)
  block._intermediate_dense.kernel.assign(ours.intermediate.kernel)
  block._intermediate_dense.bias.assign(ours.intermediate.bias)
  block._output_dense.kernel.assign(ours.output_dense.kernel)
  block._output_dense.bias.assign(ours.output_dense.bias)
  for mg_norm, our_norm in ((block._attention_layer_norm, ours.attention_layer_norm),
                            (block._output_layer_norm, ours.output_layer_norm)):
    mg_norm.gamma.assign(tf.random.stateless_normal([16], seed=[5, 6]))
    mg_norm.beta.assign(tf.random.stateless_normal([16], seed=[7, 8]))
    our_norm.gamma.assign(mg_norm.gamma)
    our_norm.beta.assign(mg_norm.beta)
  ours_out = ours(hidden, attention_bias(input_mask), training=False)
  mg_out = block([hidden, mask_3d], training=False)
  np.testing.assert_allclose(ours_out, mg_out, atol=2e-5)


def test_encoder_projection_only_when_widths_differ():
  shared = Embeddings(TINY)
  projected = TransformerEncoder(TINY, shared)
  assert projected.embeddings_project is not None
  same_width = TransformerConfig(**{**TINY.to_dict(), "embedding_size": None})
  plain = TransformerEncoder(same_width, Embeddings(same_width))
  assert plain.embeddings_project is None
  ids = tf.constant([[2, 3, 4, 0]])
  for encoder in (projected, plain):
    out = encoder(ids, tf.constant([[1, 1, 1, 0]]), tf.zeros_like(ids))
    assert out.shape == (1, 4, 16)
  assert "embeddings_project/kernel" in projected.named_variables()
  assert "embeddings_project/kernel" not in plain.named_variables()
