"""convert_checkpoint.py on a real run_pretraining model dir: taken as it is,
global_step kept, and never an output that would destroy the input."""

import re

import numpy as np
import pytest
import tensorflow as tf

from electra_cli import convert_checkpoint
from electra_tf.checkpoints import native
from tests.helpers import trainer as trainer_helpers
from tests.helpers.faults import snapshot

# A (tiny) pre-training run, converted.
pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
  """A pre-training run's model dir after 3 steps: checkpoint with optimizer
  state, pretrain_config.json, TensorBoard events."""
  model_dir = tmp_path_factory.mktemp("data") / "models" / "m1"
  trainer, _ = trainer_helpers.train(model_dir)
  assert trainer.step == 3
  return model_dir


def assert_weights_equal(run_dir, original_prefix):
  loaded = native.load_electra_tf(str(run_dir))
  for name, variable in loaded.model.named_variables().items():
    np.testing.assert_array_equal(tf.train.load_variable(original_prefix, name),
                                  variable.numpy(), err_msg=name)


def test_a_pretraining_run_dir_converts_as_it_is_and_keeps_its_step(run_dir, tmp_path, capsys):
  before = snapshot(run_dir)
  out = tmp_path / "tf1"
  assert convert_checkpoint.main(["--input", str(run_dir), "--output", str(out),
                                  "--to", "original"]) == 0
  assert "(global_step 3)" in capsys.readouterr().out
  prefix = tf.train.latest_checkpoint(str(out))
  assert prefix.endswith("model.ckpt-3")
  assert tf.train.load_variable(prefix, "global_step") == 3
  # The run's trained weights, under their original names.
  assert_weights_equal(run_dir, prefix)
  # And back into our format, still at step 3.
  back = tmp_path / "tf2"
  assert convert_checkpoint.main(["--input", str(out), "--output", str(back),
                                  "--to", "electra_tf"]) == 0
  assert tf.train.latest_checkpoint(str(back)).endswith("ckpt-3")
  assert snapshot(run_dir) == before


@pytest.mark.parametrize("where,relation", [
    (lambda run: run, "is"),
    (lambda run: run.parent, "contains"),
    (lambda run: run / "converted", "is inside"),
])
def test_an_output_overlapping_the_input_is_refused(run_dir, capsys, where, relation):
  before = snapshot(run_dir.parent)
  out = where(run_dir)
  for source in (run_dir, tf.train.latest_checkpoint(str(run_dir))):
    assert convert_checkpoint.main(["--input", str(source), "--output", str(out),
                                    "--to", "original", "--overwrite"]) == 2
    err = capsys.readouterr().err
    assert re.fullmatch(
        rf"error: --output {re.escape(str(out))} {relation} the input directory "
        rf"{re.escape(str(run_dir))}: the output directory is replaced whole, so the input "
        r"would be lost; choose an output directory outside it\n", err), err
    assert snapshot(run_dir.parent) == before


def test_a_non_empty_output_needs_overwrite(run_dir, tmp_path, capsys):
  out = tmp_path / "out"
  out.mkdir()
  (out / "keep.txt").write_text("a previous result")
  assert convert_checkpoint.main(["--input", str(run_dir), "--output", str(out),
                                  "--to", "original"]) == 2
  assert "is not empty; choose another or pass --overwrite" in capsys.readouterr().err
  assert snapshot(out) == {"keep.txt": snapshot(out)["keep.txt"]} and len(snapshot(out)) == 1


@pytest.mark.parametrize("overwrite", [[], ["--overwrite"]])
def test_an_output_that_is_a_file_is_refused_and_kept(run_dir, tmp_path, capsys, overwrite):
  out = tmp_path / "out.ckpt"
  out.write_text("not a directory")
  assert convert_checkpoint.main(["--input", str(run_dir), "--output", str(out),
                                  "--to", "original", *overwrite]) == 2
  assert capsys.readouterr().err == (f"error: output directory {str(out)!r} is a file; "
                                     "choose a directory path (new or empty)\n")
  assert out.read_text() == "not a directory"
