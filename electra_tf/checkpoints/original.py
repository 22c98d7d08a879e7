"""Name-based (TF1) checkpoints in the original's layout: read, check, load, write.

Every model reports its variables as {original TF1 name: tf.Variable}
(`PretrainingModel.named_variables()`, `ElectraNetwork.named_variables()`, or
a fine-tuning encoder's `TransformerEncoder.named_variables()` under an
`electra/` prefix). Our kernels have the original shapes, so names map one to
one and nothing is reshaped. This module moves weights between such a mapping
and checkpoints written by google-research/electra (`tf.train.Saver`), the
released ELECTRA-Small/Base/Large archives, and tools built for them (Hugging
Face's `load_tf_weights_in_electra` reads what `save_original_checkpoint`
writes).

Loading never half-loads: every name, shape and tensor is checked and read
before the first variable is assigned. Optimizer slots (`*/adam_m`,
`*/adam_v`) and `global_step` are bookkeeping, reported apart from weights:
the released checkpoints lack the slots, checkpoints of users' own runs of the
original have them, and both load the same way (weights only).
"""

import dataclasses
import os
from typing import Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import tensorflow as tf

from electra_tf import fileio
from electra_tf.errors import UserError

OPTIMIZER_SLOT_SUFFIXES = ("/adam_m", "/adam_v")
GLOBAL_STEP = "global_step"
# The key tf.train.Checkpoint (object-based, TF2) writes into every checkpoint.
OBJECT_GRAPH_KEY = "_CHECKPOINTABLE_OBJECT_GRAPH"
_MAX_LISTED = 10


class CheckpointError(UserError, ValueError):
  """A checkpoint that cannot be found, read or loaded into the model."""


def is_optimizer_slot(name: str) -> bool:
  """True for the original AdamWeightDecayOptimizer's `<var>/adam_m|adam_v`."""
  return name.endswith(OPTIMIZER_SLOT_SUFFIXES)


@dataclasses.dataclass
class LoadReport:
  """What a load did. Names are original TF1 names unless stated otherwise.

  Attributes:
    source: the checkpoint prefix or directory that was read.
    loaded: model variables assigned from the source.
    missing: model variables the source lacks; left unchanged.
    unexpected: weights in the source the model has no variable for; not
      loaded (e.g. the generator when fine-tuning, a BERT pooler).
    optimizer_slots: `*/adam_m`, `*/adam_v` found in the source; never loaded.
    ignored: other entries that are not weights of their own: Hugging Face
      buffers and tied copies (named as in the source).
    global_step: the source's `global_step`, or None if it has none.
  """
  source: str
  loaded: List[str]
  missing: List[str]
  unexpected: List[str]
  optimizer_slots: List[str]
  ignored: List[str] = dataclasses.field(default_factory=list)
  global_step: Optional[int] = None

  def summary(self, expected_unused: Sequence[str] = (), expected_reason: str = "") -> str:
    """A few human-readable lines: counts, with the first names of each list.

    Args:
      expected_unused: name prefixes of checkpoint weights the caller does not
        need (e.g. the generator when fine-tuning); those are one line saying
        so, apart from truly unexpected ones.
      expected_reason: what that line says they are.
    """
    lines = [f"loaded {len(self.loaded)} variables from {self.source}"
             + (f" (global_step {self.global_step})" if self.global_step is not None else "")]
    prefixes = tuple(expected_unused)
    unused = [n for n in self.unexpected if prefixes and n.startswith(prefixes)]
    unexpected = [n for n in self.unexpected if not (prefixes and n.startswith(prefixes))]
    for label, names in ((f"not loaded, as expected ({expected_reason})", unused),
                         ("missing from the checkpoint (left as they were)", self.missing),
                         ("unexpected in the checkpoint (not loaded)", unexpected),
                         ("ignored (buffers and tied copies)", self.ignored)):
      if names:
        lines.append(f"{len(names)} {label}: {_first(names)}")
    lines.append(f"{len(self.optimizer_slots)} optimizer slots (not loaded)"
                 if self.optimizer_slots else "no optimizer slots (weights only)")
    return "\n".join(lines)


