"""Where and how a run executes: one config shared by pre-training and fine-tuning.

The TPU fields are the original's (`configure_pretraining.py`,
`configure_finetuning.py`); the rest are electra-tf extensions whose defaults
reproduce the original (one device), except `mixed_precision`, "auto" by
default (the original always ran float32; set "float32" for its numerics).
`training.distribution` turns them into a `tf.distribute` strategy, a Keras dtype policy and the XLA choice.
"""

import dataclasses
import os
from typing import List, Optional

from electra_tf.config.hparams import ConfigError, HParams

DISTRIBUTION_STRATEGIES = ("default", "mirrored", "multi_worker_mirrored", "tpu")
MIXED_PRECISION_POLICIES = ("auto", "float32", "mixed_bfloat16", "mixed_float16")


def draw_seed() -> int:
  """A fresh seed for a run given none: 31 random bits (an int32 and a JSON number)."""
  return int.from_bytes(os.urandom(4), "little") >> 1


@dataclasses.dataclass
class RuntimeConfig(HParams):
  """Devices, precision and compilation of a run."""
  # TPU settings
  use_tpu: bool = False  #: train on a TPU (TPUStrategy)
  num_tpu_cores: int = 1  #: TPU cores (8 for a v3-8)
  tpu_job_name: Optional[str] = None  #: TPU worker job name (usually null)
  tpu_name: Optional[str] = None  #: the Cloud TPU to use
  tpu_zone: Optional[str] = None  #: GCE zone of the TPU (null: detected)
  gcp_project: Optional[str] = None  #: GCP project of the TPU (null: detected)
  # --- electra-tf extensions: devices ----------------------------------------
  #: "default" (one device), "mirrored" (local GPUs, or `devices`),
  #: "multi_worker_mirrored" (machines from TF_CONFIG) or "tpu" (also implied by
  #: use_tpu, with tpu_name/tpu_zone/gcp_project).
  distribution_strategy: str = "default"
  devices: Optional[List[str]] = None  #: devices for "mirrored", e.g. ["/gpu:0", "/gpu:1"]
  #: "auto" (TPU: mixed_bfloat16, GPU with compute capability >= 7.0:
  #: mixed_float16, CPU with amx_bf16 or avx512_bf16: mixed_bfloat16, else
  #: float32; resolved once per run, logged and saved),
  #: "float32" (the original's numerics), "mixed_bfloat16" (TPU, CPU) or
  #: "mixed_float16" (GPU, dynamic loss scaling); losses are always float32.
  mixed_precision: str = "auto"
  #: XLA-compile the forward/backward pass; null = on for GPU/TPU, off on CPU
  #: (where XLA measured slower: ELECTRA-Small fp32 12.7 vs 16.4 seq/s on an
  #: AMX Xeon, 12.1 vs 14.6 on an AVX512-BF16 EPYC).
  jit_compile: Optional[bool] = None

  @property
  def strategy_kind(self) -> str:
    """The strategy to create: "tpu" when `use_tpu`, else `distribution_strategy`."""
    return "tpu" if self.use_tpu else self.distribution_strategy

  def validate_runtime(self) -> None:
    """Raises ConfigError for runtime settings no run can use."""
    if self.distribution_strategy not in DISTRIBUTION_STRATEGIES:
      raise ConfigError(f"distribution_strategy {self.distribution_strategy!r} is not one "
                        f"of {DISTRIBUTION_STRATEGIES}")
    if self.use_tpu and self.distribution_strategy not in ("default", "tpu"):
      raise ConfigError(f"use_tpu runs on a TPU, but distribution_strategy is "
                        f"{self.distribution_strategy!r}; drop one of them")
    if self.mixed_precision not in MIXED_PRECISION_POLICIES:
      raise ConfigError(f"mixed_precision {self.mixed_precision!r} is not one of "
                        f"{MIXED_PRECISION_POLICIES}")
    if self.num_tpu_cores <= 0:
      raise ConfigError(f"num_tpu_cores must be positive, got {self.num_tpu_cores}")
