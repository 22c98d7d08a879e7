"""Tagging tasks: registry, label mapping, head and loss as the original's."""

import os
import pickle
import re

import numpy as np
import pytest
import tensorflow as tf

from electra_tf.config.hparams import ConfigError
from finetune import modeling, registry
from finetune.config import FinetuningConfig
from finetune.tagging.tasks import Chunking, TaggingTask
from finetune.task import FinetuningDataError
from tests.finetune.tagging.conftest import make_task, write


def test_the_default_task_names_build_chunking(data_dir):
  config = FinetuningConfig.create("m", str(data_dir), model_size="tiny")
  assert config.task_names == ["chunk"] and config.max_seq_length == 256
  task, = registry.get_tasks(config)
  assert isinstance(task, Chunking) and task.kind == "tagging" and not task.is_token_level
  assert task.data_file("dev") == os.path.join(str(data_dir), "finetuning_data", "chunk",
                                               "dev.txt")


def test_tagging_tasks_hparam_declares_tasks_without_code(data_dir):
  config = FinetuningConfig.create("m", str(data_dir), model_size="tiny",
                                   task_names=["wnut", "upos"],
                                   tagging_tasks={"wnut": "span", "upos": "token"})
  wnut, upos = registry.get_tasks(config)
  assert (wnut.name, wnut.is_token_level, upos.name, upos.is_token_level) == (
      "wnut", False, "upos", True)
  assert type(wnut) is TaggingTask
  with pytest.raises(ConfigError, match=r"Unknown task\(s\) \['wnut'\].*tagging_tasks"):
    registry.get_tasks(FinetuningConfig.create("m", str(data_dir), task_names=["wnut"]))
  with pytest.raises(ConfigError, match=r"tagging_tasks \{'wnut': 'spans'\}: each task's level "
                     r"must be one of \['span', 'token'\]"):
    FinetuningConfig.create("m", str(data_dir), tagging_tasks={"wnut": "spans"})
  with pytest.raises(ConfigError, match=r"tagging_tasks \['chunk'\]: already registered"):
    registry.get_tasks(FinetuningConfig.create("m", str(data_dir),
                                               tagging_tasks={"chunk": "token"}))


def test_label_mapping_is_built_from_every_split_sorted_and_saved_beside_the_cache(data_dir):
  write(data_dir, "chunk", "train", "a B-NP\nb I-NP\nc O\n")
  write(data_dir, "chunk", "dev", "d B-VP\n")
  write(data_dir, "chunk", "test", "e I-ADJP\nf B-ADJP\n")
  task = make_task(data_dir)
  assert task.label_list == ["B-NP", "E-NP", "O", "S-ADJP", "S-VP"]
  path = task.label_mapping_path()
  assert os.path.dirname(path) == task.config.preprocessed_data_dir
  assert os.path.basename(path) == "chunk_label_mapping.pkl"
  with open(path, "rb") as f:
    assert pickle.load(f) == {"B-NP": 0, "E-NP": 1, "O": 2, "S-ADJP": 3, "S-VP": 4}
  assert [e.label_ids for e in task.get_examples("test")] == [[3, 3]]
  # Rebuilt when the data change (the original kept a stale pickle).
  write(data_dir, "chunk", "dev", "d B-PP\n")
  assert "S-PP" in make_task(data_dir).label_list
  debug = make_task(data_dir, debug=True)
  assert os.path.basename(debug.label_mapping_path()) == "debug_chunk_label_mapping.pkl"
  # Token-level tasks keep the tags as they are.
  pos = make_task(data_dir, "pos")
  write(data_dir, "pos", "train", "a DT\nb NN\n\nc NN\n")
  write(data_dir, "pos", "dev", "d VB\n")
  assert pos.label_list == ["DT", "NN", "VB"]
  assert pos.featurization_params()["labels"] == ["DT", "NN", "VB"]


def test_a_words_only_test_file_is_read_and_other_bad_splits_refused(data_dir):
  write(data_dir, "chunk", "train", "a B-NP\n")
  write(data_dir, "chunk", "dev", "b O\n")
  write(data_dir, "chunk", "test", "x\ny\n")
  task = make_task(data_dir)
  assert task.label_list == ["O", "S-NP"]  # the words-only file adds no labels
  assert [e.label_ids for e in task.get_examples("test")] == [[0, 0]]
  write(data_dir, "chunk", "dev", "b\n")
  with pytest.raises(FinetuningDataError, match=r"dev\.txt:1: 1 column"):
    make_task(data_dir).get_examples("dev")


def test_a_label_the_model_lacks_is_named(data_dir, tmp_path):
  write(data_dir, "chunk", "train", "a B-NP\n")
  write(data_dir, "chunk", "dev", "b O\n")
  task = make_task(data_dir)
  model_dir = tmp_path / "model"
  model_dir.mkdir()
  task.save_to_model_dir(str(model_dir))
  write(data_dir, "chunk", "dev", "b O\nc B-VP\n")
  restored = make_task(data_dir)
  restored.load_from_model_dir(str(model_dir))
  assert restored.label_list == ["O", "S-NP"]
  with pytest.raises(FinetuningDataError, match=re.escape(
      "dev.txt:2: label 'S-VP' is not one of the model's chunk labels ['O', 'S-NP']")):
    restored.get_examples("dev")


def test_head_gathers_first_sub_tokens_and_the_loss_is_the_masked_sum(data_dir):
  write(data_dir, "chunk", "train", "a B-NP\nb I-NP\nc B-VP\nd O\n")
  write(data_dir, "chunk", "dev", "e O\n")
  task = make_task(data_dir, max_seq_length=16)
  config = task.config
  model = modeling.build_model(config, [task])
  names = model.named_variables()
  assert names["task_specific/chunk/dense/kernel"].shape == (128, 4)
  assert names["task_specific/chunk/dense/bias"].shape == (4,)
  assert not any(n.startswith("task_specific/chunk/") and "dense/" not in n for n in names)
  features = {k: tf.constant(v) for k, v in task.featurize(task.get_examples("train"),
                                                           True).items()}
  outputs = model(features, training=False)["chunk"]
  hidden = model.backbone(features, training=False)["sequence_output"].numpy()
  kernel = names["task_specific/chunk/dense/kernel"].numpy()
  bias = names["task_specific/chunk/dense/bias"].numpy()
  positions = features["chunk_labeled_positions"].numpy()
  expected = np.einsum("bnh,hc->bnc", np.take_along_axis(hidden, positions[..., None], 1),
                       kernel) + bias
  np.testing.assert_allclose(outputs["logits"].numpy(), expected, atol=1e-5)
  assert positions[0, :4].tolist() == [1, 2, 3, 4]
  np.testing.assert_array_equal(outputs["predictions"], expected.argmax(-1))

  log_probs = expected - np.log(np.exp(expected).sum(-1, keepdims=True))
  labels = features["chunk_labels"].numpy()
  mask = features["chunk_labels_mask"].numpy()
  want = -(np.take_along_axis(log_probs, labels[..., None], -1)[..., 0] * mask).sum(-1)
  np.testing.assert_allclose(task.loss(outputs, features).numpy(), want, rtol=1e-5)
  assert mask[0].sum() == 4

  # Without positions (serving from ids): every token, as dense on the sequence.
  ids_only = {k: features[k] for k in ("input_ids", "input_mask", "segment_ids")}
  per_token = model(ids_only, training=False)["chunk"]["logits"].numpy()
  np.testing.assert_allclose(per_token, hidden @ kernel + bias, atol=1e-5)
