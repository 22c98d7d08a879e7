"""Atomic file writes and file fingerprints for fine-tuning outputs and caches."""

import hashlib
import json
import os
import pickle
import uuid
from typing import Any, Union

import tensorflow as tf


def write_atomically(path: str, data: Union[str, bytes]) -> None:
  """Writes `data` to a temporary name beside `path`, then renames it.

  A reader never sees a partial file: it sees the old file or the new one.
  """
  directory = os.path.dirname(path)
  if directory:
    tf.io.gfile.makedirs(directory)
  tmp = f"{path}.tmp-{uuid.uuid4().hex}"
  try:
    with tf.io.gfile.GFile(tmp, "wb" if isinstance(data, bytes) else "w") as f:
      f.write(data)
    tf.io.gfile.rename(tmp, path, overwrite=True)
  finally:
    if tf.io.gfile.exists(tmp):
      tf.io.gfile.remove(tmp)


def write_json(path: str, value: Any) -> None:
  write_atomically(path, json.dumps(value, indent=2, sort_keys=True) + "\n")


def write_pickle(path: str, value: Any) -> None:
  write_atomically(path, pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))


def read_json(path: str) -> Any:
  with tf.io.gfile.GFile(path) as f:
    return json.load(f)


def file_sha256(path: str) -> str:
  """Hex SHA-256 of a file's bytes (read in 1 MiB chunks)."""
  digest = hashlib.sha256()
  with tf.io.gfile.GFile(path, "rb") as f:
    for chunk in iter(lambda: f.read(1 << 20), b""):
      digest.update(chunk)
  return digest.hexdigest()
