"""The task registry: task name -> factory(config, tokenizer) -> Task.

A new task (or family) registers here. The registry is where task names are
checked: `get_tasks` refuses unknown names (listing the valid ones) before
anything is read or built.
"""

from typing import Callable, Dict, List, Sequence

from electra_tf.config.hparams import ConfigError
from finetune.classification import glue
from finetune.config import FinetuningConfig
from finetune.task import Task

TaskFactory = Callable[..., Task]

TASKS: Dict[str, TaskFactory] = {task.name: task for task in glue.GLUE_TASKS}


def check_task_names(names: Sequence[str]) -> None:
  """Raises ConfigError naming every unregistered task and the valid ones."""
  unknown = [name for name in names if name not in TASKS]
  if unknown:
    raise ConfigError(f"Unknown task(s) {unknown} in task_names. Valid tasks: "
                      f"{', '.join(sorted(TASKS))}")


def get_task(name: str, config: FinetuningConfig, tokenizer=None) -> Task:
  """Builds the task `name`.

  Raises:
    ConfigError: an unknown name, listing the valid ones.
  """
  check_task_names([name])
  return TASKS[name](config, tokenizer)


def get_tasks(config: FinetuningConfig, tokenizer=None) -> List[Task]:
  """The tasks of `config.task_names`, in order (their index is `task_id`)."""
  check_task_names(config.task_names)
  return [TASKS[name](config, tokenizer) for name in config.task_names]
