"""SavedModel export for serving (TF Serving, `tf.saved_model.load`, saved_model_cli).

The original had no export at all (its issue #108). An export is a directory
`export_dir/<version>/` (TF Serving's layout) holding a SavedModel that needs
TensorFlow alone: no project code, and no custom ops (so the stock
saved_model_cli and TF Serving builds without tensorflow-text run it too):

| signature         | inputs                                  | outputs                                  |
|-------------------|-----------------------------------------|------------------------------------------|
| `serving_default` | the model's `text_inputs` (string [B]), | what `text_inputs.serve` returns (e.g.   |
|                   | e.g. `text`, `text_b`                   | the outputs plus the features it saw)    |
| `serve_ids`       | `input_ids`, `input_mask`,              | the model's declared `outputs`           |
|                   | `segment_ids`: int32 [B, L],            |                                          |
|                   | 1 <= L <= max_seq_length                |                                          |

`serving_default` tokenizes in the graph exactly as
`text.tokenization.FullTokenizer` (`text.ingraph`). `serve_ids` checks its
inputs in the graph (equal shapes, length, id ranges) and fails with a message
naming them.

`assets/` holds `vocab.txt`, `config.json` (the model's config and the
serving metadata: kind, outputs, labels, max_seq_length, casing, signatures)
and, with label names, `labels.txt` (one label per line, in class-id order).
"""

import datetime
import os
import shutil
import tempfile
import unicodedata
from typing import Any, Callable, Dict, Optional

import tensorflow as tf

import electra_tf
from electra_tf import fileio
from electra_tf.config.model import INPUT_FEATURES
from electra_tf.serving.exportable import ExportableModel, ExportError, ServingContext
from electra_tf.text.ingraph import InGraphTokenizer
from electra_tf.text.tokenization import MAX_INPUT_CHARS_PER_WORD
from electra_tf.text.vocab import load_vocab

TEXT_SIGNATURE = "serving_default"
IDS_SIGNATURE = "serve_ids"
VOCAB_ASSET, CONFIG_ASSET, LABELS_ASSET = "vocab.txt", "config.json", "labels.txt"
SERVING_FORMAT = "electra_tf.serving/1"


def resolve_version(export_dir: str, version: Optional[int], overwrite: bool) -> int:
  """The version to write: `version`, or one more than the highest present.

  Raises:
    ExportError: a negative version, or an existing non-empty version dir
      without `overwrite`.
  """
  if version is None:
    existing = ([int(name) for name in tf.io.gfile.listdir(export_dir)
                 if name.strip("/").isdigit()] if tf.io.gfile.isdir(export_dir) else [])
    return max(existing, default=0) + 1
  if version < 0:
    raise ExportError(f"version must be a non-negative integer, got {version}")
  target = os.path.join(export_dir, str(version))
  if tf.io.gfile.exists(target) and not tf.io.gfile.isdir(target):
    raise ExportError(f"{target} exists and is not a directory")
  if tf.io.gfile.exists(target) and tf.io.gfile.listdir(target) and not overwrite:
    raise ExportError(f"version directory {target} already exists and is not empty; "
                      "choose another version (default: the next free one) or pass "
                      "overwrite=True (--overwrite)")
  return version


