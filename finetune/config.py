"""Fine-tuning configuration: the original's `FinetuningConfig` as a typed config.

`FinetuningConfig.create(model_name, data_dir, **hparams)` applies overrides in
the original's order (`configure_finetuning.py: FinetuningConfig.__init__`):

1. defaults, and the default paths (computed from `data_dir`, `model_name`
   and the `task_names` passed in, before anything is applied, as the
   original: so `debug` does not clear `init_checkpoint`);
2. `update(hparams)`;
3. single-task defaults: `rte`/`sts` train 10 epochs; a name containing
   "squad" or "qa" gets `max_seq_length` 512, 2 epochs and no test outputs;
   `chunk` gets `max_seq_length` 256; any other single task 3 epochs;
4. size defaults: `large` gets learning rate 5e-5 and layer-wise decay 0.9;
   `small` (and `tiny`, the project's CPU preset) get their embedding size;
5. debug overrides;
6. `update(hparams)` again, so explicit values beat steps 3-5.
"""

import dataclasses
import os
from typing import Any, Dict, List, Optional

from electra_tf import fileio
from electra_tf.config.hparams import ConfigError
from electra_tf.config.model import (MODEL_SIZES, SIZE_EMBEDDING_SIZES, EncoderSizeConfig,
                                     get_bert_config)
from electra_tf.config.runtime import RuntimeConfig

# Values of `tagging_tasks`.
TAGGING_LEVELS = ("span", "token")


