"""Hugging Face import: parity with an independent numpy BERT on real weights,
ELECTRA discriminator / generator / BERT-MLM directories made with HF's own
naming rules, config mapping, and refusals that load nothing."""

import json
import math
import os
import shutil

import numpy as np
import pytest
import tensorflow as tf
from safetensors.numpy import load_file, save_file

from electra_tf.checkpoints import native
from electra_tf.checkpoints.huggingface import (config_from_hf, load_hf_checkpoint, network_from_hf,
                                                read_hf_checkpoint)
from electra_tf.checkpoints.original import CheckpointError, save_original_checkpoint
from electra_tf.config.model import TransformerConfig
from electra_tf.config.pretraining import PretrainingConfig
from electra_tf.modeling.networks import ElectraNetwork
from electra_tf.modeling.pretraining_model import PretrainingModel
from electra_tf.text.vocab import SpecialTokenIds, load_vocab
from tests.helpers import hf_reference
from tests.helpers.hf_numpy import gelu, layer_norm
from tests.helpers.hf_reference import minilm_dir

V = 30522
SPECIAL = SpecialTokenIds()


def inputs_from(ids, mask):
  ids = tf.constant(ids, tf.int32)
  return {"input_ids": ids, "input_mask": tf.constant(mask, tf.int32),
          "segment_ids": tf.zeros_like(ids)}


def snapshot(variables):
  return {k: v.numpy().copy() for k, v in variables.items()}


def assert_unchanged(variables, before):
  for name, value in before.items():
    np.testing.assert_array_equal(variables[name].numpy(), value, err_msg=name)


# --- an independent BERT forward pass in numpy (float64) ---------------------

def numpy_bert(w, ids, mask, heads):
  """HF BertModel's last hidden state, from its safetensors tensors."""
  w = {k: v.astype(np.float64) for k, v in w.items()}
  batch, length = ids.shape
  x = (w["embeddings.word_embeddings.weight"][ids]
       + w["embeddings.position_embeddings.weight"][np.arange(length)][None]
       + w["embeddings.token_type_embeddings.weight"][np.zeros_like(ids)])
  x = layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
  hidden = x.shape[-1]
  size = hidden // heads
  # HF's extended attention mask: the dtype's minimum on padded keys.
  bias = (1.0 - mask[:, None, None, :]) * np.finfo(np.float32).min
  layer = 0
  while f"encoder.layer.{layer}.attention.self.query.weight" in w:
    p = f"encoder.layer.{layer}."

    def linear(h, name):
      return h @ w[p + name + ".weight"].T + w[p + name + ".bias"]

    def split(h):
      return h.reshape(batch, length, heads, size).transpose(0, 2, 1, 3)

    q, k, v = (split(linear(x, f"attention.self.{m}")) for m in ("query", "key", "value"))
    scores = q @ k.transpose(0, 1, 3, 2) / math.sqrt(size) + bias
    scores -= scores.max(-1, keepdims=True)
    probs = np.exp(scores)
    probs /= probs.sum(-1, keepdims=True)
    context = (probs @ v).transpose(0, 2, 1, 3).reshape(batch, length, hidden)
    attention = layer_norm(linear(context, "attention.output.dense") + x,
                           w[p + "attention.output.LayerNorm.weight"],
                           w[p + "attention.output.LayerNorm.bias"])
    ffn = linear(gelu(linear(attention, "intermediate.dense")), "output.dense")
    x = layer_norm(ffn + attention, w[p + "output.LayerNorm.weight"],
                   w[p + "output.LayerNorm.bias"])
    layer += 1
  assert layer > 0
  return x


