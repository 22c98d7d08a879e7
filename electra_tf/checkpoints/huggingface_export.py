"""Writing Hugging Face ELECTRA directories (the reverse of `huggingface`).

A directory holds `config.json` (`model_type: electra`, `architectures`),
`model.safetensors` (written with `safetensors.numpy`, no PyTorch), and the
tokenizer files `vocab.txt`, `tokenizer_config.json` and
`special_tokens_map.json`, so that `transformers`' `from_pretrained` loads it
as one of:

| our network                              | HF class                            |
|------------------------------------------|-------------------------------------|
| `electra/` + `discriminator_predictions/` | `ElectraForPreTraining`            |
| `generator/` + `generator_predictions/`  | `ElectraForMaskedLM`                |
| `electra/` without a head                | `ElectraModel`                      |
| a fine-tuned classifier or regressor     | `ElectraForSequenceClassification`  |

Tensor names come from the one table of `huggingface.name_table`, inverted;
the tensors are exactly the model's `state_dict()` keys (the masked LM's
`generator_lm_head.weight` is written as the copy of the word embeddings it
is tied to).

HF's sequence-classification head is two layers, `out_proj(gelu(dense(x)))`
on [CLS], where the original's (and ours) is one, `dense(x)`. The one layer is
written as an exact equivalent: `classifier.dense` computes z = Wx + b and -z
into its first 2C units (zero elsewhere), and `classifier.out_proj` adds
them back as gelu(z) - gelu(-z), which is z for the exact GELU HF uses. A
regressor's task scale (score = prediction * max + min) is folded into
`out_proj`, so HF's logits are the task-scale scores.
"""

import os
from typing import Callable, Dict, List, Mapping, Optional, Sequence

import numpy as np
import tensorflow as tf
from safetensors.numpy import save_file

from electra_tf import fileio
from electra_tf.checkpoints.huggingface import CONFIG_FILE, WEIGHTS_FILE, name_table
from electra_tf.checkpoints.original import CheckpointError
from electra_tf.config.model import TransformerConfig, get_bert_config
from electra_tf.config.pretraining import get_generator_config
from electra_tf.modeling.layers import LAYER_NORM_EPSILON
from electra_tf.modeling.networks import ElectraNetwork

HF_BASE_PREFIX = "electra."
ARCHITECTURES = {"discriminator": "ElectraForPreTraining", "mlm": "ElectraForMaskedLM",
                 None: "ElectraModel"}
# HF names of heads other than `head` (and BERT's), left out of an export.
_OTHER_HEADS = {
    "discriminator": ("generator_predictions.", "generator_lm_head.", "cls."),
    "mlm": ("discriminator_predictions.", "cls."),
    None: ("discriminator_predictions.", "generator_predictions.", "generator_lm_head.",
           "cls."),
}
_SPECIAL_TOKENS = {"unk_token": "[UNK]", "sep_token": "[SEP]", "pad_token": "[PAD]",
                   "cls_token": "[CLS]", "mask_token": "[MASK]"}


def hf_config(config: TransformerConfig, architecture: str, **extra) -> Dict:
  """The `config.json` of an HF ELECTRA model with our network's dimensions.

  Raises:
    CheckpointError: an activation HF's ELECTRA does not name the same way.
  """
  if config.hidden_act not in ("gelu", "relu", "tanh", "linear"):
    raise CheckpointError(f"hidden_act {config.hidden_act!r} has no Hugging Face name")
  return {
      "architectures": [architecture], "model_type": "electra",
      "vocab_size": config.vocab_size, "embedding_size": config.embedding_width,
      "hidden_size": config.hidden_size, "num_hidden_layers": config.num_hidden_layers,
      "num_attention_heads": config.num_attention_heads,
      "intermediate_size": config.intermediate_size, "hidden_act": config.hidden_act,
      "hidden_dropout_prob": config.hidden_dropout_prob,
      "attention_probs_dropout_prob": config.attention_probs_dropout_prob,
      "max_position_embeddings": config.max_position_embeddings,
      "type_vocab_size": config.type_vocab_size, "initializer_range": config.initializer_range,
      "layer_norm_eps": LAYER_NORM_EPSILON, "position_embedding_type": "absolute",
      "pad_token_id": 0, **extra}


