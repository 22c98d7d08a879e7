"""A corrupt record met while training (past the checks before it) names its shard."""

import pytest
import tensorflow as tf

from electra_tf.pretraining import pretrain_data
from electra_tf.pretraining.trainer import Pretrainer
from tests.helpers.trainer import SEQ, make_config

# A (tiny) training run on real TFRecord files.
pytestmark = pytest.mark.e2e


def example(file_index, record_index):
  ids = [101, 1000 + file_index, 2000 + record_index, 102] + [0] * (SEQ - 4)
  values = {"input_ids": ids, "input_mask": [1] * 4 + [0] * (SEQ - 4), "segment_ids": [0] * SEQ}
  return tf.train.Example(features=tf.train.Features(feature={
      k: tf.train.Feature(int64_list=tf.train.Int64List(value=v)) for k, v in values.items()
  })).SerializeToString()


def record_data_offset(path, index):
  """Byte offset of the data of record `index` (12-byte header before each)."""
  data, offset = path.read_bytes(), 0
  for _ in range(index):
    offset += 12 + int.from_bytes(data[offset:offset + 8], "little") + 4
  return offset + 12


def test_a_corrupt_record_inside_a_shard_is_named(tmp_path):
  shard_dir = tmp_path / "tfrecords"
  shard_dir.mkdir()
  for f in range(2):
    with tf.io.TFRecordWriter(str(shard_dir / f"pretrain_data.tfrecord-{f}-of-2")) as w:
      for r in range(20):
        w.write(example(f, r))
  corrupt = shard_dir / "pretrain_data.tfrecord-1-of-2"
  data = bytearray(corrupt.read_bytes())
  data[record_data_offset(corrupt, 5) + 3] ^= 0xFF  # a flipped bit: the framing is intact
  corrupt.write_bytes(bytes(data))
  config = make_config(tmp_path / "model", pretrain_tfrecords=str(shard_dir / "*"),
                       num_train_steps=4, iterations_per_loop=2)
  pretrain_data.validate_pretraining_data(config)  # the checks before training pass

  def dataset_fn(context, batch_size, is_training):
    return pretrain_data.make_dataset(config, batch_size, is_training, context)

  with pytest.raises(pretrain_data.PretrainingDataError) as error:
    Pretrainer(config, dataset_fn).train()
  assert str(error.value).startswith(f"shard {corrupt} has a corrupt record ("), error.value
  assert "delete it or rebuild the shards" in str(error.value)
