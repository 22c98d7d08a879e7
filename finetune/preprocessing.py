"""Featurised examples cached as TFRecords, and the datasets read from them.

The original's `Preprocessor` (`finetune/preprocessing.py`), with three changes:

- **Cache key.** The original reuses `<tasks>_<split>.tfrecord` whenever it
  exists, even after the vocab, `max_seq_length` or the data changed. Here
  the file name carries a hash of everything the features depend on: the
  ordered `task_names` (they fix `task_id`), the split, the vocab file's and
  data files' SHA-256, `do_lower_case`, each task's featurisation hparams
  (`max_seq_length`, `double_unordered`, ...), `debug`, `skip_malformed_lines`
  and a format version. `use_tfrecords_if_existing: false` still rebuilds.
  Files are written under temporary names and renamed; the `.metadata` JSON
  last, so a cache is complete when its metadata exists. A task's decoding
  metadata (`Task.featurize_with_metadata`, e.g. QA's tokens and maps) is
  written beside the records as `<records>.<task>.decoding.json` before the
  `.metadata` file that lists it.
- **Padding at read time.** The original appends padding examples (with
  `task_id` = number of tasks, so their loss is gated to zero) to the file;
  here they are appended when the dataset is built, so one cache serves any
  batch size. The step count is the original's:
  `int(padded_examples // train_batch_size * num_train_epochs)`.
- **Shuffling.** The original shuffles the training examples once (unseeded
  `random.shuffle`) before writing them and then reads through a 100-example
  shuffle buffer. Here the cached order is one fixed random permutation
  (so a cache is reproducible) and the reader shuffles through a buffer of
  up to 10,000 examples, reshuffled every epoch with the trial's seed: small
  tasks (RTE, MRPC, STS-B, CoLA) get a full reshuffle per epoch.
"""

import dataclasses
import hashlib
import json
import logging
import os
import time
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf

from electra_tf import fileio
from finetune.config import FinetuningConfig
from finetune.task import FeatureSpec, FinetuningDataError, Task, shared_feature_specs

logger = logging.getLogger(__name__)

# Bumped whenever the record layout or featurisation changes.
CACHE_FORMAT_VERSION = 1
TRAIN_SHUFFLE_BUFFER = 10000
_PERMUTATION_SEED = 0


@dataclasses.dataclass
class CachedSplit:
  """Featurised records of one split of one or more tasks.

  Attributes:
    tasks: names of the tasks whose examples it holds.
    split: "train", "dev", ...
    path: the TFRecord file.
    num_records: records in the file (model inputs, before padding).
  """
  tasks: List[str]
  split: str
  path: str
  num_records: int
  decoding_files: Dict[str, str] = dataclasses.field(default_factory=dict)

  def task_metadata(self, task_name: str) -> Optional[Dict]:
    """What `featurize_with_metadata` returned for the task, or None."""
    path = self.decoding_files.get(task_name)
    return fileio.read_json(path, FinetuningDataError) if path else None


@dataclasses.dataclass
class _CachePlan:
  """One split's cache files, and the cache hit if they are complete."""
  tasks: List[Task]
  split: str
  name: str
  key: Dict
  path: str
  metadata_path: str
  cached: Optional[CachedSplit] = None

  @property
  def task_names(self) -> List[str]:
    return [task.name for task in self.tasks]


