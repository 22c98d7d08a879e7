"""Featurisation (the original's layout and truncation), the feature cache and the datasets."""

import os
import shutil

import numpy as np
import pytest
import tensorflow as tf

from electra_tf.text.tokenization import FullTokenizer
from finetune import registry
from finetune.classification.glue import InputExample
from finetune.config import FinetuningConfig
from finetune.preprocessing import Preprocessor, num_train_steps, padded_size
from tests.conftest import VOCAB_FILE
from tests.helpers.glue_fixtures import write_task


@pytest.fixture(scope="module")
def tokenizer():
  return FullTokenizer(str(VOCAB_FILE))


def make_tasks(data_dir, names, tokenizer, **hparams):
  hparams.setdefault("vocab_file", str(VOCAB_FILE))
  config = FinetuningConfig.create("m", str(data_dir), task_names=names, model_size="tiny",
                                   **hparams)
  return registry.get_tasks(config, tokenizer)


def original_layout(tokens_a, tokens_b, length, vocab):
  """The original SingleOutputTask.featurize on tokens, re-stated."""
  tokens_a, tokens_b = list(tokens_a), list(tokens_b or [])
  if tokens_b:
    while len(tokens_a) + len(tokens_b) > length - 3:
      (tokens_a if len(tokens_a) > len(tokens_b) else tokens_b).pop()
  else:
    tokens_a = tokens_a[:length - 2]
  tokens = ["[CLS]"] + tokens_a + ["[SEP]"]
  segments = [0] * len(tokens)
  if tokens_b:
    tokens += tokens_b + ["[SEP]"]
    segments += [1] * (len(tokens_b) + 1)
  ids = [vocab[t] for t in tokens]
  pad = length - len(ids)
  return ids + [0] * pad, [1] * len(ids) + [0] * pad, segments + [0] * pad


def test_single_and_pair_features_follow_the_original(tmp_path, tokenizer):
  sst, rte = make_tasks(tmp_path, ["sst", "rte"], tokenizer, max_seq_length=16)
  long_text = "the quick brown fox jumps over the lazy dog again and again and again"
  cases = [
      (sst, "A short sentence.", None, "1"),
      (sst, long_text, None, "0"),                       # single: cut to L - 2
      (rte, long_text, "A pair.", "entailment"),         # the longer side shrinks
      (rte, "one two three four five six seven", "eight nine ten eleven twelve thirteen "
       "fourteen", "not_entailment"),                    # a tie pops b first
      (rte, "Only a.", "   ", "entailment"),             # b without tokens: single layout
  ]
  for i, (task, a, b, label) in enumerate(cases):
    example = InputExample(task.name, 7 + i, a, b, label)
    features = task.featurize([example], is_training=True)
    tokens_b = tokenizer.tokenize(b) if b else None
    ids, mask, segments = original_layout(tokenizer.tokenize(a), tokens_b, 16, tokenizer.vocab)
    assert features["input_ids"][0].tolist() == ids, (a, b)
    assert features["input_mask"][0].tolist() == mask
    assert features["segment_ids"][0].tolist() == segments
    assert features["task_id"].tolist() == [task.task_id]
    assert features[f"{task.name}_eid"].tolist() == [7 + i]
    assert features[f"{task.name}_label_ids"].tolist() == [task.label_list.index(label)]
  # The tie: 7 + 7 tokens over a budget of 16 - 3 = 13 keep 7 of a and 6 of b.
  pair = rte.featurize([InputExample("rte", 0, "one two three four five six seven",
                                     "eight nine ten eleven twelve thirteen fourteen",
                                     "entailment")], True)
  assert pair["input_mask"][0].sum() == 16 and pair["segment_ids"][0].sum() == 7  # b: 6 + [SEP]
  assert rte.task_id == 1 and sst.task_id == 0


def test_log_examples_shows_the_tokens(tmp_path, tokenizer, caplog):
  (rte,) = make_tasks(tmp_path, ["rte"], tokenizer, max_seq_length=16)
  caplog.set_level("INFO")
  rte.featurize([InputExample("rte", 4, "It rains.", "Wet streets.", "entailment")], True,
                log=True)
  assert "tokens: [CLS] it rains . [SEP] wet streets . [SEP]" in caplog.text
  assert "segment_ids: [0, 0, 0, 0, 0, 1, 1, 1, 1]" in caplog.text


def test_regression_targets_are_normalised(tmp_path, tokenizer):
  (sts,) = make_tasks(tmp_path, ["sts"], tokenizer)
  examples = [InputExample("sts", i, "a", "b", y) for i, y in enumerate([0.0, 2.5, 5.0])]
  features = sts.featurize(examples, is_training=True)
  np.testing.assert_allclose(features["sts_targets"], [0.0, 0.5, 1.0])
  assert features["sts_targets"].dtype == np.float32


def read_records(path, preprocessor):
  dataset = tf.data.TFRecordDataset(path).batch(1000).map(preprocessor.parse)
  return {k: v.numpy() for k, v in next(iter(dataset)).items()}


