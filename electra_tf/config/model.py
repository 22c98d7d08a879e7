"""Transformer dimensions: the original's `BertConfig` and its size presets.

`get_bert_config` is the original's `util/training_utils.py:
get_bert_config`: a size preset (`small`, `base`, `large`, plus the project's
`tiny`), the vocab size, then `model_hparam_overrides`. The generator's
dimensions derive from these (`config.pretraining.get_generator_config`).
"""

import dataclasses
from typing import Any, Dict, Optional

from electra_tf.config.hparams import ConfigError, HParams, coerce_value

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

# The encoder's inputs, int [B, L] each: the original's pre-training TFRecord
# features and the `serve_ids` signature's inputs.
INPUT_FEATURES = ("input_ids", "input_mask", "segment_ids")


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
class EncoderSizeConfig(HParams):
  """The original's hparams that size the encoder, shared by pre-training and
  fine-tuning (`get_bert_config` reads them, with `debug`)."""
  # model settings
  model_size: str = "small"  #: small, base or large (the paper's dims); tiny for CPU tests
  #: BertConfig fields to override, e.g. {"hidden_size": 512, "num_hidden_layers": 6}
  model_hparam_overrides: Dict[str, Any] = dataclasses.field(default_factory=dict)
  embedding_size: Optional[int] = None  #: null = hidden size; small sets 128, tiny 64
  vocab_size: int = 30522  #: number of lines of the vocab file
  do_lower_case: bool = True  #: lower-case (and strip accents) before WordPiece

  def update(self, overrides) -> None:
    overrides = dict(overrides)
    if "model_hparam_overrides" in overrides:
      check_model_overrides(overrides["model_hparam_overrides"])
    super().update(overrides)


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
    config: a pre-training or fine-tuning config (needs `model_size`,
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


