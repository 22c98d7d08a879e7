"""Hugging Face checkpoints of ELECTRA and BERT: `config.json` + `model.safetensors`.

Weights are read with `safetensors.numpy` (no PyTorch), renamed to the
original TF1 names by the table below, and loaded through the same checked
routine as TF1 checkpoints (`checkpoints.original.assign_named_weights`).

The table is the reverse of Hugging Face's `load_tf_weights_in_electra`
(`modeling_electra.py` in `transformers`). HF names are given relative to the base model
(`electra.`, `bert.`, or no prefix for a bare `BertModel`); heads sit outside
it. Every Linear `weight` is [out, in] and is transposed to our [in, out]
`kernel`; embedding tables are not transposed.

| HF module (kind)                                    | original scope                           |
|-----------------------------------------------------|------------------------------------------|
| `embeddings.{word,position,token_type}_embeddings`  | `<emb>/{word,position,token_type}_embeddings` |
| `embeddings.LayerNorm` (layer norm)                 | `<emb>/LayerNorm`                        |
| `embeddings_project` (dense)                        | `<net>/embeddings_project`               |
| `encoder.layer.N.attention.self.{query,key,value}`  | `<net>/encoder/layer_N/attention/self/...` |
| `encoder.layer.N.attention.output.{dense,LayerNorm}`| `<net>/encoder/layer_N/attention/output/...` |
| `encoder.layer.N.intermediate.dense`                | `<net>/encoder/layer_N/intermediate/dense` |
| `encoder.layer.N.output.{dense,LayerNorm}`          | `<net>/encoder/layer_N/output/...`       |
| `discriminator_predictions.dense`                   | `discriminator_predictions/dense`        |
| `discriminator_predictions.dense_prediction`        | `discriminator_predictions/dense_1`      |
| `generator_predictions.{dense,LayerNorm}`, BERT's   | `generator_predictions/{dense,LayerNorm}` |
| `cls.predictions.transform.{dense,LayerNorm}`       |                                          |
| `generator_lm_head.bias`, BERT's `cls.predictions.bias` | `generator_predictions/output_bias`  |

`<net>` is `electra` for a discriminator or BERT encoder and `generator` for
an ELECTRA generator (`ElectraForMaskedLM`); `<emb>` is always
`electra/embeddings`, where the original keeps the embeddings the generator
shares (HF's converter maps them the same way). Dense parameters are
`weight`/`bias` <-> `kernel` (transposed)/`bias`; layer norms `weight`/`bias`
<-> `gamma`/`beta`.

Not weights of their own: `generator_lm_head.weight` and BERT's
`cls.predictions.decoder.{weight,bias}` are copies of the word embeddings and
output bias (checked equal, then ignored), and `embeddings.position_ids` /
`token_type_ids` are buffers. A BERT pooler and NSP head have no ELECTRA
counterpart: reported as unexpected.
"""

import dataclasses
import os
from typing import Dict, List, Mapping, Optional, Tuple

import numpy as np
import tensorflow as tf
from safetensors import SafetensorError
from safetensors.numpy import load_file

from electra_tf import fileio
from electra_tf.checkpoints.original import CheckpointError, LoadReport, assign_named_weights
from electra_tf.config.model import TransformerConfig
from electra_tf.modeling.layers import LAYER_NORM_EPSILON
from electra_tf.modeling.networks import ElectraNetwork

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"