def hf_state_dict(weights: Mapping[str, np.ndarray], config: TransformerConfig, scope: str,
                  head: Optional[str]) -> Dict[str, np.ndarray]:
  """{HF tensor name: float32 array in PyTorch's [out, in] layout} of one network.

  Args:
    weights: {original TF1 name: array} holding at least the network's
      weights (e.g. all of a PretrainingModel's).
    config: the network's dimensions.
    scope: "electra" or "generator": where the network's encoder is.
    head: "discriminator", "mlm" or None.

  Raises:
    CheckpointError: a weight of the network has no HF name (e.g. untied
      generator embeddings), or a weight HF's class needs is absent.
  """
  if head == "mlm" and config.hidden_act != "gelu":
    raise CheckpointError("HF's ElectraForMaskedLM head always uses gelu; this generator "
                          f"uses {config.hidden_act!r}")
  table = name_table(config.num_hidden_layers, scope, HF_BASE_PREFIX)
  state, used = {}, set()
  for hf_name, (original, transpose) in table.items():
    if hf_name.startswith(_OTHER_HEADS[head]):
      continue
    if original not in weights:
      if "embeddings_project" in hf_name and config.embedding_width == config.hidden_size:
        continue
      raise CheckpointError(f"the {scope}/ network lacks {original} (for HF's {hf_name})")
    array = np.asarray(weights[original], np.float32)
    state[hf_name] = np.ascontiguousarray(array.T if transpose else array)
    used.add(original)
  if head == "mlm":  # tied to the word embeddings, as in HF's state_dict()
    state["generator_lm_head.weight"] = state[f"{HF_BASE_PREFIX}embeddings.word_embeddings.weight"]
  own = [n for n in weights if n.startswith(f"{scope}/")]
  left = sorted(set(own) - used)
  if left:
    raise CheckpointError(f"{len(left)} weights of the {scope}/ network have no Hugging Face "
                          f"name, e.g. {left[:3]}; HF's ELECTRA cannot hold this model")
  return state


def classifier_state(head_kernel: np.ndarray, head_bias: np.ndarray, hidden_size: int,
                     scale: float = 1.0, shift: float = 0.0) -> Dict[str, np.ndarray]:
  """HF's two-layer `classifier.*` tensors equal to one dense layer.

  Args:
    head_kernel: [H, C] our head's kernel; head_bias: [C].
    hidden_size: H (HF's `classifier.dense` is [H, H]).
    scale, shift: HF logits = scale * (x W + b) + shift (a regressor's task
      scale); 1 and 0 for a classifier.

  Returns:
    {"classifier.dense.weight" [H, H], ".bias" [H], "classifier.out_proj.weight"
    [C, H], ".bias" [C]}, using gelu(z) - gelu(-z) = z.
  """
  num_labels = head_kernel.shape[1]
  if 2 * num_labels > hidden_size:
    raise CheckpointError(f"{num_labels} labels need a hidden size of at least "
                          f"{2 * num_labels} to fit HF's classification head")
  dense_weight = np.zeros([hidden_size, hidden_size], np.float32)
  dense_bias = np.zeros([hidden_size], np.float32)
  dense_weight[:num_labels] = head_kernel.T
  dense_weight[num_labels:2 * num_labels] = -head_kernel.T
  dense_bias[:num_labels] = head_bias
  dense_bias[num_labels:2 * num_labels] = -head_bias
  out_weight = np.zeros([num_labels, hidden_size], np.float32)
  identity = np.eye(num_labels, dtype=np.float32) * scale
  out_weight[:, :num_labels] = identity
  out_weight[:, num_labels:2 * num_labels] = -identity
  return {"classifier.dense.weight": dense_weight, "classifier.dense.bias": dense_bias,
          "classifier.out_proj.weight": out_weight,
          "classifier.out_proj.bias": np.full([num_labels], shift, np.float32)}


