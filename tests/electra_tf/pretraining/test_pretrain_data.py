"""The pre-training input pipeline and the checks on TFRecords and vocab."""

import pytest
import tensorflow as tf

from electra_tf.config.hparams import ConfigError
from electra_tf.config.pretraining import PretrainingConfig
from electra_tf.pretraining import pretrain_data
from electra_tf.text.vocab import check_vocab_size
from tests.conftest import VOCAB_FILE

LENGTH = 8


def int64_feature(values):
  return tf.train.Feature(int64_list=tf.train.Int64List(value=values))


def record(file_index, record_index, length=LENGTH, features=None):
  """[CLS] file record [SEP] + padding: the ids say where a record came from."""
  ids = [101, 1000 + file_index, 2000 + record_index, 102] + [0] * (length - 4)
  values = {"input_ids": ids, "input_mask": [1] * 4 + [0] * (length - 4),
            "segment_ids": [0] * length}
  if features is not None:
    values = {k: v for k, v in values.items() if k in features}
  return tf.train.Example(features=tf.train.Features(feature={
      k: int64_feature(v) for k, v in values.items()})).SerializeToString()


def write_shards(directory, num_files, records_per_file, **kwargs):
  directory.mkdir(parents=True, exist_ok=True)
  for f in range(num_files):
    with tf.io.TFRecordWriter(str(directory / f"pretrain_data.tfrecord-{f}-of-{num_files}")) as w:
      for r in range(records_per_file):
        w.write(record(f, r, **kwargs))


def make_config(tmp_path, pattern, **hparams):
  return PretrainingConfig.create("test", str(tmp_path), max_seq_length=LENGTH,
                                  pretrain_tfrecords=pattern, **hparams)


def origins(dataset, num_batches):
  """(file, record) of every example in the first batches."""
  seen = []
  for batch in dataset.take(num_batches):
    ids = batch["input_ids"].numpy()
    seen.extend((int(row[1]) - 1000, int(row[2]) - 2000) for row in ids)
  return seen


def test_batches_are_int32_dicts_with_static_shapes(tmp_path):
  write_shards(tmp_path / "data", 3, 5)
  config = make_config(tmp_path, str(tmp_path / "data" / "pretrain_data.tfrecord*"),
                       train_batch_size=4, eval_batch_size=2)
  dataset = pretrain_data.make_dataset(config)
  assert set(dataset.element_spec) == {"input_ids", "input_mask", "segment_ids"}
  for spec in dataset.element_spec.values():
    assert spec.shape == (4, LENGTH) and spec.dtype == tf.int32
  batch = next(iter(dataset))
  assert batch["input_mask"].numpy().sum(axis=1).tolist() == [4] * 4
  eval_spec = pretrain_data.make_dataset(config, is_training=False).element_spec
  assert eval_spec["input_ids"].shape == (2, LENGTH)


def test_training_order_follows_a_given_seed(tmp_path):
  """Given a seed, training reads files and records in one order, each time:
  the seed's order, another seed's is another."""
  write_shards(tmp_path / "data", 6, 20)
  pattern = str(tmp_path / "data" / "*")
  order = lambda seed: origins(pretrain_data.make_dataset(
      make_config(tmp_path, pattern, train_batch_size=4, seed=seed)), 30)
  first = order(7)
  assert order(7) == first
  assert order(8) != first
  assert len({f for f, _ in first}) == 6


def test_every_record_of_every_pattern_is_read(tmp_path):
  write_shards(tmp_path / "a", 2, 5)
  write_shards(tmp_path / "b", 1, 7, length=LENGTH)
  pattern = f"{tmp_path / 'a' / '*'}, {tmp_path / 'b' / '*'}"
  config = make_config(tmp_path, pattern, train_batch_size=5)
  seen = set(origins(pretrain_data.make_dataset(config, is_training=False), 40))
  expected = {(f, r) for f in range(2) for r in range(5)} | {(0, r) for r in range(7)}
  assert seen == expected
  assert len(pretrain_data.list_input_files(pattern)) == 3


def test_input_context_shards_files_and_sizes_the_batch(tmp_path):
  write_shards(tmp_path / "data", 4, 6)
  config = make_config(tmp_path, str(tmp_path / "data" / "*"), train_batch_size=8)
  for pipeline in range(2):
    context = tf.distribute.InputContext(num_input_pipelines=2,
                                         input_pipeline_id=pipeline, num_replicas_in_sync=2)
    dataset = pretrain_data.make_dataset(config, input_context=context)
    assert dataset.element_spec["input_ids"].shape == (4, LENGTH)
    files = {f for f, _ in origins(dataset, 30)}
    assert files == {pipeline, pipeline + 2}


