"""Model and pre-training configuration, with the original's names and defaults.

`PretrainingConfig.create(model_name, data_dir, **hparams)` applies overrides
in the original's order (`original_electra.md` §2.1):

1. defaults;  2. `update(hparams)`;  3. derive `max_predictions_per_seq`;
4. debug overrides;  5. per-size defaults (`small` and `tiny` set
`embedding_size`);  6. Electric forces `two_tower_generator`;
7. `update(hparams)` again, so explicit values beat steps 4-6.

Transformer dimensions come from `get_bert_config` (the original's
`training_utils.get_bert_config`) and `get_generator_config`.
"""

import dataclasses
import os
from typing import Any, Dict, List, Optional

from electra_tf.hparams import ConfigError, HParams, coerce_value

# hidden size and depth per named size; heads and FFN width follow from the
# hidden size (heads = max(1, hidden // 64), FFN = 4 * hidden) as in the original.
MODEL_SIZES: Dict[str, Dict[str, int]] = {
    # Not in the original: a CPU-sized preset for tests and the demo.
    "tiny": {"hidden_size": 128, "num_hidden_layers": 2},
    "small": {"hidden_size": 256, "num_hidden_layers": 12},
    "base": {"hidden_size": 768, "num_hidden_layers": 12},
    "large": {"hidden_size": 1024, "num_hidden_layers": 24},
}

# The original only sets embedding_size for small (128); tiny mirrors that
# so the embeddings_project path is exercised by the tests.
SIZE_EMBEDDING_SIZES: Dict[str, int] = {"small": 128, "tiny": 64}

# The original's debug model (run_pretraining.PretrainingModel and
# run_finetuning.FinetuningModel).
DEBUG_MODEL = {"num_hidden_layers": 3, "hidden_size": 144,
               "intermediate_size": 144 * 4, "num_attention_heads": 4}

SUPPORTED_ACTIVATIONS = ("gelu", "relu", "tanh", "linear")
DISTRIBUTION_STRATEGIES = ("default", "mirrored", "multi_worker_mirrored", "tpu")
MIXED_PRECISION_POLICIES = ("float32", "mixed_bfloat16", "mixed_float16")


@dataclasses.dataclass
class TransformerConfig(HParams):
  """One transformer's dimensions: the original's `BertConfig` fields.

  `embedding_size` is not a BertConfig field in the original (it is passed to
  `BertModel` separately); here it travels with the config. None = hidden size.
  """
  vocab_size: int = 30522
  hidden_size: int = 256
  num_hidden_layers: int = 12
  num_attention_heads: int = 4
  intermediate_size: int = 1024
  hidden_act: str = "gelu"
  hidden_dropout_prob: float = 0.1
  attention_probs_dropout_prob: float = 0.1
  max_position_embeddings: int = 512
  type_vocab_size: int = 2
  initializer_range: float = 0.02
  embedding_size: Optional[int] = None

  @property
  def embedding_width(self) -> int:
    return self.hidden_size if self.embedding_size is None else self.embedding_size

  def validate(self, what: str = "model") -> None:
    """Raises ConfigError on sizes that cannot build a transformer."""
    for key in ("vocab_size", "hidden_size", "num_hidden_layers",
                "num_attention_heads", "intermediate_size",
                "max_position_embeddings", "type_vocab_size"):
      value = getattr(self, key)
      if value <= 0:
        raise ConfigError(f"{what}: {key} must be positive, got {value}")
    if self.embedding_size is not None and self.embedding_size <= 0:
      raise ConfigError(f"{what}: embedding_size must be positive, got "
                        f"{self.embedding_size}")
    if self.hidden_size % self.num_attention_heads:
      raise ConfigError(
          f"{what}: hidden_size {self.hidden_size} is not divisible by "
          f"num_attention_heads {self.num_attention_heads}; choose sizes whose "
          "ratio (the head size) is an integer, e.g. via model_hparam_overrides")
    for key in ("hidden_dropout_prob", "attention_probs_dropout_prob"):
      value = getattr(self, key)
      if not 0.0 <= value < 1.0:
        raise ConfigError(f"{what}: {key} must be in [0, 1), got {value}")
    if self.initializer_range <= 0:
      raise ConfigError(f"{what}: initializer_range must be positive")
    if self.hidden_act not in SUPPORTED_ACTIVATIONS:
      raise ConfigError(f"{what}: hidden_act {self.hidden_act!r} is not one of "
                        f"{SUPPORTED_ACTIVATIONS}")


