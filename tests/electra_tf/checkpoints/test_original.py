"""Name-based (original TF1) checkpoints: round trip, exact layout, what Hugging
Face's TF loader reads, bookkeeping entries, and refusals that load nothing."""

import os

import numpy as np
import pytest
import tensorflow as tf

from electra_tf.checkpoints.original import (CheckpointError, LoadReport, list_original_checkpoint,
                                             load_original_checkpoint, resolve_checkpoint,
                                             save_original_checkpoint)
from electra_tf.config.pretraining import PretrainingConfig
from electra_tf.modeling.encoder import TransformerEncoder
from electra_tf.modeling.layers import Embeddings
from electra_tf.modeling.pretraining_model import PretrainingModel
from electra_tf.text.vocab import SpecialTokenIds
from tests.helpers import hf_reference

SPECIAL = SpecialTokenIds()
V = 30522
SEEDS = tf.constant([[1, 2], [3, 4]])


def make_model(**hparams):
  hparams.setdefault("model_size", "tiny")
  model = PretrainingModel(PretrainingConfig.create("m", "/d", **hparams), SPECIAL)
  model.build_variables()
  return model


def batch(seq_length=16):
  rng = np.random.default_rng(0)
  ids = rng.integers(1000, 20000, size=[2, seq_length]).astype(np.int32)
  ids[:, 0], ids[:, -1] = SPECIAL.cls, SPECIAL.sep
  mask = np.ones_like(ids)
  mask[1, -4:] = 0
  return {"input_ids": tf.constant(ids), "input_mask": tf.constant(mask),
          "segment_ids": tf.constant(np.zeros_like(ids))}


def snapshot(model):
  return {k: v.numpy().copy() for k, v in model.named_variables().items()}


def assert_unchanged(model, before):
  after = snapshot(model)
  assert after.keys() == before.keys()
  for name in before:
    np.testing.assert_array_equal(after[name], before[name], err_msg=name)


@pytest.fixture(scope="module")
def tiny_export(tmp_path_factory):
  model = make_model()
  prefix = save_original_checkpoint(model.named_variables(),
                                    str(tmp_path_factory.mktemp("tiny") / "model.ckpt-7"),
                                    global_step=7)
  return model, prefix


@pytest.fixture(scope="module")
def small_export(tmp_path_factory):
  model = make_model(model_size="small")  # code default: generator 0.25
  return save_original_checkpoint(model.named_variables(),
                                  str(tmp_path_factory.mktemp("small") / "model.ckpt"),
                                  global_step=1000)


def test_round_trip_through_the_original_format_gives_identical_outputs(tiny_export):
  model, prefix = tiny_export
  fresh = make_model()
  inputs = batch()
  before = fresh(inputs, training=False, example_seeds=SEEDS)["disc_logits"]
  report = load_original_checkpoint(fresh.named_variables(), os.path.dirname(prefix))
  assert report.source == prefix  # the directory resolved to its latest checkpoint
  assert report.missing == [] and report.unexpected == [] and report.optimizer_slots == []
  assert sorted(report.loaded) == sorted(model.named_variables())
  assert report.global_step == 7
  want = model(inputs, training=False, example_seeds=SEEDS)
  got = fresh(inputs, training=False, example_seeds=SEEDS)
  assert np.abs(before - want["disc_logits"]).max() > 1e-3  # the fresh model differed
  for key in ("disc_logits", "mlm_logits", "total_loss", "sampled_ids"):
    np.testing.assert_array_equal(got[key], want[key], err_msg=key)


@pytest.mark.parametrize("hparams,dims", [
    ({"model_size": "tiny"}, dict(E=64, H=128, L=2, H_g=32)),
    ({"model_size": "small"}, dict(E=128, H=256, L=12, H_g=64)),
    # The released ELECTRA-Small++: generator as wide as the discriminator.
    ({"model_size": "small", "generator_hidden_size": 1.0}, dict(E=128, H=256, L=12, H_g=256)),
])
def test_exported_variables_are_exactly_the_originals(tmp_path, small_export, hparams, dims):
  if hparams == {"model_size": "small"}:
    prefix = small_export
  else:
    prefix = save_original_checkpoint(make_model(**hparams).named_variables(),
                                      str(tmp_path / "model.ckpt"), global_step=1000)
  expected = hf_reference.original_layout(V=V, **dims)
  expected["global_step"] = []
  assert dict(tf.train.list_variables(prefix)) == expected
  assert tf.train.load_variable(prefix, "global_step") == 1000


