"""The pre-training input pipeline over the TFRecord shards, and checks on them.

The original's `pretrain/pretrain_data.py: get_input_fn`,
TF2-native and distribution-aware:

  files (every comma-separated glob) -> repeat -> shuffle(#files)
  -> interleave TFRecordDataset (cycle_length = min(4, #files))
  -> shuffle(100) -> batch(drop_remainder=True) -> parse, int64 -> int32
  -> prefetch

Batches are dicts of int32 [batch, max_seq_length] tensors `input_ids`,
`input_mask`, `segment_ids` with static shapes. With a `tf.distribute.
InputContext` (from `strategy.distribute_datasets_from_function`), each input
pipeline reads its own share of the files, or, when there are fewer files than
pipelines, its own share of the records; the batch is the per-replica batch.

The original parses before batching (`map_and_batch`); parsing a whole batch
with `tf.io.parse_example` gives the same tensors faster.
"""

import functools
import os
from typing import Callable, Dict, List, Optional

import tensorflow as tf

from electra_tf.config.model import INPUT_FEATURES
from electra_tf.errors import UserError

# Files read in parallel, as the original's num_cpu_threads.
MAX_CYCLE_LENGTH = 4
# Record shuffle buffer, as the original.
SHUFFLE_BUFFER = 100
# Seed of the file order when records are sharded: every input pipeline must
# see the same record stream so that each can take a disjoint share of it.
_RECORD_SHARDING_SEED = 12345
_BUILD_HINT = ("build them with: python build_pretraining_dataset.py "
               "--corpus-dir <text dir> --vocab-file <vocab.txt> --output-dir <dir>")


class PretrainingDataError(UserError, ValueError):
  """Missing, empty, corrupt or mismatched pre-training TFRecords."""


def list_input_files(patterns: str) -> List[str]:
  """Files matching any of the comma-separated glob `patterns`.

  Sorted within each pattern (the original kept glob order, which the file
  system decides): every host must list the files in the same order for the
  per-pipeline file sharding to partition them.
  """
  files: List[str] = []
  for pattern in patterns.split(","):
    pattern = pattern.strip()
    if pattern:
      files.extend(sorted(tf.io.gfile.glob(pattern)))
  return list(dict.fromkeys(files))  # a file matched by two patterns is read once


def feature_spec(max_seq_length: int) -> Dict[str, tf.io.FixedLenFeature]:
  return {name: tf.io.FixedLenFeature([max_seq_length], tf.int64)
          for name in INPUT_FEATURES}


def parse_examples(serialized: tf.Tensor, max_seq_length: int) -> Dict[str, tf.Tensor]:
  """Serialized tf.train.Examples [B] -> dict of int32 [B, max_seq_length].

  int32 because TPUs (and the model) want it; tf.train.Example only has int64.
  """
  features = tf.io.parse_example(serialized, feature_spec(max_seq_length))
  return {name: tf.cast(features[name], tf.int32) for name in INPUT_FEATURES}


def _matching_files(config) -> List[str]:
  """The shards `pretrain_tfrecords` matches; raises when there are none."""
  files = list_input_files(config.pretrain_tfrecords)
  if not files:
    raise PretrainingDataError(
        f"no pre-training TFRecords match pretrain_tfrecords "
        f"{config.pretrain_tfrecords!r}; {_BUILD_HINT}")
  return files


