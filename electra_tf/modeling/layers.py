"""Transformer building blocks with the original's math and variable layout.

Each layer reports its variables under the original TF1 names relative to its
own scope (`named_variables()`); models add the prefixes. Kernels keep the
original shapes ([in, out]; attention Q/K/V are [H, H]), so converting a
checkpoint never reshapes.

Why our own blocks instead of Model Garden's `TransformerEncoderBlock`: its
attention kernels are [H, heads, head_size] einsum kernels and its embeddings
cannot have width != hidden; the original shares embeddings between generator
and discriminator with a per-network projection. `tests/electra_tf/modeling/test_layers.py`
proves `TransformerLayer` equal to Model Garden's block on the same weights.
"""

import math
from typing import Dict, Optional

import tensorflow as tf
import tf_keras

from electra_tf.config.model import TransformerConfig
from electra_tf.modeling.counter_hash import counter_bits

LAYER_NORM_EPSILON = 1e-12  # tf.contrib.layers.layer_norm's hard-coded value
ATTENTION_MASK_VALUE = -10000.0  # the original's additive mask


def truncated_normal(stddev: float):
  """The original's `create_initializer`: truncated at 2 stddev."""
  return tf_keras.initializers.TruncatedNormal(stddev=stddev)


def gelu(x):
  """Exact GELU, 0.5 x (1 + erf(x / sqrt(2))), as `modeling.gelu`.

  Computed in float32 whatever x's dtype: under mixed_bfloat16 the bfloat16
  erf is both less exact and slower on CPU than the float32 one plus two casts
  (profiled: its Erfc was 3x the float32 op's time).
  """
  return tf.cast(tf.nn.gelu(tf.cast(x, tf.float32), approximate=False), x.dtype)


_SQRT_HALF = 0.5 ** 0.5
_INV_SQRT_2PI = (2.0 * math.pi) ** -0.5


@tf.function(jit_compile=True)
def _gelu_forward(x):
  x32 = tf.cast(x, tf.float32)
  return tf.cast(0.5 * x32 * (1.0 + tf.math.erf(x32 * _SQRT_HALF)), x.dtype)


@tf.function(jit_compile=True)
def _gelu_backward(x, upstream):
  """upstream * GELU'(x), GELU'(x) = Phi(x) + x phi(x), in float32."""
  x32 = tf.cast(x, tf.float32)
  cdf = 0.5 * (1.0 + tf.math.erf(x32 * _SQRT_HALF))
  pdf = tf.exp(-0.5 * x32 * x32) * _INV_SQRT_2PI
  return tf.cast(tf.cast(upstream, tf.float32) * (cdf + x32 * pdf), x.dtype)


@tf.custom_gradient
def fused_gelu(x):
  """`gelu` as one XLA-fused pass each way, for training steps only.

  The unfused forward and its autodiff backward are about ten elementwise ops,
  casts included, over the [B, L, 4H] FFN activations; fused, a
  forward + backward on ELECTRA-Small's [32, 128, 1024] took 4.2 ms instead
  of 13.7 ms in bfloat16 and 4.8 ms instead of 12.3 ms in float32 (2-core Xeon
  with AMX). Inference keeps `gelu`: a SavedModel holding XLA-compiled
  functions is refused by TF Serving unless it runs with
  `--xla_cpu_compilation_enabled`.
  """
  return _gelu_forward(x), lambda upstream: _gelu_backward(x, upstream)


def get_activation(name: str):
  """Maps the original's `hidden_act` strings to functions (None = linear)."""
  return {"gelu": gelu, "relu": tf.nn.relu, "tanh": tf.tanh, "linear": None}[name]


def get_training_activation(name: str):
  """The same function as `get_activation(name)`, fused for training where it pays."""
  return fused_gelu if name == "gelu" else get_activation(name)


