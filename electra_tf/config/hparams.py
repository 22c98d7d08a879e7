"""Typed hyper-parameter containers with the original's `update()` semantics.

Every config in the project is a dataclass deriving from `HParams`. Overrides
come from a dict, a JSON string or a JSON file, or several applied in order;
an unknown key or a value of the wrong type raises `ConfigError` naming the
key, before any model is built. `electra_tf.config.help` lists the hparams.
"""

import dataclasses
import difflib
import json
import os
import typing
from typing import Any, Dict, Mapping, Sequence, Union

from electra_tf import fileio
from electra_tf.errors import UserError


class ConfigError(UserError, ValueError):
  """An invalid hyper-parameter: unknown key, wrong type or impossible value."""


def parse_hparams(hparams: Union[None, str, Mapping[str, Any], Sequence[Any]]) -> Dict[str, Any]:
  """Reads `--hparams` as the original does, a JSON object string or a JSON
  file path, or several of them (a repeated flag) applied in order.

  Args:
    hparams: None, a dict, a JSON object string, a path to a `.json` file, or
      a list of these; for a list, a later value replaces an earlier one key
      by key (e.g. `["configs/small_corpus.json", '{"num_train_steps": 20}']`).

  Returns:
    A new dict of overrides.
  """
  if isinstance(hparams, (list, tuple)):
    merged: Dict[str, Any] = {}
    for value in hparams:
      merged.update(parse_hparams(value))
    return merged
  if hparams is None or hparams == "":
    return {}
  if isinstance(hparams, Mapping):
    return dict(hparams)
  text, source = hparams, "--hparams"
  if not hparams.lstrip().startswith("{"):
    if not os.path.exists(hparams):
      raise ConfigError(
          f"--hparams {hparams!r} is neither a JSON object nor an existing "
          "JSON file; pass e.g. '{\"model_size\": \"small\"}' or a path.")
    source = f"--hparams file {hparams}"
    with open(hparams, "rb") as f:
      raw = f.read()
    try:
      text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
      raise ConfigError(f"{source} is not UTF-8 text ({e}); pass a JSON file or a JSON "
                        "object") from e
  try:
    parsed = json.loads(text)
  except json.JSONDecodeError as e:
    raise ConfigError(f"{source} is not valid JSON ({e}): {text[:200]!r}") from e
  if not isinstance(parsed, dict):
    raise ConfigError(f"{source} must be a JSON object, got {type(parsed).__name__}")
  return parsed


def _type_name(tp) -> str:
  return getattr(tp, "__name__", str(tp).replace("typing.", ""))


def coerce_value(key: str, value: Any, tp) -> Any:
  """Checks `value` against the annotation `tp`; returns it, normalised.

  JSON has no int/float distinction for values like 1e6, so an integral float
  is accepted for an int field; a bool is never accepted as a number.
  """
  origin = typing.get_origin(tp)
  if origin is Union:
    args = typing.get_args(tp)
    if value is None and type(None) in args:
      return None
    errors = []
    for arg in args:
      if arg is type(None):
        continue
      try:
        return coerce_value(key, value, arg)
      except ConfigError as e:
        errors.append(str(e))
    raise ConfigError(
        f"hparam {key!r} must be {' or '.join(_type_name(a) for a in args)}, "
        f"got {value!r} ({type(value).__name__})")
  if tp is Any:
    return value
  if tp is bool:
    if isinstance(value, bool):
      return value
  elif tp is int:
    if isinstance(value, int) and not isinstance(value, bool):
      return value
    if isinstance(value, float) and value.is_integer():
      return int(value)
  elif tp is float:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
      return float(value)
  elif tp is str:
    if isinstance(value, str):
      return value
  elif origin in (dict, Dict) or tp is dict:
    if isinstance(value, Mapping):
      return dict(value)
  elif origin in (list, typing.List) or tp is list:
    if isinstance(value, (list, tuple)):
      return list(value)
  else:
    raise TypeError(f"unsupported annotation {tp} for {key}")
  raise ConfigError(
      f"hparam {key!r} must be {_type_name(tp if origin is None else origin)}, "
      f"got {value!r} ({type(value).__name__})")


class HParams:
  """Mixin for dataclass configs: validated `update`, dict and JSON I/O."""

  def field_types(self) -> Dict[str, Any]:
    return typing.get_type_hints(type(self))

  def update(self, overrides: Mapping[str, Any]) -> None:
    """Applies overrides; unknown keys and wrong types raise `ConfigError`."""
    types = self.field_types()
    for key, value in overrides.items():
      if key not in types:
        close = difflib.get_close_matches(key, types, n=3, cutoff=0.75)
        suggestion = f"; did you mean {' or '.join(close)}?" if close else "."
        valid = ", ".join(sorted(types))
        raise ConfigError(f"Unknown hparam {key!r}{suggestion} Valid hparams: {valid}")
      setattr(self, key, coerce_value(key, value, types[key]))

  def to_dict(self) -> Dict[str, Any]:
    return dataclasses.asdict(self)

  def to_json(self) -> str:
    return fileio.to_json(self.to_dict())

  def write_json(self, path: str) -> None:
    """Writes the resolved config atomically (temporary name, then rename)."""
    fileio.write_json(path, self.to_dict())
