"""Pre-training configuration: the original's `configure_pretraining.py`.

`PretrainingConfig.create(model_name, data_dir, **hparams)` applies overrides
in the original's order (`configure_pretraining.py: PretrainingConfig.__init__`):

1. defaults;  2. `update(hparams)`;  3. derive `max_predictions_per_seq`;
4. debug overrides;  5. per-size defaults (`small` and `tiny` set
`embedding_size`);  6. Electric forces `two_tower_generator`;
7. `update(hparams)` again, so explicit values beat steps 4-6.

`validate()` checks and never changes the config.
"""

import dataclasses
import os
from typing import Optional

from electra_tf import fileio
from electra_tf.config.hparams import ConfigError
from electra_tf.config.model import (MODEL_SIZES, SIZE_EMBEDDING_SIZES, EncoderSizeConfig,
                                     TransformerConfig, get_bert_config)
from electra_tf.config.runtime import RuntimeConfig


@dataclasses.dataclass
class PretrainingConfig(EncoderSizeConfig, RuntimeConfig):
  """Every pre-training hparam of the original, with its name and default.

  The encoder-size fields (`model_size`, `model_hparam_overrides`,
  `embedding_size`, `vocab_size`, `do_lower_case`) come from
  `EncoderSizeConfig` and the TPU and device fields from `RuntimeConfig`.
  Fields after `max_predictions_per_seq` are electra-tf extensions (not in the
  original); their defaults reproduce the original's behaviour.
  """
  # general
  model_name: str = ""  #: set by --model-name
  data_dir: str = ""  #: set by --data-dir
  debug: bool = False  #: debug mode: batch 8, 20 steps, a tiny model
  do_train: bool = True  #: pre-train the model
  do_eval: bool = False  #: evaluate the latest checkpoint instead
  # loss functions
  electra_objective: bool = True  #: ELECTRA's replaced-token detection (false: BERT's MLM)
  electric_objective: bool = False  #: Electric's cloze objective (two-tower generator)
  gen_weight: float = 1.0  #: weight of the generator's MLM loss
  disc_weight: float = 50.0  #: weight of the discriminator's loss
  mask_prob: float = 0.15  #: fraction of tokens masked
  # optimization
  learning_rate: float = 5e-4  #: peak learning rate (after warm-up)
  lr_decay_power: float = 1.0  #: polynomial decay power (1 = linear to zero)
  weight_decay_rate: float = 0.01  #: AdamW weight decay
  num_warmup_steps: int = 10000  #: linear warm-up steps
  # training
  iterations_per_loop: int = 200  #: steps per loop: one log line per loop
  save_checkpoints_steps: int = 1000  #: checkpoint every this many steps
  num_train_steps: int = 1000000  #: total training steps
  num_eval_steps: int = 100  #: eval batches per evaluation
  keep_checkpoint_max: Optional[int] = 5  #: checkpoints kept (null: all)
  # generator settings
  uniform_generator: bool = False  #: replace tokens uniformly at random (no generator)
  two_tower_generator: bool = False  #: two unidirectional towers (Electric)
  untied_generator_embeddings: bool = False  #: the generator has its own embeddings
  untied_generator: bool = True  #: a separate (smaller) generator transformer
  generator_layers: float = 1.0  #: generator depth as a fraction of the discriminator's
  generator_hidden_size: float = 0.25  #: generator width as a fraction of the discriminator's
  disallow_correct: bool = False  #: never sample the original token
  temperature: float = 1.0  #: sampling temperature of the generator
  # batch sizes
  max_seq_length: int = 128  #: tokens per example; must match the TFRecords
  train_batch_size: int = 128  #: global training batch size
  eval_batch_size: int = 128  #: global eval batch size
  # default locations of the data files (null = derived from data_dir and model_name)
  #: TFRecords glob(s), comma-separated; null = DATA_DIR/pretrain_tfrecords/pretrain_data.tfrecord*
  pretrain_tfrecords: Optional[str] = None
  vocab_file: Optional[str] = None  #: null = DATA_DIR/vocab.txt
  model_dir: Optional[str] = None  #: null = DATA_DIR/models/MODEL_NAME
  results_txt: Optional[str] = None  #: null = MODEL_DIR/results/unsup_results.txt
  results_pkl: Optional[str] = None  #: null = MODEL_DIR/results/unsup_results.pkl
  # derived, never user-set (see create())
  max_predictions_per_seq: int = 0  #: derived: int((mask_prob + 0.005) * max_seq_length)
  # --- electra-tf extensions -------------------------------------------------
  #: True reproduces the original: masked positions are drawn with replacement
  #: and a position drawn twice gets the floor-average of its sampled ids
  #: (issue #41). False draws positions without replacement (the maintainers'
  #: suggested fix).
  mask_positions_with_replacement: bool = True
  #: Split each step's batch into this many micro-batches whose gradients are
  #: summed before one update: train_batch_size stays the examples per update.
  gradient_accumulation_steps: int = 1
  #: Seed for masking, sampling and shuffling; null = drawn once and recorded
  #: in the saved config, so a resumed run replays the same randomness.
  seed: Optional[int] = None
  #: Warm-start weights (ours, the original's TF1 format or a Hugging Face
  #: directory) when model_dir has no checkpoint yet; optimizer slots start at
  #: zero (the original could not: its issues #25, #45, #97, #103).
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

  def _derive_paths(self) -> None:
    if self.pretrain_tfrecords is None:
      self.pretrain_tfrecords = os.path.join(
          self.data_dir, "pretrain_tfrecords", "pretrain_data.tfrecord*")
    if self.vocab_file is None:
      self.vocab_file = os.path.join(self.data_dir, fileio.VOCAB_FILE)
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
                "save_checkpoints_steps", "vocab_size")
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
    self.validate_runtime()
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