def _normalise(z):
  """float32 [..., D] -> ((z - mean) / sqrt(var + eps), mean, 1 / sqrt(var + eps)), stats [..., 1]."""
  mean = tf.reduce_mean(z, axis=-1, keepdims=True)
  centered = z - mean
  inverse_std = tf.math.rsqrt(tf.reduce_mean(tf.square(centered), axis=-1, keepdims=True)
                              + LAYER_NORM_EPSILON)
  return centered * inverse_std, mean, inverse_std


def _sum_in_float32(x, residual):
  z = tf.cast(x, tf.float32)
  return z if residual is None else z + tf.cast(residual, tf.float32)


@tf.function(jit_compile=True)
def _layer_norm_forward(x, residual, gamma, beta):
  normalised, mean, inverse_std = _normalise(_sum_in_float32(x, residual))
  return tf.cast(normalised * gamma + beta, x.dtype), mean, inverse_std


@tf.function(jit_compile=True)
def _layer_norm_backward(x, residual, mean, inverse_std, gamma, upstream):
  """(d x (= d residual), d gamma, d beta) of y = LN(x + residual), all in float32."""
  normalised = (_sum_in_float32(x, residual) - mean) * inverse_std
  upstream = tf.cast(upstream, tf.float32)
  scaled = upstream * gamma
  d_sum = inverse_std * (scaled - tf.reduce_mean(scaled, axis=-1, keepdims=True)
                         - normalised * tf.reduce_mean(scaled * normalised, axis=-1,
                                                       keepdims=True))
  batch_axes = list(range(len(x.shape) - 1))
  return (tf.cast(d_sum, x.dtype), tf.reduce_sum(upstream * normalised, axis=batch_axes),
          tf.reduce_sum(upstream, axis=batch_axes))


def fused_add_layer_norm(x, residual, gamma, beta):
  """LN(x + residual) * gamma + beta over the last axis, one XLA pass each way.

  For training steps only (see `LayerNorm`). The sum and the statistics are
  float32 whatever x's dtype, as Keras' LayerNormalization under mixed
  precision; the backward pass recomputes the normalised values from x and
  residual and the saved [..., 1] mean and inverse std instead of storing them.

  Args:
    x: float [..., D]; residual: None or the same shape (any float dtype).
    gamma, beta: float32 [D].

  Returns:
    [..., D] in x's dtype.
  """
  if residual is None:
    @tf.custom_gradient
    def normalise_only(x, gamma, beta):
      y, mean, inverse_std = _layer_norm_forward(x, None, gamma, beta)
      def grad(upstream):
        return _layer_norm_backward(x, None, mean, inverse_std, gamma, upstream)
      return y, grad
    return normalise_only(x, gamma, beta)

  @tf.custom_gradient
  def add_and_normalise(x, residual, gamma, beta):
    y, mean, inverse_std = _layer_norm_forward(x, residual, gamma, beta)
    def grad(upstream):
      d_x, d_gamma, d_beta = _layer_norm_backward(x, residual, mean, inverse_std, gamma,
                                                  upstream)
      return d_x, tf.cast(d_x, residual.dtype), d_gamma, d_beta
    return y, grad
  return add_and_normalise(x, residual, gamma, beta)