# kind -> (HF parameter, original parameter or "" for the module itself, transpose)
_PARAMETERS = {
    "dense": (("weight", "kernel", True), ("bias", "bias", False)),
    "layer_norm": (("weight", "gamma", False), ("bias", "beta", False)),
    "embedding": (("weight", "", False),),
}
_EMBEDDING_MODULES = (
    ("embeddings.word_embeddings", "embeddings/word_embeddings", "embedding"),
    ("embeddings.position_embeddings", "embeddings/position_embeddings", "embedding"),
    ("embeddings.token_type_embeddings", "embeddings/token_type_embeddings", "embedding"),
    ("embeddings.LayerNorm", "embeddings/LayerNorm", "layer_norm"),
)
_PROJECTION_MODULE = ("embeddings_project", "embeddings_project", "dense")
# Relative to HF `encoder.layer.N.` and original `encoder/layer_N/`.
_LAYER_MODULES = (
    ("attention.self.query", "attention/self/query", "dense"),
    ("attention.self.key", "attention/self/key", "dense"),
    ("attention.self.value", "attention/self/value", "dense"),
    ("attention.output.dense", "attention/output/dense", "dense"),
    ("attention.output.LayerNorm", "attention/output/LayerNorm", "layer_norm"),
    ("intermediate.dense", "intermediate/dense", "dense"),
    ("output.dense", "output/dense", "dense"),
    ("output.LayerNorm", "output/LayerNorm", "layer_norm"),
)
_HEAD_MODULES = (
    ("discriminator_predictions.dense", "discriminator_predictions/dense", "dense"),
    ("discriminator_predictions.dense_prediction", "discriminator_predictions/dense_1", "dense"),
    ("generator_predictions.dense", "generator_predictions/dense", "dense"),
    ("generator_predictions.LayerNorm", "generator_predictions/LayerNorm", "layer_norm"),
    ("cls.predictions.transform.dense", "generator_predictions/dense", "dense"),
    ("cls.predictions.transform.LayerNorm", "generator_predictions/LayerNorm", "layer_norm"),
)
_HEAD_TENSORS = (
    ("generator_lm_head.bias", "generator_predictions/output_bias"),
    ("cls.predictions.bias", "generator_predictions/output_bias"),
)
# Tied copies -> the HF tensor they copy (None: the base model's word embeddings).
_TIED = {
    "generator_lm_head.weight": None,
    "cls.predictions.decoder.weight": None,
    "cls.predictions.decoder.bias": "cls.predictions.bias",
}
_BUFFERS = ("embeddings.position_ids", "embeddings.token_type_ids")

# Values a config.json may leave out: the HF config classes' defaults.
_HF_DEFAULTS = {
    "electra": dict(vocab_size=30522, embedding_size=128, hidden_size=256,
                    num_hidden_layers=12, num_attention_heads=4, intermediate_size=1024),
    "bert": dict(vocab_size=30522, hidden_size=768, num_hidden_layers=12,
                 num_attention_heads=12, intermediate_size=3072),
}
_SHARED_DEFAULTS = dict(hidden_act="gelu", hidden_dropout_prob=0.1,
                        attention_probs_dropout_prob=0.1, max_position_embeddings=512,
                        type_vocab_size=2, initializer_range=0.02, layer_norm_eps=1e-12,
                        position_embedding_type="absolute")
# HF activation names with the same function as ours. HF's "gelu" is the
# exact erf form, as the original's; "gelu_new" etc. are tanh approximations.
_ACTIVATIONS = {"gelu": "gelu", "relu": "relu", "tanh": "tanh", "linear": "linear"}


def name_table(num_layers: int, scope: str, base_prefix: str) -> Dict[str, Tuple[str, bool]]:
  """{HF tensor name: (original TF1 name, transpose)} for one network.

  Args:
    num_layers: number of transformer layers.
    scope: "electra" (discriminator, BERT) or "generator".
    base_prefix: the HF base-model prefix: "electra.", "bert." or "".
  """
  table = {}

  def add(hf_module, original_module, kind):
    for hf_param, original_param, transpose in _PARAMETERS[kind]:
      original = f"{original_module}/{original_param}" if original_param else original_module
      table[f"{hf_module}.{hf_param}"] = (original, transpose)

  for hf_module, original_module, kind in _EMBEDDING_MODULES:
    add(base_prefix + hf_module, f"electra/{original_module}", kind)
  hf_module, original_module, kind = _PROJECTION_MODULE
  add(base_prefix + hf_module, f"{scope}/{original_module}", kind)
  for i in range(num_layers):
    for hf_module, original_module, kind in _LAYER_MODULES:
      add(f"{base_prefix}encoder.layer.{i}.{hf_module}",
          f"{scope}/encoder/layer_{i}/{original_module}", kind)
  for hf_module, original_module, kind in _HEAD_MODULES:
    add(hf_module, original_module, kind)
  for hf_name, original in _HEAD_TENSORS:
    table[hf_name] = (original, False)
  return table