def test_input_context_shards_records_when_files_are_fewer(tmp_path):
  write_shards(tmp_path / "data", 1, 10)
  config = make_config(tmp_path, str(tmp_path / "data" / "*"), train_batch_size=4)
  seen = []
  for pipeline in range(2):
    context = tf.distribute.InputContext(num_input_pipelines=2,
                                         input_pipeline_id=pipeline, num_replicas_in_sync=2)
    seen.append({r for _, r in origins(pretrain_data.make_dataset(config, input_context=context), 30)})
  assert seen == [{0, 2, 4, 6, 8}, {1, 3, 5, 7, 9}]


def test_distribute_datasets_from_function_gives_per_replica_batches(tmp_path):
  write_shards(tmp_path / "data", 2, 8)
  config = make_config(tmp_path, str(tmp_path / "data" / "*"), train_batch_size=8)
  strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
  dataset = strategy.distribute_datasets_from_function(pretrain_data.get_input_fn(config))
  batch = next(iter(dataset))
  replicas = strategy.experimental_local_results(batch["input_ids"])
  assert [r.shape for r in replicas] == [(4, LENGTH), (4, LENGTH)]


def test_no_matching_files(tmp_path):
  config = make_config(tmp_path, str(tmp_path / "nothing" / "pretrain_data.tfrecord*"))
  for check in (pretrain_data.validate_pretraining_data, pretrain_data.make_dataset):
    with pytest.raises(pretrain_data.PretrainingDataError) as error:
      check(config)
    assert "nothing/pretrain_data.tfrecord*" in str(error.value)
    assert "build_pretraining_dataset.py" in str(error.value)


def test_validation_passes_and_skips_empty_shards(tmp_path):
  directory = tmp_path / "data"
  directory.mkdir()
  with tf.io.TFRecordWriter(str(directory / "pretrain_data.tfrecord-0-of-2")):
    pass
  with tf.io.TFRecordWriter(str(directory / "pretrain_data.tfrecord-1-of-2")) as w:
    w.write(record(1, 0))
  config = make_config(tmp_path, str(directory / "*"))
  assert len(pretrain_data.validate_pretraining_data(config)) == 2


def test_a_truncated_shard_after_good_ones_is_named_before_training(tmp_path):
  directory = tmp_path / "data"
  directory.mkdir()
  for index in range(3):
    with tf.io.TFRecordWriter(str(directory / f"pretrain_data.tfrecord-{index}-of-3")) as w:
      for doc in range(4):
        w.write(record(doc, 0))
  truncated = directory / "pretrain_data.tfrecord-2-of-3"
  data = truncated.read_bytes()
  truncated.write_bytes(data[:len(data) - 10])  # as a copy cut short by a full disk
  config = make_config(tmp_path, str(directory / "*"))
  with pytest.raises(pretrain_data.PretrainingDataError) as error:
    pretrain_data.validate_pretraining_data(config)
  assert str(error.value).startswith(
      f"shard {truncated} is truncated, corrupt or not a TFRecord file (its record framing "
      f"ends at byte {len(data)} of {len(data) - 10})")


@pytest.mark.parametrize("case,message", [
    ("wrong_length", "input_ids has length 12 but max_seq_length is 8"),
    ("missing_feature", "no int64 feature 'segment_ids'"),
    ("corrupt", "corrupt or not a TFRecord file"),
    ("not_an_example", "not a tf.train.Example"),
    ("all_empty", "are empty"),
    ("id_out_of_vocab", "outside vocab_size 1500"),
])
def test_validation_errors_name_the_shard(tmp_path, case, message):
  directory = tmp_path / "data"
  directory.mkdir()
  shard = directory / "pretrain_data.tfrecord-0-of-1"
  hparams = {}
  if case == "corrupt":
    shard.write_bytes(b"this is not a TFRecord file at all, just some bytes")
  else:
    with tf.io.TFRecordWriter(str(shard)) as w:
      if case == "wrong_length":
        w.write(record(0, 0, length=12))
      elif case == "missing_feature":
        w.write(record(0, 0, features=("input_ids", "input_mask")))
      elif case == "not_an_example":
        w.write(b"\xff\xfe garbage")
      elif case == "id_out_of_vocab":
        w.write(record(0, 0))
        hparams = {"vocab_size": 1500}
  config = make_config(tmp_path, str(directory / "*"), **hparams)
  with pytest.raises(pretrain_data.PretrainingDataError) as error:
    pretrain_data.validate_pretraining_data(config)
  assert message in str(error.value)
  if case != "all_empty":
    assert str(shard) in str(error.value)


def test_check_vocab_size():
  check_vocab_size(str(VOCAB_FILE), 30522)
  with pytest.raises(ConfigError) as error:
    check_vocab_size(str(VOCAB_FILE), 8000)
  message = str(error.value)
  assert "30522" in message and "8000" in message and "vocab_size" in message