class LayerNorm(tf_keras.layers.LayerNormalization):
  """The original's layer norm (`tf.contrib.layers.layer_norm`: last axis, eps
  1e-12, float32 gamma and beta), optionally of a sum: `layer(x, residual)` =
  LN(x + residual).

  Training steps run `fused_add_layer_norm`: Keras' non-fused path (its fused
  one needs eps >= 1.001e-5) is about a dozen ops each way plus casts under
  mixed precision; ELECTRA-Small's dropout + residual + LayerNorm blocks,
  forward and backward at [32, 128, 256], took 8.4 ms with it instead of
  9.7-10.3 ms in bfloat16 and 8.0-8.5 ms instead of 8.6-9.0 ms in float32
  (2-core Xeon with AMX). Inference runs the same float32 math as plain ops,
  so SavedModels hold no XLA functions (TF Serving refuses them without
  --xla_cpu_compilation_enabled). Unlike a bfloat16 `x + residual` before
  Keras' layer, the sum is float32 in both, so training and inference agree
  under mixed precision too.
  """

  def __init__(self, name: str = "LayerNorm", **kwargs):
    super().__init__(axis=-1, epsilon=LAYER_NORM_EPSILON, name=name, **kwargs)

  def call(self, inputs, residual=None, training=None):
    """inputs [..., D] (and residual of the same shape) -> [..., D] in the compute dtype."""
    inputs = tf.cast(inputs, self.compute_dtype)
    if training:
      return fused_add_layer_norm(inputs, residual, self.gamma, self.beta)
    normalised, _, _ = _normalise(_sum_in_float32(inputs, residual))
    return tf.cast(normalised * self.gamma + self.beta, inputs.dtype)


def layer_norm(name: str = "LayerNorm") -> LayerNorm:
  return LayerNorm(name=name)


@tf.function(jit_compile=True)
def _apply_dropout_mask(x, key1, key2, threshold, scale):
  """x * (scale where counter_bits(i, key) >= threshold, else 0), in one fused pass.

  The product is taken in float32 and rounded once to x's dtype, so kept values
  are x * float32(1 / keep_prob) rounded once, even for bfloat16 x.
  """
  index = tf.bitcast(tf.range(tf.size(x, out_type=tf.int32)), tf.uint32)
  keep = counter_bits(index, key1, key2) >= threshold
  mask = tf.reshape(tf.where(keep, scale, 0.0), tf.shape(x))
  return tf.cast(tf.cast(x, tf.float32) * mask, x.dtype)


class Dropout(tf_keras.layers.Layer):
  """Inverted dropout with `tf.nn.dropout`'s distribution and cheap random bits.

  Each element is kept with probability 1 - rate (to within 2^-32) and kept
  values are scaled by 1 / (1 - rate), as the original's `tf.nn.dropout`. The
  bits come from `counter_bits` keyed by two random words drawn per call (a
  stateful op, so `tf.random.set_seed` makes runs repeatable, as with Keras'
  `Dropout`); the mask is applied with one fused XLA multiply, and the
  backward pass recomputes it from the key instead of storing it.

  Why not Keras' `Dropout`: under mixed_bfloat16 it draws bfloat16 uniforms,
  slow on CPU and coarse (it drops 10.15% of values at rate 0.1, not 10%), and
  applies the mask with two multiplies each way. A forward + backward step on
  ELECTRA-Small's attention probabilities ([32, 4, 128, 128]) took 10.3 ms with
  Keras' layer and 4.6 ms with this one in bfloat16, 6.4 ms and 4.4 ms in
  float32, on a 2-core Xeon with AMX (`bench/dropout_throughput.py`).
  """

  def __init__(self, rate: float, **kwargs):
    # No autocast: the output keeps the input's dtype whatever the layer's policy.
    super().__init__(autocast=False, **kwargs)
    if not 0.0 <= rate < 1.0:
      raise ValueError(f"dropout rate must be in [0, 1), got {rate}")
    self.rate = rate

  def call(self, x, training=None):
    """x of any shape and float dtype -> the same shape and dtype."""
    if not training or self.rate == 0.0:
      return x
    threshold = tf.constant(min(round(self.rate * 2 ** 32), 2 ** 32 - 1), tf.uint32)
    scale = tf.constant(1.0 / (1.0 - self.rate), tf.float32)
    key = tf.bitcast(tf.random.uniform([2], minval=-2 ** 31, maxval=2 ** 31 - 1,
                                       dtype=tf.int32), tf.uint32)

    @tf.custom_gradient
    def dropout(x):
      def grad(upstream):
        return _apply_dropout_mask(upstream, key[0], key[1], threshold, scale)
      return _apply_dropout_mask(x, key[0], key[1], threshold, scale), grad

    return dropout(x)

  def get_config(self):
    return {**super().get_config(), "rate": self.rate}