def config_from_hf(hf_config: Mapping, source: str = CONFIG_FILE) -> Tuple[TransformerConfig, str]:
  """Our TransformerConfig from a Hugging Face ELECTRA or BERT config.json.

  Returns:
    (config, model_type) with model_type "electra" or "bert".

  Raises:
    CheckpointError: another model type, or a setting our layers do not
      implement (LayerNorm eps other than the original's 1e-12, relative
      position embeddings, an approximate GELU).
  """
  model_type = hf_config.get("model_type")
  if model_type not in _HF_DEFAULTS:
    raise CheckpointError(f"{source}: model_type {model_type!r} is not supported; "
                          "only 'electra' and 'bert' checkpoints convert")
  values = {**_SHARED_DEFAULTS, **_HF_DEFAULTS[model_type], **hf_config}
  if not np.isclose(values["layer_norm_eps"], LAYER_NORM_EPSILON, rtol=1e-3):
    raise CheckpointError(f"{source}: layer_norm_eps {values['layer_norm_eps']} differs "
                          f"from the original's fixed {LAYER_NORM_EPSILON}")
  if values["position_embedding_type"] != "absolute":
    raise CheckpointError(f"{source}: position_embedding_type "
                          f"{values['position_embedding_type']!r} is not supported "
                          "(only 'absolute', as the original)")
  if values["hidden_act"] not in _ACTIVATIONS:
    raise CheckpointError(f"{source}: hidden_act {values['hidden_act']!r} is not supported; "
                          f"supported: {sorted(_ACTIVATIONS)} ('gelu' is the exact erf form)")
  config = TransformerConfig(
      vocab_size=values["vocab_size"], hidden_size=values["hidden_size"],
      num_hidden_layers=values["num_hidden_layers"],
      num_attention_heads=values["num_attention_heads"],
      intermediate_size=values["intermediate_size"],
      hidden_act=_ACTIVATIONS[values["hidden_act"]],
      hidden_dropout_prob=values["hidden_dropout_prob"],
      attention_probs_dropout_prob=values["attention_probs_dropout_prob"],
      max_position_embeddings=values["max_position_embeddings"],
      type_vocab_size=values["type_vocab_size"],
      initializer_range=values["initializer_range"],
      embedding_size=values.get("embedding_size"))
  try:
    config.validate(source)
  except ValueError as e:
    raise CheckpointError(str(e)) from e
  return config, model_type


@dataclasses.dataclass
class HFCheckpoint:
  """A Hugging Face checkpoint renamed to the original's names.

  Attributes:
    directory: where it was read from.
    model_type: "electra" or "bert".
    config: the network's TransformerConfig.
    scope: "electra" (discriminator / BERT encoder) or "generator".
    head: "discriminator", "mlm" or None (as `ElectraNetwork`).
    weights: {original name: array in our layout}.
    unexpected: HF names without an original counterpart (not loaded).
    ignored: HF buffers and tied copies (checked, not loaded).
  """
  directory: str
  model_type: str
  config: TransformerConfig
  scope: str
  head: Optional[str]
  weights: Dict[str, np.ndarray]
  unexpected: List[str]
  ignored: List[str]


def _read_safetensors(path: str) -> Dict[str, np.ndarray]:
  try:
    return load_file(path)
  except (SafetensorError, OSError, ValueError, TypeError, KeyError) as e:
    raise CheckpointError(
        f"cannot read {path}: {e}. The file is truncated or corrupt (download it "
        "again), or holds bfloat16 tensors, which numpy cannot represent (save the "
        "model in float32)") from e


def _check_files(directory: str) -> None:
  if not tf.io.gfile.isdir(directory):
    raise CheckpointError(f"Hugging Face model directory {directory!r} does not exist")
  missing = [f for f in (CONFIG_FILE, WEIGHTS_FILE)
             if not tf.io.gfile.exists(os.path.join(directory, f))]
  if not missing:
    return
  hint = ""
  if tf.io.gfile.exists(os.path.join(directory, WEIGHTS_FILE + ".index.json")):
    hint = "; sharded safetensors are not supported (ELECTRA models fit one file)"
  elif tf.io.gfile.exists(os.path.join(directory, "pytorch_model.bin")):
    hint = ("; pytorch_model.bin needs PyTorch, which electra-tf does not use: save the "
            "model with save_pretrained(..., safe_serialization=True)")
  raise CheckpointError(f"{directory!r} lacks {' and '.join(missing)}{hint}")


def _base_prefix(names) -> str:
  for prefix in ("electra.", "bert."):
    if any(n.startswith(prefix) for n in names):
      return prefix
  return ""