def test_real_bert_model_matches_a_numpy_forward_pass():
  directory = minilm_dir()
  with open(directory / "config.json") as f:
    hf_config = json.load(f)
  assert hf_config["hidden_act"] == "gelu"  # the exact erf form, as numpy_bert
  net, report = network_from_hf(str(directory))
  assert (net.scope, net.head_kind) == ("electra", None)
  assert net.config.hidden_size == 384 and net.config.num_attention_heads == 12
  assert net.config.num_hidden_layers == 6 and net.config.embedding_width == 384
  assert report.unexpected == ["pooler.dense.bias", "pooler.dense.weight"]
  assert report.ignored == ["embeddings.position_ids"] and report.missing == []

  vocab = load_vocab(str(directory / "vocab.txt"))
  sentences = ["[CLS] the quick brown fox jumps over the lazy dog . [SEP]",
               "[CLS] weights load in a new model [SEP]"]
  ids = np.zeros([2, 12], np.int64)
  mask = np.zeros([2, 12], np.int64)
  for row, sentence in enumerate(sentences):
    tokens = [vocab[t] for t in sentence.split()]
    ids[row, :len(tokens)] = tokens
    mask[row, :len(tokens)] = 1
  assert mask[1].sum() < 12  # the second row is padded
  want = numpy_bert(load_file(str(directory / "model.safetensors")), ids, mask, heads=12)
  got = net(inputs_from(ids, mask), training=False)["sequence_output"].numpy()
  assert np.abs(want).max() > 0.1
  assert np.abs(got - want).max() <= 1e-4, np.abs(got - want).max()


# --- ELECTRA directories in Hugging Face's layout ----------------------------

@pytest.fixture(scope="module")
def electra_hf(tmp_path_factory):
  """A tiny pre-training model, and HF discriminator + generator directories
  made from its original-format export by HF's own renaming rules."""
  root = tmp_path_factory.mktemp("hf")
  model = PretrainingModel(PretrainingConfig.create("m", "/d", model_size="tiny"), SPECIAL)
  model.build_variables()
  prefix = save_original_checkpoint(model.named_variables(), str(root / "tf1" / "model.ckpt"))
  disc, _ = hf_reference.hf_load(
      prefix, hf_reference.hf_parameters(V, 64, 128, 2, "discriminator"), "discriminator")
  gen, _ = hf_reference.hf_load(
      prefix, hf_reference.hf_parameters(V, 64, 32, 2, "generator"), "generator")
  gen["generator_lm_head.weight"] = gen["electra.embeddings.word_embeddings.weight"]  # tied
  disc_dir = hf_reference.write_hf_dir(
      str(root / "disc"), disc,
      hf_reference.electra_hf_config(V, 64, 128, 2, 2, "ElectraForPreTraining"))
  gen_dir = hf_reference.write_hf_dir(
      str(root / "gen"), gen, hf_reference.electra_hf_config(V, 64, 32, 2, 1, "ElectraForMaskedLM"))
  return model, prefix, disc_dir, gen_dir


def tiny_inputs():
  ids = np.random.default_rng(1).integers(1000, 20000, size=[2, 10])
  mask = np.ones_like(ids)
  mask[1, 7:] = 0
  return inputs_from(ids, mask)


def test_hf_discriminator_equals_our_discriminator(electra_hf):
  model, _, disc_dir, _ = electra_hf
  net, report = network_from_hf(disc_dir)
  assert (net.scope, net.head_kind) == ("electra", "discriminator")
  assert report.unexpected == [] and report.ignored == []
  inputs = tiny_inputs()
  want = model.discriminator_head(model.discriminator(
      inputs["input_ids"], inputs["input_mask"], inputs["segment_ids"]))
  np.testing.assert_allclose(net(inputs)["disc_logits"], want, atol=1e-6)


def test_hf_generator_equals_our_generator(electra_hf):
  model, _, _, gen_dir = electra_hf
  net, report = network_from_hf(gen_dir)
  assert (net.scope, net.head_kind) == ("generator", "mlm")
  assert report.ignored == ["generator_lm_head.weight"]
  assert set(net.named_variables()) == {
      n for n in model.named_variables()
      if n.startswith(("electra/embeddings/", "generator/", "generator_predictions/"))}
  inputs = tiny_inputs()
  sequence = model.generator(inputs["input_ids"], inputs["input_mask"], inputs["segment_ids"])
  out = net(inputs)
  np.testing.assert_allclose(out["sequence_output"], sequence, atol=1e-6)
  np.testing.assert_allclose(out["mlm_logits"],
                             model.generator_head(sequence, model.generator.embedding_table),
                             atol=1e-5)


