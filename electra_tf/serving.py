"""SavedModel export for serving (TF Serving, `tf.saved_model.load`, saved_model_cli).

The original had no export at all (its issue #108). An export is a directory
`export_dir/<version>/` (TF Serving's layout) holding a SavedModel that needs
TensorFlow alone: no project code, and no custom ops (so the stock
saved_model_cli and TF Serving builds without tensorflow-text run it too):

| signature         | inputs                                  | outputs                                    |
|-------------------|-----------------------------------------|--------------------------------------------|
| `serving_default` | `text`, `text_b`: string [B]            | the model's outputs, plus the features it  |
|                   |                                         | saw: `input_ids`, `input_mask`,            |
|                   |                                         | `segment_ids` int32 [B, max_seq_length]    |
| `serve_ids`       | `input_ids`, `input_mask`,              | the model's outputs                        |
|                   | `segment_ids`: int32 [B, L],            |                                            |
|                   | 1 <= L <= max_seq_length                |                                            |

The model's outputs by kind (`OUTPUTS`; float32 unless stated):

- `discriminator`: `disc_logits`, `disc_probs` [B, L] (the probability that
  each token was replaced) and `sequence_output` [B, L, H];
- `classification`: `logits`, `probabilities` [B, C], `predictions` int32
  [B], `predicted_label` string [B] and `label_names` string [B, C] (the
  label strings, repeated per row so row-format JSON requests work);
- `regression`: `predictions` [B] (the normalised target the model was
  trained on) and `score` [B] (on the task's scale).

`serving_default` tokenizes in the graph exactly as
`tokenization.FullTokenizer` (`ingraph_tokenization`) and featurises as the
original's fine-tuning (`ingraph_tokenization.pack_inputs`): a row with an
empty `text_b` (or one that tokenizes to nothing) is a single text.
`serve_ids` checks its inputs in the graph (equal shapes, length, id ranges)
and fails with a message naming them.

`assets/` holds `vocab.txt`, `config.json` (the model's config and the
serving metadata: kind, labels, max_seq_length, casing, signatures) and, for
classifiers, `labels.txt` (one label per line, in class-id order).

Any model is exported through an `ExportableModel`: a function from the three
id tensors to named outputs, plus metadata. `discriminator_exportable` wraps
a pre-trained discriminator (`load_discriminator` rebuilds one from a model
dir); `task_exportable` wraps one task of a fine-tuning model (the
`FinetuningModel` contract: `model(features, training)[task.name]` gives that
task's outputs), so every task of a multi-task model exports on its own
(`finetune.modeling.task_exportables` builds them for a fine-tuned trial dir).
Span (QA) and tagging tasks need their own kinds in `OUTPUTS` (and, for
QA, a question + context text signature); they are refused until then.
"""

import dataclasses
import datetime
import json
import os
import shutil
import tempfile
import unicodedata
import uuid
from typing import Any, Callable, Dict, Mapping, Optional, Sequence

import tensorflow as tf

import electra_tf
from electra_tf import checkpoint_conversion, checkpoints, huggingface
from electra_tf.checkpoints import CheckpointError
from electra_tf.config import PretrainingConfig, TransformerConfig
from electra_tf.ingraph_tokenization import InGraphTokenizer, pack_inputs
from electra_tf.networks import ElectraNetwork
from electra_tf.pretraining import PretrainingModel
from electra_tf.tokenization import MAX_INPUT_CHARS_PER_WORD
from electra_tf.training import CONFIG_FILE as PRETRAIN_CONFIG_FILE
from electra_tf.vocab import SpecialTokenIds, load_vocab

TEXT_SIGNATURE = "serving_default"
IDS_SIGNATURE = "serve_ids"
FEATURES = ("input_ids", "input_mask", "segment_ids")
# Outputs the model's forward function must return, by kind.
OUTPUTS = {
    "discriminator": ("disc_logits", "disc_probs", "sequence_output"),
    "classification": ("logits", "probabilities", "predictions"),
    "regression": ("predictions", "score"),
}
VOCAB_ASSET, CONFIG_ASSET, LABELS_ASSET = "vocab.txt", "config.json", "labels.txt"
SERVING_FORMAT = "electra_tf.serving/1"


class ExportError(ValueError):
  """An export that cannot be done as asked (existing version, bad model)."""


# forward({"input_ids", "input_mask", "segment_ids"}: int32 [B, L]) -> outputs
Forward = Callable[[Dict[str, tf.Tensor]], Dict[str, tf.Tensor]]


