"""File I/O shared by every module: atomic writes, JSON, run-directory names.

Every output of the project is written under a temporary name beside its
target and renamed into place when complete, so a reader (or a rerun after a
crash) sees the old version or the new one, never a partial file:

- `atomic_output(path)` yields a temporary path for writers that open files
  themselves (TFRecord writers, checkpoint savers); `atomic_write`,
  `write_json` and `write_pickle` are built on it;
- `atomic_directory(target)` does the same for a whole directory (exports,
  converted checkpoints), replacing an existing `target` only once the new
  one is complete;
- `path_overlap(output, input)` tells whether writing `output` could destroy
  `input` (the same path, one inside the other), for commands to refuse it.

Paths go through `tf.io.gfile`, so `gs://` works as on the original's TPUs;
TensorFlow is imported on first use, so that importing this module (and the
configs and command lines built on it) stays fast.
"""

import contextlib
import hashlib
import json
import logging
import os
import pickle
import uuid
from typing import Any, Iterator, Optional, Type, Union

# Files of a run directory, written and read by several modules.
PRETRAIN_CONFIG_FILE = "pretrain_config.json"  # a pre-training run's resolved config
FINETUNE_CONFIG_FILE = "finetune_config.json"  # a fine-tuned trial's resolved config
MODEL_SPEC_FILE = "model_spec.json"  # how to rebuild a converted electra_tf checkpoint
VOCAB_FILE = "vocab.txt"  # the WordPiece vocab a model was trained with

logger = logging.getLogger(__name__)


def _tf():
  import tensorflow as tf  # pylint: disable=import-outside-toplevel
  return tf


def temporary_sibling(path: str, suffix: str = "") -> str:
  """A unique name beside `path` (same directory, so renaming is atomic)."""
  directory, name = os.path.split(path)
  return os.path.join(directory, f".{name}.tmp-{uuid.uuid4().hex}{suffix}")


@contextlib.contextmanager
def atomic_output(path: str) -> Iterator[str]:
  """Yields a temporary path; renames it to `path` if the block succeeds.

  The parent directory is created. On an exception the temporary file is
  removed and `path` is left as it was.
  """
  gfile = _tf().io.gfile
  directory = os.path.dirname(path)
  if directory:
    gfile.makedirs(directory)
  tmp = temporary_sibling(path)
  try:
    yield tmp
    gfile.rename(tmp, path, overwrite=True)
  finally:
    if gfile.exists(tmp):
      gfile.remove(tmp)


def atomic_write(path: str, data: Union[str, bytes]) -> None:
  """Writes `data` (text or bytes) to `path` atomically."""
  gfile = _tf().io.gfile
  with atomic_output(path) as tmp:
    with gfile.GFile(tmp, "wb" if isinstance(data, bytes) else "w") as f:
      f.write(data)


def to_json(value: Any) -> str:
  """The project's JSON style: indented, sorted keys, final newline."""
  return json.dumps(value, indent=2, sort_keys=True) + "\n"


def write_json(path: str, value: Any) -> None:
  atomic_write(path, to_json(value))


def write_pickle(path: str, value: Any) -> None:
  atomic_write(path, pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))


def read_json(path: str, error: Type[Exception] = ValueError) -> Any:
  """Parses a JSON file.

  Raises:
    error: the file is missing, not UTF-8 or not JSON (the message names it).
  """
  gfile = _tf().io.gfile
  try:
    with gfile.GFile(path) as f:
      return json.load(f)
  except _tf().errors.NotFoundError as e:
    raise error(f"{path} does not exist") from e
  except (json.JSONDecodeError, UnicodeDecodeError) as e:
    raise error(f"{path} is not valid JSON: {e}") from e


def read_json_object(path: str, error: Type[Exception] = ValueError) -> dict:
  """Parses a JSON file that must hold an object; `error` otherwise."""
  value = read_json(path, error)
  if not isinstance(value, dict):
    raise error(f"{path} must hold a JSON object, not {type(value).__name__}")
  return value


def file_sha256(path: str) -> str:
  """Hex SHA-256 of a file's bytes (read in 1 MiB chunks)."""
  gfile = _tf().io.gfile
  digest = hashlib.sha256()
  with gfile.GFile(path, "rb") as f:
    for chunk in iter(lambda: f.read(1 << 20), b""):
      digest.update(chunk)
  return digest.hexdigest()


def replace_directory(new: str, target: str) -> None:
  """Moves the complete directory `new` to `target`, replacing `target`.

  The old `target` is renamed aside first and deleted only after `new` is in
  place, so at every moment one complete version exists.
  """
  gfile = _tf().io.gfile
  if not gfile.exists(target):
    gfile.rename(new, target)
    return
  old = temporary_sibling(target, ".old")
  gfile.rename(target, old)
  gfile.rename(new, target)
  gfile.rmtree(old)


def remove_leftover_temporaries(target: str) -> None:
  """Deletes the temporary siblings of `target` that a killed run left behind
  (`.<name>.tmp-*`), logging each."""
  gfile = _tf().io.gfile
  directory, name = os.path.split(target.rstrip("/"))
  for leftover in gfile.glob(os.path.join(directory, f".{name}.tmp-*")):
    logger.info("removing %s, left by an interrupted run", leftover)
    if gfile.isdir(leftover):
      gfile.rmtree(leftover)
    else:
      gfile.remove(leftover)


@contextlib.contextmanager
def atomic_directory(target: str) -> Iterator[str]:
  """Yields a new temporary directory beside `target`; on success it replaces
  `target` (`replace_directory`), on an exception it is deleted. Temporaries
  of `target` left by a killed run are deleted first."""
  gfile = _tf().io.gfile
  parent = os.path.dirname(os.path.abspath(target)) if "://" not in target else (
      os.path.dirname(target))
  gfile.makedirs(parent)
  remove_leftover_temporaries(os.path.join(parent, os.path.basename(target.rstrip("/"))))
  tmp = temporary_sibling(os.path.join(parent, os.path.basename(target.rstrip("/"))))
  gfile.makedirs(tmp)
  try:
    yield tmp
    replace_directory(tmp, target)
  finally:
    if gfile.exists(tmp):
      gfile.rmtree(tmp)


def comparable_path(path: str) -> str:
  """`path` absolute with symlinks resolved (URLs: trailing slashes dropped)."""
  if "://" in path:
    return path.rstrip("/")
  return os.path.realpath(os.path.expanduser(path))


def path_overlap(output: str, input_path: str) -> Optional[str]:
  """How `output` overlaps `input_path`: "is", "is inside", "contains" or None.

  A command that replaces `output` destroys `input_path` in the first two
  cases and (when it replaces a directory) in the third.
  """
  out, inp = comparable_path(output), comparable_path(input_path)
  if out == inp:
    return "is"
  if inp.startswith(out.rstrip("/") + "/"):
    return "contains"
  if out.startswith(inp.rstrip("/") + "/"):
    return "is inside"
  return None
