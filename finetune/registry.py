"""The task registry: task name -> factory(config, tokenizer) -> Task.

A new task (or family) registers here. The registry is where task names are
checked: `get_tasks` refuses unknown names (listing the valid ones) before
anything is read or built. Any name starting with `mrqa_` is an MRQA-format
dataset read from `finetuning_data/<name>/` (span QA, `finetune.qa`).
"""

from typing import Callable, Dict, List, Sequence

from electra_tf.config.hparams import ConfigError
from finetune.classification import glue
from finetune.config import FinetuningConfig
from finetune.qa import tasks as qa_tasks
from finetune.task import Task

TaskFactory = Callable[..., Task]

TASKS: Dict[str, TaskFactory] = {task.name: task
                                  for task in glue.GLUE_TASKS + qa_tasks.QA_TASKS}


def _factory(name: str) -> TaskFactory:
  if name in TASKS:
    return TASKS[name]
  return qa_tasks.mrqa_factory(name)


def check_task_names(names: Sequence[str]) -> None:
  """Raises ConfigError naming every unregistered task and the valid ones."""
  unknown = [name for name in names if name not in TASKS and not (
      name.startswith(qa_tasks.GENERIC_MRQA_PREFIX) and len(name) > len(qa_tasks.GENERIC_MRQA_PREFIX))]
  if unknown:
    raise ConfigError(f"Unknown task(s) {unknown} in task_names. Valid tasks: "
                      f"{', '.join(sorted(TASKS))}, or {qa_tasks.GENERIC_MRQA_PREFIX}<name> for "
                      "any MRQA-format dataset")


def get_task(name: str, config: FinetuningConfig, tokenizer=None) -> Task:
  """Builds the task `name`.

  Raises:
    ConfigError: an unknown name, listing the valid ones.
  """
  check_task_names([name])
  return _factory(name)(config, tokenizer)


def get_tasks(config: FinetuningConfig, tokenizer=None) -> List[Task]:
  """The tasks of `config.task_names`, in order (their index is `task_id`)."""
  check_task_names(config.task_names)
  return [_factory(name)(config, tokenizer) for name in config.task_names]
