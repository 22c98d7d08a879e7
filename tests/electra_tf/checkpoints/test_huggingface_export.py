"""Export to Hugging Face directories: HF's tensor names and shapes, a round
trip through our HF import, and a numpy forward pass of HF's classes."""

import json
import os

import numpy as np
import pytest
import tensorflow as tf
from safetensors.numpy import load_file

from electra_tf.checkpoints import conversion, native
from electra_tf.checkpoints.huggingface import network_from_hf
from electra_tf.checkpoints.huggingface_export import classifier_state, model_networks
from electra_tf.checkpoints.original import CheckpointError
from electra_tf.config.pretraining import PretrainingConfig
from electra_tf.modeling.pretraining_model import PretrainingModel
from electra_tf.text.vocab import SpecialTokenIds
from tests.conftest import VOCAB_FILE
from tests.helpers import hf_numpy, hf_reference

V = 30522


def perturbed_model(size, **hparams):
  """A PretrainingModel whose every weight (biases too) is random and distinct."""
  model = PretrainingModel(PretrainingConfig.create("m", "/d", model_size=size, **hparams),
                           SpecialTokenIds())
  model.build_variables()
  rng = np.random.default_rng(0)
  for variable in model.named_variables().values():
    variable.assign(variable + rng.normal(0, 0.05, variable.shape).astype(np.float32))
  return model


def shapes(state):
  return {name: list(array.shape) for name, array in state.items()}


