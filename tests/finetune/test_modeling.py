"""FinetuningModel: names, heads, outputs, layer-wise LR, loss, checkpoints in every format."""

import os
import re

import numpy as np
import pytest
import tensorflow as tf
import tf_keras

from electra_tf.checkpoints import native
from electra_tf.checkpoints.original import CheckpointError, save_original_checkpoint
from electra_tf.config.pretraining import PretrainingConfig
from electra_tf.modeling.pretraining_model import PretrainingModel
from electra_tf.text.tokenization import FullTokenizer
from electra_tf.text.vocab import SpecialTokenIds
from electra_tf.training.optimization import layerwise_lr_multipliers
from finetune import modeling, registry
from finetune.config import FinetuningConfig
from finetune.runner import total_loss
from tests.conftest import VOCAB_FILE
from tests.helpers import hf_reference

V = 30522


def make(names=("sst", "sts"), tokenizer=None, **hparams):
  hparams = {"model_size": "tiny", "vocab_file": str(VOCAB_FILE), **hparams}
  config = FinetuningConfig.create("m", "/d", task_names=list(names), **hparams)
  tasks = registry.get_tasks(config, tokenizer)
  return config, tasks, modeling.build_model(config, tasks)


def original_depth_multiplier(name, num_layers, decay):
  """The original's `_get_layer_lrs` rule, re-stated: embeddings 0, layer i
  i + 1, task_specific n + 2; multiplier decay^(n + 2 - depth)."""
  if "/embeddings/" in name or "/embeddings_project/" in name:
    depth = 0
  elif name.startswith("task_specific/"):
    depth = num_layers + 2
  else:
    depth = int(re.search(r"encoder/layer_(\d+)/", name).group(1)) + 1
  return decay ** (num_layers + 2 - depth)


def test_every_variable_has_its_original_name():
  _, _, model = make()
  names = model.named_variables()
  assert {id(v) for v in names.values()} == {id(v) for v in model.trainable_variables}
  assert len(names) == len(model.trainable_variables) == len(model.variables)
  shapes = {n: v.shape.as_list() for n, v in names.items()}
  assert shapes["task_specific/sst/dense/kernel"] == [128, 2]
  assert shapes["task_specific/sst/dense/bias"] == [2]
  assert shapes["task_specific/sts/dense/kernel"] == [128, 1]
  assert shapes["electra/embeddings/word_embeddings"] == [V, 64]
  assert shapes["electra/embeddings_project/kernel"] == [64, 128]
  assert shapes["electra/encoder/layer_1/attention/self/query/kernel"] == [128, 128]
  assert all(re.match(r"(electra/(embeddings|embeddings_project|encoder/layer_[01])/|"
                      r"task_specific/(sst|sts)/dense/(kernel|bias)$)", n) for n in names)


def test_heads_are_glorot_uniform_with_zero_bias():
  tf_keras.utils.set_random_seed(0)
  _, _, model = make(names=["mnli"], model_hparam_overrides={"hidden_size": 512,
                                                             "num_hidden_layers": 1})
  kernel = model.named_variables()["task_specific/mnli/dense/kernel"].numpy()
  limit = np.sqrt(6 / (512 + 3))
  assert np.abs(kernel).max() <= limit
  assert kernel.std() == pytest.approx(limit / np.sqrt(3), rel=0.1)  # uniform, not normal
  assert not model.named_variables()["task_specific/mnli/dense/bias"].numpy().any()


def test_outputs_for_serving():
  _, tasks, model = make(names=("mnli", "sts"), tokenizer=FullTokenizer(str(VOCAB_FILE)))
  features = tasks[0].encode(["a man plays", "the sky"], ["a person plays", None])
  outputs = model(features, training=False)
  assert sorted(outputs) == ["mnli", "sts"]
  mnli, sts = outputs["mnli"], outputs["sts"]
  assert sorted(mnli) == ["logits", "predictions", "probabilities"]
  assert mnli["logits"].shape == mnli["probabilities"].shape == (2, 3)
  assert mnli["logits"].dtype == tf.float32 and mnli["predictions"].dtype == tf.int32
  np.testing.assert_allclose(mnli["probabilities"].numpy().sum(-1), 1.0, rtol=1e-6)
  np.testing.assert_array_equal(mnli["predictions"], np.argmax(mnli["logits"], -1))
  assert sorted(sts) == ["predictions", "score"] and sts["predictions"].shape == (2,)
  np.testing.assert_allclose(sts["score"], sts["predictions"].numpy() * 5.0, rtol=1e-6)
  # Inference is deterministic; training applies dropout.
  np.testing.assert_array_equal(model(features)["mnli"]["logits"], mnli["logits"])
  assert not np.allclose(model(features, training=True)["mnli"]["logits"], mnli["logits"])
  assert [t.kind for t in tasks] == ["classification", "regression"]