def dense_names(prefix: str, layer: tf_keras.layers.Dense) -> Dict[str, tf.Variable]:
  return {f"{prefix}/kernel": layer.kernel, f"{prefix}/bias": layer.bias}


def layer_norm_names(prefix: str, layer) -> Dict[str, tf.Variable]:
  return {f"{prefix}/gamma": layer.gamma, f"{prefix}/beta": layer.beta}


class Embeddings(tf_keras.layers.Layer):
  """Word + token-type + position embeddings, LayerNorm, dropout.

  Scope `electra/embeddings` in the original. One instance is shared by the
  generator and the discriminator unless `untied_generator_embeddings`.
  """

  def __init__(self, config: TransformerConfig, **kwargs):
    super().__init__(**kwargs)
    self.config = config
    self.width = config.embedding_width
    self.layer_norm = layer_norm()
    self.dropout = Dropout(config.hidden_dropout_prob)

  def build(self, input_shape):
    def table(name, rows):
      # A fresh initializer per table: a reused unseeded Keras initializer
      # returns the same values for every call.
      return self.add_weight(name, [rows, self.width],
                             initializer=truncated_normal(self.config.initializer_range))
    self.word_embeddings = table("word_embeddings", self.config.vocab_size)
    self.token_type_embeddings = table("token_type_embeddings", self.config.type_vocab_size)
    self.position_embeddings = table("position_embeddings",
                                     self.config.max_position_embeddings)
    super().build(input_shape)

  def call(self, input_ids, segment_ids, training=None):
    """[B, L] int ids and segment ids -> [B, L, E]."""
    seq_length = input_ids.shape[1]
    if seq_length is None:  # traced with a dynamic length, e.g. for serving
      seq_length = tf.shape(input_ids)[1]
    elif seq_length > self.config.max_position_embeddings:
      raise ValueError(f"sequence length {seq_length} exceeds max_position_embeddings "
                       f"{self.config.max_position_embeddings}")
    x = tf.gather(self.word_embeddings, input_ids)
    x += tf.gather(self.token_type_embeddings, segment_ids)
    x += self.position_embeddings[tf.newaxis, :seq_length, :]
    return self.dropout(self.layer_norm(x, training=training), training=training)

  def named_variables(self) -> Dict[str, tf.Variable]:
    return {"word_embeddings": self.word_embeddings,
            "token_type_embeddings": self.token_type_embeddings,
            "position_embeddings": self.position_embeddings,
            **layer_norm_names("LayerNorm", self.layer_norm)}