def make_dataset(config, batch_size: Optional[int] = None, is_training: bool = True,
                 input_context: Optional[tf.distribute.InputContext] = None,
                 seeded_order: Optional[bool] = None) -> tf.data.Dataset:
  """The endless, shuffled pre-training dataset.

  Args:
    config: a PretrainingConfig (`pretrain_tfrecords`, `max_seq_length`,
      `train_batch_size`, `eval_batch_size`).
    batch_size: the global batch size; default train_batch_size, or
      eval_batch_size when not training.
    is_training: when True and not `seeded_order`, files are shuffled
      unseeded and interleave non-deterministically (the original's `sloppy`),
      which is faster. Evaluation reads the same shards, repeated and
      shuffled, as in the original, but in a fixed order: the shuffles are
      seeded with `config.seed` (0 when None).
    input_context: from `distribute_datasets_from_function`; selects this
      pipeline's files (or records) and the per-replica batch size.
    seeded_order: training reads in the fixed order evaluation does (both
      shuffles seeded with `config.seed`, deterministic interleave), so that a
      run given a `seed` is repeatable. Default: when `config.seed` is set.
      The trainer fills in a seed it draws, so callers pass whether the user
      gave one.

  Returns:
    A dataset of dicts `input_ids`, `input_mask`, `segment_ids`, each int32
    [per-replica batch, max_seq_length].

  Raises:
    PretrainingDataError: no file matches `pretrain_tfrecords`.
  """
  files = _matching_files(config)
  if batch_size is None:
    batch_size = config.train_batch_size if is_training else config.eval_batch_size
  num_pipelines, pipeline_id = 1, 0
  if input_context is not None:
    batch_size = input_context.get_per_replica_batch_size(batch_size)
    num_pipelines = input_context.num_input_pipelines
    pipeline_id = input_context.input_pipeline_id
  shard_records = len(files) < num_pipelines

  dataset = tf.data.Dataset.from_tensor_slices(tf.constant(files))
  if num_pipelines > 1 and not shard_records:
    dataset = dataset.shard(num_pipelines, pipeline_id)
    files = files[pipeline_id::num_pipelines]
  dataset = dataset.repeat()
  if seeded_order is None:
    seeded_order = config.seed is not None
  # Evaluation, and training given a seed, shuffle with the run's seed, so that
  # two evaluations of one checkpoint see the same batches and a seeded run is
  # repeatable; unseeded training shuffles afresh, as the original.
  fixed_order = seeded_order or not is_training
  order_seed = (config.seed or 0) if fixed_order else None
  dataset = dataset.shuffle(
      buffer_size=len(files), seed=_RECORD_SHARDING_SEED if shard_records else order_seed)
  dataset = dataset.interleave(
      tf.data.TFRecordDataset, cycle_length=min(MAX_CYCLE_LENGTH, len(files)),
      num_parallel_calls=tf.data.AUTOTUNE, deterministic=shard_records or fixed_order)
  if shard_records:
    dataset = dataset.shard(num_pipelines, pipeline_id)
  dataset = dataset.shuffle(buffer_size=SHUFFLE_BUFFER, seed=order_seed)
  dataset = dataset.batch(batch_size, drop_remainder=True)
  dataset = dataset.map(
      functools.partial(parse_examples, max_seq_length=config.max_seq_length),
      num_parallel_calls=tf.data.AUTOTUNE)
  return dataset.prefetch(tf.data.AUTOTUNE)


def get_input_fn(config, is_training: bool = True
                 ) -> Callable[[Optional[tf.distribute.InputContext]], tf.data.Dataset]:
  """`input_fn(input_context=None)` for `strategy.distribute_datasets_from_function`."""

  def input_fn(input_context: Optional[tf.distribute.InputContext] = None):
    return make_dataset(config, is_training=is_training, input_context=input_context)

  return input_fn


def corrupt_record_error(config, error: tf.errors.OpError) -> PretrainingDataError:
  """The error to raise when training meets a corrupt record (`error`):
  every shard is read through (CRCs checked) to name the one that fails."""
  for path in _matching_files(config):
    try:
      tf.data.TFRecordDataset(path).reduce(0, lambda count, _: count + 1)
    except (tf.errors.DataLossError, tf.errors.InvalidArgumentError) as e:
      return PretrainingDataError(
          f"shard {path} has a corrupt record ({e.message.splitlines()[0]}); delete it or "
          f"rebuild the shards ({_BUILD_HINT}). The checkpoints written so far are kept")
  return PretrainingDataError(
      f"training read a corrupt record ({error.message.splitlines()[0]}), but every shard "
      f"matching {config.pretrain_tfrecords!r} now reads cleanly: check the disk")


