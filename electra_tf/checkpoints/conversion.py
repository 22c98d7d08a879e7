"""Converting checkpoints between formats, and loading any format by name.

Formats (`FORMATS`; `detect_format` tells them apart):

- `original`: a name-based TF1 checkpoint in google-research/electra's layout
  (the released ELECTRA-Small/Base/Large archives, checkpoints of users' runs
  of the original, `convert_checkpoint.py --to original` outputs);
- `electra_tf`: our object-based TF2 checkpoint (`checkpoints.native`), from
  `run_pretraining.py` (rebuilt from its `pretrain_config.json`) or
  `convert_checkpoint.py --to electra_tf` (rebuilt from `model_spec.json`);
- `hf`: a Hugging Face directory with `config.json` and `model.safetensors`.

`convert` is the library behind `convert_checkpoint.py`; `load_weights` loads
any format into an existing model's variables by original name (warm starts,
fine-tuning's `init_checkpoint`).
"""

import os
from typing import Any, Callable, Mapping, Optional

import tensorflow as tf

from electra_tf import fileio
from electra_tf.checkpoints import huggingface, huggingface_export, native, original
from electra_tf.checkpoints.original import CheckpointError, LoadReport

FORMATS = ("original", "electra_tf", "hf")
OUTPUT_FORMATS = ("original", "electra_tf", "hf")


def detect_format(path: str) -> str:
  """"hf" for a directory with config.json, else "electra_tf" or "original"."""
  if tf.io.gfile.isdir(path) and tf.io.gfile.exists(
      os.path.join(path, huggingface.CONFIG_FILE)):
    return "hf"
  return "electra_tf" if original.is_object_based(path) else "original"


# --- the conversion ----------------------------------------------------------

def check_output_dir(output_dir: str, overwrite: bool) -> None:
  """Raises CheckpointError for a file at `output_dir` (even with `overwrite`:
  the output replaces a directory, never a file) or a non-empty directory
  unless `overwrite`."""
  if not tf.io.gfile.exists(output_dir):
    return
  if not tf.io.gfile.isdir(output_dir):
    raise CheckpointError(f"output directory {output_dir!r} is a file; choose a directory "
                          "path (new or empty)")
  if tf.io.gfile.listdir(output_dir) and not overwrite:
    raise CheckpointError(f"output directory {output_dir!r} is not empty; choose another "
                          "or pass --overwrite")


def convert(input_path: str, output_dir: str, to: str, *, source_format: Optional[str] = None,
            generator_path: Optional[str] = None, hparams: Optional[Mapping[str, Any]] = None,
            global_step: Optional[int] = None, overwrite: bool = False,
            vocab_file: Optional[str] = None,
            log: Callable[[str], None] = print) -> str:
  """Converts a checkpoint into `output_dir`, written whole or not at all.

  Args:
    input_path: checkpoint prefix or directory, or a Hugging Face directory.
    output_dir: created; must not exist or be empty unless `overwrite`.
    to: "original" (name-based TF1, `model.ckpt[-<step>]` plus a `checkpoint`
      state file), "electra_tf", or "hf" (Hugging Face directories:
      `discriminator/` and `generator/` for a pre-training model, the output
      directory itself for one network; `huggingface_export`).
    source_format: one of FORMATS; None detects it.
    generator_path: a Hugging Face generator directory to pair with the
      discriminator at `input_path` (gives a PretrainingModel).
    hparams: pre-training hparams for sources that become a PretrainingModel
      (overriding inferred ones), or to rebuild an electra_tf checkpoint
      without `model_spec.json`.
    global_step: written to the output; default: the source's, if any.
    overwrite: replace a non-empty `output_dir`.
    vocab_file: the vocabulary to ship with an "hf" output; default: the
      `vocab.txt` beside the input, or the pre-training run's `vocab_file`.
    log: receives progress lines.

  Returns:
    The output checkpoint prefix (for "hf", the output directory).
  """
  if to not in OUTPUT_FORMATS:
    raise ValueError(f"--to must be one of {OUTPUT_FORMATS}, got {to!r}")
  if source_format is not None and source_format not in FORMATS:
    raise ValueError(f"--from must be one of {FORMATS}, got {source_format!r}")
  if not tf.io.gfile.exists(input_path) and not tf.io.gfile.exists(input_path + ".index"):
    raise CheckpointError(f"input {input_path!r} does not exist")
  _check_output_apart(output_dir, [input_path] + ([generator_path] if generator_path else []))
  check_output_dir(output_dir, overwrite)
  source_format = source_format or detect_format(input_path)
  if generator_path is not None and source_format != "hf":
    raise CheckpointError("a generator directory is only for Hugging Face sources")
  if source_format == to:
    raise CheckpointError(f"{input_path!r} is already in the {to} format")
  if to == "hf":
    if global_step is not None:
      raise CheckpointError("--global-step does not apply to --to hf (HF directories "
                            "hold no step)")
    vocab_file = huggingface_export.check_vocab(
        vocab_file or _vocab_beside(input_path) or (_run_config(input_path) or {}).get(
            "vocab_file"))

  loaded = _load(input_path, source_format, generator_path, hparams, log)
  if to == "hf":
    return _write_hf(loaded.model, input_path, output_dir, vocab_file, log)
  step = global_step if global_step is not None else loaded.global_step

  with fileio.atomic_directory(output_dir) as tmp:
    if to == "original":
      name = "model.ckpt" if step is None else f"model.ckpt-{step}"
      original.save_original_checkpoint(loaded.model.named_variables(),
                                        os.path.join(tmp, name), global_step=step)
      prefix = name
    else:
      prefix = os.path.basename(native.save_electra_tf(loaded.model, tmp, step))
    vocab = _vocab_beside(input_path)
    if vocab is not None:
      tf.io.gfile.copy(vocab, os.path.join(tmp, fileio.VOCAB_FILE), overwrite=True)
  prefix = os.path.join(output_dir, prefix)
  log(f"wrote {to} checkpoint {prefix}" + (f" (global_step {step})" if step is not None else ""))
  return prefix