def test_hf_pair_becomes_the_pretraining_model(electra_hf, tmp_path):
  model, prefix, disc_dir, gen_dir = electra_hf
  loaded = native.load_hf(disc_dir, gen_dir)
  assert loaded.spec["hparams"]["model_size"] == "tiny"
  assert loaded.spec["hparams"]["generator_hidden_size"] == 0.25
  assert loaded.report.missing == [] and loaded.report.unexpected == []
  for name, var in model.named_variables().items():
    np.testing.assert_array_equal(loaded.model.named_variables()[name], var, err_msg=name)
  # ... and exports to the original's layout, variable for variable.
  again = save_original_checkpoint(loaded.model.named_variables(), str(tmp_path / "m"))
  assert dict(tf.train.list_variables(again)) == dict(tf.train.list_variables(prefix))


def test_hf_discriminator_into_an_existing_pretraining_model(electra_hf):
  model, _, disc_dir, _ = electra_hf
  fresh = PretrainingModel(PretrainingConfig.create("m", "/d", model_size="tiny"), SPECIAL)
  fresh.build_variables()
  report = load_hf_checkpoint(fresh.named_variables(), disc_dir)
  assert report.missing and all(n.startswith("generator") for n in report.missing)
  assert all(n.startswith(("electra/", "discriminator_predictions/")) for n in report.loaded)
  np.testing.assert_array_equal(
      fresh.named_variables()["electra/encoder/layer_1/output/dense/kernel"],
      model.named_variables()["electra/encoder/layer_1/output/dense/kernel"])


def test_bert_with_prefix_pooler_and_mlm_head(tmp_path):
  config = TransformerConfig(vocab_size=50, hidden_size=32, num_hidden_layers=2,
                             num_attention_heads=2, intermediate_size=128)
  source = ElectraNetwork(config, "electra", "mlm")
  source.build_variables()
  for var in source.named_variables().values():  # no zero biases or unit gammas
    var.assign(tf.random.stateless_normal(var.shape, seed=[len(var.name), 7]) * 0.1 + var)
  prefix = save_original_checkpoint(source.named_variables(), str(tmp_path / "tf1" / "m"))
  expected = hf_reference.hf_parameters(50, 32, 32, 2, "generator")
  state, _ = hf_reference.hf_load(prefix, expected, "discriminator")
  renames = (("electra.", "bert."), ("generator_predictions.", "cls.predictions.transform."),
             ("generator_lm_head.bias", "cls.predictions.bias"))
  bert = {}
  for name, array in state.items():
    for old, new in renames:
      name = name.replace(old, new) if name.startswith(old) else name
    bert[name] = array
  bert["cls.predictions.decoder.weight"] = bert["bert.embeddings.word_embeddings.weight"]
  bert["cls.predictions.decoder.bias"] = bert["cls.predictions.bias"]
  bert["bert.pooler.dense.weight"] = np.ones([32, 32], np.float32)
  bert["bert.pooler.dense.bias"] = np.ones([32], np.float32)
  bert["cls.seq_relationship.weight"] = np.ones([2, 32], np.float32)
  bert["cls.seq_relationship.bias"] = np.ones([2], np.float32)
  directory = hf_reference.write_hf_dir(str(tmp_path / "bert"), bert, {
      "model_type": "bert", "architectures": ["BertForPreTraining"], "vocab_size": 50,
      "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2,
      "intermediate_size": 128})
  net, report = network_from_hf(directory)
  assert (net.scope, net.head_kind) == ("electra", "mlm")
  assert report.unexpected == ["bert.pooler.dense.bias", "bert.pooler.dense.weight",
                               "cls.seq_relationship.bias", "cls.seq_relationship.weight"]
  assert report.ignored == ["cls.predictions.decoder.bias", "cls.predictions.decoder.weight"]
  inputs = inputs_from(np.arange(20).reshape(2, 10), np.ones([2, 10]))
  np.testing.assert_allclose(net(inputs)["mlm_logits"], source(inputs)["mlm_logits"], atol=1e-5)


# --- config mapping -----------------------------------------------------------

