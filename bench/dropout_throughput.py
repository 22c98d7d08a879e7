"""Dropout forward + backward: the project's `layers.Dropout` vs Keras' `Dropout`.

Times one `tf.function` step (dropout, a float32 sum, the gradient) on
ELECTRA-Small's two dropout shapes at batch 32, seq 128: the attention
probabilities [32, 4, 128, 128] and the hidden states [32, 128, 256], in
float32 and bfloat16, and prints the fraction of values each layer dropped
(rate 0.1; Keras' bfloat16 uniforms drop measurably more). Both layers run
side by side in one process, alternating, so the ratio is taken in one run.

Usage:
  python bench/dropout_throughput.py [--steps 50] [--rate 0.1]
"""

import argparse
import os
import sys

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, ROOT)

import tensorflow as tf  # noqa: E402
import tf_keras  # noqa: E402

from bench import machine, timing  # noqa: E402
from electra_tf import cli  # noqa: E402
from electra_tf.modeling.layers import Dropout  # noqa: E402

SHAPES = {"attention probs": [32, 4, 128, 128], "hidden states": [32, 128, 256]}


def make_step(layer, x: tf.Variable):
  @tf.function
  def step():
    with tf.GradientTape() as tape:
      y = layer(x, training=True)
      loss = tf.reduce_sum(tf.cast(y, tf.float32))
    return y, tape.gradient(loss, x)
  return step


def time_steps(step, steps: int) -> float:
  """Median milliseconds per step over `steps` calls (after 3 warm-up calls)."""
  times = timing.time_round_robin({"step": lambda: step()[1].numpy()}, steps, warmup=3)
  return timing.percentile_ms(times["step"], 50)


def main() -> int:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--steps", type=cli.positive_int, default=50)
  parser.add_argument("--rate", type=float, default=0.1)
  args = parser.parse_args()
  print(machine.cpu_header())
  print(f"TensorFlow {tf.__version__}, rate {args.rate}, median of {args.steps} steps\n")
  print(f"{'shape':34s} {'dtype':9s} {'keras ms':>9s} {'ours ms':>8s} {'speed-up':>9s}"
        f" {'keras dropped':>14s} {'ours dropped':>13s}")
  for name, shape in SHAPES.items():
    for dtype in (tf.float32, tf.bfloat16):
      x = tf.Variable(tf.cast(tf.random.stateless_uniform(shape, [1, 2], 0.5, 2.0), dtype))
      figures = {}
      for label, layer in (("keras", tf_keras.layers.Dropout(args.rate)),
                           ("ours", Dropout(args.rate))):
        step = make_step(layer, x)
        y, _ = step()
        figures[label] = (time_steps(step, args.steps),
                          float(tf.reduce_mean(tf.cast(y == 0, tf.float32))))
      (keras_ms, keras_drop), (ours_ms, ours_drop) = figures["keras"], figures["ours"]
      print(f"{name + ' ' + str(shape):34s} {dtype.name:9s} {keras_ms:9.2f} {ours_ms:8.2f}"
            f" {keras_ms / ours_ms:8.2f}x {keras_drop:14.4%} {ours_drop:13.4%}", flush=True)
  return 0


if __name__ == "__main__":
  sys.exit(main())