def _first(names: Sequence[str]) -> str:
  shown = ", ".join(names[:_MAX_LISTED])
  return shown + (f", ... ({len(names) - _MAX_LISTED} more)" if len(names) > _MAX_LISTED else "")


def resolve_checkpoint(path: str) -> str:
  """A checkpoint prefix from a prefix, a file of the checkpoint, or a directory.

  A directory resolves as the original's `init_checkpoint` does: the latest
  checkpoint named by its `checkpoint` state file; without one, its only
  `*.index` file.

  Raises:
    CheckpointError: nothing usable at `path`.
  """
  if tf.io.gfile.isdir(path):
    latest = tf.train.latest_checkpoint(path)
    if latest is not None and tf.io.gfile.exists(latest + ".index"):
      return latest
    indexes = sorted(tf.io.gfile.glob(os.path.join(path, "*.index")))
    if len(indexes) == 1:
      return indexes[0][:-len(".index")]
    if not indexes:
      raise CheckpointError(
          f"no checkpoint in directory {path!r}: expected a `checkpoint` state file "
          "or a <prefix>.index file (the released archives unzip to one)")
    raise CheckpointError(
        f"directory {path!r} holds {len(indexes)} checkpoints and no usable "
        f"`checkpoint` state file; pass one prefix, e.g. {indexes[-1][:-len('.index')]!r}")
  prefix = path
  if prefix.endswith(".index"):
    prefix = prefix[:-len(".index")]
  elif ".data-" in os.path.basename(prefix):
    prefix = prefix[:prefix.rindex(".data-")]
  if not tf.io.gfile.exists(prefix + ".index"):
    raise CheckpointError(
        f"checkpoint {path!r} not found: expected {prefix + '.index'!r} (pass a "
        "checkpoint prefix such as model_dir/model.ckpt-1000, or its directory)")
  return prefix


def _open(prefix: str):
  try:
    return tf.train.load_checkpoint(prefix)
  except (tf.errors.OpError, ValueError) as e:
    raise CheckpointError(f"cannot read checkpoint {prefix!r}: {e}") from e


def _read_tensor(reader, prefix: str, name: str) -> np.ndarray:
  try:
    return np.asarray(reader.get_tensor(name))
  except (tf.errors.OpError, IndexError, ValueError) as e:
    raise CheckpointError(
        f"cannot read {name!r} from checkpoint {prefix!r}; the data file is "
        f"truncated or corrupt (copy it again): {e}") from e


def list_original_checkpoint(path: str) -> Dict[str, Tuple[int, ...]]:
  """{name: shape} of every entry of a name-based checkpoint (prefix or dir)."""
  prefix = resolve_checkpoint(path)
  return {name: tuple(shape) for name, shape in
          _open(prefix).get_variable_to_shape_map().items()}


def is_object_based(path: str) -> bool:
  """True for a TF2 `tf.train.Checkpoint` (electra-tf's own format)."""
  return OBJECT_GRAPH_KEY in list_original_checkpoint(path)


def load_original_checkpoint(variables: Mapping[str, tf.Variable], checkpoint: str, *,
                             allow_missing: bool = True,
                             allow_unexpected: bool = True) -> LoadReport:
  """Loads a name-based checkpoint of the original's layout into variables.

  As the original's `init_from_checkpoint`, every variable whose name is in
  the checkpoint is loaded; the rest is reported. Slots and `global_step`
  are never loaded (a released checkpoint, which has no slots, loads the same
  way as a user's checkpoint of the original, which has them).

  Args:
    variables: {original TF1 name: tf.Variable}, e.g.
      `PretrainingModel.named_variables()`.
    checkpoint: a checkpoint prefix, one of its files, or a directory (its
      latest checkpoint is used).
    allow_missing: if False, a model variable absent from the checkpoint is
      an error (nothing is loaded).
    allow_unexpected: if False, a checkpoint weight the model has no variable
      for is an error (nothing is loaded).

  Returns:
    A LoadReport.

  Raises:
    CheckpointError: unreadable or truncated files, an object-based TF2
      checkpoint, no name in common, a shape mismatch (naming the variable
      and both shapes), or a disallowed missing/unexpected name. The
      variables are then unchanged.
  """
  prefix = resolve_checkpoint(checkpoint)
  reader = _open(prefix)
  shapes = {name: tuple(shape) for name, shape in reader.get_variable_to_shape_map().items()}
  if OBJECT_GRAPH_KEY in shapes:
    raise CheckpointError(
        f"{prefix!r} is an object-based TF2 checkpoint (electra-tf's own format), not "
        "the original's name-based one; restore it with tf.train.Checkpoint, or "
        "convert it with convert_checkpoint.py --to original")
  global_step = None
  if GLOBAL_STEP in shapes:
    global_step = int(_read_tensor(reader, prefix, GLOBAL_STEP))
  return assign_named_weights(
      variables, shapes, lambda name: _read_tensor(reader, prefix, name), source=prefix,
      skip=[GLOBAL_STEP], global_step=global_step,
      allow_missing=allow_missing, allow_unexpected=allow_unexpected)


