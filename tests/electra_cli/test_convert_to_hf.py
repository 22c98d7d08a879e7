"""convert_checkpoint.py --to hf of fine-tuned GLUE models: an
ElectraForSequenceClassification directory whose numpy forward pass gives our
logits (classification) or task-scale scores (regression)."""

import json
import os

import numpy as np
import pytest
import tensorflow as tf
from safetensors.numpy import load_file

from electra_cli import convert_checkpoint
from electra_tf.text.tokenization import FullTokenizer
from finetune import modeling, registry
from finetune.config import FinetuningConfig
from tests.conftest import VOCAB_FILE
from tests.helpers import hf_numpy


@pytest.fixture(scope="module")
def finetuned_dir(tmp_path_factory):
  """A fine-tuned MNLI + STS-B trial directory with random, distinct weights."""
  directory = str(tmp_path_factory.mktemp("ft") / "mnli,sts_model_1")
  config = FinetuningConfig.create("m", "/d", task_names=["mnli", "sts"], model_size="tiny",
                                   vocab_file=str(VOCAB_FILE))
  tasks = registry.get_tasks(config, FullTokenizer(str(VOCAB_FILE)))
  model = modeling.build_model(config, tasks)
  rng = np.random.default_rng(0)
  for variable in model.named_variables().values():
    variable.assign(variable + rng.normal(0, 0.05, variable.shape).astype(np.float32))
  modeling.save_model_files(directory, config)
  tf.train.CheckpointManager(tf.train.Checkpoint(model=model), directory, 1).save(
      checkpoint_number=3)
  return directory


def read(directory):
  with open(os.path.join(directory, "config.json")) as f:
    return load_file(os.path.join(directory, "model.safetensors")), json.load(f)


@pytest.mark.parametrize("task,output", [("mnli", "logits"), ("sts", "score")])
def test_sequence_classifier_equals_our_outputs(finetuned_dir, tmp_path, task, output):
  out = str(tmp_path / "hf")
  assert convert_checkpoint.main(["--input", finetuned_dir, "--output", out, "--to", "hf",
                                  "--task", task]) == 0
  state, config = read(out)
  assert config["architectures"] == ["ElectraForSequenceClassification"]
  assert {n: list(a.shape) for n, a in state.items() if n.startswith("classifier.")} == {
      "classifier.dense.weight": [128, 128], "classifier.dense.bias": [128],
      "classifier.out_proj.weight": [config["num_labels"], 128],
      "classifier.out_proj.bias": [config["num_labels"]]}
  assert not any(n.startswith(("discriminator_predictions", "generator")) for n in state)
  finetuned = modeling.load_finetuned_model(finetuned_dir)
  features = finetuned.tasks[0].encode(["It rains.", "A cat sat on the mat today."],
                                       ["The street is wet.", "No."])
  want = finetuned.model(features, training=False)[task][output].numpy()
  got = hf_numpy.sequence_classification_logits(
      state, config, np.asarray(features["input_ids"]), np.asarray(features["input_mask"]),
      np.asarray(features["segment_ids"]))
  if task == "mnli":
    assert config["id2label"] == {"0": "contradiction", "1": "entailment", "2": "neutral"}
    assert config["label2id"]["neutral"] == 2 and config["problem_type"] == (
        "single_label_classification")
  else:
    assert config["num_labels"] == 1 and config["problem_type"] == "regression"
    got = got[:, 0]
  assert np.abs(want).max() > 0.05
  np.testing.assert_allclose(got, want, atol=1e-4)


def test_a_multi_task_model_needs_task(finetuned_dir, tmp_path, capsys):
  assert convert_checkpoint.main(["--input", finetuned_dir, "--output", str(tmp_path / "o"),
                                  "--to", "hf"]) == 2
  assert "pass --task" in capsys.readouterr().err
