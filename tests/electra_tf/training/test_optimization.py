"""Optimizer and schedules against the original's formulas (`model/optimization.py`)."""

import numpy as np
import pytest
import tensorflow as tf

from electra_tf.training.optimization import (AdamWeightDecay, WarmupPolynomialDecay,
                                              clip_by_global_norm, layerwise_lr_multipliers,
                                              uses_weight_decay)


def original_lr(step, base=5e-4, total=1000, warmup=100, power=1.0):
  """tf.train.polynomial_decay(end 0) * min(1, step / warmup)."""
  return base * (1 - min(step, total) / total) ** power * min(1.0, step / warmup)


@pytest.mark.parametrize("step", [0, 1, 50, 100, 101, 500, 999, 1000, 1200])
def test_schedule_matches_the_original_formula(step):
  schedule = WarmupPolynomialDecay(5e-4, num_train_steps=1000, warmup_steps=100)
  np.testing.assert_allclose(float(schedule(step)), original_lr(step), rtol=5e-5, atol=1e-12)  # float32 math


def test_schedule_landmarks():
  schedule = WarmupPolynomialDecay(1e-3, num_train_steps=1000, warmup_steps=100, power=2.0)
  assert float(schedule(0)) == 0.0                    # lr(0) = 0
  np.testing.assert_allclose(float(schedule(100)), 1e-3 * 0.9 ** 2, rtol=1e-6)  # end of warm-up
  assert float(schedule(1000)) == 0.0                 # end of training
  assert float(WarmupPolynomialDecay(1e-3, 1000, 0)(0)) == pytest.approx(1e-3)  # no NaN


def test_weight_decay_exclusions():
  assert uses_weight_decay("electra/encoder/layer_0/attention/self/query/kernel")
  assert uses_weight_decay("electra/embeddings/word_embeddings")
  assert not uses_weight_decay("electra/encoder/layer_0/output/LayerNorm/gamma")
  assert not uses_weight_decay("electra/encoder/layer_0/output/dense/bias")
  assert not uses_weight_decay("generator_predictions/output_bias")


def numpy_adamw(params, grads_per_step, names, lrs, wd=0.01, b1=0.9, b2=0.999, eps=1e-6):
  """The original AdamWeightDecayOptimizer._apply_gradients, in numpy."""
  params = {k: v.copy() for k, v in params.items()}
  m = {k: np.zeros_like(v) for k, v in params.items()}
  v = {k: np.zeros_like(x) for k, x in params.items()}
  for grads, lr in zip(grads_per_step, lrs):
    for k in names:
      m[k] = b1 * m[k] + (1 - b1) * grads[k]
      v[k] = b2 * v[k] + (1 - b2) * grads[k] ** 2
      update = m[k] / (np.sqrt(v[k]) + eps)
      if uses_weight_decay(k):
        update += wd * params[k]
      params[k] = params[k] - lr * update
  return params


def test_adamw_known_answer_three_steps():
  rng = np.random.default_rng(0)
  init = {"layer/dense/kernel": rng.normal(size=[3, 2]).astype(np.float32),
          "layer/dense/bias": rng.normal(size=[2]).astype(np.float32),
          "layer/LayerNorm/gamma": rng.normal(size=[2]).astype(np.float32)}
  variables = {k: tf.Variable(v) for k, v in init.items()}
  schedule = WarmupPolynomialDecay(1e-2, num_train_steps=10, warmup_steps=2)
  optimizer = AdamWeightDecay(schedule, variables, weight_decay_rate=0.01)
  grads_per_step = [{k: rng.normal(size=v.shape).astype(np.float32) for k, v in init.items()}
                    for _ in range(3)]
  for grads in grads_per_step:
    optimizer.apply_gradients([(tf.constant(grads[k]), variables[k]) for k in init])
  lrs = [original_lr(t, base=1e-2, total=10, warmup=2) for t in range(3)]  # 0, 0.0045, 0.008
  expected = numpy_adamw(init, grads_per_step, list(init), lrs)
  for k in init:
    np.testing.assert_allclose(variables[k].numpy(), expected[k], rtol=1e-5, atol=1e-7)
  assert int(optimizer.iterations) == 3
  # No bias correction: step 1's update is m/(sqrt(v)+eps) = 0.1 g / (0.0316 |g| + eps),
  # about 3.16 * sign(g) times lr, not Adam's bias-corrected sign(g).
  assert not np.allclose(variables["layer/dense/bias"].numpy(), init["layer/dense/bias"])