def assign_named_weights(variables: Mapping[str, tf.Variable],
                         shapes: Mapping[str, Tuple[int, ...]],
                         read: Callable[[str], np.ndarray], *, source: str,
                         skip: Sequence[str] = (), ignored: Sequence[str] = (),
                         unmapped: Sequence[str] = (),
                         global_step: Optional[int] = None, allow_missing: bool = True,
                         allow_unexpected: bool = True) -> LoadReport:
  """Checks names and shapes, reads every tensor, then assigns them all.

  The one loading routine behind the TF1 and Hugging Face paths.

  Args:
    variables: {original name: tf.Variable} of the model.
    shapes: {original name: shape} of everything in the source.
    read: returns the array of one name of `shapes`.
    source: what to call the source in messages.
    skip: names of `shapes` that are bookkeeping, not weights.
    ignored: source entries already set aside by the caller, for the report.
    unmapped: source weights without an original name (e.g. a BERT pooler);
      reported, and judged by `allow_unexpected`, with the unexpected ones.
    global_step: for the report.
    allow_missing, allow_unexpected: see `load_original_checkpoint`.

  Returns:
    A LoadReport.

  Raises:
    CheckpointError: see `load_original_checkpoint`.
  """
  slots = sorted(n for n in shapes if is_optimizer_slot(n))
  weights = {n: s for n, s in shapes.items() if not is_optimizer_slot(n) and n not in skip}
  matched = sorted(set(variables) & set(weights))
  missing = sorted(set(variables) - set(weights))
  unexpected = sorted(set(weights) - set(variables)) + sorted(unmapped)
  if not matched:
    raise CheckpointError(
        f"none of the model's {len(variables)} variables is in {source} (it holds "
        f"{len(weights)} weights: {_first(sorted(weights))}); is it a checkpoint of "
        "another model family, or a fine-tuned model with other scopes?")
  # In the model's order (embeddings, layers, heads): the first lines say most.
  mismatches = [(n, tuple(v.shape.as_list()), tuple(weights[n])) for n, v in variables.items()
                if n in weights and tuple(v.shape.as_list()) != tuple(weights[n])]
  if mismatches:
    raise CheckpointError(_mismatch_message(mismatches, source))
  if missing and not allow_missing:
    raise CheckpointError(f"{source} lacks {len(missing)} of the model's variables: "
                          f"{_first(missing)}")
  if unexpected and not allow_unexpected:
    raise CheckpointError(f"{source} holds {len(unexpected)} weights the model has no "
                          f"variable for: {_first(unexpected)}")
  arrays = {}
  for name in matched:
    array = np.asarray(read(name))
    dtype = variables[name].dtype.as_numpy_dtype
    if array.shape != weights[name]:
      raise CheckpointError(f"{name!r} in {source} has shape {list(array.shape)}, but its "
                            f"header says {list(weights[name])}; the file is corrupt")
    if not (np.issubdtype(array.dtype, np.floating) and np.issubdtype(dtype, np.floating)):
      raise CheckpointError(f"{name!r} in {source} is {array.dtype}, the model's variable "
                            f"is {np.dtype(dtype)}")
    arrays[name] = array.astype(dtype, copy=False)
  for name in matched:
    variables[name].assign(arrays[name])
  return LoadReport(source=source, loaded=matched, missing=missing, unexpected=unexpected,
                    optimizer_slots=slots, ignored=sorted(ignored), global_step=global_step)


