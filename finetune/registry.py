"""The task registry: task name -> factory(config, tokenizer) -> Task.

A new task (or family) registers here. The registry is where task names are
checked: `get_tasks` refuses unknown names (listing the valid ones) before
anything is read or built. Besides the registered tasks, the hparam
`tagging_tasks` ({name: "span" | "token"}) declares CoNLL-format tagging
tasks without code, and any name starting with `mrqa_` is an MRQA-format
dataset read from `finetuning_data/<name>/` (span QA, `finetune.qa`).
"""

import functools
from typing import Callable, Dict, List, Mapping, Optional, Sequence

from electra_tf.config.hparams import ConfigError
from finetune.classification import glue
from finetune.config import FinetuningConfig
from finetune.qa import tasks as qa_tasks
from finetune.tagging import tasks as tagging
from finetune.task import Task

TaskFactory = Callable[..., Task]

TASKS: Dict[str, TaskFactory] = {
    task.name: task for task in glue.GLUE_TASKS + qa_tasks.QA_TASKS + tagging.TAGGING_TASKS}


def _factories(tagging_tasks: Mapping[str, str]) -> Dict[str, TaskFactory]:
  """The registered tasks plus the tagging tasks declared by the hparam."""
  clashes = sorted(set(tagging_tasks) & set(TASKS))
  if clashes:
    raise ConfigError(f"tagging_tasks {clashes}: already registered task name(s); name the "
                      "corpus differently (or use the built-in task)")
  declared = {name: functools.partial(tagging.TaggingTask, name=name,
                                      is_token_level=level == "token")
              for name, level in tagging_tasks.items()}
  return {**TASKS, **declared}


def _is_generic_mrqa(name: str) -> bool:
  prefix = qa_tasks.GENERIC_MRQA_PREFIX
  return name.startswith(prefix) and len(name) > len(prefix)


def _factory(name: str, tagging_tasks: Mapping[str, str]) -> TaskFactory:
  factories = _factories(tagging_tasks)
  if name in factories:
    return factories[name]
  return qa_tasks.mrqa_factory(name)


def check_task_names(names: Sequence[str], tagging_tasks: Optional[Mapping[str, str]] = None) -> None:
  """Raises ConfigError naming every unregistered task and the valid ones."""
  factories = _factories(tagging_tasks or {})
  unknown = [name for name in names if name not in factories and not _is_generic_mrqa(name)]
  if unknown:
    raise ConfigError(f"Unknown task(s) {unknown} in task_names. Valid tasks: "
                      f"{', '.join(sorted(factories))}, or {qa_tasks.GENERIC_MRQA_PREFIX}<name> "
                      "for any MRQA-format dataset (declare more tagging tasks with the hparam "
                      "tagging_tasks, e.g. {\"wnut\": \"span\"})")


def get_task(name: str, config: FinetuningConfig, tokenizer=None) -> Task:
  """Builds the task `name`.

  Raises:
    ConfigError: an unknown name, listing the valid ones.
  """
  check_task_names([name], config.tagging_tasks)
  return _factory(name, config.tagging_tasks)(config, tokenizer=tokenizer)


def get_tasks(config: FinetuningConfig, tokenizer=None) -> List[Task]:
  """The tasks of `config.task_names`, in order (their index is `task_id`)."""
  check_task_names(config.task_names, config.tagging_tasks)
  return [_factory(name, config.tagging_tasks)(config, tokenizer=tokenizer)
          for name in config.task_names]