def write_hf_directory(directory: str, config: Mapping, state: Mapping[str, np.ndarray],
                       vocab_file: str, do_lower_case: bool) -> None:
  """Writes one HF model directory's files into an existing (temporary) directory."""
  save_file({k: np.ascontiguousarray(v) for k, v in state.items()},
            os.path.join(directory, WEIGHTS_FILE), metadata={"format": "pt"})
  fileio.write_json(os.path.join(directory, CONFIG_FILE), dict(config))
  tf.io.gfile.copy(vocab_file, os.path.join(directory, fileio.VOCAB_FILE), overwrite=True)
  fileio.write_json(os.path.join(directory, "tokenizer_config.json"), {
      "tokenizer_class": "ElectraTokenizer", "do_lower_case": do_lower_case,
      "strip_accents": None, "tokenize_chinese_chars": True,
      "model_max_length": config["max_position_embeddings"], **_SPECIAL_TOKENS})
  fileio.write_json(os.path.join(directory, "special_tokens_map.json"), _SPECIAL_TOKENS)


def check_vocab(vocab_file: Optional[str], vocab_size: Optional[int] = None) -> str:
  """The vocabulary to ship: it exists and (if `vocab_size` is given) fits the model."""
  if vocab_file is None or not tf.io.gfile.exists(vocab_file):
    raise CheckpointError(
        f"no vocabulary found ({vocab_file or 'none beside the checkpoint'}); a Hugging Face "
        "directory needs one: pass --vocab-file path/to/vocab.txt")
  if vocab_size is None:
    return vocab_file
  with tf.io.gfile.GFile(vocab_file) as f:
    size = sum(1 for line in f if line.strip())
  if size > vocab_size:
    raise CheckpointError(f"{vocab_file} has {size} tokens but the model's vocab_size is "
                          f"{vocab_size}; pass the vocabulary the model was trained with")
  return vocab_file


def export_networks(output_dir: str, networks: Sequence[Mapping], vocab_file: str,
                    do_lower_case: bool, log: Callable[[str], None] = print) -> List[str]:
  """Writes HF directories, whole or not at all.

  Args:
    output_dir: created (replaced once complete).
    networks: dicts with "subdir" ("" for output_dir itself), "config"
      (config.json dict) and "state" (HF tensors).
    vocab_file, do_lower_case: the tokenizer.

  Returns:
    The directories written.
  """
  written = []
  with fileio.atomic_directory(output_dir) as tmp:
    for network in networks:
      directory = os.path.join(tmp, network["subdir"]) if network["subdir"] else tmp
      tf.io.gfile.makedirs(directory)
      write_hf_directory(directory, network["config"], network["state"], vocab_file,
                         do_lower_case)
      final = os.path.join(output_dir, network["subdir"]) if network["subdir"] else output_dir
      written.append(final)
  for network, final in zip(networks, written):
    log(f"wrote Hugging Face {network['config']['architectures'][0]} to {final} "
        f"({len(network['state'])} tensors)")
  return written


def model_networks(model) -> List[Dict]:
  """The HF networks of a PretrainingModel or an ElectraNetwork.

  A PretrainingModel gives its discriminator (subdir `discriminator`) and its
  generator (subdir `generator`), as Google's released pairs on the Hub; a
  single network is written into the output directory itself.

  Returns:
    [{"subdir", "config", "state"}] for `export_networks`.

  Raises:
    CheckpointError: an objective HF has no class for (Electric's two-tower
      generator) or weights it cannot hold.
  """
  weights = {name: v.numpy() for name, v in model.named_variables().items()}
  if isinstance(model, ElectraNetwork):
    return [{"subdir": "", "config": hf_config(model.config, ARCHITECTURES[model.head_kind]),
             "state": hf_state_dict(weights, model.config, model.scope, model.head_kind)}]
  config = model.config
  if config.electric_objective or config.two_tower_generator:
    raise CheckpointError("Electric's two-tower generator has no Hugging Face class; only "
                          "ELECTRA discriminators and generators export")
  bert = get_bert_config(config)
  networks = []
  if config.uses_discriminator:
    networks.append({"subdir": "discriminator",
                     "config": hf_config(bert, ARCHITECTURES["discriminator"]),
                     "state": hf_state_dict(weights, bert, "electra", "discriminator")})
  if not config.uniform_generator:
    small = config.builds_small_generator
    gen = get_generator_config(config, bert) if small else bert
    networks.append({"subdir": "generator", "config": hf_config(gen, ARCHITECTURES["mlm"]),
                     "state": hf_state_dict(weights, gen, "generator" if small else "electra",
                                            "mlm")})
  return networks
