"""Devices: tf.distribute strategy, mixed-precision policy and XLA defaults.

One training loop serves every strategy; this module only decides which
strategy, and checks the batch can be split, before anything is built.
"""

import contextlib
import dataclasses
import json
import logging
import os
from typing import FrozenSet, Optional, Tuple

import tensorflow as tf
import tf_keras

from electra_tf.config.hparams import ConfigError
from electra_tf.config.runtime import RuntimeConfig

logger = logging.getLogger(__name__)


def create_strategy(config: RuntimeConfig) -> tf.distribute.Strategy:
  """The strategy named by `config.distribution_strategy` (or `use_tpu`).

  default: one device (the first GPU, else the CPU); mirrored: all local GPUs
  or `config.devices`; multi_worker_mirrored: the cluster in TF_CONFIG; tpu:
  the TPU named by `tpu_name` / `tpu_zone` / `gcp_project` (or the local TPU).

  Raises:
    ConfigError: a TPU was requested but none can be reached; `devices` names
      a device this machine does not have; mirrored without `devices` on a
      machine without GPUs.
  """
  kind = config.strategy_kind
  if kind == "default":
    device = "/gpu:0" if tf.config.list_logical_devices("GPU") else "/cpu:0"
    return tf.distribute.OneDeviceStrategy(device)
  if kind == "mirrored":
    check_devices(config.devices)
    return tf.distribute.MirroredStrategy(devices=config.devices)
  if kind == "multi_worker_mirrored":
    if "TF_CONFIG" not in os.environ:
      logger.warning("multi_worker_mirrored without TF_CONFIG runs as a single worker")
    return tf.distribute.MultiWorkerMirroredStrategy()
  return _create_tpu_strategy(config)


def check_devices(devices) -> None:
  """Raises ConfigError unless every device exists (a MirroredStrategy over a
  missing device waits for it forever); None means all local GPUs."""
  available = {(d.device_type, int(d.name.rsplit(":", 1)[1]))
               for d in tf.config.list_logical_devices()}
  have = ", ".join(sorted(f"/{kind.lower()}:{index}" for kind, index in available))
  if devices is None:
    if not any(kind == "GPU" for kind, _ in available):
      raise ConfigError(
          "distribution_strategy 'mirrored' without devices mirrors over all local GPUs, "
          f"but TensorFlow sees no GPU (devices: {have}); install a CUDA-enabled TensorFlow "
          "and check nvidia-smi, or pass devices, e.g. [\"/cpu:0\"]")
    return
  for name in devices:
    try:
      spec = tf.DeviceSpec.from_string(name)
    except ValueError as e:
      raise ConfigError(f"devices: {name!r} is not a device name such as \"/gpu:0\": {e}") from e
    kind, index = (spec.device_type or "").upper(), spec.device_index or 0
    if (kind, index) not in available:
      hint = (" TensorFlow sees no GPU: install a CUDA-enabled TensorFlow and check "
              "nvidia-smi." if kind == "GPU" and not tf.config.list_logical_devices("GPU")
              else "")
      raise ConfigError(f"devices names {name!r}, which this machine does not have "
                        f"(it has {have}).{hint}")


def _create_tpu_strategy(config) -> tf.distribute.TPUStrategy:
  try:
    resolver = tf.distribute.cluster_resolver.TPUClusterResolver(
        tpu=config.tpu_name or "", zone=config.tpu_zone, project=config.gcp_project,
        job_name=config.tpu_job_name or "worker")
    tf.config.experimental_connect_to_cluster(resolver)
    tf.tpu.experimental.initialize_tpu_system(resolver)
  except (ValueError, RuntimeError, tf.errors.OpError) as e:
    raise ConfigError(
        f"use_tpu / distribution_strategy 'tpu' was requested but no TPU could be "
        f"reached (tpu_name={config.tpu_name!r}, tpu_zone={config.tpu_zone!r}, "
        f"gcp_project={config.gcp_project!r}): {e}. On Colab select a TPU runtime; "
        "on GCP pass tpu_name (and tpu_zone, gcp_project); elsewhere use "
        "distribution_strategy 'default' or 'mirrored'.") from e
  strategy = tf.distribute.TPUStrategy(resolver)
  if config.num_tpu_cores > 1 and config.num_tpu_cores != strategy.num_replicas_in_sync:
    logger.warning("num_tpu_cores=%d but the TPU has %d cores; using all of them",
                   config.num_tpu_cores, strategy.num_replicas_in_sync)
  return strategy


def check_batch_sizes(config, num_replicas: int) -> None:
  """Raises ConfigError unless every batch splits evenly over the replicas."""
  micro_batch = config.train_batch_size // config.gradient_accumulation_steps
  if micro_batch % num_replicas:
    raise ConfigError(
        f"train_batch_size {config.train_batch_size} / gradient_accumulation_steps "
        f"{config.gradient_accumulation_steps} = {micro_batch} examples per micro-batch "
        f"cannot be split evenly over {num_replicas} replicas; use a multiple of "
        f"{num_replicas * config.gradient_accumulation_steps}")
  if config.eval_batch_size % num_replicas:
    raise ConfigError(f"eval_batch_size {config.eval_batch_size} cannot be split evenly "
                      f"over {num_replicas} replicas; use a multiple of {num_replicas}")


