"""The pre-training loop: one code path for one device, several GPUs, several
machines and Cloud TPUs (the original's `run_pretraining.py: train_or_eval`
and `model/optimization.py`).

Per optimizer step, every replica:
1. computes the losses' denominators for its examples from the inputs alone
   and sums them over replicas (`objective.loss_weight_sums`);
2. runs forward/backward on each of its `gradient_accumulation_steps`
   micro-batches, normalising every partial loss by those global
   denominators (the one place where the loss is divided across replicas and
   micro-batches), and adds up the gradients;
3. sums gradients over replicas, clips them to global norm 1.0 and applies the
   original's AdamW.
The result is the gradient the original computes on the whole batch on one
device. Masking and sampling use per-example seeds derived from (seed, step,
example index), so corruption is the same whatever the device count and a
resumed run replays it.
"""

import dataclasses
import json
import logging
import os
import shutil
import time
from typing import Callable, Dict, Optional

import tensorflow as tf
import tf_keras

from electra_tf import fileio
from electra_tf.checkpoints import conversion, original
from electra_tf.config.hparams import ConfigError
from electra_tf.config.pretraining import PretrainingConfig
from electra_tf.config.runtime import draw_seed
from electra_tf.modeling import objective
from electra_tf.modeling.pretraining_model import PretrainingModel
from electra_tf.pretraining import pretrain_data
from electra_tf.pretraining.metrics import PretrainingMetrics
from electra_tf.text.vocab import SpecialTokenIds
from electra_tf.training import distribution
from electra_tf.training.optimization import (AdamWeightDecay, WarmupPolynomialDecay,
                                              clip_by_global_norm)
from electra_tf.training.progress import seconds_to_str

logger = logging.getLogger(__name__)

# dataset_fn(input_context, global_batch_size, is_training) -> tf.data.Dataset
# of per-replica batches (dicts of int [per_replica_batch, L] tensors).
DatasetFn = Callable[[tf.distribute.InputContext, int, bool], tf.data.Dataset]

# The seed of an evaluation without a seed, of a checkpoint without a saved
# config (e.g. a converted original checkpoint): eval must be repeatable.
EVAL_SEED_WITHOUT_SAVED_CONFIG = 0


def resolve_seed(config: PretrainingConfig):
  """(seed, where it came from) for a config without a seed.

  The run's saved `pretrain_config.json` seed when model_dir has one (a resumed
  run replays its randomness, an evaluation masks as every other evaluation of
  the run); otherwise drawn for training and fixed for evaluation.
  """
  saved_path = os.path.join(config.model_dir, fileio.PRETRAIN_CONFIG_FILE)
  if os.path.exists(saved_path):
    saved = fileio.read_json_object(saved_path, ConfigError).get("seed")
    if saved is not None:
      return int(saved), f"from {saved_path}"
  if not config.do_train:
    return EVAL_SEED_WITHOUT_SAVED_CONFIG, "fixed for evaluation, as no seed was given or saved"
  return (draw_seed(),
          f"drawn, as no seed was given; saved in {fileio.PRETRAIN_CONFIG_FILE}")


@dataclasses.dataclass
class LoopStats:
  """Global (all-replica) losses averaged over one loop of steps."""
  total_loss: float
  mlm_loss: float
  disc_loss: Optional[float]
  grad_norm: float