@dataclasses.dataclass
class ExportableModel:
  """A model and what serving it needs: the seam between models and the exporter.

  Attributes:
    forward: inference-mode function from int32 [B, L] `input_ids`,
      `input_mask`, `segment_ids` to a dict holding at least `OUTPUTS[kind]`
      (extra keys are dropped); traced with a dynamic L.
    variables: every variable `forward` reads; they are saved.
    kind: a key of OUTPUTS.
    name: what the model is, e.g. "discriminator" or a task name.
    max_seq_length: the featurisation length of `serving_default` and the
      longest input `serve_ids` accepts.
    vocab_file: the WordPiece vocab the model was trained with.
    do_lower_case, strip_accents: the tokenizer's casing (as the original's
      flags; accents are only stripped when lower-casing).
    encoder_config: the transformer's dimensions (vocab and segment ranges
      are checked against it).
    label_names: class names in class-id order (classification only).
    config: JSON-able description written to assets/config.json (e.g. the
      pre-training or fine-tuning hparams).
  """
  forward: Forward
  variables: Sequence[tf.Variable]
  kind: str
  name: str
  max_seq_length: int
  vocab_file: str
  do_lower_case: bool
  encoder_config: TransformerConfig
  strip_accents: bool = True
  label_names: Optional[Sequence[str]] = None
  config: Mapping[str, Any] = dataclasses.field(default_factory=dict)

  def validate(self) -> None:
    """Raises ExportError for metadata no export can serve."""
    if self.kind not in OUTPUTS:
      raise ExportError(f"kind {self.kind!r} is not one of {sorted(OUTPUTS)}")
    if not self.variables:
      raise ExportError(f"{self.name}: the model has no variables; build it (run it once) "
                        "and load its weights before exporting")
    positions = self.encoder_config.max_position_embeddings
    if not 3 <= self.max_seq_length <= positions:
      raise ExportError(f"max_seq_length {self.max_seq_length} must be in [3, "
                        f"max_position_embeddings={positions}]")
    if self.kind == "classification":
      if not self.label_names or len(set(self.label_names)) != len(self.label_names):
        raise ExportError(f"{self.name}: a classifier needs distinct label names, got "
                          f"{self.label_names!r}")
      if any("\n" in str(label) for label in self.label_names):
        raise ExportError(f"{self.name}: label names cannot contain newlines (labels.txt)")
    elif self.label_names:
      raise ExportError(f"{self.name}: label names are for classifiers, not {self.kind}")


# --- exportable models -------------------------------------------------------

def discriminator_exportable(network: ElectraNetwork, *, vocab_file: str, max_seq_length: int,
                             do_lower_case: bool, strip_accents: bool = True,
                             config: Optional[Mapping[str, Any]] = None) -> ExportableModel:
  """The pre-trained discriminator: replaced-token probabilities per token."""
  if network.scope != "electra" or network.head_kind != "discriminator":
    raise ExportError(f"expected the discriminator (scope 'electra', head 'discriminator'), "
                      f"got scope {network.scope!r} with head {network.head_kind!r}")

  def forward(features):
    outputs = network(features, training=False)
    logits = tf.cast(outputs["disc_logits"], tf.float32)
    return {"disc_logits": logits, "disc_probs": tf.sigmoid(logits),
            "sequence_output": tf.cast(outputs["sequence_output"], tf.float32)}

  return ExportableModel(
      forward=forward, variables=network.variables, kind="discriminator", name="discriminator",
      max_seq_length=max_seq_length, vocab_file=vocab_file, do_lower_case=do_lower_case,
      strip_accents=strip_accents, encoder_config=network.config,
      config=dict(config or {}))


def task_exportable(model, task, *, encoder_config: TransformerConfig, vocab_file: str,
                    max_seq_length: int, do_lower_case: bool, strip_accents: bool = True,
                    config: Optional[Mapping[str, Any]] = None) -> ExportableModel:
  """One task of a fine-tuning model (the `FinetuningModel` contract).

  Args:
    model: a built, loaded Keras model whose `model(features,
      training=False)` returns {task name: {output name: tensor}}, the
      outputs of a classification task being `logits`, `probabilities`
      [B, C] and `predictions` [B], of a regression task `predictions`
      (normalised) and `score` [B].
    task: has `name`, `kind` ("classification" or "regression") and
      `label_list` (class names in class-id order; classification).
    encoder_config: the encoder's dimensions.
    vocab_file, max_seq_length, do_lower_case, strip_accents: the fine-tuning
      run's tokenizer and featurisation settings.
    config: JSON-able fine-tuning config for assets/config.json.
  """
  if task.kind not in ("classification", "regression"):
    raise ExportError(f"task {task.name!r} is a {task.kind!r} task; serving exports "
                      "classification and regression tasks")

  def forward(features):
    outputs = model(features, training=False)[task.name]
    if task.kind == "regression":
      return {"predictions": tf.cast(outputs["predictions"], tf.float32),
              "score": tf.cast(outputs["score"], tf.float32)}
    return {"logits": tf.cast(outputs["logits"], tf.float32),
            "probabilities": tf.cast(outputs["probabilities"], tf.float32),
            "predictions": tf.cast(outputs["predictions"], tf.int32)}

  labels = list(task.label_list) if task.kind == "classification" else None
  return ExportableModel(
      forward=forward, variables=model.variables, kind=task.kind, name=task.name,
      max_seq_length=max_seq_length, vocab_file=vocab_file, do_lower_case=do_lower_case,
      strip_accents=strip_accents, encoder_config=encoder_config, label_names=labels,
      config=dict(config or {}))


