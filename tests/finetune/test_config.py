"""FinetuningConfig: the original's defaults, order of application, paths, validation."""

import json
import os

import pytest

from electra_tf.config.hparams import ConfigError
from electra_tf.config.model import get_bert_config
from finetune.config import FinetuningConfig


def create(**hparams):
  hparams.setdefault("task_names", ["mnli"])
  return FinetuningConfig.create("m", "/data", **hparams)


def test_defaults_are_the_originals():
  c = FinetuningConfig.resolve("m", "/data")  # the default task, chunk, is not registered yet
  expected = dict(
      debug=False, log_examples=False, num_trials=1, do_train=True, do_eval=True,
      keep_all_models=True, model_size="small", task_names=["chunk"],
      model_hparam_overrides={}, embedding_size=128, vocab_size=30522, do_lower_case=True,
      learning_rate=1e-4, weight_decay_rate=0.01, layerwise_lr_decay=0.8,
      num_train_epochs=3.0, warmup_proportion=0.1, save_checkpoints_steps=1000000,
      iterations_per_loop=1000, use_tfrecords_if_existing=True, write_test_outputs=False,
      n_writes_test=5, max_seq_length=256, train_batch_size=32, eval_batch_size=32,
      predict_batch_size=32, double_unordered=True, max_query_length=64, doc_stride=128,
      n_best_size=20, max_answer_length=30, answerable_classifier=True,
      answerable_uses_start_logits=True, answerable_weight=0.5, joint_prediction=True,
      beam_size=20, qa_na_threshold=-2.75, use_tpu=False, num_tpu_cores=1,
      tpu_job_name=None, tpu_name=None, tpu_zone=None, gcp_project=None)
  assert {k: getattr(c, k) for k in expected} == expected  # chunk: max_seq_length 256


def test_default_paths_are_the_originals():
  c = create(task_names=["rte", "sts"])
  assert c.init_checkpoint == "/data/models/m"
  assert c.model_dir == "/data/models/m/finetuning_models/rte,sts_model"
  assert c.trial_model_dir(2) == "/data/models/m/finetuning_models/rte,sts_model_2"
  assert c.results_txt == "/data/models/m/results/rte,sts_results.txt"
  assert c.results_pkl == "/data/models/m/results/rte,sts_results.pkl"
  assert c.preprocessed_data_dir == "/data/models/m/finetuning_tfrecords/rte,sts_tfrecords"
  assert c.raw_data_dir("rte") == "/data/finetuning_data/rte"
  assert c.test_predictions("rte", "test", 3) == \
      "/data/models/m/test_predictions/rte_test_3_predictions.pkl"
  assert c.vocab_file == "/data/vocab.txt"


def test_vocab_prefers_the_models_own(tmp_path):
  assert FinetuningConfig.resolve("m", str(tmp_path)).vocab_file == str(tmp_path / "vocab.txt")
  os.makedirs(tmp_path / "models" / "m")
  (tmp_path / "models" / "m" / "vocab.txt").write_text("[PAD]\n")
  assert FinetuningConfig.resolve("m", str(tmp_path)).vocab_file == \
      str(tmp_path / "models" / "m" / "vocab.txt")


def test_init_checkpoint_survives_debug_and_can_be_disabled():
  assert create(debug=True).init_checkpoint == "/data/models/m"
  assert create(init_checkpoint=None).init_checkpoint is None
  assert create(init_checkpoint="/ckpt/x").init_checkpoint == "/ckpt/x"


@pytest.mark.parametrize("task,epochs,length", [
    ("rte", 10.0, 128), ("sts", 10.0, 128), ("mnli", 3.0, 128), ("squad", 2.0, 512),
    ("mrqa_qa", 2.0, 512), ("chunk", 3.0, 256),
    ("naturalqs", 3.0, 128)])  # the original's quirk: neither "squad" nor "qa"
def test_single_task_defaults(task, epochs, length):
  # resolve(): the span and tagging tasks are not registered yet.
  c = FinetuningConfig.resolve("m", "/d", task_names=[task])
  assert (c.num_train_epochs, c.max_seq_length) == (epochs, length)
  c = FinetuningConfig.resolve("m", "/d", task_names=[task], num_train_epochs=7.0,
                               max_seq_length=64)
  assert (c.num_train_epochs, c.max_seq_length) == (7.0, 64)  # explicit values win


def test_several_tasks_keep_the_defaults():
  c = create(task_names=["rte", "sts"])
  assert (c.num_train_epochs, c.max_seq_length) == (3.0, 128)


def test_order_single_task_then_size_then_debug_then_user():
  assert create(task_names=["rte"], num_train_epochs=2).num_train_epochs == 2  # user last
  large = create(model_size="large")
  assert (large.learning_rate, large.layerwise_lr_decay, large.embedding_size) == (5e-5, 0.9, None)
  assert create(model_size="large", learning_rate=1e-5).learning_rate == 1e-5
  assert create(model_size="small").embedding_size == 128
  assert create(model_size="small", embedding_size=256).embedding_size == 256
  assert create(model_size="tiny").embedding_size == 64
  assert create(model_size="base").embedding_size is None
  debug = create(task_names=["rte"], debug=True, num_trials=4)
  assert (debug.num_trials, debug.iterations_per_loop, debug.num_train_epochs,
          debug.use_tfrecords_if_existing, debug.log_examples) == (4, 1, 3.0, False, True)
  assert create(debug=True).num_trials == 1
  bert = get_bert_config(create(debug=True))
  assert (bert.hidden_size, bert.num_hidden_layers, bert.num_attention_heads,
          bert.intermediate_size) == (144, 3, 4, 576)  # the original's debug model


def test_bert_config_per_size():
  for size, (hidden, layers, heads) in {"tiny": (128, 2, 2), "small": (256, 12, 4),
                                        "base": (768, 12, 12), "large": (1024, 24, 16)}.items():
    bert = get_bert_config(create(model_size=size))
    assert (bert.hidden_size, bert.num_hidden_layers, bert.num_attention_heads,
            bert.intermediate_size) == (hidden, layers, heads, 4 * hidden)


@pytest.mark.parametrize("hparams,message", [
    ({"learning_rat": 1e-4}, "Unknown hparam 'learning_rat'"),
    ({"task_names": []}, "task_names is empty"),
    ({"task_names": "rte"}, "task_names must be a list"),
    ({"task_names": ["rte", "rte"]}, "lists a task twice"),
    ({"model_size": "huge"}, "model_size 'huge'"),
    ({"max_seq_length": 1024}, "exceeds max_position_embeddings"),
    ({"train_batch_size": 0}, "train_batch_size must be positive"),
    ({"num_train_epochs": 0}, "num_train_epochs must be positive"),
    ({"do_train": False, "do_eval": False}, "nothing to do"),
    ({"num_trials": 0}, "num_trials must be positive"),
    ({"warmup_proportion": 1.5}, "warmup_proportion"),
    ({"model_hparam_overrides": {"hidden_sise": 10}}, "Unknown model_hparam_overrides key"),
    ({"learning_rate": "fast"}, "hparam 'learning_rate' must be float"),
])
def test_invalid_hparams_are_named(hparams, message):
  with pytest.raises(ConfigError, match=message):
    create(**hparams)


def test_saved_config_round_trips(tmp_path):
  c = create(task_names=["rte"], model_size="tiny", seed=5, learning_rate=3e-4)
  c.write_json(str(tmp_path / "c.json"))
  loaded = FinetuningConfig.from_dict(json.loads((tmp_path / "c.json").read_text()))
  assert loaded == c