def padded_size(num_records: int, batch_size: int) -> int:
  """The record count rounded up to whole batches (the original's padding)."""
  return -(-num_records // batch_size) * batch_size


def num_train_steps(num_records: int, config: FinetuningConfig) -> int:
  """The original's `int(n_examples // train_batch_size * num_train_epochs)`,
  n_examples counting the padding."""
  batch_size = config.train_batch_size
  return int(padded_size(num_records, batch_size) // batch_size * config.num_train_epochs)


class Preprocessor:
  """Builds (or reuses) cached records and turns them into tf.data datasets."""

  def __init__(self, config: FinetuningConfig, tasks: Sequence[Task]):
    self.config = config
    self.tasks = list(tasks)
    self.specs: List[FeatureSpec] = shared_feature_specs(config.max_seq_length)
    for task in self.tasks:
      self.specs += task.feature_specs()
    names = [spec.name for spec in self.specs]
    if len(set(names)) != len(names):
      raise ValueError(f"feature names collide: {names}")
    self.parsing_specs = {spec.name: spec.parsing_spec() for spec in self.specs}
    self._vocab_sha256 = None

  # --- caching -------------------------------------------------------------------

  def cache_key(self, tasks: Sequence[Task], split: str) -> Dict:
    """Everything the records of (tasks, split) depend on."""
    config = self.config
    files = {task.name: task.data_file(split) for task in tasks}
    for name, path in files.items():
      if not tf.io.gfile.exists(path):
        raise FinetuningDataError(f"{path} does not exist: the {name} {split} split; put "
                                  f"the task's files in {config.raw_data_dir(name)}")
    if self._vocab_sha256 is None:
      self._vocab_sha256 = fileio.file_sha256(config.vocab_file)
    return {
        "format": CACHE_FORMAT_VERSION,
        "task_names": list(config.task_names),
        "tasks": sorted(files),
        "split": split,
        "vocab_sha256": self._vocab_sha256,
        "do_lower_case": config.do_lower_case,
        "debug": config.debug,
        "skip_malformed_lines": config.skip_malformed_lines,
        "task_params": {task.name: task.featurization_params() for task in tasks},
        "data_sha256": {name: fileio.file_sha256(path) for name, path in files.items()},
    }

  def prepare(self, tasks: Sequence[Task], split: str) -> CachedSplit:
    """The cached records of `split` of `tasks`, building them if needed."""
    return self.prepare_all([(tasks, split)])[0]

  def prepare_all(self, requests: Sequence[Tuple[Sequence[Task], str]]) -> List[CachedSplit]:
    """The cached records of each (tasks, split), building the missing ones.

    Every missing split is read and featurised before any is written, so a
    malformed dev file leaves no training cache behind. Training splits are
    permuted once, deterministically; others keep the file order.

    Raises:
      FinetuningDataError: from reading the data (missing, malformed, empty).
    """
    plans = [self._plan(tasks, split) for tasks, split in requests]
    columns = [None if plan.cached else self._featurise(plan) for plan in plans]
    return [plan.cached or self._write(plan, plan_columns)
            for plan, plan_columns in zip(plans, columns)]

  def _plan(self, tasks: Sequence[Task], split: str) -> "_CachePlan":
    """Where the records of (tasks, split) go, and the cache hit if there is one."""
    config = self.config
    key = self.cache_key(tasks, split)
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
    name = "_".join(sorted(task.name for task in tasks)) + f"_{split}"
    prefix = os.path.join(config.preprocessed_data_dir, f"{name}-{digest}")
    plan = _CachePlan(list(tasks), split, name, key, prefix + ".tfrecord", prefix + ".metadata")
    if config.use_tfrecords_if_existing and tf.io.gfile.exists(plan.metadata_path):
      metadata = fileio.read_json(plan.metadata_path)
      decoding_files = {task: os.path.join(config.preprocessed_data_dir, file)
                        for task, file in metadata.get("decoding_files", {}).items()}
      if all(tf.io.gfile.exists(path) for path in decoding_files.values()):
        num_records = metadata["num_records"]
        logger.info("%s: %d cached records in %s", name, num_records, plan.path)
        plan.cached = CachedSplit(plan.task_names, split, plan.path, num_records,
                                  decoding_files)
    return plan

  def _featurise(self, plan: "_CachePlan") -> List[Tuple[Dict[str, np.ndarray], Optional[Dict]]]:
    """Each task's (features {name: [N, ...]}, decoding metadata or None) of the split."""
    columns = [task.featurize_with_metadata(task.get_examples(plan.split), plan.split == "train",
                                            log=self.config.log_examples)
               for task in plan.tasks]
    for features, _ in columns:
      unknown = set(features) - set(self.parsing_specs)
      if unknown:
        raise ValueError(f"featurize produced unknown features {sorted(unknown)}")
    return columns

  def _write(self, plan: "_CachePlan",
             featurised: List[Tuple[Dict[str, np.ndarray], Optional[Dict]]]) -> CachedSplit:
    """Writes the records and decoding metadata, then the metadata that marks
    the cache complete."""
    start = time.time()
    columns = [features for features, _ in featurised]
    decoding_files = {}
    for task, (_, metadata) in zip(plan.tasks, featurised):
      if metadata is not None:
        path = plan.path[:-len(".tfrecord")] + f".{task.name}.decoding.json"
        fileio.atomic_write(path, json.dumps(metadata))
        decoding_files[task.name] = path
    rows = [(t, i) for t, features in enumerate(columns)
            for i in range(len(features["input_ids"]))]
    if plan.split == "train":
      order = np.random.default_rng(_PERMUTATION_SEED).permutation(len(rows))
      rows = [rows[i] for i in order]
    with fileio.atomic_output(plan.path) as tmp, tf.io.TFRecordWriter(tmp) as writer:
      for t, i in rows:
        writer.write(self._example({k: v[i] for k, v in columns[t].items()}))
    fileio.write_json(plan.metadata_path, {
        "num_records": len(rows), "cache_key": plan.key,
        "decoding_files": {name: os.path.basename(path) for name, path in decoding_files.items()}})
    logger.info("%s: wrote %d records in %.1f s -> %s", plan.name, len(rows),
                time.time() - start, plan.path)
    return CachedSplit(plan.task_names, plan.split, plan.path, len(rows), decoding_files)

  def _example(self, values: Dict[str, np.ndarray]) -> bytes:
    """One record: every feature spec, defaults for the features not given."""
    feature = {}
    for spec in self.specs:
      value = np.asarray(values.get(spec.name, spec.default_value())).reshape(-1)
      if spec.is_int:
        feature[spec.name] = tf.train.Feature(int64_list=tf.train.Int64List(value=value))
      else:
        feature[spec.name] = tf.train.Feature(float_list=tf.train.FloatList(value=value))
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()

  # --- datasets ------------------------------------------------------------------

  def padding_record(self) -> bytes:
    """An example of no task: `task_id` = number of tasks, all else default."""
    return self._example({"task_id": np.array(len(self.config.task_names))})

  def parse(self, serialized: tf.Tensor) -> Dict[str, tf.Tensor]:
    """Serialized records [B] -> features [B, ...], int64 cast to int32."""
    features = tf.io.parse_example(serialized, self.parsing_specs)
    return {name: tf.cast(t, tf.int32) if t.dtype == tf.int64 else t
            for name, t in features.items()}

  def dataset(self, cached: CachedSplit, batch_size: int, is_training: bool,
              seed: Optional[int] = None) -> tf.data.Dataset:
    """Batches of parsed features: padded to whole batches; for training
    shuffled every epoch and repeated forever.

    Args:
      cached: from `prepare`.
      batch_size: the global batch size.
      is_training: shuffle and repeat.
      seed: the shuffle seed.
    """
    dataset = tf.data.TFRecordDataset(cached.path)
    padding = padded_size(cached.num_records, batch_size) - cached.num_records
    if padding:
      dataset = dataset.concatenate(
          tf.data.Dataset.from_tensors(self.padding_record()).repeat(padding))
    if is_training:
      buffer = min(cached.num_records + padding, TRAIN_SHUFFLE_BUFFER)
      dataset = dataset.shuffle(buffer, seed=seed, reshuffle_each_iteration=True).repeat()
    return (dataset.batch(batch_size, drop_remainder=True)
            .map(self.parse, num_parallel_calls=tf.data.AUTOTUNE)
            .prefetch(tf.data.AUTOTUNE))