def use_jit_compile(config, strategy: tf.distribute.Strategy) -> bool:
  """XLA on GPU/TPU by default; off on CPU, where it measured slower here."""
  if config.jit_compile is not None:
    return config.jit_compile
  if isinstance(strategy, tf.distribute.TPUStrategy):
    return True
  return bool(tf.config.list_logical_devices("GPU"))


# What "auto" picks on a CPU with native bf16 dot products (AMX or
# AVX512-BF16): ELECTRA-Small's bf16 step measured 1.48-1.59x the float32 one on
# a 2-core AMX Xeon and 1.48x on a 2-core AVX512-BF16 EPYC without AMX, at
# equal losses over 1,000 steps (docs/figures.md).
CPU_BF16_POLICY = "mixed_bfloat16"
CPU_BF16_FLAGS = ("amx_bf16", "avx512_bf16")


@dataclasses.dataclass(frozen=True)
class DeviceFacts:
  """What `mixed_precision: "auto"` looks at: where the replicas run."""
  platform: str  #: "TPU", "GPU" or "CPU"
  #: the smallest (major, minor) CUDA compute capability of the GPUs; None if unknown
  gpu_compute_capability: Optional[Tuple[int, int]] = None
  cpu_flags: FrozenSet[str] = frozenset()  #: /proc/cpuinfo flags (CPU platform)


def device_facts(strategy: tf.distribute.Strategy) -> DeviceFacts:
  """The `DeviceFacts` of this machine's devices under `strategy`."""
  if isinstance(strategy, tf.distribute.TPUStrategy):
    return DeviceFacts("TPU")
  devices = strategy.extended.worker_devices
  if any("GPU" in tf.DeviceSpec.from_string(d).device_type.upper() for d in devices):
    capabilities = [tf.config.experimental.get_device_details(gpu).get("compute_capability")
                    for gpu in tf.config.list_physical_devices("GPU")]
    known = [c for c in capabilities if c]
    return DeviceFacts("GPU", gpu_compute_capability=min(known) if known else None)
  return DeviceFacts("CPU", cpu_flags=cpu_flags())


def cpu_flags(path: str = "/proc/cpuinfo") -> FrozenSet[str]:
  """The first processor's flags in /proc/cpuinfo (empty where there is none)."""
  try:
    with open(path, encoding="utf-8") as f:
      for line in f:
        if line.startswith("flags"):
          return frozenset(line.split(":", 1)[1].split())
  except OSError:
    pass
  return frozenset()


def auto_mixed_precision(facts: DeviceFacts) -> Tuple[str, str]:
  """The policy `mixed_precision: "auto"` picks, and why.

  TPU: mixed_bfloat16. GPU with compute capability >= 7.0 (tensor cores):
  mixed_float16, with dynamic loss scaling. CPU with native bf16 dot
  products (`amx_bf16` or `avx512_bf16`): `CPU_BF16_POLICY`; other CPUs
  (AVX2, AVX-512 without BF16): float32.
  Anything else: float32.

  Returns:
    (policy, reason), e.g. ("mixed_bfloat16", "TPU").
  """
  if facts.platform == "TPU":
    return "mixed_bfloat16", "TPU"
  if facts.platform == "GPU":
    capability = facts.gpu_compute_capability
    if capability is not None and tuple(capability) >= (7, 0):
      return "mixed_float16", f"GPU with compute capability {capability[0]}.{capability[1]}"
    return "float32", "GPU without tensor cores (compute capability < 7.0 or unknown)"
  native = next((flag for flag in CPU_BF16_FLAGS if flag in facts.cpu_flags), None)
  if native:
    return CPU_BF16_POLICY, f"CPU with native bf16 ({native})"
  return "float32", "CPU without native bf16 (neither amx_bf16 nor avx512_bf16)"


def resolve_mixed_precision(config: RuntimeConfig, strategy: tf.distribute.Strategy) -> str:
  """Replaces `config.mixed_precision` "auto" by the policy for `strategy`'s devices.

  Logs the choice on one line; an explicit policy is kept as it is. Returns the policy.
  """
  if config.mixed_precision == "auto":
    config.mixed_precision, reason = auto_mixed_precision(device_facts(strategy))
    logger.info("mixed_precision auto -> %s (%s)", config.mixed_precision, reason)
  return config.mixed_precision


@contextlib.contextmanager
def precision_policy(name: str):
  """Sets the global Keras dtype policy while models are built and run."""
  previous = tf_keras.mixed_precision.global_policy()
  tf_keras.mixed_precision.set_global_policy(name)
  try:
    yield
  finally:
    tf_keras.mixed_precision.set_global_policy(previous)


def is_chief(strategy: tf.distribute.Strategy) -> bool:
  """True on the worker that writes checkpoints, summaries and results."""
  resolver = getattr(strategy, "cluster_resolver", None)
  if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy) or resolver is None:
    return True
  task_type, task_id = resolver.task_type, resolver.task_id
  if task_type in (None, "chief"):
    return True
  cluster = json.loads(os.environ.get("TF_CONFIG", "{}")).get("cluster", {})
  return task_type == "worker" and task_id == 0 and "chief" not in cluster