@pytest.mark.parametrize("size,layers,decay", [("small", 12, 0.8), ("large", 24, 0.9)])
def test_layerwise_lr_multipliers_on_the_model_variables(size, layers, decay):
  # The real depth and names; narrow layers and a small vocab keep it cheap.
  config, _, model = make(names=("rte",), model_size=size, vocab_size=1000,
                          model_hparam_overrides={"hidden_size": 64})
  assert config.layerwise_lr_decay == decay
  assert model.bert_config.num_hidden_layers == layers
  names = list(model.named_variables())
  multipliers = layerwise_lr_multipliers(names, layers, config.layerwise_lr_decay)
  assert sorted(multipliers) == sorted(names)  # every variable gets one
  for name in names:
    assert multipliers[name] == pytest.approx(original_depth_multiplier(name, layers, decay)), name
  embeddings = "electra/embeddings/word_embeddings"
  assert multipliers[embeddings] == pytest.approx(decay ** (layers + 2))
  if size == "small":
    assert multipliers["electra/embeddings_project/kernel"] == multipliers[embeddings]
    assert round(multipliers[embeddings], 4) == 0.0440
  else:
    assert round(multipliers[embeddings], 4) == 0.0646
  top = f"electra/encoder/layer_{layers - 1}/output/dense/kernel"
  assert multipliers[top] == pytest.approx(decay ** 2)  # the original's off-by-one
  assert multipliers["electra/encoder/layer_0/attention/self/key/bias"] == pytest.approx(
      decay ** (layers + 1))
  assert multipliers["task_specific/rte/dense/kernel"] == 1.0


def test_the_loss_is_a_sum_over_the_batch_gated_by_task():
  config, tasks, _ = make(names=("rte", "sts"))
  logits = tf.constant([[2.0, -1.0], [0.5, 0.5], [3.0, 0.0], [1.0, 2.0]])
  outputs = {"rte": {"logits": logits},
             "sts": {"predictions": tf.constant([0.1, 0.9, 0.4, 0.7])}}
  features = {"task_id": tf.constant([0, 1, 0, 2]),  # 2 = padding
              "rte_label_ids": tf.constant([1, 0, 0, 0]),
              "sts_targets": tf.constant([0.0, 0.5, 0.0, 0.0])}
  log_softmax = lambda row, label: row[label] - np.log(np.exp(row).sum())
  expected = (-log_softmax(np.array([2.0, -1.0]), 1)     # example 0: rte
              + (0.9 - 0.5) ** 2                         # example 1: sts
              - log_softmax(np.array([3.0, 0.0]), 0))    # example 2: rte; 3: padding
  got = total_loss(tasks, outputs, features, len(config.task_names))
  assert float(got) == pytest.approx(expected, rel=1e-6)


# --- initial weights from every checkpoint format --------------------------------------

@pytest.fixture(scope="module")
def pretraining_model():
  """A tiny PretrainingModel with random weights, as a source of checkpoints."""
  config = PretrainingConfig.create("p", "/d", model_size="tiny")
  model = PretrainingModel(config, SpecialTokenIds())
  model.build_variables()
  return config, model


def assert_encoder_equals(model, source_variables):
  for name, variable in model.named_variables().items():
    if name.startswith("electra/"):
      np.testing.assert_array_equal(variable.numpy(), source_variables[name].numpy(), name)


def test_loads_a_pretraining_run_directory(tmp_path, pretraining_model):
  config, source = pretraining_model
  manager = tf.train.CheckpointManager(tf.train.Checkpoint(model=source), str(tmp_path), 1)
  manager.save(checkpoint_number=7)
  config.write_json(str(tmp_path / "pretrain_config.json"))
  _, _, model = make(names=("rte",))
  report = modeling.load_init_checkpoint(model, str(tmp_path))
  assert_encoder_equals(model, source.named_variables())
  assert report.missing == ["task_specific/rte/dense/bias", "task_specific/rte/dense/kernel"]
  assert any(n.startswith("generator/") for n in report.unexpected)
  assert "discriminator_predictions/dense/kernel" in report.unexpected