class _ServingModule(tf.Module):
  """The SavedModel root: variables, tokenizer, assets and both signatures."""

  def __init__(self, exportable: ExportableModel, tokenizer: InGraphTokenizer,
               cls_id: int, sep_id: int, asset_dir: str):
    super().__init__(name="electra_serving")
    self._exportable = exportable
    # Only the variables are tracked, not the Keras objects: saving Keras
    # layers would trace every layer's call again, slower and larger, and
    # loading needs none of it.
    self.model_variables = list(exportable.variables)
    self.tokenizer = tokenizer
    self.vocab_file = tf.saved_model.Asset(os.path.join(asset_dir, VOCAB_ASSET))
    self.config_file = tf.saved_model.Asset(os.path.join(asset_dir, CONFIG_ASSET))
    if exportable.label_names:
      self.labels_file = tf.saved_model.Asset(os.path.join(asset_dir, LABELS_ASSET))
    self._context = ServingContext(tokenizer, cls_id, sep_id, exportable.max_seq_length,
                                   self._outputs)

  def _outputs(self, features: Dict[str, tf.Tensor]) -> Dict[str, tf.Tensor]:
    exportable = self._exportable
    outputs = exportable.forward(features)
    missing = [k for k in exportable.outputs if k not in outputs]
    if missing:
      raise ExportError(f"{exportable.name}: the model declares the outputs "
                        f"{list(exportable.outputs)}; forward lacks {missing}")
    return {k: outputs[k] for k in exportable.outputs}

  def serve_ids(self, input_ids, input_mask, segment_ids):
    """int32 [B, L] features -> outputs, after checking them in the graph."""
    config = self._exportable.encoder_config
    where = IDS_SIGNATURE
    shape = tf.shape(input_ids)
    checks = [
        tf.debugging.assert_equal(tf.shape(input_mask), shape, message=(
            f"{where}: input_mask must have the shape of input_ids [batch_size, seq_length]")),
        tf.debugging.assert_equal(tf.shape(segment_ids), shape, message=(
            f"{where}: segment_ids must have the shape of input_ids [batch_size, seq_length]")),
        tf.debugging.assert_greater(shape[1], 0, message=(
            f"{where}: input_ids must hold at least one position ([CLS])")),
        tf.debugging.assert_less_equal(shape[1], self._exportable.max_seq_length, message=(
            f"{where}: input_ids is longer than max_seq_length "
            f"{self._exportable.max_seq_length}")),
        tf.debugging.assert_non_negative(input_ids, message=(
            f"{where}: input_ids must be in [0, vocab_size={config.vocab_size})")),
        tf.debugging.assert_less(input_ids, config.vocab_size, message=(
            f"{where}: input_ids must be in [0, vocab_size={config.vocab_size})")),
        tf.debugging.assert_non_negative(segment_ids, message=(
            f"{where}: segment_ids must be in [0, {config.type_vocab_size})")),
        tf.debugging.assert_less(segment_ids, config.type_vocab_size, message=(
            f"{where}: segment_ids must be in [0, {config.type_vocab_size})")),
        tf.debugging.assert_non_negative(input_mask, message=(
            f"{where}: input_mask must be 0 (padding) or 1")),
        tf.debugging.assert_less_equal(input_mask, 1, message=(
            f"{where}: input_mask must be 0 (padding) or 1")),
    ]
    with tf.control_dependencies(checks):
      features = {"input_ids": tf.identity(input_ids), "input_mask": tf.identity(input_mask),
                  "segment_ids": tf.identity(segment_ids)}
    return self._outputs(features)

  def serve_text(self, *inputs):
    """The raw-text signature: string [B] inputs -> `text_inputs.serve` outputs."""
    names = self._exportable.text_inputs.names
    return self._exportable.text_inputs.serve(self._context, **dict(zip(names, inputs)))

  def signatures(self) -> Dict[str, tf.types.experimental.ConcreteFunction]:
    ids_spec = lambda name: tf.TensorSpec([None, None], tf.int32, name=name)
    text_spec = lambda name: tf.TensorSpec([None], tf.string, name=name)
    # No Python control flow depends on tensors here: AutoGraph would only
    # spend time (most of an export's) converting the code.
    serve_ids = tf.function(self.serve_ids, autograph=False).get_concrete_function(
        *(ids_spec(name) for name in INPUT_FEATURES))
    serve_text = tf.function(self.serve_text, autograph=False).get_concrete_function(
        *(text_spec(name) for name in self._exportable.text_inputs.names))
    return {TEXT_SIGNATURE: serve_text, IDS_SIGNATURE: serve_ids}