def _load(input_path: str, source_format: str, generator_path: Optional[str],
          hparams: Optional[Mapping[str, Any]], log: Callable[[str], None]) -> native.Loaded:
  """Rebuilds the model of a checkpoint in `source_format`, logging what it read."""
  log(f"reading {source_format} checkpoint {input_path}"
      + (f" + generator {generator_path}" if generator_path else ""))
  if source_format == "original":
    loaded = native.load_original(input_path, hparams)
  elif source_format == "hf":
    if hparams:
      raise CheckpointError("Hugging Face sources take their sizes from config.json; "
                            "drop hparams")
    loaded = native.load_hf(input_path, generator_path)
  else:
    loaded = native.load_electra_tf(input_path, hparams)
  if loaded.report is not None:
    log(loaded.report.summary())
  return loaded


def _write_hf(model, input_path: str, output_dir: str, vocab_file: Optional[str],
              log: Callable[[str], None]) -> str:
  networks = huggingface_export.model_networks(model)
  run_config = _run_config(input_path) or {}
  huggingface_export.check_vocab(vocab_file, networks[0]["config"]["vocab_size"])
  huggingface_export.export_networks(output_dir, networks, vocab_file,
                                     run_config.get("do_lower_case", True), log)
  return output_dir


def _run_config(path: str) -> Optional[dict]:
  """The `pretrain_config.json` of the run whose checkpoint is `path`, if any."""
  directory = path if tf.io.gfile.isdir(path) else os.path.dirname(path)
  run_config = os.path.join(directory, fileio.PRETRAIN_CONFIG_FILE)
  if not tf.io.gfile.exists(run_config):
    return None
  return fileio.read_json_object(run_config, CheckpointError)


def _check_output_apart(output_dir: str, inputs) -> None:
  """Raises CheckpointError if writing `output_dir` could destroy an input
  (its directory, for a checkpoint prefix): the same path, or one inside the
  other."""
  for path in inputs:
    directory = path if tf.io.gfile.isdir(path) else os.path.dirname(path) or "."
    relation = fileio.path_overlap(output_dir, directory)
    if relation is not None:
      raise CheckpointError(
          f"--output {output_dir} {relation} the input directory {directory}: the output "
          "directory is replaced whole, so the input would be lost; choose an output "
          "directory outside it")


def _vocab_beside(input_path: str) -> Optional[str]:
  directory = input_path if tf.io.gfile.isdir(input_path) else os.path.dirname(input_path)
  vocab = os.path.join(directory, fileio.VOCAB_FILE)
  return vocab if tf.io.gfile.exists(vocab) else None


# --- weights into an existing model -------------------------------------------

def load_weights(variables: Mapping[str, tf.Variable], path: str, *,
                 allow_missing: bool = True) -> LoadReport:
  """Loads a checkpoint of any supported format into `variables` by original name.

  The routine behind warm starts such as fine-tuning's `init_checkpoint`:
  weights whose original names the model has are loaded, the rest reported.

  - `hf`: a Hugging Face directory (its discriminator or BERT encoder);
  - `original`: a name-based TF1 checkpoint (the released archives, runs of
    the original, `convert_checkpoint.py --to original` outputs);
  - `electra_tf`: an object-based checkpoint, rebuilt from `model_spec.json`
    beside it (`convert_checkpoint.py --to electra_tf`) or, for a
    pre-training run's model dir, from its `pretrain_config.json`.

  Args:
    variables: {original TF1 name: tf.Variable}, e.g. a fine-tuning model's
      `electra/...` and `task_specific/...` variables.
    path: a checkpoint prefix or directory, or a Hugging Face directory.
    allow_missing: if False, a model variable the checkpoint lacks is an error.

  Returns:
    A LoadReport (for electra_tf checkpoints `unexpected` lists the source
    model's weights the target has no variable for, e.g. the generator).

  Raises:
    CheckpointError: nothing loadable at `path`, no name in common, or a
      shape mismatch; the variables are then unchanged.
  """
  source_format = detect_format(path)
  if source_format == "hf":
    return huggingface.load_hf_checkpoint(variables, path, network="discriminator",
                                          allow_missing=allow_missing)
  if source_format == "original":
    return original.load_original_checkpoint(variables, path, allow_missing=allow_missing)
  prefix = original.resolve_checkpoint(path)
  loaded = native.load_electra_tf(prefix)
  source = {name: variable.numpy() for name, variable in loaded.model.named_variables().items()}
  return original.assign_named_weights(
      variables, {name: array.shape for name, array in source.items()}, source.__getitem__,
      source=prefix, global_step=loaded.global_step, allow_missing=allow_missing)