def _check_framing(path: str) -> None:
  """Walks a local TFRecord file's record headers (8-byte length, 4-byte CRC,
  data, 4-byte CRC) with seeks, so a truncated shard is found before training."""
  size = os.path.getsize(path)
  offset = 0
  with open(path, "rb") as f:
    while offset < size:
      header = f.read(8)
      if len(header) < 8:
        break
      offset += 12 + int.from_bytes(header, "little") + 4
      if offset >= size:
        break
      f.seek(offset)
  if offset != size:
    raise PretrainingDataError(
        f"shard {path} is truncated, corrupt or not a TFRecord file (its record framing "
        f"ends at byte {offset} of {size}); delete it or rebuild the shards ({_BUILD_HINT})")


def _first_record(path: str) -> Optional[bytes]:
  """The first record of a TFRecord file; None if the file has none."""
  try:
    for record in tf.data.TFRecordDataset(path).take(1):
      return record.numpy()
  except (tf.errors.DataLossError, tf.errors.InvalidArgumentError) as e:
    raise PretrainingDataError(
        f"shard {path} is corrupt or not a TFRecord file ({e.message.splitlines()[0]}); "
        f"delete it or rebuild the shards ({_BUILD_HINT})") from e
  return None


def check_record(record: bytes, path: str, max_seq_length: int,
                 vocab_size: Optional[int] = None) -> None:
  """Checks one serialized example has the expected features and lengths.

  Raises:
    PretrainingDataError: naming the shard and what is wrong.
  """
  try:
    example = tf.train.Example.FromString(record)
  except Exception as e:  # protobuf's DecodeError; its module path varies
    raise PretrainingDataError(
        f"shard {path}: the first record is not a tf.train.Example ({e})") from e
  feature = example.features.feature
  for name in INPUT_FEATURES:
    if name not in feature or feature[name].WhichOneof("kind") != "int64_list":
      raise PretrainingDataError(
          f"shard {path}: the first record has no int64 feature {name!r} "
          f"(it has {sorted(feature)}); expected {list(INPUT_FEATURES)} as written "
          "by build_pretraining_dataset.py")
    length = len(feature[name].int64_list.value)
    if length != max_seq_length:
      raise PretrainingDataError(
          f"shard {path}: {name} has length {length} but max_seq_length is "
          f"{max_seq_length}; set the hparam max_seq_length to {length}, or "
          f"rebuild the shards with --max-seq-length {max_seq_length}")
  max_id = max(feature["input_ids"].int64_list.value)
  if vocab_size is not None and max_id >= vocab_size:
    raise PretrainingDataError(
        f"shard {path}: token id {max_id} is outside vocab_size {vocab_size}; "
        "the shards were built with a larger vocab than the model's")


def validate_pretraining_data(config) -> List[str]:
  """Checks, before training, that the TFRecords exist and fit the config.

  The glob must match a file; every local shard's record framing must end
  exactly at its size (a truncated copy fails here, not hours into
  training); the first record of every non-empty shard must hold `input_ids`, `input_mask`, `segment_ids` of length
  `max_seq_length` with ids below `vocab_size`.

  Args:
    config: a PretrainingConfig.

  Returns:
    The matching files.

  Raises:
    PretrainingDataError: with a message that names the pattern or shard.
  """
  files = _matching_files(config)
  non_empty = 0
  for path in files:
    if "://" not in path:
      _check_framing(path)
    record = _first_record(path)
    if record is not None:
      check_record(record, path, config.max_seq_length, config.vocab_size)
      non_empty += 1
  if non_empty:
    return files
  raise PretrainingDataError(
      f"all {len(files)} files matching {config.pretrain_tfrecords!r} are empty; "
      f"rebuild them ({_BUILD_HINT})")