@pytest.mark.parametrize("size,E,H,L,H_g", [("tiny", 64, 128, 2, 32), ("small", 128, 256, 12, 64)])
def test_tensor_names_and_shapes_are_hf_state_dicts(size, E, H, L, H_g):
  model = PretrainingModel(PretrainingConfig.create("m", "/d", model_size=size),
                           SpecialTokenIds())
  model.build_variables()
  disc, gen = model_networks(model)
  # ElectraForPreTraining.state_dict(): parameters only (position_ids and
  # token_type_ids are non-persistent buffers).
  assert shapes(disc["state"]) == hf_reference.hf_parameters(V, E, H, L, "discriminator")
  # ElectraForMaskedLM.state_dict() also has the tied output weight.
  want = hf_reference.hf_parameters(V, E, H_g, L, "generator")
  want["generator_lm_head.weight"] = [V, E]
  assert shapes(gen["state"]) == want
  assert disc["config"]["architectures"] == ["ElectraForPreTraining"]
  assert gen["config"]["architectures"] == ["ElectraForMaskedLM"]
  assert (disc["config"]["hidden_size"], disc["config"]["num_attention_heads"],
          disc["config"]["intermediate_size"], disc["config"]["embedding_size"]) == (
              H, max(1, H // 64), 4 * H, E)
  assert (gen["config"]["hidden_size"], gen["config"]["num_attention_heads"],
          gen["config"]["intermediate_size"], gen["config"]["embedding_size"]) == (
              H_g, max(1, H_g // 64), 4 * H_g, E)
  assert all(a.dtype == np.float32 for a in disc["state"].values())


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
  """A perturbed tiny model, saved as electra_tf and converted with --to hf."""
  root = tmp_path_factory.mktemp("export")
  model = perturbed_model("tiny")
  native.save_electra_tf(model, str(root / "tf2"), global_step=7)
  lines = []
  out = conversion.convert(str(root / "tf2"), str(root / "hf"), "hf",
                           vocab_file=str(VOCAB_FILE), log=lines.append)
  return model, out, lines


def inputs():
  ids = np.random.default_rng(1).integers(1000, 20000, size=[2, 10])
  mask = np.ones_like(ids)
  mask[1, 6:] = 0
  segments = np.zeros_like(ids)
  segments[:, 5:] = 1
  return ids, mask, segments


def as_features(ids, mask, segments):
  return {"input_ids": tf.constant(ids, tf.int32), "input_mask": tf.constant(mask, tf.int32),
          "segment_ids": tf.constant(segments, tf.int32)}


def test_directory_layout(exported):
  _, out, lines = exported
  assert sorted(os.listdir(out)) == ["discriminator", "generator"]
  for sub in ("discriminator", "generator"):
    assert sorted(os.listdir(os.path.join(out, sub))) == [
        "config.json", "model.safetensors", "special_tokens_map.json",
        "tokenizer_config.json", "vocab.txt"]
    with open(os.path.join(out, sub, "tokenizer_config.json")) as f:
      tokenizer = json.load(f)
    assert tokenizer["do_lower_case"] is True and tokenizer["tokenizer_class"] == "ElectraTokenizer"
    with open(os.path.join(out, sub, "config.json")) as f:
      assert json.load(f)["model_type"] == "electra"
  assert any("ElectraForMaskedLM" in line for line in lines)


def test_round_trip_through_our_hf_import_is_identical(exported):
  model, out, _ = exported
  loaded = native.load_hf(os.path.join(out, "discriminator"), os.path.join(out, "generator"))
  assert loaded.report.missing == [] and loaded.report.unexpected == []
  for name, variable in model.named_variables().items():
    np.testing.assert_array_equal(loaded.model.named_variables()[name], variable, err_msg=name)
  features = as_features(*inputs())
  disc, _ = network_from_hf(os.path.join(out, "discriminator"))
  want = model.discriminator_head(model.discriminator(
      features["input_ids"], features["input_mask"], features["segment_ids"]))
  np.testing.assert_array_equal(disc(features)["disc_logits"], want)


def test_numpy_forward_pass_of_the_files_equals_our_logits(exported):
  model, out, _ = exported
  ids, mask, segments = inputs()
  features = as_features(ids, mask, segments)
  args = (features["input_ids"], features["input_mask"], features["segment_ids"])

  def read(sub):
    with open(os.path.join(out, sub, "config.json")) as f:
      return load_file(os.path.join(out, sub, "model.safetensors")), json.load(f)

  state, config = read("discriminator")
  want = model.discriminator_head(model.discriminator(*args)).numpy()
  got = hf_numpy.discriminator_logits(state, config, ids, mask, segments)
  assert np.abs(want).max() > 0.1
  np.testing.assert_allclose(got, want, atol=1e-4)

  state, config = read("generator")
  sequence = model.generator(*args)
  want = model.generator_head(sequence, model.generator.embedding_table).numpy()
  got = hf_numpy.masked_lm_logits(state, config, ids, mask, segments)
  np.testing.assert_allclose(got, want, atol=1e-4)


def test_one_dense_layer_as_hf_two_layer_head():
  rng = np.random.default_rng(3)
  kernel, bias = rng.normal(size=[16, 3]), rng.normal(size=[3])
  x = rng.normal(size=[5, 16]) * 3
  head = {k: v.astype(np.float64) for k, v in
          classifier_state(kernel, bias, 16, scale=5.0, shift=0.5).items()}
  got = hf_numpy.linear(head, "classifier.out_proj",
                        hf_numpy.gelu(hf_numpy.linear(head, "classifier.dense", x)))
  np.testing.assert_allclose(got, 5.0 * (x @ kernel.astype(np.float32) + bias.astype(np.float32))
                             + 0.5, rtol=1e-5, atol=1e-5)
  with pytest.raises(CheckpointError, match="hidden size of at least 10"):
    classifier_state(rng.normal(size=[8, 5]), np.zeros(5), 8)


def test_a_pretraining_run_dir_exports_with_its_vocab(tmp_path):
  model = perturbed_model("tiny")
  run_dir = tmp_path / "models" / "m"
  tf.train.CheckpointManager(tf.train.Checkpoint(model=model), str(run_dir), 1).save(
      checkpoint_number=4)
  model.config.vocab_file = str(VOCAB_FILE)
  model.config.do_lower_case = False
  model.config.write_json(str(run_dir / "pretrain_config.json"))
  out = conversion.convert(str(run_dir), str(tmp_path / "hf"), "hf", log=lambda _: None)
  with open(os.path.join(out, "discriminator", "tokenizer_config.json")) as f:
    assert json.load(f)["do_lower_case"] is False
  with open(os.path.join(out, "generator", "vocab.txt")) as f:
    assert sum(1 for _ in f) == V


def test_untied_generator_embeddings_and_missing_vocab_are_refused(tmp_path):
  model = perturbed_model("tiny", untied_generator_embeddings=True)
  with pytest.raises(CheckpointError, match="no Hugging Face name"):
    model_networks(model)
  native.save_electra_tf(perturbed_model("tiny"), str(tmp_path / "tf2"))
  with pytest.raises(CheckpointError, match="--vocab-file"):
    conversion.convert(str(tmp_path / "tf2"), str(tmp_path / "hf"), "hf", log=lambda _: None)
  with pytest.raises(CheckpointError, match="--global-step does not apply"):
    conversion.convert(str(tmp_path / "tf2"), str(tmp_path / "hf"), "hf", global_step=3,
                       vocab_file=str(VOCAB_FILE), log=lambda _: None)
  assert not os.path.exists(tmp_path / "hf")