def test_loads_original_tf1_and_hugging_face_checkpoints(tmp_path, pretraining_model):
  _, source = pretraining_model
  prefix = save_original_checkpoint(source.named_variables(), str(tmp_path / "tf1" / "model.ckpt"))
  _, _, model = make(names=("rte",))
  modeling.load_init_checkpoint(model, str(tmp_path / "tf1"))
  assert_encoder_equals(model, source.named_variables())

  state, _ = hf_reference.hf_load(
      prefix, hf_reference.hf_parameters(V, 64, 128, 2, "discriminator"), "discriminator")
  hf_dir = hf_reference.write_hf_dir(
      str(tmp_path / "hf"), state,
      hf_reference.electra_hf_config(V, 64, 128, 2, 2, "ElectraForPreTraining"))
  _, _, model = make(names=("rte",))
  report = modeling.load_init_checkpoint(model, hf_dir)
  assert_encoder_equals(model, source.named_variables())
  assert report.missing == ["task_specific/rte/dense/bias", "task_specific/rte/dense/kernel"]


def test_loads_a_converted_electra_tf_checkpoint(tmp_path, pretraining_model):
  _, source = pretraining_model
  native.save_electra_tf(source, str(tmp_path / "converted"), global_step=9)
  _, _, model = make(names=("rte",))
  report = modeling.load_init_checkpoint(model, str(tmp_path / "converted"))
  assert_encoder_equals(model, source.named_variables())
  assert report.global_step == 9


def save_finetuned(model, config, directory):
  modeling.save_model_files(directory, config)
  tf.train.CheckpointManager(tf.train.Checkpoint(model=model), directory, 1).save(
      checkpoint_number=3)


def test_a_finetuned_directory_restores_for_serving(tmp_path):
  tokenizer = FullTokenizer(str(VOCAB_FILE))
  config, tasks, model = make(names=("rte", "sts"), tokenizer=tokenizer)
  directory = str(tmp_path / "rte,sts_model_1")
  save_finetuned(model, config, directory)
  finetuned = modeling.load_finetuned_model(directory)
  assert finetuned.checkpoint == os.path.join(directory, "ckpt-3")
  assert [t.name for t in finetuned.tasks] == ["rte", "sts"]
  assert finetuned.config.task_names == ["rte", "sts"]
  features = finetuned.tasks[0].encode(["It rains."], ["The street is wet."])
  want, got = model(features, training=False), finetuned.model(features, training=False)
  for task in ("rte", "sts"):
    for key in want[task]:
      np.testing.assert_allclose(got[task][key], want[task][key], rtol=1e-6)
  # As init_checkpoint: the encoder and the heads of tasks with the same name.
  _, _, other = make(names=("rte", "mnli"))
  report = modeling.load_init_checkpoint(other, directory)
  np.testing.assert_array_equal(other.named_variables()["task_specific/rte/dense/kernel"],
                                model.named_variables()["task_specific/rte/dense/kernel"])
  assert report.missing == ["task_specific/mnli/dense/bias", "task_specific/mnli/dense/kernel"]
  assert report.unexpected == ["task_specific/sts/dense/bias", "task_specific/sts/dense/kernel"]


def test_missing_or_foreign_checkpoints_are_clear_errors(tmp_path):
  with pytest.raises(CheckpointError, match="init_checkpoint '.*nowhere' does not exist.*"
                                            "\"init_checkpoint\": null"):
    modeling.check_init_checkpoint(str(tmp_path / "nowhere"))
  (tmp_path / "empty").mkdir()
  with pytest.raises(CheckpointError, match="no checkpoint in directory"):
    modeling.check_init_checkpoint(str(tmp_path / "empty"))
  with pytest.raises(CheckpointError, match="not a fine-tuned model directory"):
    modeling.load_finetuned_model(str(tmp_path / "empty"))
  # A fine-tuned model of another size does not load: nothing is assigned.
  config, _, small = make(names=("rte",), model_hparam_overrides={"hidden_size": 64})
  save_finetuned(small, config, str(tmp_path / "other"))
  _, _, model = make(names=("rte",))
  before = model.named_variables()["electra/embeddings/word_embeddings"].numpy()
  with pytest.raises(CheckpointError, match="shape mismatch"):
    modeling.load_init_checkpoint(model, str(tmp_path / "other"))
  np.testing.assert_array_equal(model.named_variables()["electra/embeddings/word_embeddings"],
                                before)
