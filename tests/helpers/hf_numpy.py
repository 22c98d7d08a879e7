"""An independent numpy (float64) forward pass of Hugging Face's ELECTRA
classes from their state-dict tensors, written from `modeling_electra.py`'s
module structure: `ElectraModel`, `ElectraForPreTraining`,
`ElectraForMaskedLM` and `ElectraForSequenceClassification`."""

import math

import numpy as np


def layer_norm(x, gamma, beta, eps=1e-12):
  mean = x.mean(-1, keepdims=True)
  var = ((x - mean) ** 2).mean(-1, keepdims=True)
  return (x - mean) / np.sqrt(var + eps) * gamma + beta


def gelu(x):
  """Exact GELU, as HF's "gelu": 0.5 x (1 + erf(x / sqrt 2))."""
  return 0.5 * x * (1.0 + np.vectorize(math.erf)(x / math.sqrt(2.0)))


def linear(w, name, x):
  """nn.Linear: x @ weight.T + bias, weight [out, in]."""
  return x @ w[name + ".weight"].T + w[name + ".bias"]


def electra_model(state, config, ids, mask, segments):
  """`ElectraModel`'s last hidden state [B, L, H] (float64)."""
  w = {k: v.astype(np.float64) for k, v in state.items()}
  batch, length = ids.shape
  e = "electra.embeddings."
  x = (w[e + "word_embeddings.weight"][ids]
       + w[e + "position_embeddings.weight"][np.arange(length)][None]
       + w[e + "token_type_embeddings.weight"][segments])
  x = layer_norm(x, w[e + "LayerNorm.weight"], w[e + "LayerNorm.bias"])
  if "electra.embeddings_project.weight" in w:
    x = linear(w, "electra.embeddings_project", x)
  hidden, heads = config["hidden_size"], config["num_attention_heads"]
  size = hidden // heads
  bias = (1.0 - mask[:, None, None, :]) * np.finfo(np.float32).min
  for layer in range(config["num_hidden_layers"]):
    p = f"electra.encoder.layer.{layer}."

    def split(h):
      return h.reshape(batch, length, heads, size).transpose(0, 2, 1, 3)

    q, k, v = (split(linear(w, p + f"attention.self.{m}", x)) for m in ("query", "key", "value"))
    scores = q @ k.transpose(0, 1, 3, 2) / math.sqrt(size) + bias
    scores -= scores.max(-1, keepdims=True)
    probs = np.exp(scores)
    probs /= probs.sum(-1, keepdims=True)
    context = (probs @ v).transpose(0, 2, 1, 3).reshape(batch, length, hidden)
    attention = layer_norm(linear(w, p + "attention.output.dense", context) + x,
                           w[p + "attention.output.LayerNorm.weight"],
                           w[p + "attention.output.LayerNorm.bias"])
    ffn = linear(w, p + "output.dense", gelu(linear(w, p + "intermediate.dense", attention)))
    x = layer_norm(ffn + attention, w[p + "output.LayerNorm.weight"],
                   w[p + "output.LayerNorm.bias"])
  return x, w


def discriminator_logits(state, config, ids, mask, segments):
  """`ElectraForPreTraining` logits [B, L] (gelu activation)."""
  x, w = electra_model(state, config, ids, mask, segments)
  assert config["hidden_act"] == "gelu"
  h = gelu(linear(w, "discriminator_predictions.dense", x))
  return linear(w, "discriminator_predictions.dense_prediction", h)[..., 0]


def masked_lm_logits(state, config, ids, mask, segments):
  """`ElectraForMaskedLM` logits [B, L, V]."""
  x, w = electra_model(state, config, ids, mask, segments)
  h = layer_norm(gelu(linear(w, "generator_predictions.dense", x)),
                 w["generator_predictions.LayerNorm.weight"],
                 w["generator_predictions.LayerNorm.bias"])
  return linear(w, "generator_lm_head", h)


def sequence_classification_logits(state, config, ids, mask, segments):
  """`ElectraForSequenceClassification` logits [B, C]: out_proj(gelu(dense(x[:, 0])))."""
  x, w = electra_model(state, config, ids, mask, segments)
  return linear(w, "classifier.out_proj", gelu(linear(w, "classifier.dense", x[:, 0])))