def _mismatch_message(mismatches, source: str) -> str:
  lines = [f"{name}: model {list(ours)} vs checkpoint {list(theirs)}"
           for name, ours, theirs in mismatches]
  hints = []
  for name, ours, theirs in mismatches:
    if name.endswith("/word_embeddings") and ours[1:] == theirs[1:]:
      hints.append(f"vocab size mismatch: the model has vocab_size {ours[0]}, the "
                   f"checkpoint {theirs[0]}; set vocab_size (and vocab_file) to the "
                   "checkpoint's vocabulary")
      break
  hints.append("build the model with the checkpoint's sizes (model_size, embedding_size, "
               "generator_hidden_size: the released ELECTRA-Small uses "
               "generator_hidden_size=1.0, Base 0.33333, Large 0.25)")
  shown = lines[:_MAX_LISTED] + (
      [f"... ({len(lines) - _MAX_LISTED} more)"] if len(lines) > _MAX_LISTED else [])
  return (f"{source} does not fit the model: {len(mismatches)} shape mismatch(es); "
          "nothing was loaded.\n  " + "\n  ".join(shown) + "\n" + "\n".join(hints))


def save_original_checkpoint(variables: Mapping[str, Union[tf.Variable, np.ndarray]],
                             checkpoint_prefix: str,
                             global_step: Optional[int] = None) -> str:
  """Writes a name-based checkpoint with exactly the given names and shapes.

  The files are written under a temporary prefix and renamed when complete
  (data first, index last, so a reader never sees an index without its
  data); then the directory's `checkpoint` state file is pointed at the new
  checkpoint, so the directory works as an `init_checkpoint` too.

  Args:
    variables: {original TF1 name: variable or array}, e.g.
      `PretrainingModel.named_variables()`.
    checkpoint_prefix: e.g. `out_dir/model.ckpt`; writes `.index` and
      `.data-00000-of-00001` files next to it.
    global_step: written as the int64 scalar `global_step` if given.

  Returns:
    `checkpoint_prefix`.
  """
  if not variables:
    raise ValueError("no variables to save")
  if GLOBAL_STEP in variables:
    raise ValueError(f"{GLOBAL_STEP!r} is bookkeeping; pass it as global_step=")
  names = sorted(variables)
  tensors = [tf.convert_to_tensor(variables[n]) for n in names]
  if global_step is not None:
    names.append(GLOBAL_STEP)
    tensors.append(tf.constant(global_step, tf.int64))
  directory = os.path.dirname(checkpoint_prefix) or "."
  tf.io.gfile.makedirs(directory)
  tmp = fileio.temporary_sibling(checkpoint_prefix)
  try:
    tf.raw_ops.SaveV2(prefix=tmp, tensor_names=names, shape_and_slices=[""] * len(names),
                      tensors=tensors)
    for data in sorted(tf.io.gfile.glob(tmp + ".data-*")):
      tf.io.gfile.rename(data, checkpoint_prefix + data[len(tmp):], overwrite=True)
    tf.io.gfile.rename(tmp + ".index", checkpoint_prefix + ".index", overwrite=True)
  finally:
    for leftover in tf.io.gfile.glob(tmp + ".*"):
      tf.io.gfile.remove(leftover)
  _write_state_file(directory, os.path.basename(checkpoint_prefix))
  return checkpoint_prefix


def _write_state_file(directory: str, basename: str) -> None:
  """Writes the `checkpoint` state file (a CheckpointState text proto).

  The path is relative so the directory stays movable, as the original's
  Saver writes it. Written here rather than with the deprecated
  `update_checkpoint_state`, to a temporary name and renamed.
  """
  quoted = '"' + basename.replace("\\", "\\\\").replace('"', '\\"') + '"'
  text = f"model_checkpoint_path: {quoted}\nall_model_checkpoint_paths: {quoted}\n"
  fileio.atomic_write(os.path.join(directory, "checkpoint"), text)