@dataclasses.dataclass
class FinetuningConfig(EncoderSizeConfig, RuntimeConfig):
  """Every fine-tuning hparam of the original, with its name and default.

  The encoder-size fields come from `EncoderSizeConfig`, the TPU and device
  fields from `RuntimeConfig` (shared with pre-training). Fields after
  `preprocessed_data_dir` are electra-tf extensions (not in the original);
  their defaults reproduce the original's behaviour except
  `skip_malformed_lines` (see there). Task names are checked by
  `finetune.registry`, which knows the tasks; `validate()` never changes the
  config.
  """
  model_name: str = ""  #: set by --model-name
  data_dir: str = ""  #: set by --data-dir
  # general
  #: debug mode: the first rows of each file, one trial, no feature cache, examples logged
  debug: bool = False
  log_examples: bool = False  #: log the first featurised examples of each split
  num_trials: int = 1  #: independent trials (fresh fine-tunes); -1 runs until stopped
  do_train: bool = True  #: fine-tune (false: evaluate the trial directory or init_checkpoint)
  do_eval: bool = True  #: score the dev split(s) after training
  keep_all_models: bool = True  #: keep every trial's model (false: only the last one)
  # model (and the encoder-size fields of EncoderSizeConfig)
  #: tasks to fine-tune on together (one head each)
  task_names: List[str] = dataclasses.field(default_factory=lambda: ["chunk"])
  # training
  learning_rate: float = 1e-4  #: peak learning rate (after warm-up)
  weight_decay_rate: float = 0.01  #: AdamW weight decay
  layerwise_lr_decay: float = 0.8  #: learning-rate factor per layer below the top (0: off)
  num_train_epochs: float = 3.0  #: passes over the training data
  warmup_proportion: float = 0.1  #: fraction of the steps spent warming up linearly
  save_checkpoints_steps: int = 1000000  #: checkpoint every this many steps (and at the end)
  iterations_per_loop: int = 1000  #: steps per compiled loop
  use_tfrecords_if_existing: bool = True  #: reuse the feature cache when its key matches
  # writing model outputs to disk
  write_test_outputs: bool = False  #: write test-split predictions (GLUE submission files, ...)
  n_writes_test: int = 5  #: write test outputs for at most this many trials
  # sizing
  max_seq_length: int = 128  #: tokens per example (QA: per window)
  train_batch_size: int = 32  #: examples per training step
  eval_batch_size: int = 32  #: examples per evaluation batch
  predict_batch_size: int = 32  #: examples per test-prediction batch
  double_unordered: bool = True  #: train symmetric pair tasks (MRPC, STS-B) on both orders
  # question answering (for the span tasks)
  max_query_length: int = 64  #: QA: question pieces kept
  doc_stride: int = 128  #: QA: tokens between the starts of consecutive windows
  n_best_size: int = 20  #: QA: candidate starts and ends considered when decoding
  max_answer_length: int = 30  #: QA: longest answer in tokens
  answerable_classifier: bool = True  #: QA: predict answerability from [CLS] (SQuAD 2.0)
  #: QA: the answerability classifier also reads the start-weighted hidden state
  answerable_uses_start_logits: bool = True
  answerable_weight: float = 0.5  #: QA: weight of the answerability loss
  joint_prediction: bool = True  #: QA: predict the end conditioned on the start (beam over starts)
  beam_size: int = 20  #: QA: starts kept for the joint end prediction
  qa_na_threshold: float = -2.75  #: QA: null-odds threshold of the submission file (SQuAD 2.0)
  # paths (derived in create() unless given)
  vocab_file: Optional[str] = None  #: WordPiece vocab (null: <data_dir>/vocab.txt)
  #: initial weights: ours, original TF1 or Hugging Face (null: the run models/<model_name>)
  init_checkpoint: Optional[str] = None
  #: where trial models go (null: models/<model_name>/finetuning_models)
  model_dir: Optional[str] = None
  #: results table (null: models/<model_name>/results/<tasks>_results.txt)
  results_txt: Optional[str] = None
  results_pkl: Optional[str] = None  #: results pickle (null: beside results_txt)
  #: feature cache (null: models/<model_name>/finetuning_tfrecords/<tasks>_tfrecords)
  preprocessed_data_dir: Optional[str] = None
  # --- electra-tf extensions -------------------------------------------------
  #: seed of trial 1's initialisation, dropout and shuffling; trial t uses
  #: seed + t - 1 (null: drawn per trial, recorded in its finetune_config.json)
  seed: Optional[int] = None
  #: skip (and count) TSV rows with the wrong number of columns, as the
  #: original did; false: such a row is an error naming the file and line
  skip_malformed_lines: bool = False
  #: more tagging tasks without code, {name: "span" or "token"}: CoNLL files
  #: in finetuning_data/<name>/; span tasks scored by span F1, token tasks by accuracy
  tagging_tasks: Dict[str, str] = dataclasses.field(default_factory=dict)

  @classmethod
  def create(cls, model_name: str, data_dir: str, **hparams) -> "FinetuningConfig":
    """Builds a validated config, applying overrides in the original's order."""
    config = cls.resolve(model_name, data_dir, **hparams)
    config.validate()
    return config

  @classmethod
  def resolve(cls, model_name: str, data_dir: str, **hparams) -> "FinetuningConfig":
    """The original's order of application, without `validate()`."""
    config = cls(model_name=model_name, data_dir=data_dir)
    config._default_paths(hparams.get("task_names", config.task_names))
    config.update(hparams)
    if len(config.task_names) == 1:
      task_name = config.task_names[0]
      if task_name in ("rte", "sts"):
        config.num_train_epochs = 10.0
      elif "squad" in task_name or "qa" in task_name:
        config.max_seq_length = 512
        config.num_train_epochs = 2.0
        config.write_test_outputs = False
      elif task_name == "chunk":
        config.max_seq_length = 256
      else:
        config.num_train_epochs = 3.0
    if config.model_size == "large":
      config.learning_rate = 5e-5
      config.layerwise_lr_decay = 0.9
    elif config.model_size in SIZE_EMBEDDING_SIZES:
      config.embedding_size = SIZE_EMBEDDING_SIZES[config.model_size]
    if config.debug:
      config.save_checkpoints_steps = 1000000
      config.use_tfrecords_if_existing = False
      config.num_trials = 1
      config.iterations_per_loop = 1
      config.train_batch_size = 32
      config.num_train_epochs = 3.0
      config.log_examples = True
    config.update(hparams)
    return config

  @classmethod
  def from_dict(cls, values: Dict[str, Any]) -> "FinetuningConfig":
    """A config as saved (`to_dict`), validated, with no defaults re-applied."""
    config = cls()
    config.update(values)
    config.validate()
    return config

  def _default_paths(self, task_names: Any) -> None:
    """The original's default locations, from the task names passed in."""
    if not isinstance(task_names, (list, tuple)) or not all(
        isinstance(name, str) for name in task_names):
      raise ConfigError(f"task_names must be a list of task names, got {task_names!r}")
    pretrained_model_dir = self.pretrained_model_dir
    self.vocab_file = os.path.join(pretrained_model_dir, fileio.VOCAB_FILE)
    if not os.path.exists(self.vocab_file):
      self.vocab_file = os.path.join(self.data_dir, fileio.VOCAB_FILE)
    tasks = ",".join(task_names)
    self.init_checkpoint = pretrained_model_dir
    self.model_dir = os.path.join(pretrained_model_dir, "finetuning_models", tasks + "_model")
    results_dir = os.path.join(pretrained_model_dir, "results")
    self.results_txt = os.path.join(results_dir, tasks + "_results.txt")
    self.results_pkl = os.path.join(results_dir, tasks + "_results.pkl")
    # The original appends "-debug" in debug mode, but computes this before
    # applying `debug`, so it never does; the cache key covers debug instead.
    self.preprocessed_data_dir = os.path.join(pretrained_model_dir, "finetuning_tfrecords",
                                              tasks + "_tfrecords")

  # --- derived locations (functions in the original) -------------------------

  @property
  def pretrained_model_dir(self) -> str:
    return os.path.join(self.data_dir, "models", self.model_name)

  def raw_data_dir(self, task_name: str) -> str:
    """`<data_dir>/finetuning_data/<task>`: the task's TSV (or JSON) files."""
    return os.path.join(self.data_dir, "finetuning_data", task_name)

  def trial_model_dir(self, trial: int) -> str:
    """Where trial `trial` (1-based) keeps its checkpoint: `model_dir` + `_<trial>`."""
    return f"{self.model_dir}_{trial}"

  def test_predictions(self, task_name: str, split: str, trial: int) -> str:
    """The original's pickle of test-set outputs."""
    return os.path.join(self.pretrained_model_dir, "test_predictions",
                        f"{task_name}_{split}_{trial}_predictions.pkl")

  def submission_dir(self, trial: int) -> str:
    """GLUE-submission TSVs of a trial (not in the original)."""
    return os.path.join(self.pretrained_model_dir, "test_predictions",
                        f"{','.join(self.task_names)}_submission_{trial}")

  # --- checks ------------------------------------------------------------------

  def validate(self) -> None:
    """Raises ConfigError for values no run can use, naming the hparam."""
    if not self.model_name:
      raise ConfigError("model_name must be a non-empty string (--model-name)")
    if not self.task_names:
      raise ConfigError("task_names is empty; name at least one task, e.g. "
                        "'{\"task_names\": [\"rte\"]}'")
    if len(set(self.task_names)) != len(self.task_names):
      raise ConfigError(f"task_names lists a task twice: {self.task_names}")
    if self.model_size not in MODEL_SIZES:
      raise ConfigError(f"model_size {self.model_size!r} is not one of {sorted(MODEL_SIZES)}")
    if not (self.do_train or self.do_eval):
      raise ConfigError("do_train and do_eval are both false: nothing to do")
    if self.num_trials == 0:
      raise ConfigError("num_trials must be positive (or negative to repeat forever)")
    positive = ("max_seq_length", "train_batch_size", "eval_batch_size",
                "predict_batch_size", "iterations_per_loop", "save_checkpoints_steps",
                "vocab_size")
    for key in positive:
      if getattr(self, key) <= 0:
        raise ConfigError(f"{key} must be positive, got {getattr(self, key)}")
    if self.max_seq_length < 3:
      raise ConfigError(f"max_seq_length {self.max_seq_length} leaves no room for text "
                        "besides [CLS] and [SEP]; use at least 3")
    if self.do_train and self.num_train_epochs <= 0:
      raise ConfigError(f"num_train_epochs must be positive, got {self.num_train_epochs}")
    if not 0.0 <= self.warmup_proportion <= 1.0:
      raise ConfigError(f"warmup_proportion must be in [0, 1], got {self.warmup_proportion}")
    if self.learning_rate < 0 or self.weight_decay_rate < 0:
      raise ConfigError("learning_rate and weight_decay_rate must be >= 0")
    if self.layerwise_lr_decay < 0:
      raise ConfigError("layerwise_lr_decay must be >= 0 (0 turns it off)")
    bad_levels = {name: level for name, level in self.tagging_tasks.items()
                  if level not in TAGGING_LEVELS}
    if bad_levels:
      raise ConfigError(f"tagging_tasks {bad_levels}: each task's level must be one of "
                        f"{list(TAGGING_LEVELS)} (span-level IOB/BIOES tags, or one tag per word)")
    if self.embedding_size is not None and self.embedding_size <= 0:
      raise ConfigError(f"embedding_size must be positive, got {self.embedding_size}")
    bert_config = get_bert_config(self)
    bert_config.validate("encoder")
    if self.max_seq_length > bert_config.max_position_embeddings:
      raise ConfigError(f"max_seq_length {self.max_seq_length} exceeds "
                        f"max_position_embeddings {bert_config.max_position_embeddings}")
    self.validate_runtime()
