"""The original's optimizer (`model/optimization.py`: `create_optimizer`,
`AdamWeightDecayOptimizer`, `_get_layer_lrs`).

- `WarmupPolynomialDecay`: lr(t) = lr * (1 - min(t, T) / T)^p * min(1, t / W),
  so lr(0) = 0 and the decay starts at step 0, not after warm-up.
- `AdamWeightDecay`: Adam without bias correction, eps 1e-6, with the decay
  term added to the update before it is scaled by the learning rate; no decay
  for variables whose original name matches `LayerNorm`, `layer_norm` or `bias`.
  Optional per-variable learning-rate multipliers implement layer-wise decay.
- `layerwise_lr_multipliers`: the original's depth rule for fine-tuning,
  including its off-by-one (the top layer gets decay^2; issue #51).

This is the project's only optimizer: pre-training and fine-tuning both use it.
Gradient clipping (global norm 1.0) happens in the training step, after the
cross-replica sum, so it clips the same gradient the original clips.
"""

import re
from typing import Dict, Mapping, Optional, Sequence

import tensorflow as tf
import tf_keras

WEIGHT_DECAY_EXCLUDE = ("LayerNorm", "layer_norm", "bias")
CLIP_NORM = 1.0


class WarmupPolynomialDecay(tf_keras.optimizers.schedules.LearningRateSchedule):
  """Polynomial decay to 0 over `num_train_steps`, times a linear warm-up factor."""

  def __init__(self, learning_rate: float, num_train_steps: int, warmup_steps: float,
               power: float = 1.0):
    super().__init__()
    self.learning_rate = learning_rate
    self.num_train_steps = num_train_steps
    self.warmup_steps = warmup_steps
    self.power = power

  def __call__(self, step):
    step = tf.cast(step, tf.float32)
    progress = tf.minimum(step, self.num_train_steps) / self.num_train_steps
    decayed = self.learning_rate * (1.0 - progress) ** self.power
    if self.warmup_steps <= 0:
      # The original divides by zero here (NaN at step 0); no warm-up means 1.
      return decayed
    return decayed * tf.minimum(1.0, step / self.warmup_steps)

  def get_config(self):
    return {"learning_rate": self.learning_rate, "num_train_steps": self.num_train_steps,
            "warmup_steps": self.warmup_steps, "power": self.power}


def uses_weight_decay(name: str) -> bool:
  return not any(re.search(pattern, name) for pattern in WEIGHT_DECAY_EXCLUDE)


def layerwise_lr_multipliers(names: Sequence[str], num_layers: int,
                             decay: float) -> Dict[str, float]:
  """Learning-rate multiplier per variable, as `_get_layer_lrs`.

  depth: `/embeddings/` and `/embeddings_project/` 0; `encoder/layer_i/` i + 1;
  `task_specific/` num_layers + 2; multiplier = decay^(num_layers + 2 - depth).

  Args:
    names: original variable names (e.g. `electra/encoder/layer_3/...`).
    num_layers: transformer depth.
    decay: `layerwise_lr_decay`.

  Raises:
    ValueError: a name matches no key (as the original).
  """
  key_depths = {"/embeddings/": 0, "/embeddings_project/": 0, "task_specific/": num_layers + 2}
  key_depths.update({f"encoder/layer_{i}/": i + 1 for i in range(num_layers)})
  multipliers = {}
  for name in names:
    depths = [depth for key, depth in key_depths.items() if key in name]
    if not depths:
      raise ValueError(f"No learning rate specified for variable {name}: layer-wise "
                       "decay only knows embeddings, encoder layers and task_specific/")
    # Every matching key applies an update in the original; none overlap in practice.
    if len(depths) > 1:
      raise ValueError(f"variable {name} matches several layer-wise LR keys")
    multipliers[name] = decay ** (num_layers + 2 - depths[0])
  return multipliers


class AdamWeightDecay(tf_keras.optimizers.Optimizer):
  """`AdamWeightDecayOptimizer`: Adam without bias correction plus L2 decay.

  For each variable with gradient g (after clipping):
    m <- b1 m + (1 - b1) g;  v <- b2 v + (1 - b2) g^2
    u = m / (sqrt(v) + eps) [+ weight_decay_rate * param unless excluded]
    param <- param - lr(t) * multiplier * u
  """

  def __init__(self, learning_rate, variable_names: Mapping[str, tf.Variable],
               weight_decay_rate: float = 0.01, beta_1: float = 0.9,
               beta_2: float = 0.999, epsilon: float = 1e-6,
               lr_multipliers: Optional[Mapping[str, float]] = None,
               name: str = "AdamWeightDecay", **kwargs):
    """
    Args:
      learning_rate: float or schedule of the step count.
      variable_names: {original name: variable} for every variable to train;
        names drive weight-decay exclusion and layer-wise multipliers.
      weight_decay_rate: L2 decay added to the update.
      lr_multipliers: optional {original name: multiplier} for every variable.
    """
    super().__init__(name=name, jit_compile=False, **kwargs)
    self._learning_rate = self._build_learning_rate(learning_rate)
    self.weight_decay_rate = weight_decay_rate
    self.beta_1, self.beta_2, self.epsilon = beta_1, beta_2, epsilon
    self._names = {self._var_key(v): name for name, v in variable_names.items()}
    self._multipliers = dict(lr_multipliers or {})
    missing = set(self._multipliers) and set(variable_names) - set(self._multipliers)
    if missing:
      raise ValueError(f"lr_multipliers lacks {sorted(missing)[:5]}")

  def build(self, var_list):
    super().build(var_list)
    if getattr(self, "_built", False):
      return
    self._built = True
    self._m, self._v = [], []
    for var in var_list:
      if self._var_key(var) not in self._names:
        raise ValueError(f"variable {var.name} has no original name; pass it in "
                         "variable_names")
      self._m.append(self.add_variable_from_reference(var, "adam_m"))
      self._v.append(self.add_variable_from_reference(var, "adam_v"))

  def update_step(self, gradient, variable):
    index = self._index_dict[self._var_key(variable)]
    m, v = self._m[index], self._v[index]
    name = self._names[self._var_key(variable)]
    lr = tf.cast(self.learning_rate, variable.dtype) * self._multipliers.get(name, 1.0)
    if isinstance(gradient, tf.IndexedSlices):
      gradient = tf.convert_to_tensor(gradient)
    next_m = self.beta_1 * m + (1.0 - self.beta_1) * gradient
    next_v = self.beta_2 * v + (1.0 - self.beta_2) * tf.square(gradient)
    update = next_m / (tf.sqrt(next_v) + self.epsilon)
    if self.weight_decay_rate > 0 and uses_weight_decay(name):
      update += self.weight_decay_rate * variable
    m.assign(next_m)
    v.assign(next_v)
    variable.assign_sub(lr * update)

  def get_config(self):
    config = super().get_config()
    config.update(weight_decay_rate=self.weight_decay_rate, beta_1=self.beta_1,
                  beta_2=self.beta_2, epsilon=self.epsilon)
    return config


def clip_by_global_norm(grads):
  """The original's `tf.clip_by_global_norm(grads, clip_norm=1.0)`.

  Returns:
    (clipped gradients, global norm before clipping).
  """
  return tf.clip_by_global_norm(grads, CLIP_NORM)