class ReplicaInput:
  """Per-replica batches for `strategy.run`, with a checkpointable position.

  `tf.distribute`'s distributed iterators cannot be saved, so on every
  strategy but TPU each local replica reads its own plain tf.data iterator
  (trackable: its position goes into the checkpoint), sharded by the
  replica's global id. TPUs use `distribute_datasets_from_function`; their
  input position is not saved.
  """

  def __init__(self, strategy: tf.distribute.Strategy, dataset_fn: DatasetFn,
               global_batch_size: int, is_training: bool):
    self.strategy = strategy

    def make(context):
      dataset = dataset_fn(context, global_batch_size, is_training)
      expected = context.get_per_replica_batch_size(global_batch_size)
      for name, spec in dataset.element_spec.items():
        if spec.shape[0] != expected:
          raise ValueError(
              f"dataset_fn yields {name} batches of shape {spec.shape}; every replica needs a "
              f"static batch of {expected} (batch with drop_remainder=True)")
      return dataset
    if isinstance(strategy, tf.distribute.TPUStrategy):
      self.iterators = []
      self._distributed_iterator = iter(strategy.distribute_datasets_from_function(make))
      return
    replica_ids = strategy.experimental_local_results(
        strategy.experimental_distribute_values_from_function(
            lambda context: context.replica_id_in_sync_group))
    self._local_index = {int(r): i for i, r in enumerate(replica_ids)}
    num_replicas = strategy.num_replicas_in_sync
    self.iterators = [
        iter(make(tf.distribute.InputContext(num_replicas, int(r), num_replicas)))
        for r in replica_ids]

  def next(self):
    """A PerReplica batch (call inside tf.function, in cross-replica context)."""
    if not self.iterators:
      return next(self._distributed_iterator)
    return self.strategy.experimental_distribute_values_from_function(
        lambda context: next(self.iterators[self._local_index[context.replica_id_in_sync_group]]))


# Hparams a resumed run may change (with a logged line): how long, where and on
# what hardware it runs, not what it trains.
RESUMABLE_CHANGES = frozenset({
    "model_name", "data_dir", "model_dir", "pretrain_tfrecords", "vocab_file", "results_txt",
    "results_pkl", "init_checkpoint", "do_train", "do_eval", "num_train_steps",
    "num_eval_steps", "eval_batch_size", "iterations_per_loop", "save_checkpoints_steps",
    "keep_checkpoint_max", "use_tpu", "num_tpu_cores", "tpu_job_name", "tpu_name", "tpu_zone",
    "gcp_project", "distribution_strategy", "devices", "mixed_precision", "jit_compile"})


def reconcile_with_saved_config(config: PretrainingConfig) -> None:
  """Makes a run resuming in `model_dir` the run it claims to be.

  Without a checkpoint and a saved `pretrain_config.json` there is nothing to
  resume. Otherwise an unset `seed` takes the saved one (the one the run
  drew), `mixed_precision` "auto" the saved policy (the one "auto" resolved
  to when the run started, so the run keeps its precision), changes to
  `RESUMABLE_CHANGES` (and, for an evaluation-only run, `seed`) are logged,
  and any other change is refused.

  Raises:
    ConfigError: naming every changed hparam with its saved and new value.
  """
  saved_path = os.path.join(config.model_dir, fileio.PRETRAIN_CONFIG_FILE)
  if not (tf.train.latest_checkpoint(config.model_dir) and tf.io.gfile.exists(saved_path)):
    return
  saved = fileio.read_json_object(saved_path, ConfigError)
  if config.seed is None and saved.get("seed") is not None:
    config.seed = saved["seed"]
    logger.info("resuming with the seed the run drew, %d (%s)", config.seed, saved_path)
  if config.mixed_precision == "auto" and saved.get("mixed_precision", "auto") != "auto":
    config.mixed_precision = saved["mixed_precision"]
    logger.info("resuming with the run's mixed_precision, %s (%s)", config.mixed_precision,
                saved_path)
  current = json.loads(config.to_json())
  changed = {key: (saved[key], value) for key, value in current.items()
             if key in saved and saved[key] != value}
  # An evaluation trains nothing and saves no config: it may mask with another seed.
  resumable = RESUMABLE_CHANGES | ({"seed"} if not config.do_train else set())
  accepted = {k: v for k, v in changed.items() if k in resumable}
  refused = {k: v for k, v in changed.items() if k not in resumable}
  describe = lambda items: ", ".join(f"{k} {old!r} -> {new!r}" for k, (old, new) in
                                     sorted(items.items()))
  if refused:
    raise ConfigError(
        f"{config.model_dir} holds a run with other hparams ({saved_path}): "
        f"{describe(refused)}. Resume with the saved values, or pass another model name "
        "to start a new run; only " + ", ".join(sorted(RESUMABLE_CHANGES)) +
        " may change on resume")
  if accepted:
    logger.info("resuming with changed hparams: %s", describe(accepted))


