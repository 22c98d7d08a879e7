"""The fine-tuning model (shared encoder + one head per task) and its checkpoints.

`FinetuningModel` is the original's `run_finetuning.py: FinetuningModel` as a `tf_keras.Model`: the encoder under `electra/`, each task's head
under `task_specific/<task>/`. Called with {"input_ids", "input_mask",
"segment_ids"} (int [B, L]) it returns {task name: {output: tensor}}:

| task kind      | outputs                                                    |
|----------------|------------------------------------------------------------|
| classification | `logits` [B, C], `probabilities` [B, C], `predictions` [B] int32 |
| regression     | `predictions` [B] (normalised scale), `score` [B] (task scale)   |
| span (QA)      | `start_logits`, `end_logits` [B, L], `answerable_logit` [B], the beam's `start_top_*` [B, K], `end_top_*` [B, K, K] (`finetune.qa.head`) |

A fine-tuned trial directory (`<model_dir>_<trial>`) holds:

- the checkpoint: `tf.train.Checkpoint(model=FinetuningModel)` files
  (`ckpt-<step>.*` and the `checkpoint` state file);
- `finetune_config.json`: the resolved `FinetuningConfig` (sizes, tasks);
- `vocab.txt`: the vocabulary the model was trained with.

`load_finetuned_model(model_dir)` rebuilds and restores all of it, e.g. for
serving (`finetune.serving.task_exportables`):

    finetuned = load_finetuned_model(".../finetuning_models/sst_model_1")
    features = finetuned.tasks[0].encode(["a great movie"])
    outputs = finetuned.model(features, training=False)["sst"]
"""

import dataclasses
import logging
import os
from typing import Dict, List, Sequence

import tensorflow as tf
import tf_keras

from electra_tf import fileio
from electra_tf.checkpoints import conversion, huggingface, original
from electra_tf.checkpoints.original import CheckpointError, LoadReport
from electra_tf.config.model import TransformerConfig, get_bert_config
from electra_tf.modeling.networks import ElectraNetwork
from electra_tf.text.tokenization import FullTokenizer
from finetune import registry
from finetune.config import FinetuningConfig
from finetune.task import Task

logger = logging.getLogger(__name__)

TASK_SCOPE = "task_specific"


class FinetuningModel(tf_keras.Model):
  """A shared ELECTRA encoder with one head per task."""

  def __init__(self, bert_config: TransformerConfig, tasks: Sequence[Task], **kwargs):
    """
    Args:
      bert_config: the encoder's dimensions (`get_bert_config(config)`).
      tasks: the tasks, in `task_names` order.
    """
    super().__init__(name="finetuning_model", **kwargs)
    self.bert_config = bert_config
    self.task_names = [task.name for task in tasks]
    self.backbone = ElectraNetwork(bert_config, scope="electra", head=None)
    self.heads = {task.name: task.build_head(bert_config) for task in tasks}

  def call(self, inputs, training=None):
    """{"input_ids", "input_mask", "segment_ids"} int [B, L] (other keys, e.g.
    labels, are passed to the heads) -> {task name: {output name: tensor}}."""
    sequence_output = self.backbone(inputs, training=training)["sequence_output"]
    return {name: self.heads[name](sequence_output, inputs, training=training)
            for name in self.task_names}

  def build_variables(self, seq_length: int = 8) -> None:
    """Creates all variables by running one small forward pass."""
    ids = tf.zeros([1, seq_length], tf.int32)
    self({"input_ids": ids, "input_mask": tf.ones_like(ids), "segment_ids": ids},
         training=False)

  def named_variables(self) -> Dict[str, tf.Variable]:
    """Every variable under its original TF1 name: `electra/...` for the
    encoder, `task_specific/<task>/...` for the heads."""
    names = self.backbone.named_variables()
    for task_name in self.task_names:
      names.update({f"{TASK_SCOPE}/{task_name}/{k}": v
                    for k, v in self.heads[task_name].named_variables().items()})
    return names


def build_model(config: FinetuningConfig, tasks: Sequence[Task]) -> FinetuningModel:
  """A FinetuningModel for `config` with its variables built."""
  model = FinetuningModel(get_bert_config(config), tasks)
  model.build_variables()
  return model


# --- initial weights -------------------------------------------------------------

def is_finetuned_dir(path: str) -> bool:
  """True for a fine-tuning trial directory (or a checkpoint prefix inside one)."""
  directory = path if tf.io.gfile.isdir(path) else os.path.dirname(path)
  return tf.io.gfile.exists(os.path.join(directory, fileio.FINETUNE_CONFIG_FILE))