def serving_config(exportable: ExportableModel, version: int) -> Dict[str, Any]:
  """What assets/config.json says about an export."""
  return {
      "format": SERVING_FORMAT,
      "electra_tf_version": electra_tf.__version__,
      "exported_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
      "version": version,
      "name": exportable.name,
      "kind": exportable.kind,
      "label_names": list(exportable.label_names) if exportable.label_names else None,
      "max_seq_length": exportable.max_seq_length,
      "do_lower_case": exportable.do_lower_case,
      "strip_accents": exportable.strip_accents and exportable.do_lower_case,
      "max_input_chars_per_word": MAX_INPUT_CHARS_PER_WORD,
      "tokenizer_unicode_version": unicodedata.unidata_version,
      "signatures": {TEXT_SIGNATURE: list(exportable.text_inputs.names),
                     IDS_SIGNATURE: list(INPUT_FEATURES)},
      "outputs": list(exportable.outputs),
      "encoder": exportable.encoder_config.to_dict(),
      "model": dict(exportable.config),
  }


def export_saved_model(exportable: ExportableModel, export_dir: str,
                       version: Optional[int] = None, overwrite: bool = False,
                       log: Callable[[str], None] = print) -> str:
  """Writes `export_dir/<version>/`: a SavedModel with both signatures.

  The export is written to a hidden temporary directory inside `export_dir`
  (TF Serving ignores non-numeric names) and renamed into place when
  complete, so a server never sees a half-written version.

  Args:
    exportable: the model and its metadata.
    export_dir: the model's base directory (created if needed).
    version: the version number; default one more than the highest present.
    overwrite: replace an existing non-empty version directory.
    log: receives progress lines.

  Returns:
    The version directory.

  Raises:
    ExportError: invalid metadata, or an existing version without overwrite.
    FileNotFoundError, ValueError: a missing or unusable vocab file.
  """
  exportable.validate()
  version = resolve_version(export_dir, version, overwrite)
  vocab = load_vocab(exportable.vocab_file)
  num_tokens = max(vocab.values()) + 1
  if num_tokens != exportable.encoder_config.vocab_size:
    raise ExportError(f"vocab file {exportable.vocab_file} has {num_tokens} tokens but the "
                      f"model's vocab_size is {exportable.encoder_config.vocab_size}; pass the "
                      "vocab the model was trained with")
  missing = [token for token in ("[CLS]", "[SEP]") if token not in vocab]
  if missing:
    raise ExportError(f"vocab file {exportable.vocab_file} lacks {missing}")
  target = os.path.join(export_dir, str(version))
  log(f"building the in-graph tokenizer (lower case {exportable.do_lower_case}, "
      f"strip accents {exportable.strip_accents and exportable.do_lower_case})")
  tokenizer = InGraphTokenizer(exportable.vocab_file, exportable.do_lower_case,
                               exportable.strip_accents)
  asset_dir = tempfile.mkdtemp(prefix="electra_serving_assets_")
  try:
    with fileio.atomic_directory(target) as tmp:
      _write_assets(exportable, version, asset_dir)
      module = _ServingModule(exportable, tokenizer, vocab["[CLS]"], vocab["[SEP]"], asset_dir)
      log(f"tracing {TEXT_SIGNATURE} and {IDS_SIGNATURE} for the {exportable.kind} model "
          f"{exportable.name!r}")
      tf.saved_model.save(module, tmp, signatures=module.signatures(),
                          options=tf.saved_model.SaveOptions(experimental_custom_gradients=False))
  finally:
    shutil.rmtree(asset_dir, ignore_errors=True)
  log(f"wrote {target}")
  return target


def _write_assets(exportable: ExportableModel, version: int, asset_dir: str) -> None:
  tf.io.gfile.copy(exportable.vocab_file, os.path.join(asset_dir, VOCAB_ASSET), overwrite=True)
  fileio.write_json(os.path.join(asset_dir, CONFIG_ASSET), serving_config(exportable, version))
  if exportable.label_names:
    fileio.atomic_write(os.path.join(asset_dir, LABELS_ASSET),
                        "".join(f"{label}\n" for label in exportable.label_names))