class Pretrainer:
  """Builds the model, optimizer and checkpoints under a strategy; trains or evaluates."""

  def __init__(self, config: PretrainingConfig, dataset_fn: DatasetFn,
               strategy: Optional[tf.distribute.Strategy] = None):
    self.config = config
    self.dataset_fn = dataset_fn
    self.strategy = strategy or distribution.create_strategy(config)
    self.num_replicas = self.strategy.num_replicas_in_sync
    distribution.check_batch_sizes(config, self.num_replicas)
    self.jit_compile = distribution.use_jit_compile(config, self.strategy)
    self.is_chief = distribution.is_chief(self.strategy)
    self.special_ids = SpecialTokenIds.from_vocab_file(config.vocab_file)
    reconcile_with_saved_config(config)
    distribution.resolve_mixed_precision(config, self.strategy)
    if config.seed is None:
      config.seed, origin = resolve_seed(config)
      logger.info("seed %d (%s)", config.seed, origin)
    # Weight initialisation (and any other unseeded op) follows the run's seed:
    # the Keras initializers draw their seeds from this generator.
    tf_keras.utils.set_random_seed(config.seed)
    with distribution.precision_policy(config.mixed_precision), self.strategy.scope():
      self.model = PretrainingModel(config, self.special_ids)
      self.model.build_variables()
      self.variables = self.model.trainable_variables
      schedule = WarmupPolynomialDecay(config.learning_rate, config.num_train_steps,
                                       config.num_warmup_steps, config.lr_decay_power)
      self.base_optimizer = AdamWeightDecay(schedule, self.model.named_variables(),
                                            weight_decay_rate=config.weight_decay_rate)
      self.optimizer = (tf_keras.mixed_precision.LossScaleOptimizer(self.base_optimizer)
                        if config.mixed_precision == "mixed_float16" else self.base_optimizer)
      self.optimizer.build(self.variables)
    self.schedule = schedule

  @property
  def step(self) -> int:
    return int(self.optimizer.iterations.numpy())

  # --- per-example randomness ----------------------------------------------

  def _example_seeds(self, step, first_index, batch_size: int, stream: int = 0):
    """int64 [batch_size, 2]: (seed + stream, step * batch + global example index)."""
    config = self.config
    index = (tf.cast(step, tf.int64) * config.train_batch_size + tf.cast(first_index, tf.int64)
             + tf.range(batch_size, dtype=tf.int64))
    return tf.stack([tf.fill([batch_size], tf.constant(config.seed + stream, tf.int64)), index],
                    axis=1)

  def _weight_sums(self, batch):
    config = self.config
    return objective.loss_weight_sums(
        tf.cast(batch["input_ids"], tf.int32), tf.cast(batch["input_mask"], tf.int32),
        mask_prob=config.mask_prob, max_predictions_per_seq=config.max_predictions_per_seq,
        special_ids=self.special_ids, with_replacement=config.mask_positions_with_replacement)

  # --- training ------------------------------------------------------------

  def _forward_backward(self, batch, seeds, global_weight_sums):
    """Gradients of this micro-batch's share of the global loss."""
    config = self.config
    with tf.GradientTape() as tape:
      outputs = self.model(batch, training=True, example_seeds=seeds)
      loss = objective.combine_losses(outputs["loss_sums"], global_weight_sums,
                                      gen_weight=config.gen_weight, disc_weight=config.disc_weight)
      if config.mixed_precision == "mixed_float16":
        loss = self.optimizer.get_scaled_loss(loss)
    grads = tape.gradient(loss, self.variables)
    if config.mixed_precision == "mixed_float16":
      grads = self.optimizer.get_unscaled_gradients(grads)
    grads = [None if g is None else tf.convert_to_tensor(g) for g in grads]
    return grads, outputs["loss_sums"]

  def _make_train_loop(self, replica_input: "ReplicaInput"):
    config, strategy, optimizer = self.config, self.strategy, self.optimizer
    accumulation = config.gradient_accumulation_steps
    forward_backward = tf.function(self._forward_backward, jit_compile=self.jit_compile)

    def replica_step(batch):
      context = tf.distribute.get_replica_context()
      per_replica = batch["input_ids"].shape[0]
      micro = per_replica // accumulation
      first_index = tf.cast(context.replica_id_in_sync_group, tf.int64) * per_replica
      seeds = self._example_seeds(optimizer.iterations, first_index, per_replica)
      global_weight_sums = context.all_reduce("SUM", self._weight_sums(batch))
      split = lambda t: tf.reshape(t, [accumulation, micro] + t.shape[1:].as_list())
      micro_batches = {k: split(v) for k, v in batch.items()}
      micro_seeds = split(seeds)
      grads, loss_sums = None, None
      # A Python loop: each micro-batch's graph is traced once per
      # accumulation step; gradients are held as summed tensors.
      for j in range(accumulation):
        g, sums = forward_backward({k: v[j] for k, v in micro_batches.items()},
                                   micro_seeds[j], global_weight_sums)
        if grads is None:
          grads, loss_sums = g, sums
        else:
          grads = [a if b is None else a + b for a, b in zip(grads, g)]
          loss_sums = {k: loss_sums[k] + sums[k] for k in sums}
      pairs = [(g, v) for g, v in zip(grads, self.variables) if g is not None]
      summed = context.all_reduce("SUM", [g for g, _ in pairs])
      clipped, grad_norm = clip_by_global_norm(summed)
      optimizer.apply_gradients(zip(clipped, [v for _, v in pairs]),
                                skip_gradients_aggregation=True)
      loss_sums = context.all_reduce("SUM", loss_sums)
      losses = {"total_loss": objective.combine_losses(
          loss_sums, global_weight_sums, gen_weight=config.gen_weight,
          disc_weight=config.disc_weight),
                "mlm_loss": objective.normalise(loss_sums["mlm"], global_weight_sums["mlm"]),
                "grad_norm": grad_norm}
      if "disc" in loss_sums:
        losses["disc_loss"] = objective.normalise(loss_sums["disc"], global_weight_sums["disc"])
      return losses

    keys = ["total_loss", "mlm_loss", "grad_norm"]
    if self.model.discriminator is not None:
      keys.append("disc_loss")

    @tf.function
    def train_loop(num_steps):
      totals = {k: tf.constant(0.0) for k in keys}
      for _ in tf.range(num_steps):
        per_replica = strategy.run(replica_step, args=(replica_input.next(),))
        # Every replica holds the same all-reduced values; take the first.
        totals = {k: totals[k] + strategy.experimental_local_results(per_replica[k])[0]
                  for k in keys}
      return {k: v / tf.cast(num_steps, tf.float32) for k, v in totals.items()}

    return train_loop

  def _checkpoint(self, replica_input: Optional["ReplicaInput"] = None) -> tf.train.Checkpoint:
    items = {"model": self.model, "optimizer": self.optimizer}
    if replica_input is not None and replica_input.iterators:
      # The data position: each replica's tf.data iterator state.
      items["input_iterators"] = replica_input.iterators
    return tf.train.Checkpoint(**items)

  def _checkpoint_dir(self) -> str:
    """Non-chief workers must write too (collectives), but to a throwaway dir."""
    if self.is_chief:
      return self.config.model_dir
    return os.path.join(self.config.model_dir, f"worker_tmp_{self.strategy.cluster_resolver.task_id}")

  def restore_or_initialize(self, replica_input: ReplicaInput) -> tf.train.Checkpoint:
    """Resumes from model_dir, else warm-starts from `init_checkpoint`.

    - our checkpoint in model_dir: restores weights, optimizer slots, step and
      the data position (unless the number of input pipelines changed);
    - an original-format checkpoint in model_dir (e.g. a released model, as
      the original README's "continue pre-training" recipe): loads weights and
      global_step; Adam moments start at zero (the original cannot do this:
      its issues #25, #45, #97);
    - otherwise `init_checkpoint` (ours, original TF1 or a Hugging Face
      directory): weights only, from step 0.

    Returns:
      The checkpoint object to save with.
    """
    config = self.config
    checkpoint = self._checkpoint(replica_input)
    latest = tf.train.latest_checkpoint(config.model_dir)
    if latest and original.is_object_based(latest):
      saved_inputs = {name.split("/")[1] for name, _ in tf.train.list_variables(latest)
                      if name.startswith("input_iterators/")}
      if len(saved_inputs) == len(replica_input.iterators):
        checkpoint.restore(latest).assert_existing_objects_matched()
        logger.info("resumed from %s at step %d", latest, self.step)
      else:
        self._checkpoint().restore(latest).expect_partial().assert_existing_objects_matched()
        logger.warning("resumed from %s at step %d; the checkpoint has %d input pipeline(s) "
                       "and this run %d, so the input restarts from a fresh shuffle",
                       latest, self.step, len(saved_inputs), len(replica_input.iterators))
    elif latest:
      report = original.load_original_checkpoint(self.model.named_variables(), latest)
      self.optimizer.iterations.assign(report.global_step or 0)
      logger.info("continuing the original-format checkpoint %s from step %d; Adam moments "
                  "start at zero\n%s", latest, self.step, report.summary())
    elif config.init_checkpoint:
      report = conversion.load_weights(self.model.named_variables(), config.init_checkpoint)
      logger.info("warm start: %s", report.summary())
    else:
      logger.info("initialized from scratch")
    return checkpoint

  def train(self) -> LoopStats:
    """Trains to `num_train_steps`, resuming from model_dir if it has a checkpoint."""
    config = self.config
    replica_input = ReplicaInput(self.strategy, self.dataset_fn, config.train_batch_size, True)
    checkpoint = self.restore_or_initialize(replica_input)
    manager = tf.train.CheckpointManager(
        checkpoint, self._checkpoint_dir(), max_to_keep=config.keep_checkpoint_max or None)
    self._log_setup()
    writer = (tf.summary.create_file_writer(config.model_dir) if self.is_chief
              else tf.summary.create_noop_writer())
    train_loop = self._make_train_loop(replica_input)
    stats = None
    start_step, start_time = self.step, time.time()
    while self.step < config.num_train_steps:
      step = self.step
      next_save = (step // config.save_checkpoints_steps + 1) * config.save_checkpoints_steps
      num_steps = min(config.iterations_per_loop, config.num_train_steps - step, next_save - step)
      loop_start = time.time()
      try:
        values = {k: float(v) for k, v in train_loop(tf.constant(num_steps)).items()}
      except tf.errors.DataLossError as e:
        raise pretrain_data.corrupt_record_error(config, e) from e
      loop_time = time.time() - loop_start
      stats = LoopStats(total_loss=values["total_loss"], mlm_loss=values["mlm_loss"],
                        disc_loss=values.get("disc_loss"), grad_norm=values["grad_norm"])
      self._log_progress(stats, num_steps / loop_time, start_step, start_time, writer)
      if step == start_step and self.is_chief:
        # Rewritten once the run has trained cleanly, before its first checkpoint.
        config.write_json(os.path.join(config.model_dir, fileio.PRETRAIN_CONFIG_FILE))
      if self.step % config.save_checkpoints_steps == 0 or self.step >= config.num_train_steps:
        manager.save(checkpoint_number=self.step)
    if not self.is_chief:
      shutil.rmtree(self._checkpoint_dir(), ignore_errors=True)
    return stats

  def _log_setup(self) -> None:
    config = self.config
    micro = config.train_batch_size // config.gradient_accumulation_steps
    logger.info(
        "strategy %s (%s) with %d replica(s), precision %s, XLA %s | global batch %d "
        "(%d per replica per micro-batch x %d accumulation step(s)), %d tokens/step, "
        "%d masked predictions/sequence | steps %d -> %d",
        config.distribution_strategy, type(self.strategy).__name__, self.num_replicas,
        config.mixed_precision,
        "on" if self.jit_compile else "off", config.train_batch_size,
        micro // self.num_replicas, config.gradient_accumulation_steps,
        config.train_batch_size * config.max_seq_length, config.max_predictions_per_seq,
        self.step, config.num_train_steps)

  def _log_progress(self, stats: LoopStats, steps_per_second: float, start_step: int,
                    start_time: float, writer) -> None:
    config = self.config
    step = self.step
    lr = float(self.schedule(step))
    elapsed = time.time() - start_time
    rate = (step - start_step) / max(elapsed, 1e-9)
    eta = (config.num_train_steps - step) / max(rate, 1e-9)
    losses = f"loss {stats.total_loss:.4f} mlm {stats.mlm_loss:.4f}"
    if stats.disc_loss is not None:
      losses += f" disc {stats.disc_loss:.4f}"
    logger.info("step %d/%d (%.1f%%) | %s | lr %.3e | %.2f steps/s %.1f seq/s | "
                "elapsed %s ETA %s", step, config.num_train_steps,
                100.0 * step / config.num_train_steps, losses, lr, steps_per_second,
                steps_per_second * config.train_batch_size, seconds_to_str(elapsed),
                seconds_to_str(eta))
    with writer.as_default(step=step):
      for name, value in dataclasses.asdict(stats).items():
        if value is not None:
          tf.summary.scalar(f"train/{name}", value)
      tf.summary.scalar("train/learning_rate", lr)
      tf.summary.scalar("train/steps_per_second", steps_per_second)
      tf.summary.scalar("train/sequences_per_second", steps_per_second * config.train_batch_size)

  # --- evaluation ----------------------------------------------------------

  def evaluate(self) -> Dict[str, float]:
    """The original's eval metrics over `num_eval_steps` batches (`do_eval`).

    Writes them to `results_txt` and `results_pkl` (which the original defined
    but never wrote) and to TensorBoard under `model_dir/eval`.
    """
    config, strategy = self.config, self.strategy
    latest = tf.train.latest_checkpoint(config.model_dir)
    if latest is None:
      raise FileNotFoundError(
          f"do_eval needs a checkpoint in {config.model_dir}; train first (do_train) "
          "or point --model-name at a trained model")
    tf.train.Checkpoint(model=self.model, optimizer=self.optimizer).restore(
        latest).expect_partial()
    with strategy.scope():
      metrics = PretrainingMetrics(self.model.discriminator is not None)
    replica_input = ReplicaInput(self.strategy, self.dataset_fn, config.eval_batch_size, False)

    def replica_step(batch, eval_step):
      context = tf.distribute.get_replica_context()
      per_replica = batch["input_ids"].shape[0]
      first = tf.cast(context.replica_id_in_sync_group, tf.int64) * per_replica
      seeds = self._example_seeds(eval_step, first, per_replica, stream=1)
      metrics.update(self.model(batch, training=False, example_seeds=seeds))

    @tf.function
    def eval_loop(first_step, num_steps):
      for eval_step in tf.range(first_step, first_step + num_steps):
        strategy.run(replica_step, args=(replica_input.next(), eval_step))

    # Loops of 10 steps, then sized to log progress about every 30 s.
    done, chunk, start = 0, 10, time.time()
    while done < config.num_eval_steps:
      num_steps = min(chunk, config.num_eval_steps - done)
      eval_loop(tf.constant(done, tf.int64), tf.constant(num_steps, tf.int64))
      done += num_steps
      elapsed = time.time() - start
      logger.info("eval step %d/%d | elapsed %s ETA %s", done, config.num_eval_steps,
                  seconds_to_str(elapsed),
                  seconds_to_str(elapsed / done * (config.num_eval_steps - done)))
      chunk = max(1, int(30.0 * done / max(elapsed, 1e-9)))
    results = metrics.result()
    results["global_step"] = self.step
    for key in sorted(results):
      logger.info("  %s = %s", key, results[key])
    if self.is_chief:
      self._write_results(results)
    return results

  def _write_results(self, results: Dict[str, float]) -> None:
    config = self.config
    fileio.atomic_write(config.results_txt,
                        "".join(f"{key} = {results[key]}\n" for key in sorted(results)))
    fileio.write_pickle(config.results_pkl, results)
    writer = tf.summary.create_file_writer(os.path.join(config.model_dir, "eval"))
    with writer.as_default(step=results["global_step"]):
      for key, value in results.items():
        if key != "global_step":
          tf.summary.scalar(f"eval/{key}", value)
    writer.flush()
