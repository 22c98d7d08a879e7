"""electra-tf's own checkpoints, and rebuilding a model from any checkpoint.

Our format is an object-based TF2 checkpoint: a directory holding
`tf.train.Checkpoint(model=<model>, global_step=<int64>)` files (written by
`tf.train.CheckpointManager`) and `model_spec.json`, which says how to rebuild
the model: a `PretrainingModel` from its architecture hparams, or an
`ElectraNetwork` from its TransformerConfig. A `run_pretraining.py` model dir
has no spec; its `pretrain_config.json` says the same.

The loaders here rebuild the model a checkpoint describes (`load_original`,
`load_hf`, `load_electra_tf`). A checkpoint with generator and discriminator
(the released layout) becomes a `PretrainingModel`, with hparams inferred
from the variable shapes; a checkpoint of one network becomes an
`ElectraNetwork`. Shapes cannot tell the number of attention heads; it is
inferred as the original's max(1, hidden // 64) unless `hparams` say
otherwise.
"""

import dataclasses
import os
import re
from typing import Any, Dict, Mapping, Optional, Tuple

import numpy as np
import tensorflow as tf

from electra_tf import fileio
from electra_tf.checkpoints import huggingface, original
from electra_tf.checkpoints.original import CheckpointError, LoadReport
from electra_tf.config.model import MODEL_SIZES, TransformerConfig, get_bert_config
from electra_tf.config.pretraining import PretrainingConfig, get_generator_config
from electra_tf.modeling.networks import ElectraNetwork
from electra_tf.modeling.pretraining_model import PretrainingModel
from electra_tf.text.vocab import SpecialTokenIds

# PretrainingConfig fields that decide which variables exist and their shapes.
ARCHITECTURE_HPARAMS = (
    "debug", "model_size", "model_hparam_overrides", "embedding_size", "vocab_size",
    "electra_objective", "electric_objective", "uniform_generator", "two_tower_generator",
    "untied_generator_embeddings", "untied_generator", "generator_layers",
    "generator_hidden_size")
# TransformerConfig fields the size presets do not set.
_OVERRIDABLE = ("hidden_act", "hidden_dropout_prob", "attention_probs_dropout_prob",
                "max_position_embeddings", "type_vocab_size", "initializer_range")


# --- models from specs -------------------------------------------------------

def model_spec(model) -> Dict[str, Any]:
  """The JSON-able description `build_model` rebuilds `model` from."""
  if isinstance(model, PretrainingModel):
    hparams = {k: getattr(model.config, k) for k in ARCHITECTURE_HPARAMS}
    return {"model": "pretraining", "hparams": hparams}
  if isinstance(model, ElectraNetwork):
    return {"model": "network", "scope": model.scope, "head": model.head_kind,
            "config": model.config.to_dict()}
  raise TypeError(f"no spec for {type(model).__name__}")


def build_model(spec: Mapping[str, Any]):
  """A PretrainingModel or ElectraNetwork with its variables built."""
  try:
    if spec.get("model") == "pretraining":
      config = PretrainingConfig.create("converted", "", **spec["hparams"])
      model = PretrainingModel(config, SpecialTokenIds())
    elif spec.get("model") == "network":
      config = TransformerConfig()
      config.update(spec["config"])
      model = ElectraNetwork(config, spec["scope"], spec["head"])
    else:
      raise CheckpointError(f"model spec {dict(spec)} names no known model "
                            "('pretraining' or 'network')")
  except (ValueError, KeyError, TypeError) as e:
    raise CheckpointError(f"invalid model spec {dict(spec)}: {e}") from e
  model.build_variables()
  return model


# --- inferring the architecture ----------------------------------------------