@dataclasses.dataclass
class PretrainingConfig(HParams):
  """Every pre-training hparam of the original, with its name and default.

  Fields after `results_pkl` are electra-tf extensions (not in the original);
  their defaults reproduce the original's behaviour.
  """
  model_name: str = ""
  data_dir: str = ""
  debug: bool = False
  do_train: bool = True
  do_eval: bool = False
  # loss functions
  electra_objective: bool = True
  electric_objective: bool = False
  gen_weight: float = 1.0
  disc_weight: float = 50.0
  mask_prob: float = 0.15
  # optimization
  learning_rate: float = 5e-4
  lr_decay_power: float = 1.0
  weight_decay_rate: float = 0.01
  num_warmup_steps: int = 10000
  # training
  iterations_per_loop: int = 200
  save_checkpoints_steps: int = 1000
  num_train_steps: int = 1000000
  num_eval_steps: int = 100
  keep_checkpoint_max: Optional[int] = 5
  # model
  model_size: str = "small"
  model_hparam_overrides: Dict[str, Any] = dataclasses.field(default_factory=dict)
  embedding_size: Optional[int] = None
  vocab_size: int = 30522
  do_lower_case: bool = True
  # generator
  uniform_generator: bool = False
  two_tower_generator: bool = False
  untied_generator_embeddings: bool = False
  untied_generator: bool = True
  generator_layers: float = 1.0
  generator_hidden_size: float = 0.25
  disallow_correct: bool = False
  temperature: float = 1.0
  # sizes
  max_seq_length: int = 128
  train_batch_size: int = 128
  eval_batch_size: int = 128
  # TPU
  use_tpu: bool = False
  num_tpu_cores: int = 1
  tpu_job_name: Optional[str] = None
  tpu_name: Optional[str] = None
  tpu_zone: Optional[str] = None
  gcp_project: Optional[str] = None
  # paths (None = derived from data_dir and model_name)
  pretrain_tfrecords: Optional[str] = None
  vocab_file: Optional[str] = None
  model_dir: Optional[str] = None
  results_txt: Optional[str] = None
  results_pkl: Optional[str] = None
  # derived, never user-set (see create())
  max_predictions_per_seq: int = 0
  # --- electra-tf extensions -------------------------------------------------
  # True reproduces the original: masked positions are drawn with replacement
  # and a position drawn twice gets the floor-average of its sampled ids
  # (issue #41). False draws positions without replacement (the maintainers'
  # suggested fix).
  mask_positions_with_replacement: bool = True
  # Distribution: "default" (one device), "mirrored" (local GPUs, or
  # `devices`), "multi_worker_mirrored" (machines from TF_CONFIG) or "tpu"
  # (implied by use_tpu, with tpu_name/tpu_zone/gcp_project).
  distribution_strategy: str = "default"
  devices: Optional[List[str]] = None
  # "float32", "mixed_bfloat16" (TPU, CPU) or "mixed_float16" (GPU, dynamic
  # loss scaling); losses are always computed in float32.
  mixed_precision: str = "float32"
  # XLA-compile the forward/backward pass; None = on for GPU/TPU, off on CPU.
  jit_compile: Optional[bool] = None
  # Split each step's batch into this many micro-batches whose gradients are
  # summed before one update: train_batch_size stays the examples per update.
  gradient_accumulation_steps: int = 1
  # Seed for masking, sampling and shuffling; None = drawn once and recorded
  # in the saved config, so a resumed run replays the same randomness.
  seed: Optional[int] = None
  # Warm-start weights (ours or original TF1 format) when model_dir has no
  # checkpoint yet; optimizer slots start at zero (original issues #25, #103).
  init_checkpoint: Optional[str] = None

  DERIVED = ("max_predictions_per_seq",)

  @classmethod
  def create(cls, model_name: str, data_dir: str, **hparams) -> "PretrainingConfig":
    """Builds a validated config, applying overrides in the original's order."""
    for key in cls.DERIVED:
      if key in hparams:
        raise ConfigError(
            f"Unknown hparam {key!r}: as in the original it is derived as "
            "int((mask_prob + 0.005) * max_seq_length); set mask_prob or "
            "max_seq_length instead")
    config = cls(model_name=model_name, data_dir=data_dir)
    config.update(hparams)
    config.max_predictions_per_seq = int(
        (config.mask_prob + 0.005) * config.max_seq_length)
    if config.debug:
      config.train_batch_size = 8
      config.num_train_steps = 20
      config.eval_batch_size = 4
      config.iterations_per_loop = 1
      config.num_eval_steps = 2
    if config.model_size in SIZE_EMBEDDING_SIZES:
      config.embedding_size = SIZE_EMBEDDING_SIZES[config.model_size]
    if config.electric_objective:
      config.two_tower_generator = True
    config.update(hparams)
    config._derive_paths()
    config.validate()
    return config

  def update(self, overrides) -> None:
    overrides = dict(overrides)
    if "model_hparam_overrides" in overrides:
      check_model_overrides(overrides["model_hparam_overrides"])
    super().update(overrides)

  def _derive_paths(self) -> None:
    if self.pretrain_tfrecords is None:
      self.pretrain_tfrecords = os.path.join(
          self.data_dir, "pretrain_tfrecords", "pretrain_data.tfrecord*")
    if self.vocab_file is None:
      self.vocab_file = os.path.join(self.data_dir, "vocab.txt")
    if self.model_dir is None:
      self.model_dir = os.path.join(self.data_dir, "models", self.model_name)
    results_dir = os.path.join(self.model_dir, "results")
    if self.results_txt is None:
      self.results_txt = os.path.join(results_dir, "unsup_results.txt")
    if self.results_pkl is None:
      self.results_pkl = os.path.join(results_dir, "unsup_results.pkl")

  def validate(self) -> None:
    """Raises ConfigError for values no model or run can use."""
    if not self.model_name:
      raise ConfigError("model_name must be a non-empty string (--model-name)")
    if self.do_train == self.do_eval:
      raise ConfigError("Exactly one of `do_train` or `do_eval` must be True.")
    if self.model_size not in MODEL_SIZES:
      raise ConfigError(f"model_size {self.model_size!r} is not one of "
                        f"{sorted(MODEL_SIZES)}")
    if not 0.0 < self.mask_prob < 1.0:
      raise ConfigError(f"mask_prob must be in (0, 1), got {self.mask_prob}")
    if self.max_predictions_per_seq < 1:
      raise ConfigError(
          f"max_predictions_per_seq = int((mask_prob + 0.005) * max_seq_length)"
          f" = {self.max_predictions_per_seq}; raise mask_prob or max_seq_length")
    positive = ("max_seq_length", "train_batch_size", "eval_batch_size",
                "num_train_steps", "num_eval_steps", "iterations_per_loop",
                "save_checkpoints_steps", "vocab_size", "num_tpu_cores")
    for key in positive:
      if getattr(self, key) <= 0:
        raise ConfigError(f"{key} must be positive, got {getattr(self, key)}")
    for key in ("num_warmup_steps",):
      if getattr(self, key) < 0:
        raise ConfigError(f"{key} must be >= 0, got {getattr(self, key)}")
    if self.keep_checkpoint_max is not None and self.keep_checkpoint_max < 0:
      raise ConfigError("keep_checkpoint_max must be >= 0 (0 or null keeps all)")
    if self.embedding_size is not None and self.embedding_size <= 0:
      raise ConfigError(f"embedding_size must be positive, got {self.embedding_size}")
    if self.temperature <= 0:
      raise ConfigError(f"temperature must be positive, got {self.temperature}")
    if self.gen_weight < 0 or self.disc_weight < 0:
      raise ConfigError("gen_weight and disc_weight must be >= 0")
    if self.learning_rate < 0 or self.weight_decay_rate < 0:
      raise ConfigError("learning_rate and weight_decay_rate must be >= 0")
    if self.generator_hidden_size <= 0 or self.generator_layers <= 0:
      raise ConfigError("generator_hidden_size and generator_layers are "
                        "fractions of the discriminator's and must be > 0")
    bert_config = get_bert_config(self)
    bert_config.validate("discriminator")
    if self.max_seq_length > bert_config.max_position_embeddings:
      raise ConfigError(
          f"max_seq_length {self.max_seq_length} exceeds max_position_embeddings "
          f"{bert_config.max_position_embeddings}")
    if self.builds_small_generator:
      get_generator_config(self, bert_config).validate("generator")
    if self.use_tpu:
      self.distribution_strategy = "tpu"
    if self.distribution_strategy not in DISTRIBUTION_STRATEGIES:
      raise ConfigError(f"distribution_strategy {self.distribution_strategy!r} is not one "
                        f"of {DISTRIBUTION_STRATEGIES}")
    if self.mixed_precision not in MIXED_PRECISION_POLICIES:
      raise ConfigError(f"mixed_precision {self.mixed_precision!r} is not one of "
                        f"{MIXED_PRECISION_POLICIES}")
    if self.gradient_accumulation_steps < 1:
      raise ConfigError("gradient_accumulation_steps must be >= 1")
    if self.train_batch_size % self.gradient_accumulation_steps:
      raise ConfigError(f"train_batch_size {self.train_batch_size} is not divisible by "
                        f"gradient_accumulation_steps {self.gradient_accumulation_steps}")

  @property
  def uses_discriminator(self) -> bool:
    return self.electra_objective or self.electric_objective

  @property
  def builds_small_generator(self) -> bool:
    """True when the generator is its own (usually smaller) transformer."""
    return (not self.uniform_generator and self.uses_discriminator
            and self.untied_generator)