# --- loading a pre-trained discriminator -------------------------------------

@dataclasses.dataclass
class LoadedDiscriminator:
  """A discriminator rebuilt from a model dir, with what its run recorded."""
  network: ElectraNetwork
  source: str
  pretrain_config: Optional[PretrainingConfig]


def _discriminator_of(model, source: str) -> ElectraNetwork:
  """The discriminator of a PretrainingModel (copied) or ElectraNetwork."""
  if isinstance(model, ElectraNetwork):
    if model.scope == "electra" and model.head_kind == "discriminator":
      return model
    raise CheckpointError(f"{source} holds a {model.scope!r} network with head "
                          f"{model.head_kind!r}, not a discriminator")
  if model.discriminator is None:
    raise CheckpointError(f"{source} was pre-trained without a discriminator "
                          "(electra_objective=false)")
  network = ElectraNetwork(model.bert_config, "electra", head="discriminator")
  network.build_variables()
  pretraining_variables = model.named_variables()
  for name, variable in network.named_variables().items():
    variable.assign(pretraining_variables[name])
  return network


def load_discriminator(model_dir: str,
                       hparams: Optional[Mapping[str, Any]] = None) -> LoadedDiscriminator:
  """Rebuilds the pre-trained discriminator stored in `model_dir`.

  Accepts a run_pretraining model dir (its latest checkpoint, rebuilt from
  `pretrain_config.json` beside it), an original-format checkpoint (e.g. the
  released ELECTRA-Small, sizes inferred from the variables), an electra_tf
  checkpoint written by convert_checkpoint.py, or a Hugging Face
  ElectraForPreTraining directory.

  Args:
    model_dir: the directory (or a checkpoint prefix).
    hparams: pre-training hparams for checkpoints whose sizes cannot be
      inferred (as convert_checkpoint.py's --hparams).

  Raises:
    CheckpointError: no checkpoint, no discriminator, or weights that do not
      fit the model.
  """
  config_path = os.path.join(model_dir, PRETRAIN_CONFIG_FILE)
  source_format = checkpoint_conversion.detect_format(model_dir)
  if source_format == "electra_tf" and tf.io.gfile.exists(config_path):
    config = PretrainingConfig()
    config.update(huggingface.read_json_object(config_path))
    if hparams:
      config.update(hparams)
    prefix = checkpoints.resolve_checkpoint(model_dir)
    # Special ids only steer masking, which the discriminator alone never runs.
    model = PretrainingModel(config, SpecialTokenIds())
    model.build_variables()
    try:
      tf.train.Checkpoint(model=model).read(prefix).expect_partial(
      ).assert_existing_objects_matched()
    except (AssertionError, ValueError, tf.errors.OpError) as e:
      raise CheckpointError(f"cannot restore {prefix!r} into the model described by "
                            f"{config_path}: {e}") from e
    return LoadedDiscriminator(_discriminator_of(model, prefix), prefix, config)
  if source_format == "hf":
    if hparams:
      raise CheckpointError("Hugging Face directories take their sizes from config.json; "
                            "drop hparams")
    network, report = huggingface.network_from_hf(model_dir)
    return LoadedDiscriminator(_discriminator_of(network, model_dir), report.source, None)
  loaded = (checkpoint_conversion.load_original(model_dir, hparams)
            if source_format == "original"
            else checkpoint_conversion.load_electra_tf(model_dir, hparams))
  source = loaded.report.source if loaded.report else model_dir
  return LoadedDiscriminator(_discriminator_of(loaded.model, source), source, None)


