"""The task registry: task name -> factory(config, tokenizer) -> Task.

A new task (or family) registers here; `task_names` in the config are
checked against this table before anything is read or built.
"""

from typing import Callable, Dict, List

from finetune.classification import glue
from finetune.config import FinetuningConfig
from finetune.task import Task

TaskFactory = Callable[..., Task]

TASKS: Dict[str, TaskFactory] = {task.name: task for task in glue.GLUE_TASKS}


def get_task(name: str, config: FinetuningConfig, tokenizer=None) -> Task:
  """Builds the task `name`.

  Raises:
    KeyError: an unknown name, listing the valid ones.
  """
  if name not in TASKS:
    raise KeyError(f"Unknown task {name!r}. Valid tasks: {', '.join(sorted(TASKS))}")
  return TASKS[name](config, tokenizer)


def get_tasks(config: FinetuningConfig, tokenizer=None) -> List[Task]:
  """The tasks of `config.task_names`, in order (their index is `task_id`)."""
  return [get_task(name, config, tokenizer) for name in config.task_names]