def check_model_overrides(overrides: Any) -> None:
  """Raises ConfigError unless `overrides` are valid TransformerConfig fields."""
  if not isinstance(overrides, dict):
    raise ConfigError("model_hparam_overrides must be a JSON object of "
                      "BertConfig fields")
  types = TransformerConfig().field_types()
  for key, value in overrides.items():
    if key not in types or key == "embedding_size":
      valid = ", ".join(sorted(k for k in types if k != "embedding_size"))
      raise ConfigError(f"Unknown model_hparam_overrides key {key!r}. "
                        f"Valid keys: {valid}")
    coerce_value(f"model_hparam_overrides.{key}", value, types[key])


def get_bert_config(config) -> TransformerConfig:
  """The discriminator's (and fine-tuning encoder's) dimensions.

  Mirrors `training_utils.get_bert_config`: size table, vocab size, overrides,
  then heads = max(1, hidden // 64) and FFN = 4 * hidden, then overrides again.
  Debug mode swaps in the original's debug model dims.

  Args:
    config: a PretrainingConfig or FinetuningConfig (needs `model_size`,
      `vocab_size`, `model_hparam_overrides`, `embedding_size`, `debug`).
  """
  if config.model_size not in MODEL_SIZES:
    raise ConfigError(f"model_size {config.model_size!r} is not one of "
                      f"{sorted(MODEL_SIZES)}")
  args = dict(MODEL_SIZES[config.model_size])
  args["vocab_size"] = config.vocab_size
  args.update(config.model_hparam_overrides)
  args["num_attention_heads"] = max(1, args["hidden_size"] // 64)
  args["intermediate_size"] = 4 * args["hidden_size"]
  args.update(config.model_hparam_overrides)
  if getattr(config, "debug", False):
    # Both of the original's models shrink in debug mode (PretrainingModel and
    # run_finetuning.FinetuningModel).
    args.update(DEBUG_MODEL)
  args["embedding_size"] = config.embedding_size
  bert_config = TransformerConfig()
  bert_config.update(args)
  return bert_config


def get_generator_config(config: PretrainingConfig,
                         bert_config: TransformerConfig) -> TransformerConfig:
  """The generator's dimensions (`run_pretraining.get_generator_config`).

  hidden and depth are the discriminator's scaled by `generator_hidden_size`
  and `generator_layers`; FFN = 4 * hidden and heads = max(1, hidden // 64),
  ignoring `model_hparam_overrides` as the original does. With tied
  embeddings the generator reads the discriminator's embedding table, so its
  embedding width is the discriminator's; untied, it is its own hidden size.
  """
  gen = dataclasses.replace(bert_config)
  gen.hidden_size = int(round(bert_config.hidden_size * config.generator_hidden_size))
  gen.num_hidden_layers = int(round(
      bert_config.num_hidden_layers * config.generator_layers))
  gen.intermediate_size = 4 * gen.hidden_size
  gen.num_attention_heads = max(1, gen.hidden_size // 64)
  gen.embedding_size = (None if config.untied_generator_embeddings
                        else bert_config.embedding_width)
  return gen