# --- export ------------------------------------------------------------------

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
    self._label_names = None
    if exportable.label_names:
      self.labels_file = tf.saved_model.Asset(os.path.join(asset_dir, LABELS_ASSET))
      self._label_names = tf.constant(list(exportable.label_names))
    self._cls_id, self._sep_id = cls_id, sep_id

  def _outputs(self, features: Dict[str, tf.Tensor]) -> Dict[str, tf.Tensor]:
    exportable = self._exportable
    outputs = exportable.forward(features)
    missing = [k for k in OUTPUTS[exportable.kind] if k not in outputs]
    if missing:
      raise ExportError(f"{exportable.name}: a {exportable.kind} model must return "
                        f"{list(OUTPUTS[exportable.kind])}; forward lacks {missing}")
    outputs = {k: outputs[k] for k in OUTPUTS[exportable.kind]}
    if self._label_names is not None:
      outputs["predicted_label"] = tf.gather(self._label_names, outputs["predictions"])
      batch_size = tf.shape(outputs["predictions"])[0]
      outputs["label_names"] = tf.tile(self._label_names[tf.newaxis], [batch_size, 1])
    return outputs

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

  def serve_text(self, text, text_b):
    """string [B] texts (and second texts, "" for none) -> outputs + features."""
    check = tf.debugging.assert_equal(tf.shape(text), tf.shape(text_b), message=(
        f"{TEXT_SIGNATURE}: text and text_b must have the same batch size (pass \"\" as "
        "text_b for single texts)"))
    with tf.control_dependencies([check]):
      # One tokenizer call for both columns.
      tokens = self.tokenizer.tokenize(tf.concat([text, text_b], axis=0))
    batch_size = tf.shape(text)[0]
    features = pack_inputs(tokens[:batch_size], tokens[batch_size:],
                           self._exportable.max_seq_length, self._cls_id, self._sep_id)
    return {**self._outputs(features), **features}

  def signatures(self) -> Dict[str, tf.types.experimental.ConcreteFunction]:
    ids_spec = lambda name: tf.TensorSpec([None, None], tf.int32, name=name)
    text_spec = lambda name: tf.TensorSpec([None], tf.string, name=name)
    # No Python control flow depends on tensors here: AutoGraph would only
    # spend time (most of an export's) converting the code.
    serve_ids = tf.function(self.serve_ids, autograph=False).get_concrete_function(
        *(ids_spec(name) for name in FEATURES))
    serve_text = tf.function(self.serve_text, autograph=False).get_concrete_function(
        text_spec("text"), text_spec("text_b"))
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
      "signatures": {TEXT_SIGNATURE: ["text", "text_b"], IDS_SIGNATURE: list(FEATURES)},
      "outputs": list(OUTPUTS[exportable.kind])
                 + (["predicted_label", "label_names"] if exportable.label_names else []),
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
  tf.io.gfile.makedirs(export_dir)
  tmp = os.path.join(export_dir, f".tmp-{version}-{uuid.uuid4().hex}")
  asset_dir = tempfile.mkdtemp(prefix="electra_serving_assets_")
  try:
    _write_assets(exportable, version, asset_dir)
    module = _ServingModule(exportable, tokenizer, vocab["[CLS]"], vocab["[SEP]"], asset_dir)
    log(f"tracing {TEXT_SIGNATURE} and {IDS_SIGNATURE} for the {exportable.kind} model "
        f"{exportable.name!r}")
    tf.saved_model.save(module, tmp, signatures=module.signatures(),
                        options=tf.saved_model.SaveOptions(experimental_custom_gradients=False))
    _move_into_place(tmp, target)
  finally:
    shutil.rmtree(asset_dir, ignore_errors=True)
    if tf.io.gfile.exists(tmp):
      tf.io.gfile.rmtree(tmp)
  log(f"wrote {target}")
  return target


def _write_assets(exportable: ExportableModel, version: int, asset_dir: str) -> None:
  shutil.copyfile(exportable.vocab_file, os.path.join(asset_dir, VOCAB_ASSET))
  with open(os.path.join(asset_dir, CONFIG_ASSET), "w", encoding="utf-8") as f:
    json.dump(serving_config(exportable, version), f, indent=2, sort_keys=True)
    f.write("\n")
  if exportable.label_names:
    with open(os.path.join(asset_dir, LABELS_ASSET), "w", encoding="utf-8") as f:
      f.write("".join(f"{label}\n" for label in exportable.label_names))


def _move_into_place(new: str, target: str) -> None:
  """Renames the finished export to `target`, replacing an existing one."""
  if not tf.io.gfile.exists(target):
    tf.io.gfile.rename(new, target)
    return
  old = f"{new}.old"
  tf.io.gfile.rename(target, old)
  tf.io.gfile.rename(new, target)
  tf.io.gfile.rmtree(old)