def infer_transformer_config(shapes: Mapping[str, Tuple[int, ...]],
                             scope: str) -> Optional[TransformerConfig]:
  """The dims of the encoder under `scope` in a name-based checkpoint, or None.

  Heads cannot be read from shapes; they follow the original's rule.
  """
  query = f"{scope}/encoder/layer_0/attention/self/query/kernel"
  if query not in shapes:
    return None
  embeddings = (f"{scope}/embeddings" if f"{scope}/embeddings/word_embeddings" in shapes
                else "electra/embeddings")
  try:
    vocab_size, width = shapes[f"{embeddings}/word_embeddings"]
    hidden = shapes[query][1]
    layers = {int(m.group(1)) for n in shapes
              for m in [re.match(rf"{re.escape(scope)}/encoder/layer_(\d+)/", n)] if m}
    return TransformerConfig(
        vocab_size=vocab_size, hidden_size=hidden, num_hidden_layers=max(layers) + 1,
        num_attention_heads=max(1, hidden // 64),
        intermediate_size=shapes[f"{scope}/encoder/layer_0/intermediate/dense/kernel"][1],
        max_position_embeddings=shapes[f"{embeddings}/position_embeddings"][0],
        type_vocab_size=shapes[f"{embeddings}/token_type_embeddings"][0],
        embedding_size=width)
  except (KeyError, ValueError) as e:
    raise CheckpointError(f"the checkpoint's {scope}/ encoder is incomplete: {e}") from e


def pretraining_hparams(disc: TransformerConfig, gen: Optional[TransformerConfig],
                        untied_generator_embeddings: bool = False) -> Dict[str, Any]:
  """PretrainingConfig hparams whose networks have exactly these dims.

  Args:
    disc: the discriminator's dims.
    gen: the generator's dims, or None for the original's
      `untied_generator=False` layout (one shared full-size network).
    untied_generator_embeddings: the generator has embeddings of its own.

  Raises:
    CheckpointError: dims the original's config rules cannot produce (e.g. a
      generator whose heads differ from max(1, hidden // 64)).
  """
  hidden, layers = disc.hidden_size, disc.num_hidden_layers
  size = next((s for s, dims in MODEL_SIZES.items()
               if dims == {"hidden_size": hidden, "num_hidden_layers": layers}), None)
  overrides: Dict[str, Any] = {}
  if size is None:
    size = "base"
    overrides.update(hidden_size=hidden, num_hidden_layers=layers)
  if disc.num_attention_heads != max(1, hidden // 64):
    overrides["num_attention_heads"] = disc.num_attention_heads
  if disc.intermediate_size != 4 * hidden:
    overrides["intermediate_size"] = disc.intermediate_size
  defaults = TransformerConfig()
  overrides.update({k: getattr(disc, k) for k in _OVERRIDABLE
                    if getattr(disc, k) != getattr(defaults, k)})
  hparams: Dict[str, Any] = {"model_size": size, "vocab_size": disc.vocab_size,
                             "embedding_size": disc.embedding_width,
                             "model_hparam_overrides": overrides}
  if gen is None:
    hparams["untied_generator"] = False
  else:
    hparams["generator_hidden_size"] = gen.hidden_size / hidden
    hparams["generator_layers"] = gen.num_hidden_layers / layers
    if untied_generator_embeddings:
      hparams["untied_generator_embeddings"] = True
  config = PretrainingConfig.create("converted", "", **hparams)
  _check_dims("discriminator", disc, get_bert_config(config))
  if gen is not None:
    _check_dims("generator", gen, get_generator_config(config, get_bert_config(config)))
  return hparams


def merge_hparams(base: Mapping[str, Any],
                  overrides: Optional[Mapping[str, Any]]) -> Dict[str, Any]:
  """`base` updated by `overrides`; `model_hparam_overrides` dicts are merged
  too, so a user override adds to inferred sizes instead of dropping them."""
  merged = {**base, **(overrides or {})}
  if "model_hparam_overrides" in base and overrides and "model_hparam_overrides" in overrides:
    merged["model_hparam_overrides"] = {**base["model_hparam_overrides"],
                                        **overrides["model_hparam_overrides"]}
  return merged


# Fields that only affect training, not the weights or the forward pass.
_TRAINING_ONLY = ("hidden_dropout_prob", "attention_probs_dropout_prob", "initializer_range")


def _check_dims(what: str, want: TransformerConfig, got: TransformerConfig) -> None:
  for field in dataclasses.fields(TransformerConfig):
    if field.name in _TRAINING_ONLY:
      continue
    if field.name == "embedding_size":
      mine, theirs = got.embedding_width, want.embedding_width
    else:
      mine, theirs = getattr(got, field.name), getattr(want, field.name)
    if mine != theirs:
      raise CheckpointError(
          f"the {what} has {field.name} {theirs}, but the original's config rules give "
          f"{mine} for these sizes; such a model cannot be built as a PretrainingModel "
          "(convert the networks one at a time)")


def spec_for_original(shapes: Mapping[str, Tuple[int, ...]],
                      hparams: Optional[Mapping[str, Any]] = None) -> Dict[str, Any]:
  """The model spec a name-based checkpoint's variables describe.

  Args:
    shapes: {name: shape} of the checkpoint.
    hparams: pre-training hparams overriding the inferred ones (e.g.
      model_hparam_overrides.num_attention_heads); only for checkpoints that
      become a PretrainingModel.
  """
  disc = infer_transformer_config(shapes, "electra")
  gen_scope = "generator_ltr" if any(n.startswith("generator_ltr/") for n in shapes) else "generator"
  gen = infer_transformer_config(shapes, gen_scope)
  disc_head = any(n.startswith("discriminator_predictions/") for n in shapes)
  mlm_head = any(n.startswith("generator_predictions/") for n in shapes)
  if disc is not None and (gen is not None or (disc_head and mlm_head)):
    inferred = pretraining_hparams(
        disc, gen, untied_generator_embeddings=any(
            n.startswith(f"{gen_scope}/embeddings/") for n in shapes))
    if gen_scope == "generator_ltr":
      inferred["electric_objective"] = True
    return {"model": "pretraining", "hparams": merge_hparams(inferred, hparams)}
  if hparams:
    raise CheckpointError("hparams apply to checkpoints with a generator and a "
                          "discriminator; this one holds a single network")
  if disc is not None:
    scope, head = "electra", "discriminator" if disc_head else "mlm" if mlm_head else None
    config = disc
  elif gen is not None and gen_scope == "generator":
    scope, head, config = "generator", "mlm" if mlm_head else None, gen
  else:
    raise CheckpointError(
        "found no ELECTRA encoder (electra/encoder/layer_0/... or "
        f"generator/encoder/layer_0/...) among the checkpoint's {len(shapes)} "
        f"variables, e.g. {sorted(shapes)[:5]}")
  return {"model": "network", "scope": scope, "head": head, "config": config.to_dict()}


# --- reading sources ---------------------------------------------------------

@dataclasses.dataclass
class Loaded:
  """A model rebuilt from a source checkpoint."""
  model: Any
  spec: Dict[str, Any]
  global_step: Optional[int]
  report: Optional[LoadReport]


def load_original(path: str, hparams: Optional[Mapping[str, Any]] = None) -> Loaded:
  """Builds the model a name-based checkpoint describes and loads all of it."""
  shapes = original.list_original_checkpoint(path)
  spec = spec_for_original(shapes, hparams)
  model = build_model(spec)
  report = original.load_original_checkpoint(model.named_variables(), path,
                                                allow_missing=False)
  return Loaded(model, spec, report.global_step, report)


def load_hf(path: str, generator_path: Optional[str] = None) -> Loaded:
  """Builds the model of a Hugging Face directory (or a discriminator +
  generator pair, as a PretrainingModel) and loads all of it."""
  if generator_path is None:
    model, report = huggingface.network_from_hf(path)
    return Loaded(model, model_spec(model), None, report)
  disc = huggingface.read_hf_checkpoint(path, "discriminator")
  gen = huggingface.read_hf_checkpoint(generator_path, "generator")
  if disc.model_type != "electra" or disc.head != "discriminator" or gen.head != "mlm":
    raise CheckpointError(
        f"a generator directory pairs with an ELECTRA discriminator: {path} must hold "
        f"ElectraForPreTraining and {generator_path} ElectraForMaskedLM weights")
  weights = dict(disc.weights)
  for name, array in gen.weights.items():
    # Both directories hold the embeddings the original shares.
    if name in weights and not np.array_equal(weights[name], array):
      raise CheckpointError(
          f"{name} differs between {path} and {generator_path}; the original shares "
          "the embeddings, so these are not one pre-training checkpoint")
    weights[name] = array
  spec = {"model": "pretraining", "hparams": pretraining_hparams(disc.config, gen.config)}
  model = build_model(spec)
  report = original.assign_named_weights(
      model.named_variables(), {n: a.shape for n, a in weights.items()}, weights.__getitem__,
      source=f"{path} + {generator_path}", ignored=disc.ignored + gen.ignored,
      unmapped=disc.unexpected + gen.unexpected, allow_missing=False)
  return Loaded(model, spec, None, report)


def save_electra_tf(model, output_dir: str, global_step: Optional[int] = None) -> str:
  """Writes `model` as an electra_tf checkpoint plus `model_spec.json`.

  Returns:
    The checkpoint prefix.
  """
  objects = {"model": model}
  if global_step is not None:
    objects["global_step"] = tf.Variable(global_step, dtype=tf.int64, trainable=False)
  manager = tf.train.CheckpointManager(tf.train.Checkpoint(**objects), output_dir,
                                       max_to_keep=1)
  prefix = manager.save(checkpoint_number=global_step)
  fileio.write_json(os.path.join(output_dir, fileio.MODEL_SPEC_FILE), model_spec(model))
  return prefix


def load_electra_tf(path: str, hparams: Optional[Mapping[str, Any]] = None) -> Loaded:
  """Rebuilds and restores an electra_tf checkpoint (prefix or directory).

  The model comes from `model_spec.json` beside the checkpoint; without one,
  from the `pretrain_config.json` of a `run_pretraining.py` model dir, then
  `hparams` (which override either). Every model variable must be restored.
  `global_step` is the checkpoint's own, or the training run's optimizer step.
  """
  prefix = original.resolve_checkpoint(path)
  spec_path = os.path.join(os.path.dirname(prefix), fileio.MODEL_SPEC_FILE)
  run_config = os.path.join(os.path.dirname(prefix), fileio.PRETRAIN_CONFIG_FILE)
  if not tf.io.gfile.exists(spec_path) and tf.io.gfile.exists(run_config):
    saved = fileio.read_json_object(run_config, CheckpointError)
    hparams = {**{k: saved[k] for k in ARCHITECTURE_HPARAMS if k in saved}, **(hparams or {})}
  if tf.io.gfile.exists(spec_path):
    spec = fileio.read_json_object(spec_path, CheckpointError)
    if hparams:
      if spec.get("model") != "pretraining":
        raise CheckpointError("hparams apply to pre-training models; "
                              f"{spec_path} describes a single network")
      spec["hparams"] = merge_hparams(spec["hparams"], hparams)
  elif hparams:
    spec = {"model": "pretraining", "hparams": dict(hparams)}
  else:
    raise CheckpointError(
        f"no {fileio.MODEL_SPEC_FILE} beside {prefix!r}: pass the pre-training hparams "
        "(--hparams, e.g. '{\"model_size\": \"small\"}') so the model can be rebuilt")
  model = build_model(spec)
  try:
    status = tf.train.Checkpoint(model=model).read(prefix)
    status.expect_partial()
    status.assert_existing_objects_matched()
  except (AssertionError, ValueError, tf.errors.OpError, IndexError) as e:
    raise CheckpointError(f"cannot restore {prefix!r} into the model {spec}: {e}") from e
  return Loaded(model, spec, _global_step(prefix), None)


# The step of a `run_pretraining.py` checkpoint: its optimizer's iteration
# count (`optimizer/_iterations`, one level deeper under loss scaling).
_OPTIMIZER_STEP = re.compile(r"optimizer/(?:\w+/)*_iterations/\.ATTRIBUTES/VARIABLE_VALUE")


def _global_step(prefix: str) -> Optional[int]:
  reader = tf.train.load_checkpoint(prefix)
  keys = ["global_step/.ATTRIBUTES/VARIABLE_VALUE"] + sorted(
      key for key in reader.get_variable_to_shape_map() if _OPTIMIZER_STEP.fullmatch(key))
  for key in keys:
    if reader.has_tensor(key):
      return int(reader.get_tensor(key))
  return None