def read_hf_checkpoint(directory: str, network: Optional[str] = None) -> HFCheckpoint:
  """Reads and renames a Hugging Face ELECTRA or BERT checkpoint.

  Args:
    directory: holds `config.json` and `model.safetensors`.
    network: "discriminator" or "generator"; None decides from the heads
      present (and, for a bare `ElectraModel`, from `architectures`). A
      generator's encoder is named `generator/`, anything else `electra/`.

  Returns:
    An HFCheckpoint.

  Raises:
    CheckpointError: missing, unreadable or truncated files, an unsupported
      config, or a tied copy that differs from what it should copy.
  """
  if network not in (None, "discriminator", "generator"):
    raise ValueError(f"network must be None, 'discriminator' or 'generator', got {network!r}")
  _check_files(directory)
  config_path = os.path.join(directory, CONFIG_FILE)
  hf_config = fileio.read_json_object(config_path, CheckpointError)
  config, model_type = config_from_hf(hf_config, config_path)
  tensors = _read_safetensors(os.path.join(directory, WEIGHTS_FILE))
  # Old BERT checkpoints name LayerNorm parameters gamma/beta.
  tensors = {n.replace("LayerNorm.gamma", "LayerNorm.weight")
             .replace("LayerNorm.beta", "LayerNorm.bias"): a for n, a in tensors.items()}
  base = _base_prefix(tensors)

  has_mlm_head = any(n.startswith(("generator_predictions.", "generator_lm_head.",
                                   "cls.predictions.")) for n in tensors)
  has_disc_head = any(n.startswith("discriminator_predictions.") for n in tensors)
  if network is None:
    generator = model_type == "electra" and (
        any(n.startswith(("generator_predictions.", "generator_lm_head.")) for n in tensors)
        or (not has_disc_head
            and "ElectraForMaskedLM" in hf_config.get("architectures", [])))
    network = "generator" if generator else "discriminator"
  if network == "generator" and model_type != "electra":
    raise CheckpointError(f"{directory}: a {model_type} checkpoint has no ELECTRA generator")
  scope = "generator" if network == "generator" else "electra"
  head = "discriminator" if has_disc_head else "mlm" if has_mlm_head else None
  if has_disc_head and has_mlm_head:
    raise CheckpointError(f"{directory} holds both a discriminator and an MLM head; "
                          "one Hugging Face model is one network")

  table = name_table(config.num_hidden_layers, scope, base)
  weights, unexpected, ignored = {}, [], []
  word_embeddings = tensors.get(f"{base}embeddings.word_embeddings.weight")
  for name in sorted(tensors):
    array = tensors[name]
    if name in table:
      original, transpose = table[name]
      weights[original] = np.ascontiguousarray(array.T) if transpose else array
    elif name in _TIED:
      copied = word_embeddings if _TIED[name] is None else tensors.get(_TIED[name])
      if copied is None or not np.array_equal(array, copied):
        raise CheckpointError(
            f"{directory}: {name} should be a copy of "
            f"{_TIED[name] or base + 'embeddings.word_embeddings.weight'} (ELECTRA and BERT "
            "tie them) but differs; electra-tf cannot represent an untied output layer")
      ignored.append(name)
    elif name[len(base):] in _BUFFERS:
      ignored.append(name)
    else:
      unexpected.append(name)
  return HFCheckpoint(directory=directory, model_type=model_type, config=config,
                      scope=scope, head=head, weights=weights, unexpected=unexpected,
                      ignored=ignored)


def assign_hf_checkpoint(variables: Mapping[str, tf.Variable], checkpoint: HFCheckpoint, *,
                         allow_missing: bool = True,
                         allow_unexpected: bool = True) -> LoadReport:
  """Loads an HFCheckpoint into {original name: tf.Variable} (checked first)."""
  weights = checkpoint.weights
  return assign_named_weights(
      variables, {n: a.shape for n, a in weights.items()}, weights.__getitem__,
      source=checkpoint.directory, ignored=checkpoint.ignored,
      unmapped=checkpoint.unexpected, allow_missing=allow_missing,
      allow_unexpected=allow_unexpected)


def load_hf_checkpoint(variables: Mapping[str, tf.Variable], directory: str, *,
                       network: Optional[str] = None, allow_missing: bool = True,
                       allow_unexpected: bool = True) -> LoadReport:
  """Loads a Hugging Face checkpoint into an existing model's variables.

  Args:
    variables: {original TF1 name: tf.Variable}, e.g. a fine-tuning encoder's
      names under `electra/`, or `PretrainingModel.named_variables()`.
    directory: holds `config.json` and `model.safetensors`.
    network: see `read_hf_checkpoint`.
    allow_missing, allow_unexpected: see `original.load_original_checkpoint`.

  Returns:
    A LoadReport; HF-only tensors (pooler, NSP head) are in `unexpected`.
  """
  return assign_hf_checkpoint(variables, read_hf_checkpoint(directory, network),
                              allow_missing=allow_missing, allow_unexpected=allow_unexpected)


def network_from_hf(directory: str,
                    network: Optional[str] = None) -> Tuple[ElectraNetwork, LoadReport]:
  """Builds the ElectraNetwork a Hugging Face checkpoint describes and loads it.

  Every variable of the built network must be in the checkpoint.

  Returns:
    (network, report).
  """
  checkpoint = read_hf_checkpoint(directory, network)
  model = ElectraNetwork(checkpoint.config, checkpoint.scope, checkpoint.head)
  model.build_variables()
  report = assign_hf_checkpoint(model.named_variables(), checkpoint, allow_missing=False)
  return model, report
