"""Serving a pre-trained discriminator: rebuild it from any model dir, export it.

`load_discriminator` accepts every place a discriminator lives (a
`run_pretraining.py` model dir, the released TF1 archives, a converted
checkpoint, a Hugging Face `ElectraForPreTraining` directory);
`export_settings` finds the vocab, length and casing the run used;
`discriminator_exportable` declares what the export returns:

- `disc_logits`, `disc_probs` float32 [B, L]: the logit and probability that
  each token was replaced;
- `sequence_output` float32 [B, L, H]: the final hidden states.
"""

import dataclasses
import os
from typing import Any, Mapping, Optional

import tensorflow as tf

from electra_tf import fileio
from electra_tf.checkpoints import conversion, huggingface, native, original
from electra_tf.checkpoints.original import CheckpointError
from electra_tf.config.pretraining import PretrainingConfig
from electra_tf.modeling.networks import ElectraNetwork
from electra_tf.modeling.pretraining_model import PretrainingModel
from electra_tf.serving import export
from electra_tf.serving.exportable import ExportableModel, ExportError
from electra_tf.text.vocab import SpecialTokenIds

DISCRIMINATOR_OUTPUTS = ("disc_logits", "disc_probs", "sequence_output")
# The featurisation length when neither the run nor the caller says.
DEFAULT_MAX_SEQ_LENGTH = 128


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
      forward=forward, variables=network.variables, outputs=DISCRIMINATOR_OUTPUTS,
      kind="discriminator", name="discriminator",
      max_seq_length=max_seq_length, vocab_file=vocab_file, do_lower_case=do_lower_case,
      strip_accents=strip_accents, encoder_config=network.config,
      config=dict(config or {}))


@dataclasses.dataclass
class LoadedDiscriminator:
  """A discriminator rebuilt from a model dir, and where its weights came from."""
  network: ElectraNetwork
  source: str


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
  config_path = os.path.join(model_dir, fileio.PRETRAIN_CONFIG_FILE)
  source_format = conversion.detect_format(model_dir)
  if source_format == "electra_tf" and tf.io.gfile.exists(config_path):
    config = PretrainingConfig()
    config.update(fileio.read_json_object(config_path, CheckpointError))
    if hparams:
      config.update(hparams)
    prefix = original.resolve_checkpoint(model_dir)
    # Special ids only steer masking, which the discriminator alone never runs.
    model = PretrainingModel(config, SpecialTokenIds())
    model.build_variables()
    try:
      tf.train.Checkpoint(model=model).read(prefix).expect_partial(
      ).assert_existing_objects_matched()
    except (AssertionError, ValueError, tf.errors.OpError) as e:
      raise CheckpointError(f"cannot restore {prefix!r} into the model described by "
                            f"{config_path}: {e}") from e
    return LoadedDiscriminator(_discriminator_of(model, prefix), prefix)
  if source_format == "hf":
    if hparams:
      raise CheckpointError("Hugging Face directories take their sizes from config.json; "
                            "drop hparams")
    network, report = huggingface.network_from_hf(model_dir)
    return LoadedDiscriminator(_discriminator_of(network, model_dir), report.source)
  loaded = (native.load_original(model_dir, hparams) if source_format == "original"
            else native.load_electra_tf(model_dir, hparams))
  source = loaded.report.source if loaded.report else model_dir
  return LoadedDiscriminator(_discriminator_of(loaded.model, source), source)


@dataclasses.dataclass
class ExportSettings:
  """How a discriminator export featurises text, resolved from its model dir."""
  vocab_file: str
  max_seq_length: int
  do_lower_case: bool
  run_config: Optional[PretrainingConfig]


def export_settings(model_dir: str, vocab_file: Optional[str] = None,
                    max_seq_length: Optional[int] = None,
                    do_lower_case: Optional[bool] = None) -> ExportSettings:
  """The vocab, length and casing to serve a model dir with.

  Explicit values win; then the run's `pretrain_config.json` (its
  `vocab_file` unless the model dir holds a `vocab.txt`, its
  `max_seq_length` and `do_lower_case`); then `vocab.txt` in the model dir,
  length 128 and lower-casing, as the original's defaults.

  Raises:
    CheckpointError: the model dir has no checkpoint (checked cheaply, before
      any weights are read).
    FileNotFoundError: no vocab file is found.
  """
  run_config = None
  config_path = os.path.join(model_dir, fileio.PRETRAIN_CONFIG_FILE)
  if tf.io.gfile.exists(config_path):
    run_config = PretrainingConfig()
    run_config.update(fileio.read_json_object(config_path, CheckpointError))
  if not tf.io.gfile.exists(os.path.join(model_dir, huggingface.CONFIG_FILE)):
    original.resolve_checkpoint(model_dir)
  if vocab_file is None:
    vocab_file = os.path.join(model_dir, fileio.VOCAB_FILE)
    if not tf.io.gfile.exists(vocab_file) and run_config is not None:
      vocab_file = run_config.vocab_file
  if not tf.io.gfile.exists(vocab_file):
    raise FileNotFoundError(f"vocab file {vocab_file!r} does not exist; pass --vocab-file")
  if max_seq_length is None:
    max_seq_length = run_config.max_seq_length if run_config else DEFAULT_MAX_SEQ_LENGTH
  if do_lower_case is None:
    do_lower_case = run_config.do_lower_case if run_config else True
  return ExportSettings(vocab_file, max_seq_length, do_lower_case, run_config)


def export_discriminator(model_dir: str, export_dir: str, *, version: Optional[int] = None,
                         overwrite: bool = False, vocab_file: Optional[str] = None,
                         max_seq_length: Optional[int] = None,
                         do_lower_case: Optional[bool] = None, strip_accents: bool = True,
                         hparams: Optional[Mapping[str, Any]] = None) -> str:
  """Exports the discriminator of `model_dir` to `export_dir/<version>/`.

  Settings not given come from the run (`export_settings`). Every input is
  checked (checkpoint present, vocab found, version free) before weights are
  read.

  Returns:
    The version directory written.
  """
  settings = export_settings(model_dir, vocab_file, max_seq_length, do_lower_case)
  version = export.resolve_version(export_dir, version, overwrite)
  loaded = load_discriminator(model_dir, hparams)
  print(f"loaded the discriminator from {loaded.source}")
  exportable = discriminator_exportable(
      loaded.network, vocab_file=settings.vocab_file, max_seq_length=settings.max_seq_length,
      do_lower_case=settings.do_lower_case, strip_accents=strip_accents,
      config={"pretraining": settings.run_config.to_dict()} if settings.run_config else None)
  return export.export_saved_model(exportable, export_dir, version, overwrite)