@pytest.mark.parametrize("mode", ["discriminator", "generator"])
def test_hugging_face_tf_loader_finds_every_parameter(tiny_export, mode):
  _, prefix = tiny_export
  if mode == "discriminator":
    expected = hf_reference.hf_parameters(V, 64, 128, 2, "discriminator")
  else:
    expected = hf_reference.hf_parameters(V, 64, 32, 2, "generator")
  loaded, skipped = hf_reference.hf_load(prefix, expected, mode)
  assert loaded.keys() == expected.keys()
  other = ("generator/", "generator_predictions/") if mode == "discriminator" else (
      "electra/encoder/", "electra/embeddings_project/", "discriminator_predictions/")
  assert all(n.startswith(other) or n == "global_step" for n in skipped), skipped
  np.testing.assert_array_equal(
      loaded["electra.encoder.layer.1.intermediate.dense.weight"],
      tf.train.load_variable(prefix, f"{'electra' if mode == 'discriminator' else 'generator'}"
                                     "/encoder/layer_1/intermediate/dense/kernel").T)


def test_a_fine_tuning_encoder_loads_electra_names_only(tiny_export):
  model, prefix = tiny_export
  config = model.bert_config
  encoder = TransformerEncoder(config, Embeddings(config, name="embeddings"), name="electra")
  inputs = batch()
  encoder(inputs["input_ids"], inputs["input_mask"], inputs["segment_ids"])
  names = {f"electra/{k}": v for k, v in encoder.named_variables().items()}
  report = load_original_checkpoint(names, prefix)
  assert report.missing == []
  assert report.unexpected and all(
      n.startswith(("generator", "discriminator_predictions/")) for n in report.unexpected)
  np.testing.assert_array_equal(
      encoder(inputs["input_ids"], inputs["input_mask"], inputs["segment_ids"]),
      model.discriminator(inputs["input_ids"], inputs["input_mask"], inputs["segment_ids"]))


def test_optimizer_slots_and_global_step_are_reported_apart(tiny_export, tmp_path):
  model, _ = tiny_export
  # A checkpoint of a user's run of the original: every weight has Adam slots.
  entries = dict(model.named_variables())
  for name, var in model.named_variables().items():
    entries[f"{name}/adam_m"] = np.zeros(var.shape, np.float32)
    entries[f"{name}/adam_v"] = np.ones(var.shape, np.float32)
  prefix = save_original_checkpoint(entries, str(tmp_path / "model.ckpt-50"), global_step=50)
  fresh = make_model()
  report = load_original_checkpoint(fresh.named_variables(), prefix, allow_unexpected=False)
  assert len(report.optimizer_slots) == 2 * len(entries) // 3
  assert report.unexpected == [] and report.missing == [] and report.global_step == 50
  assert "optimizer slots (not loaded)" in report.summary()
  np.testing.assert_array_equal(fresh.named_variables()["electra/embeddings/word_embeddings"],
                                model.named_variables()["electra/embeddings/word_embeddings"])


def test_a_released_style_checkpoint_is_weights_only(tiny_export):
  _, prefix = tiny_export
  report = load_original_checkpoint(make_model().named_variables(), prefix,
                                    allow_missing=False, allow_unexpected=False)
  assert report.optimizer_slots == []
  assert "no optimizer slots (weights only)" in report.summary()


def test_discriminator_only_checkpoint_reports_the_generator_missing(tiny_export, tmp_path):
  model, _ = tiny_export
  disc = {k: v for k, v in model.named_variables().items()
          if k.startswith(("electra/", "discriminator_predictions/"))}
  prefix = save_original_checkpoint(disc, str(tmp_path / "disc"))
  fresh = make_model()
  report = load_original_checkpoint(fresh.named_variables(), prefix)
  assert report.missing and all(n.startswith("generator") for n in report.missing)
  assert report.global_step is None
  other = make_model()
  before = snapshot(other)
  with pytest.raises(CheckpointError, match="lacks .* of the model's variables: generator"):
    load_original_checkpoint(other.named_variables(), prefix, allow_missing=False)
  assert_unchanged(other, before)


def test_architecture_mismatch_names_the_variable_and_both_shapes(small_export):
  model = make_model()  # tiny: E=64, H=128
  before = snapshot(model)
  with pytest.raises(CheckpointError) as error:
    load_original_checkpoint(model.named_variables(), small_export)
  message = str(error.value)
  assert "nothing was loaded" in message
  assert "electra/embeddings/word_embeddings: model [30522, 64] vs checkpoint [30522, 128]" in message
  assert ("electra/encoder/layer_0/attention/self/query/kernel: model [128, 128] vs "
          "checkpoint [256, 256]") in message
  assert_unchanged(model, before)


def test_vocab_size_mismatch_is_named(tiny_export):
  _, prefix = tiny_export
  model = make_model(vocab_size=1000)
  before = snapshot(model)
  with pytest.raises(CheckpointError, match=r"vocab size mismatch: the model has vocab_size "
                                            r"1000, the checkpoint 30522") as error:
    load_original_checkpoint(model.named_variables(), prefix)
  assert "generator_predictions/output_bias: model [1000] vs checkpoint [30522]" in str(error.value)
  assert_unchanged(model, before)


