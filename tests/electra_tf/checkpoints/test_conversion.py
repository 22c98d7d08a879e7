"""convert_checkpoint.py end to end, and the architecture inference behind it."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from electra_cli import convert_checkpoint
from electra_tf.checkpoints.native import spec_for_original
from electra_tf.checkpoints.original import CheckpointError, save_original_checkpoint
from electra_tf.config.pretraining import PretrainingConfig
from electra_tf.modeling.pretraining_model import PretrainingModel
from electra_tf.text.vocab import SpecialTokenIds
from tests.conftest import ROOT
from tests.helpers import hf_reference
from tests.helpers.hf_reference import minilm_dir

V = 30522


@pytest.fixture(scope="module")
def tiny_original(tmp_path_factory):
  """A tiny pre-training model exported to the original format, with vocab.txt."""
  model = PretrainingModel(PretrainingConfig.create("m", "/d", model_size="tiny"),
                           SpecialTokenIds())
  model.build_variables()
  directory = tmp_path_factory.mktemp("tiny")
  save_original_checkpoint(model.named_variables(), str(directory / "model.ckpt-7"),
                           global_step=7)
  (directory / "vocab.txt").write_text("[PAD]\n")
  return str(directory)


def values(checkpoint):
  return {n: tf.train.load_variable(checkpoint, n) for n, _ in tf.train.list_variables(checkpoint)}


def assert_same_checkpoint(a, b):
  want, got = values(a), values(b)
  assert want.keys() == got.keys()
  for name in want:
    np.testing.assert_array_equal(got[name], want[name], err_msg=name)


def test_original_to_electra_tf_and_back_is_lossless(tiny_original, tmp_path, capsys):
  tf2, back = str(tmp_path / "tf2"), str(tmp_path / "back")
  assert convert_checkpoint.main(["--input", tiny_original, "--output", tf2,
                                  "--to", "electra_tf"]) == 0
  assert sorted(os.listdir(tf2)) == ["checkpoint", "ckpt-7.data-00000-of-00001", "ckpt-7.index",
                                     "model_spec.json", "vocab.txt"]
  spec = json.loads(open(os.path.join(tf2, "model_spec.json")).read())
  assert spec["model"] == "pretraining" and spec["hparams"]["model_size"] == "tiny"
  assert convert_checkpoint.main(["--input", tf2, "--output", back, "--to", "original"]) == 0
  assert os.path.exists(os.path.join(back, "model.ckpt-7.index"))
  assert_same_checkpoint(tiny_original, back)
  assert "loaded 82 variables" in capsys.readouterr().out


def test_hugging_face_bert_through_every_format(tmp_path):
  tf1, tf2, back = (str(tmp_path / n) for n in ("tf1", "tf2", "back"))
  assert convert_checkpoint.main(["--input", str(minilm_dir()), "--output", tf1,
                                  "--to", "original"]) == 0
  assert os.path.exists(os.path.join(tf1, "vocab.txt"))
  shapes = dict(tf.train.list_variables(tf1))
  assert shapes["electra/encoder/layer_5/intermediate/dense/kernel"] == [384, 1536]
  assert not any(n.startswith("bert") or "pooler" in n for n in shapes)
  assert convert_checkpoint.main(["--input", tf1, "--output", tf2, "--to", "electra_tf"]) == 0
  assert convert_checkpoint.main(["--input", tf2, "--output", back, "--to", "original"]) == 0
  assert_same_checkpoint(tf1, back)


@pytest.mark.e2e
def test_the_script_runs_as_a_program(tiny_original, tmp_path):
  out = str(tmp_path / "tf2")
  result = subprocess.run([sys.executable, str(ROOT / "convert_checkpoint.py"), "--input",
                           tiny_original, "--output", out, "--to", "electra_tf"],
                          capture_output=True, text=True, cwd=str(tmp_path), timeout=300)
  assert result.returncode == 0, result.stderr
  assert "wrote electra_tf checkpoint" in result.stdout
  assert tf.train.latest_checkpoint(out).endswith("ckpt-7")


@pytest.mark.parametrize("args,message", [
    (["--input", "{missing}"], "does not exist"),
    (["--hparams", "{{not json"], "--hparams is not valid JSON"),
    (["--hf_generator", "{tiny}"], "only for Hugging Face sources"),
    (["--output", "{tiny}"], "is the input directory"),
    (["--output", "{tiny}/.."], "contains the input directory"),
    (["--to", "original"], "already in the original format"),
])
def test_bad_arguments_fail_before_any_output(tiny_original, tmp_path, capsys, args, message):
  out = str(tmp_path / "out")
  argv = {"--input": tiny_original, "--output": out, "--to": "electra_tf"}
  for flag, value in zip(args[::2], args[1::2]):
    argv[flag] = value.format(missing=str(tmp_path / "missing"), tiny=tiny_original)
  assert convert_checkpoint.main([x for kv in argv.items() for x in kv]) == 2
  assert message in capsys.readouterr().err
  assert not os.path.exists(out)


def test_a_truncated_input_leaves_no_output(tiny_original, tmp_path, capsys):
  broken = tmp_path / "broken"
  broken.mkdir()
  for name in os.listdir(tiny_original):
    data = open(os.path.join(tiny_original, name), "rb").read()
    (broken / name).write_bytes(data[:len(data) // 2] if ".data-" in name else data)
  out = tmp_path / "out"
  assert convert_checkpoint.main(["--input", str(broken), "--output", str(out),
                                  "--to", "electra_tf"]) == 2
  assert "truncated or corrupt" in capsys.readouterr().err
  assert not out.exists() and os.listdir(tmp_path) == ["broken"]  # no temporary left


def test_overwrite_replaces_the_output(tiny_original, tmp_path):
  out = tmp_path / "out"
  out.mkdir()
  (out / "stale.txt").write_text("old")
  assert convert_checkpoint.main(["--input", tiny_original, "--output", str(out), "--to",
                                  "electra_tf", "--overwrite", "--global_step", "9"]) == 0
  assert not (out / "stale.txt").exists()
  assert tf.train.latest_checkpoint(str(out)).endswith("ckpt-9")


def test_electra_tf_checkpoint_without_spec_needs_hparams(tiny_original, tmp_path, capsys):
  tf2, back = tmp_path / "tf2", str(tmp_path / "back")
  assert convert_checkpoint.main(["--input", tiny_original, "--output", str(tf2),
                                  "--to", "electra_tf"]) == 0
  os.remove(tf2 / "model_spec.json")  # as a training run's checkpoint directory
  assert convert_checkpoint.main(["--input", str(tf2), "--output", back, "--to", "original"]) == 2
  assert "pass the pre-training hparams" in capsys.readouterr().err
  assert convert_checkpoint.main(["--input", str(tf2), "--output", back, "--to", "original",
                                  "--hparams", '{"model_size": "tiny"}']) == 0
  assert_same_checkpoint(tiny_original, back)
  # hparams of another architecture cannot restore it.
  assert convert_checkpoint.main(["--input", str(tf2), "--output", back + "2", "--to",
                                  "original", "--hparams", '{"model_size": "tiny", '
                                  '"generator_hidden_size": 0.5}']) == 2
  assert "cannot restore" in capsys.readouterr().err


@pytest.mark.parametrize("dims,size,fraction", [
    (dict(E=128, H=256, L=12, H_g=256), "small", 1.0),          # released Small++
    (dict(E=128, H=256, L=12, H_g=64), "small", 0.25),          # code default
    (dict(E=768, H=768, L=12, H_g=256), "base", 256 / 768),     # released Base++
    (dict(E=1024, H=1024, L=24, H_g=256), "large", 0.25),       # released Large
])
def test_released_layouts_infer_their_hparams(dims, size, fraction):
  spec = spec_for_original(hf_reference.original_layout(V=V, **dims))
  hparams = spec["hparams"]
  assert spec["model"] == "pretraining"
  assert (hparams["model_size"], hparams["embedding_size"]) == (size, dims["E"])
  assert hparams["generator_hidden_size"] == pytest.approx(fraction)
  assert hparams["model_hparam_overrides"] == {}
  config = PretrainingConfig.create("m", "/d", **hparams)
  assert int(round(dims["H"] * config.generator_hidden_size)) == dims["H_g"]


def test_inference_of_single_networks_and_overrides():
  layout = hf_reference.original_layout(V=V, E=64, H=96, L=3)
  spec = spec_for_original(layout)
  assert (spec["model"], spec["scope"], spec["head"]) == ("network", "electra", "discriminator")
  assert spec["config"]["hidden_size"] == 96 and spec["config"]["num_hidden_layers"] == 3
  with pytest.raises(CheckpointError, match="single network"):
    spec_for_original(layout, {"model_size": "small"})
  full = hf_reference.original_layout(V=V, E=64, H=96, L=3, H_g=32)
  spec = spec_for_original(full, {"model_hparam_overrides": {"num_attention_heads": 3}})
  assert spec["hparams"]["model_hparam_overrides"] == {
      "hidden_size": 96, "num_hidden_layers": 3, "num_attention_heads": 3}
  with pytest.raises(CheckpointError, match="found no ELECTRA encoder"):
    spec_for_original({"bert/embeddings/word_embeddings": (V, 64)})


@pytest.mark.parametrize("variant", [
    {"untied_generator_embeddings": True},
    {"electric_objective": True},
    {"untied_generator": False},
    {"electra_objective": False},  # MLM only: one network with an MLM head
    {"uniform_generator": True},   # no generator: the discriminator alone
])
def test_variant_layouts_convert_both_ways(tmp_path, variant):
  model = PretrainingModel(PretrainingConfig.create("m", "/d", model_size="tiny", **variant),
                           SpecialTokenIds())
  model.build_variables()
  source = save_original_checkpoint(model.named_variables(), str(tmp_path / "src" / "m"))
  tf2, back = str(tmp_path / "tf2"), str(tmp_path / "back")
  assert convert_checkpoint.main(["--input", source, "--output", tf2, "--to", "electra_tf"]) == 0
  assert convert_checkpoint.main(["--input", tf2, "--output", back, "--to", "original"]) == 0
  assert_same_checkpoint(source, back)