class TransformerLayer(tf_keras.layers.Layer):
  """One post-LayerNorm BERT layer (`encoder/layer_N`).

  self-attention (Q, K, V [H, H]; softmax(QK^T / sqrt(d) + mask); dropout on
  the probabilities) -> dense, dropout, residual, LayerNorm -> FFN (gelu) ->
  dense, dropout, residual, LayerNorm.
  """

  def __init__(self, config: TransformerConfig, **kwargs):
    super().__init__(**kwargs)
    self.num_heads = config.num_attention_heads
    self.head_size = config.hidden_size // config.num_attention_heads
    hidden = config.hidden_size

    def dense(units, name, activation=None):
      return tf_keras.layers.Dense(
          units, activation=activation, name=name,
          kernel_initializer=truncated_normal(config.initializer_range))

    self.query = dense(hidden, "query")
    self.key = dense(hidden, "key")
    self.value = dense(hidden, "value")
    self.attention_output = dense(hidden, "attention_output")
    self.attention_layer_norm = layer_norm("attention_LayerNorm")
    self.intermediate = dense(config.intermediate_size, "intermediate")
    self.activation = get_activation(config.hidden_act)
    self.training_activation = get_training_activation(config.hidden_act)
    self.output_dense = dense(hidden, "output")
    self.output_layer_norm = layer_norm("output_LayerNorm")
    self.attention_dropout = Dropout(config.attention_probs_dropout_prob)
    self.hidden_dropout = Dropout(config.hidden_dropout_prob)

  def call(self, hidden, attention_bias, training=None):
    """hidden [B, L, H], attention_bias [B, 1, 1 or L, L] additive -> [B, L, H]."""
    batch_size, seq_length, width = hidden.shape
    if batch_size is None:
      batch_size = tf.shape(hidden)[0]
    if seq_length is None:
      seq_length = tf.shape(hidden)[1]
    # The dense layers run on [B*L, H] rows: a rank-2 input makes Keras' Dense a
    # MatMul + BiasAdd pair, which oneDNN fuses into one kernel; a rank-3 input
    # goes through Tensordot's reshapes, which keep the bias add a separate pass.
    hidden = tf.reshape(hidden, [-1, width])

    def split_heads(x):
      """[B*L, H] -> [B, heads, L, head_size]."""
      x = tf.reshape(x, [batch_size, seq_length, self.num_heads, self.head_size])
      return tf.transpose(x, [0, 2, 1, 3])

    # Scaling Q instead of the scores is exact for power-of-4 head sizes
    # (1/sqrt(64) = 1/8) and touches L*d instead of L*L values.
    query = split_heads(self.query(hidden)) * (self.head_size ** -0.5)
    key = split_heads(self.key(hidden))
    value = split_heads(self.value(hidden))
    scores = tf.matmul(query, key, transpose_b=True)
    scores += tf.cast(attention_bias, scores.dtype)
    probs = self.attention_dropout(tf.nn.softmax(scores), training=training)
    context = tf.transpose(tf.matmul(probs, value), [0, 2, 1, 3])
    context = tf.reshape(context, tf.shape(hidden))
    attention = self.hidden_dropout(self.attention_output(context), training=training)
    attention = self.attention_layer_norm(attention, hidden, training=training)
    activation = self.training_activation if training else self.activation
    intermediate = self.intermediate(attention)
    if activation is not None:
      intermediate = activation(intermediate)
    ffn = self.hidden_dropout(self.output_dense(intermediate), training=training)
    output = self.output_layer_norm(ffn, attention, training=training)
    return tf.reshape(output, [batch_size, seq_length, width])

  def named_variables(self) -> Dict[str, tf.Variable]:
    return {
        **dense_names("attention/self/query", self.query),
        **dense_names("attention/self/key", self.key),
        **dense_names("attention/self/value", self.value),
        **dense_names("attention/output/dense", self.attention_output),
        **layer_norm_names("attention/output/LayerNorm", self.attention_layer_norm),
        **dense_names("intermediate/dense", self.intermediate),
        **dense_names("output/dense", self.output_dense),
        **layer_norm_names("output/LayerNorm", self.output_layer_norm),
    }


def attention_bias(input_mask: tf.Tensor, direction: Optional[str] = None) -> tf.Tensor:
  """Additive attention mask: -10000 where attending is not allowed.

  Only key ("to") positions with input_mask 0 are masked (queries from padding
  are not), as `create_attention_mask_from_input_mask`. Electric's towers add
  a causal mask: "ltr" lets position i see j <= i, "rtl" j >= i.

  Args:
    input_mask: int [B, L].
    direction: None, "ltr" or "rtl".

  Returns:
    float32 [B, 1, 1, L] without a direction, [B, 1, L, L] with one.
  """
  allowed = tf.cast(input_mask, tf.float32)[:, tf.newaxis, tf.newaxis, :]
  if direction is not None:
    seq_length = input_mask.shape[1]
    ones = tf.ones([seq_length, seq_length])
    causal = (tf.linalg.band_part(ones, -1, 0) if direction == "ltr"
              else tf.linalg.band_part(ones, 0, -1))
    allowed = allowed * causal
  return (1.0 - allowed) * ATTENTION_MASK_VALUE