def test_truncated_data_file_loads_nothing(tiny_export, tmp_path):
  source, _ = tiny_export
  prefix = save_original_checkpoint(source.named_variables(), str(tmp_path / "model.ckpt"))
  data = prefix + ".data-00000-of-00001"
  with open(data, "r+b") as f:
    f.truncate(os.path.getsize(data) // 2)
  model = make_model()
  before = snapshot(model)
  with pytest.raises(CheckpointError, match="truncated or corrupt"):
    load_original_checkpoint(model.named_variables(), prefix)
  assert_unchanged(model, before)


def test_missing_paths_and_ambiguous_directories(tmp_path, tiny_export):
  model, _ = tiny_export
  with pytest.raises(CheckpointError, match="not found: expected .*nope.index"):
    load_original_checkpoint(model.named_variables(), str(tmp_path / "nope"))
  with pytest.raises(CheckpointError, match="no checkpoint in directory"):
    resolve_checkpoint(str(tmp_path))
  variables = {"a/kernel": np.zeros([2, 2], np.float32)}
  first = save_original_checkpoint(variables, str(tmp_path / "one" / "a"))
  assert resolve_checkpoint(first + ".index") == first
  assert resolve_checkpoint(first + ".data-00000-of-00001") == first
  os.remove(tmp_path / "one" / "checkpoint")
  assert resolve_checkpoint(str(tmp_path / "one")) == first  # the only .index
  save_original_checkpoint(variables, str(tmp_path / "one" / "b"))
  os.remove(tmp_path / "one" / "checkpoint")
  with pytest.raises(CheckpointError, match="holds 2 checkpoints"):
    resolve_checkpoint(str(tmp_path / "one"))


def test_unrelated_and_object_based_checkpoints_are_refused(tmp_path, tiny_export):
  model, _ = tiny_export
  unrelated = save_original_checkpoint({"bert/pooler/dense/kernel": np.zeros([2, 2])},
                                       str(tmp_path / "bert" / "model.ckpt"))
  with pytest.raises(CheckpointError, match="none of the model's .* variables is in"):
    load_original_checkpoint(model.named_variables(), unrelated)
  tf2 = tf.train.Checkpoint(model=model).write(str(tmp_path / "tf2" / "ckpt"))
  with pytest.raises(CheckpointError, match="object-based TF2 checkpoint"):
    load_original_checkpoint(model.named_variables(), tf2)


def test_export_writes_atomically_and_lists_back(tmp_path):
  variables = {"x/kernel": np.arange(6, dtype=np.float32).reshape(2, 3)}
  prefix = save_original_checkpoint(variables, str(tmp_path / "model.ckpt"), global_step=3)
  assert sorted(os.listdir(tmp_path)) == ["checkpoint", "model.ckpt.data-00000-of-00001",
                                          "model.ckpt.index"]
  assert tf.train.latest_checkpoint(str(tmp_path)) == prefix
  assert list_original_checkpoint(str(tmp_path)) == {"x/kernel": (2, 3), "global_step": ()}
  with pytest.raises(ValueError, match="bookkeeping"):
    save_original_checkpoint({"global_step": np.int64(1)}, str(tmp_path / "bad"))


@pytest.mark.slow
def test_base_weights_into_a_small_model_are_refused(tmp_path):
  prefix = save_original_checkpoint(make_model(model_size="base").named_variables(),
                                    str(tmp_path / "base"))
  model = make_model(model_size="small")
  before = snapshot(model)
  with pytest.raises(CheckpointError, match=r"electra/encoder/layer_0/attention/self/query/"
                                            r"kernel: model \[256, 256\] vs checkpoint "
                                            r"\[768, 768\]"):
    load_original_checkpoint(model.named_variables(), prefix)
  assert_unchanged(model, before)


def test_summary_puts_expected_unused_weights_on_one_line():
  report = LoadReport(
      source="ckpt", loaded=["electra/a"], missing=["task_specific/sst/dense/bias"],
      unexpected=["generator/encoder/layer_0/x", "generator_predictions/output_bias",
                  "discriminator_predictions/dense/bias", "other/w"], optimizer_slots=[])
  lines = report.summary(("generator", "discriminator_predictions/"), "pre-training only")
  assert lines.splitlines()[1] == (
      "3 not loaded, as expected (pre-training only): generator/encoder/layer_0/x, "
      "generator_predictions/output_bias, discriminator_predictions/dense/bias")
  assert "1 unexpected in the checkpoint (not loaded): other/w" in lines
  assert "as expected" not in report.summary()
  assert "4 unexpected in the checkpoint" in report.summary()