def test_adamw_layerwise_multipliers_scale_the_step():
  variables = {"electra/encoder/layer_0/dense/kernel": tf.Variable([1.0]),
               "task_specific/dense/kernel": tf.Variable([1.0])}
  multipliers = {"electra/encoder/layer_0/dense/kernel": 0.5, "task_specific/dense/kernel": 1.0}
  optimizer = AdamWeightDecay(0.1, variables, weight_decay_rate=0.0, lr_multipliers=multipliers)
  optimizer.apply_gradients([(tf.constant([1.0]), v) for v in variables.values()])
  step = 0.1 * (0.1 / (np.sqrt(0.001) + 1e-6))  # lr * m / (sqrt(v) + eps) after one step
  np.testing.assert_allclose(variables["task_specific/dense/kernel"].numpy(), [1.0 - step], rtol=1e-6)
  np.testing.assert_allclose(variables["electra/encoder/layer_0/dense/kernel"].numpy(),
                             [1.0 - 0.5 * step], rtol=1e-6)


def test_clip_by_global_norm_at_one():
  clipped, norm = clip_by_global_norm([tf.constant([3.0, 0.0]), tf.constant([4.0])])
  assert float(norm) == 5.0
  np.testing.assert_allclose(clipped[0], [0.6, 0.0])
  np.testing.assert_allclose(clipped[1], [0.8])


def layer_names(num_layers):
  names = ["electra/embeddings/word_embeddings", "electra/embeddings_project/kernel",
           "task_specific/rte/dense/kernel"]
  names += [f"electra/encoder/layer_{i}/output/dense/kernel" for i in range(num_layers)]
  return names


@pytest.mark.parametrize("num_layers,decay", [(12, 0.8), (24, 0.9)])
def test_layerwise_multipliers_follow_the_original_depth_rule(num_layers, decay):
  multipliers = layerwise_lr_multipliers(layer_names(num_layers), num_layers, decay)
  assert multipliers["electra/embeddings/word_embeddings"] == pytest.approx(decay ** (num_layers + 2))
  assert multipliers["electra/embeddings_project/kernel"] == pytest.approx(decay ** (num_layers + 2))
  for i in range(num_layers):
    assert multipliers[f"electra/encoder/layer_{i}/output/dense/kernel"] == pytest.approx(
        decay ** (num_layers + 1 - i))
  # The original's off-by-one: the top layer gets decay^2, the head 1.
  assert multipliers[f"electra/encoder/layer_{num_layers - 1}/output/dense/kernel"] == pytest.approx(
      decay ** 2)
  assert multipliers["task_specific/rte/dense/kernel"] == 1.0


def test_layerwise_table_values_from_the_spec():
  small = layerwise_lr_multipliers(layer_names(12), 12, 0.8)
  assert round(small["electra/embeddings/word_embeddings"], 4) == 0.0440
  assert round(small["electra/encoder/layer_0/output/dense/kernel"], 4) == 0.0550
  large = layerwise_lr_multipliers(layer_names(24), 24, 0.9)
  assert round(large["electra/embeddings/word_embeddings"], 4) == 0.0646
  assert round(large["electra/encoder/layer_0/output/dense/kernel"], 4) == 0.0718


def test_layerwise_unknown_variable_raises():
  with pytest.raises(ValueError, match="No learning rate specified for variable pooler/dense"):
    layerwise_lr_multipliers(["pooler/dense/kernel"], 12, 0.8)
