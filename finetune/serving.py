"""Serving fine-tuned tasks: each task declares what its SavedModel returns.

A task exports when it declares `serving_output_names` and implements
`serving_outputs` (its head's inference outputs -> the served tensors) and,
when its raw-text signature is not one or two texts, `serving_text_inputs`.
`task_exportable` turns one task of a fine-tuning model into an
`electra_tf.serving.exportable.ExportableModel`; `task_exportables` does it
for every (chosen) task of a restored trial directory; `export_trial_dir`
is what `export_saved_model.py` runs on a fine-tuned model.
"""

import os
from typing import Any, List, Mapping, Optional, Sequence

from electra_tf import fileio
from electra_tf.checkpoints import original
from electra_tf.checkpoints.original import CheckpointError
from electra_tf.config.hparams import ConfigError
from electra_tf.config.model import TransformerConfig
from electra_tf.serving import export
from electra_tf.serving.exportable import ExportableModel, ExportError
from finetune import modeling
from finetune.config import FinetuningConfig
from finetune.task import Task


def task_exportable(model, task: Task, *, encoder_config: TransformerConfig, vocab_file: str,
                    max_seq_length: int, do_lower_case: bool, strip_accents: bool = True,
                    config: Optional[Mapping[str, Any]] = None) -> ExportableModel:
  """One task of a fine-tuning model (the `FinetuningModel` contract).

  Args:
    model: a built, loaded Keras model whose `model(features,
      training=False)` returns {task name: {output name: tensor}}.
    task: the task; its `serving_outputs` turn the head's outputs into the
      served ones.
    encoder_config: the encoder's dimensions.
    vocab_file, max_seq_length, do_lower_case, strip_accents: the fine-tuning
      run's tokenizer and featurisation settings.
    config: JSON-able fine-tuning config for assets/config.json.

  Raises:
    ExportError: the task declares no serving outputs.
  """
  if not task.serving_output_names:
    raise ExportError(f"task {task.name!r} (a {task.kind!r} task) declares no serving "
                      "outputs, so it cannot be exported")

  def forward(features):
    return task.serving_outputs(model(features, training=False)[task.name])

  return ExportableModel(
      forward=forward, variables=model.variables, outputs=task.serving_output_names,
      kind=task.kind, name=task.name, max_seq_length=max_seq_length, vocab_file=vocab_file,
      do_lower_case=do_lower_case, strip_accents=strip_accents, encoder_config=encoder_config,
      label_names=list(task.label_list) if task.label_list else None,
      config=dict(config or {}), text_inputs=task.serving_text_inputs())


def task_exportables(finetuned: modeling.FinetunedModel, task_names: Optional[Sequence[str]] = None,
                     strip_accents: bool = True) -> List[ExportableModel]:
  """One `ExportableModel` per task of a fine-tuned model.

  Each featurises raw text as the fine-tuning run did (its vocab, casing and
  `max_seq_length`) and carries the run's config and the task's labels.

  Args:
    finetuned: a restored model (`load_finetuned_model`).
    task_names: the tasks to export (default: all, in `task_names` order).
    strip_accents: False for vocabularies prepared with --no-strip-accents.

  Raises:
    ExportError: a task name the model does not have.
  """
  by_name = {task.name: task for task in finetuned.tasks}
  unknown = [name for name in task_names or () if name not in by_name]
  if unknown:
    raise ExportError(f"the model has no task {unknown}; its tasks are "
                              f"{list(by_name)}")
  exportables = []
  for name in task_names or list(by_name):
    do_lower_case, task_strip_accents = by_name[name].tokenizer_casing(
        finetuned.config.do_lower_case, strip_accents)
    exportables.append(task_exportable(
        finetuned.model, by_name[name], encoder_config=finetuned.model.bert_config,
        vocab_file=finetuned.vocab_file, max_seq_length=finetuned.config.max_seq_length,
        do_lower_case=do_lower_case, strip_accents=task_strip_accents,
        config={"finetuning": finetuned.config.to_dict()}))
  return exportables


def export_trial_dir(model_dir: str, export_dir: str, *,
                     task_names: Optional[Sequence[str]] = None, version: Optional[int] = None,
                     overwrite: bool = False, strip_accents: bool = True) -> List[str]:
  """Exports each (chosen) task of a fine-tuned trial dir to
  `export_dir/<task>/<version>/`, featurising text as its run did.

  Task names, the checkpoint and the versions are checked before any weights
  are read.

  Returns:
    The version directories written.

  Raises:
    ConfigError: a task the model does not have.
    CheckpointError, ExportError: no checkpoint, a taken version.
  """
  config = FinetuningConfig.from_dict(
      fileio.read_json_object(os.path.join(model_dir, fileio.FINETUNE_CONFIG_FILE),
                              CheckpointError))
  task_names = list(task_names or config.task_names)
  unknown = sorted(set(task_names) - set(config.task_names))
  if unknown:
    raise ConfigError(f"--task {unknown}: the model's tasks are {config.task_names}")
  original.resolve_checkpoint(model_dir)
  versions = {name: export.resolve_version(os.path.join(export_dir, name), version, overwrite)
              for name in task_names}
  finetuned = modeling.load_finetuned_model(model_dir)
  print(f"loaded the fine-tuned model from {finetuned.checkpoint}")
  return [export.export_saved_model(exportable, os.path.join(export_dir, exportable.name),
                                    versions[exportable.name], overwrite)
          for exportable in task_exportables(finetuned, task_names, strip_accents)]