def test_config_mapping_and_defaults():
  config, model_type = config_from_hf({"model_type": "electra"})
  assert model_type == "electra"
  # HF ElectraConfig defaults for keys a config.json leaves out.
  assert (config.vocab_size, config.embedding_size, config.hidden_size,
          config.num_hidden_layers, config.num_attention_heads,
          config.intermediate_size) == (30522, 128, 256, 12, 4, 1024)
  config, _ = config_from_hf({"model_type": "bert", "hidden_size": 384,
                              "num_attention_heads": 12, "hidden_act": "relu"})
  assert config.embedding_width == 384 and config.hidden_act == "relu"


@pytest.mark.parametrize("override,message", [
    ({"model_type": "roberta"}, "model_type 'roberta' is not supported"),
    ({"hidden_act": "gelu_new"}, "hidden_act 'gelu_new' is not supported"),
    ({"layer_norm_eps": 1e-5}, "layer_norm_eps 1e-05 differs"),
    ({"position_embedding_type": "relative_key"}, "position_embedding_type"),
    ({"hidden_size": 100, "num_attention_heads": 3}, "not divisible"),
])
def test_unsupported_configs_are_refused(override, message):
  with pytest.raises(CheckpointError, match=message):
    config_from_hf({"model_type": "electra", **override})


# --- bad input ----------------------------------------------------------------

def test_missing_directory_and_files(tmp_path):
  with pytest.raises(CheckpointError, match="does not exist"):
    read_hf_checkpoint(str(tmp_path / "nope"))
  (tmp_path / "config.json").write_text('{"model_type": "electra"}')
  (tmp_path / "pytorch_model.bin").write_bytes(b"\0")
  with pytest.raises(CheckpointError, match="lacks model.safetensors; pytorch_model.bin needs "
                                            "PyTorch"):
    read_hf_checkpoint(str(tmp_path))
  (tmp_path / "model.safetensors").write_bytes(b"\0" * 8)
  (tmp_path / "config.json").write_text("{not json")
  with pytest.raises(CheckpointError, match="is not valid JSON"):
    read_hf_checkpoint(str(tmp_path))


def test_truncated_safetensors_loads_nothing(electra_hf, tmp_path):
  model, _, disc_dir, _ = electra_hf
  broken = shutil.copytree(disc_dir, tmp_path / "disc")
  weights = broken / "model.safetensors"
  with open(weights, "r+b") as f:
    f.truncate(os.path.getsize(weights) - 1000)
  variables = model.named_variables()
  before = snapshot(variables)
  with pytest.raises(CheckpointError, match="truncated or corrupt"):
    load_hf_checkpoint(variables, str(broken))
  assert_unchanged(variables, before)


def test_config_vocab_size_that_does_not_fit_the_weights(electra_hf, tmp_path):
  _, _, disc_dir, _ = electra_hf
  broken = shutil.copytree(disc_dir, tmp_path / "disc")
  config = json.loads((broken / "config.json").read_text())
  config["vocab_size"] = 1000
  (broken / "config.json").write_text(json.dumps(config))
  with pytest.raises(CheckpointError, match=r"(?s)electra/embeddings/word_embeddings: model "
                                            r"\[1000, 64\] vs checkpoint \[30522, 64\].*vocab "
                                            r"size mismatch"):
    network_from_hf(str(broken))


def test_an_untied_output_layer_is_refused(electra_hf, tmp_path):
  _, _, _, gen_dir = electra_hf
  broken = shutil.copytree(gen_dir, tmp_path / "gen")
  state = load_file(str(broken / "model.safetensors"))
  state["generator_lm_head.weight"] = state["generator_lm_head.weight"] + 1.0
  save_file(state, str(broken / "model.safetensors"))
  with pytest.raises(CheckpointError, match="generator_lm_head.weight should be a copy"):
    read_hf_checkpoint(str(broken))


def test_a_discriminator_of_another_size_into_our_model_is_refused(electra_hf):
  _, _, disc_dir, _ = electra_hf
  model = PretrainingModel(PretrainingConfig.create("m", "/d", model_size="tiny",
                                                    embedding_size=128), SPECIAL)
  model.build_variables()
  variables = model.named_variables()
  before = snapshot(variables)
  with pytest.raises(CheckpointError, match=r"electra/embeddings/word_embeddings: model "
                                            r"\[30522, 128\] vs checkpoint \[30522, 64\]"):
    load_hf_checkpoint(variables, disc_dir)
  assert_unchanged(variables, before)