def check_init_checkpoint(path: str) -> None:
  """Raises CheckpointError unless `path` holds a checkpoint we can read.

  Cheap (no weights are read): for checks before any heavy work.
  """
  if not tf.io.gfile.exists(path) and not tf.io.gfile.exists(path + ".index"):
    raise CheckpointError(
        f"init_checkpoint {path!r} does not exist. Pre-train a model into it "
        "(run_pretraining.py with the same --data-dir and --model-name), point the "
        "hparam init_checkpoint at a checkpoint (ours, the original's TF1 format, or a "
        "Hugging Face directory), or set \"init_checkpoint\": null to fine-tune from "
        "random weights")
  if tf.io.gfile.exists(os.path.join(path, huggingface.CONFIG_FILE)):
    fileio.read_json_object(os.path.join(path, huggingface.CONFIG_FILE), CheckpointError)
    return
  try:
    original.resolve_checkpoint(path)
  except CheckpointError as e:
    raise CheckpointError(f"init_checkpoint: {e}. Pre-train first, point init_checkpoint "
                          "at a checkpoint, or set \"init_checkpoint\": null to fine-tune "
                          "from random weights") from e


def load_init_checkpoint(model: FinetuningModel, path: str) -> LoadReport:
  """Loads whatever of `model` a checkpoint holds, by original name.

  Sources: a fine-tuned trial directory (encoder and the heads of tasks with
  the same name, e.g. to evaluate it or to continue from MNLI to RTE), or any
  format of `conversion.load_weights`: our pre-training runs,
  `convert_checkpoint.py` outputs, the original's TF1 checkpoints (released
  or fine-tuned) and Hugging Face directories.

  Returns:
    The LoadReport; heads absent from a pre-trained checkpoint are `missing`.

  Raises:
    CheckpointError: nothing loadable, or shapes that do not fit (nothing
      is loaded then).
  """
  variables = model.named_variables()
  if is_finetuned_dir(path):
    source = load_finetuned_model(path if tf.io.gfile.isdir(path) else os.path.dirname(path))
    arrays = {name: v.numpy() for name, v in source.model.named_variables().items()}
    return original.assign_named_weights(
        variables, {name: a.shape for name, a in arrays.items()}, arrays.__getitem__,
        source=source.checkpoint)
  return conversion.load_weights(variables, path)


# --- fine-tuned model directories -----------------------------------------------

def save_model_files(model_dir: str, config: FinetuningConfig,
                     tasks: Sequence[Task] = ()) -> None:
  """Writes `finetune_config.json`, a copy of the vocabulary and each task's
  own files (`Task.save_to_model_dir`, e.g. a tagging label mapping) into model_dir."""
  tf.io.gfile.makedirs(model_dir)
  config.write_json(os.path.join(model_dir, fileio.FINETUNE_CONFIG_FILE))
  with tf.io.gfile.GFile(config.vocab_file, "rb") as f:
    fileio.atomic_write(os.path.join(model_dir, fileio.VOCAB_FILE), f.read())
  for task in tasks:
    task.save_to_model_dir(model_dir)


@dataclasses.dataclass
class FinetunedModel:
  """A restored fine-tuned model with what is needed to feed it.

  Attributes:
    model: the FinetuningModel, weights restored.
    config: its FinetuningConfig (paths are those of the training run).
    tasks: its tasks, in `task_names` order, with a tokenizer: `encode(texts_a,
      texts_b)` turns raw text into model inputs; `kind` and `label_list`
      describe the outputs.
    tokenizer: the FullTokenizer of the model's vocabulary.
    vocab_file: that vocabulary (the trial directory's copy when present).
    checkpoint: the restored checkpoint prefix.
  """
  model: FinetuningModel
  config: FinetuningConfig
  tasks: List[Task]
  tokenizer: FullTokenizer
  vocab_file: str
  checkpoint: str


def load_finetuned_model(model_dir: str) -> FinetunedModel:
  """Rebuilds a fine-tuned model from its trial directory and restores it.

  Raises:
    CheckpointError: no `finetune_config.json` or checkpoint in model_dir, or
      a checkpoint that does not match the config.
  """
  config_path = os.path.join(model_dir, fileio.FINETUNE_CONFIG_FILE)
  if not tf.io.gfile.exists(config_path):
    raise CheckpointError(f"{model_dir!r} is not a fine-tuned model directory: it has no "
                          f"{fileio.FINETUNE_CONFIG_FILE}")
  config = FinetuningConfig.from_dict(fileio.read_json_object(config_path, CheckpointError))
  vocab_file = os.path.join(model_dir, fileio.VOCAB_FILE)
  if not tf.io.gfile.exists(vocab_file):
    vocab_file = config.vocab_file
  tokenizer = FullTokenizer(vocab_file, config.do_lower_case)
  tasks = registry.get_tasks(config, tokenizer)
  for task in tasks:
    task.load_from_model_dir(model_dir)
  model = build_model(config, tasks)
  prefix = original.resolve_checkpoint(model_dir)
  try:
    tf.train.Checkpoint(model=model).read(prefix).expect_partial(
    ).assert_existing_objects_matched()
  except (AssertionError, ValueError, tf.errors.OpError) as e:
    raise CheckpointError(f"cannot restore {prefix!r} into the model of {config_path}: {e}") from e
  return FinetunedModel(model, config, tasks, tokenizer, vocab_file, prefix)