def test_cache_is_reused_without_reading_and_keyed_on_its_inputs(tmp_path, tokenizer):
  write_task("sst", os.path.join(tmp_path, "finetuning_data", "sst"), n=10)
  write_task("rte", os.path.join(tmp_path, "finetuning_data", "rte"), n=10)

  def prepare(names=("sst",), split="train", **hparams):
    tasks = make_tasks(tmp_path, list(names), tokenizer, **{"max_seq_length": 32, **hparams})
    return Preprocessor(tasks[0].config, tasks).prepare(tasks, split)

  first = prepare()
  assert first.num_records == 10 and os.path.exists(first.path)
  mtime = os.path.getmtime(first.path)
  # A rerun reads nothing: tasks without a tokenizer could not featurise.
  tasks = make_tasks(tmp_path, ["sst"], None, max_seq_length=32)
  again = Preprocessor(tasks[0].config, tasks).prepare(tasks, "train")
  assert again.path == first.path and os.path.getmtime(first.path) == mtime

  paths = {first.path}
  for changed in (prepare(max_seq_length=64), prepare(do_lower_case=False),
                  prepare(split="dev"), prepare(names=("rte",)),
                  prepare(names=("sst", "rte")), prepare(names=("rte", "sst"))):
    assert changed.path not in paths
    paths.add(changed.path)
  other_vocab = os.path.join(tmp_path, "vocab2.txt")
  shutil.copyfile(VOCAB_FILE, other_vocab)
  with open(other_vocab, "a") as f:
    f.write("[unused_extra]\n")
  assert prepare(vocab_file=other_vocab, vocab_size=30523).path not in paths
  with open(os.path.join(tmp_path, "finetuning_data", "sst", "train.tsv"), "a") as f:
    f.write("one more sentence\t1\n")
  edited = prepare()
  assert edited.path not in paths and edited.num_records == 11
  os.utime(edited.path, (0, 0))
  rebuilt = prepare(use_tfrecords_if_existing=False)
  assert rebuilt.path == edited.path and os.path.getmtime(rebuilt.path) > 0
  leftovers = [f for f in os.listdir(tasks[0].config.preprocessed_data_dir) if ".tmp" in f]
  assert not leftovers


def test_training_records_are_a_fixed_permutation_and_others_in_order(tmp_path, tokenizer):
  write_task("rte", os.path.join(tmp_path, "finetuning_data", "rte"), n=30)
  tasks = make_tasks(tmp_path, ["rte"], tokenizer, max_seq_length=32)
  preprocessor = Preprocessor(tasks[0].config, tasks)
  train = read_records(preprocessor.prepare(tasks, "train").path, preprocessor)
  dev = read_records(preprocessor.prepare(tasks, "dev").path, preprocessor)
  assert dev["rte_eid"].tolist() == list(range(30))
  assert sorted(train["rte_eid"].tolist()) == list(range(30))
  assert train["rte_eid"].tolist() != list(range(30))
  shutil.rmtree(tasks[0].config.preprocessed_data_dir)
  again = read_records(preprocessor.prepare(tasks, "train").path, preprocessor)
  assert again["rte_eid"].tolist() == train["rte_eid"].tolist()  # reproducible cache


def test_padding_and_step_count_are_the_originals(tmp_path, tokenizer):
  write_task("sst", os.path.join(tmp_path, "finetuning_data", "sst"), n=6)
  write_task("rte", os.path.join(tmp_path, "finetuning_data", "rte"), n=6)
  tasks = make_tasks(tmp_path, ["sst", "rte"], tokenizer, max_seq_length=32,
                     train_batch_size=5, num_train_epochs=2.5)
  config = tasks[0].config
  preprocessor = Preprocessor(config, tasks)
  cached = preprocessor.prepare(tasks, "train")
  assert cached.num_records == 12
  assert padded_size(12, 5) == 15
  assert num_train_steps(12, config) == int(15 // 5 * 2.5) == 7
  # One epoch of the training dataset: every record once, plus 3 padding examples.
  batches = list(preprocessor.dataset(cached, 5, is_training=True, seed=1).take(3))
  task_ids = np.concatenate([b["task_id"].numpy() for b in batches])
  assert sorted(task_ids.tolist()) == [0] * 6 + [1] * 6 + [2] * 3
  pad = task_ids == 2
  for batch_part in ("input_ids", "input_mask", "sst_label_ids", "rte_eid"):
    values = np.concatenate([b[batch_part].numpy() for b in batches])
    assert not values[pad].any(), batch_part
  assert batches[0]["input_ids"].dtype == tf.int32 and batches[0]["input_ids"].shape == (5, 32)
  # Features of the other task default to zero.
  values = np.concatenate([b["sst_label_ids"].numpy() for b in batches])
  assert not values[task_ids == 1].any()
  # Evaluation: padded to whole batches, not repeated.
  dev = preprocessor.prepare([tasks[1]], "dev")
  eval_batches = list(preprocessor.dataset(dev, 4, is_training=False))
  assert len(eval_batches) == 2
  assert np.concatenate([b["task_id"].numpy() for b in eval_batches]).tolist() == [1] * 6 + [2] * 2
