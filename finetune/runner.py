"""Fine-tuning runs: trials of train -> dev evaluation -> test predictions.

The original's `run_finetuning.py: ModelRunner` and `run_finetuning`, as a
TF2 custom loop that runs on one device or under any `tf.distribute` strategy:

- loss: per task, per-example losses gated by `one_hot(task_id)` (padding
  examples have task_id = number of tasks and contribute nothing), SUMMED over
  the batch and the tasks, not averaged, as the original; with several
  replicas each sums its share and the gradients are summed, which is the
  same gradient;
- optimizer: the original's AdamW (`AdamWeightDecay`) with layer-wise
  learning-rate multipliers (`layerwise_lr_decay` > 0), learning rate
  warmed up over `warmup_proportion` of the steps and decayed linearly to 0;
  gradients clipped to global norm 1.0;
- trials: each trial trains a fresh model from `init_checkpoint` in a
  temporary sibling of `<model_dir>_<trial>`, scores the dev set(s), then
  replaces `<model_dir>_<trial>` with it, appends to `results_txt` /
  `results_pkl`, and with `write_test_outputs` predicts the test splits of
  the first `n_writes_test` trials. A trial that fails or is killed leaves the
  previous model and the results that describe it as they were; an
  `init_checkpoint` inside a trial directory the run would replace is refused;
- without `do_train`, a trial evaluates the checkpoint in its directory if
  there is one, else `init_checkpoint` (e.g. a fine-tuned trial directory).

Every input is checked (task names, vocab, data files, malformed rows,
the init checkpoint, a zero step count) before a model is built.
"""

import dataclasses
import logging
import os
import re
import shutil
import time
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf
import tf_keras

from electra_tf import fileio
from electra_tf.checkpoints.original import CheckpointError
from electra_tf.config.hparams import ConfigError
from electra_tf.config.runtime import draw_seed
from electra_tf.text.tokenization import FullTokenizer
from electra_tf.text.vocab import check_vocab_size, require_tokens
from electra_tf.training import distribution
from electra_tf.training.optimization import (AdamWeightDecay, WarmupPolynomialDecay,
                                              clip_by_global_norm, layerwise_lr_multipliers)
from electra_tf.training.progress import seconds_to_str
from finetune import modeling, registry
from finetune.config import FinetuningConfig
from finetune.modeling import TASK_SCOPE, FinetuningModel
from finetune.preprocessing import CachedSplit, Preprocessor, num_train_steps, padded_size
from finetune.results import Results, format_results, results_table, write_results
from finetune.task import FinetuningDataError, Task

logger = logging.getLogger(__name__)

# Weights of a pre-training checkpoint that fine-tuning does not use.
PRETRAINING_ONLY_WEIGHTS = ("generator", "discriminator_predictions/", "cloze_predictions/")


# Training logs progress after the first FIRST_PROGRESS_STEPS steps, then about
# every PROGRESS_SECONDS (and at least every iterations_per_loop steps).
FIRST_PROGRESS_STEPS = 10
PROGRESS_SECONDS = 30.0


@dataclasses.dataclass
class PreparedData:
  """The cached records a run reads, prepared before any model is built.

  Attributes:
    train: all tasks' training records, or None without `do_train`.
    evals: task -> [(split, metric prefix, records)] for `do_eval`.
    tests: task -> [(split, records)] for `write_test_outputs`.
  """
  train: Optional[CachedSplit]
  evals: Dict[str, List[Tuple[str, str, CachedSplit]]]
  tests: Dict[str, List[Tuple[str, CachedSplit]]]


def check_data_files(config: FinetuningConfig, tasks: Sequence[Task]) -> None:
  """Raises FinetuningDataError listing every data file the run needs but lacks."""
  needed = []
  for task in tasks:
    splits = []
    if config.do_train:
      splits.append("train")
    if config.do_eval:
      splits += [split for split, _ in task.eval_splits()]
      if config.write_test_outputs:
        splits += task.test_splits()
    needed += [(task, split) for split in splits]
  missing = [f"{task.data_file(split)} ({task.name} {split})" for task, split in needed
             if not tf.io.gfile.exists(task.data_file(split))]
  if missing:
    raise FinetuningDataError(
        "missing fine-tuning data: " + "; ".join(missing) + ". Each task reads "
        "<data_dir>/finetuning_data/<task>/<split>.tsv (GLUE's files, renamed as in "
        "docs/finetuning.md) or <split>.txt (tagging, CoNLL format; docs/tagging.md)")


def prepare_data(config: FinetuningConfig, tasks: Sequence[Task],
                 preprocessor: Preprocessor) -> PreparedData:
  """Reads, featurises and caches every split the run needs (all read before
  any is written)."""
  requests = [(tasks, "train")] if config.do_train else []
  evals_needed, tests_needed = [], []
  if config.do_eval:
    for task in tasks:
      evals_needed += [(task, split, prefix) for split, prefix in task.eval_splits()]
      if config.write_test_outputs:
        tests_needed += [(task, split) for split in task.test_splits()]
  requests += [([task], split) for task, split, _ in evals_needed]
  requests += [([task], split) for task, split in tests_needed]
  cached = iter(preprocessor.prepare_all(requests))
  train = next(cached) if config.do_train else None
  evals = {task.name: [] for task in tasks} if config.do_eval else {}
  tests = {task.name: [] for task in tasks} if config.write_test_outputs else {}
  for task, split, prefix in evals_needed:
    evals[task.name].append((split, prefix, next(cached)))
  for task, split in tests_needed:
    tests[task.name].append((split, next(cached)))
  return PreparedData(train, evals, tests)


def total_loss(tasks: Sequence[Task], outputs, features, num_tasks: int) -> tf.Tensor:
  """Sum over the batch and tasks of each example's loss for its own task.

  The original's `reduce_sum(stack(losses, -1) * one_hot(task_id, n_tasks))`:
  a padding example (task_id = n_tasks) has an all-zero one-hot row.
  """
  losses = tf.stack([task.loss(outputs[task.name], features) for task in tasks], axis=-1)
  return tf.reduce_sum(losses * tf.one_hot(features["task_id"], num_tasks, dtype=tf.float32))


class ModelRunner:
  """One trial: a model from its initial weights, trained, evaluated."""

  def __init__(self, config: FinetuningConfig, tasks: Sequence[Task],
               preprocessor: Preprocessor, data: PreparedData,
               strategy: tf.distribute.Strategy, trial: int, seed: int,
               model_dir: Optional[str] = None):
    """Builds the model under `strategy` and loads its initial weights.

    Args:
      config: the run's config.
      tasks: its tasks, in `task_names` order.
      preprocessor, data: from `prepare_run`.
      strategy: where to build, train and predict.
      trial: 1-based.
      seed: seeds the initialisation, dropout and shuffling.
      model_dir: where checkpoints are read and written; default
        `config.trial_model_dir(trial)`.
    """
    self.config = config
    self.tasks = list(tasks)
    self.preprocessor = preprocessor
    self.data = data
    self.strategy = strategy
    self.trial = trial
    self.seed = seed
    self.model_dir = model_dir or config.trial_model_dir(trial)
    self.num_tasks = len(config.task_names)
    tf_keras.utils.set_random_seed(seed)
    distribution.resolve_mixed_precision(config, strategy)  # when not built by run_finetuning
    with distribution.precision_policy(config.mixed_precision), strategy.scope():
      self.model: FinetuningModel = modeling.build_model(config, self.tasks)
    self.names = self.model.named_variables()
    # One prediction step for every task and split of the trial, traced once
    # per batch size: a tf.function per `predict` call retraced every time,
    # and TensorFlow warned about it.
    self._predict_step = tf.function(self._distributed_predict)
    self._initialize()

  def _initialize(self) -> None:
    config = self.config
    source = config.init_checkpoint
    if not config.do_train and checkpoints_in(self.model_dir):
      source = self.model_dir
    if source is None:
      logger.info("no init_checkpoint: the model starts from random weights")
      return
    report = modeling.load_init_checkpoint(self.model, source)
    logger.info("initial weights: %s", report.summary(
        PRETRAINING_ONLY_WEIGHTS, "pre-training's generator and heads; fine-tuning uses "
        "the discriminator's encoder"))
    encoder_missing = [n for n in report.missing if not n.startswith(TASK_SCOPE + "/")]
    if encoder_missing:
      logger.warning("%d encoder variables are not in %s and keep their random "
                     "initialisation, e.g. %s", len(encoder_missing), source,
                     ", ".join(encoder_missing[:3]))
    if not config.do_train and report.missing:
      logger.warning("evaluating without training, but %d variables (e.g. %s) are not in "
                     "%s: predictions are partly random", len(report.missing),
                     report.missing[0], source)

  # --- training --------------------------------------------------------------------

  def train(self) -> float:
    """Trains for the original's step count; returns the last loop's mean loss per example."""
    config, strategy = self.config, self.strategy
    num_steps = num_train_steps(self.data.train.num_records, config)
    num_layers = self.model.bert_config.num_hidden_layers
    train_loop, optimizer, schedule = self.make_train_loop(num_steps)
    manager = tf.train.CheckpointManager(tf.train.Checkpoint(model=self.model),
                                         self.model_dir, max_to_keep=1)
    logger.info(
        "training %d steps: %d records (%d with padding) x %g epochs / batch %d | "
        "lr %g, warm-up %d steps, linear decay | layer-wise decay %s | weight decay %g | "
        "%s with %d replica(s), %s | seed %d", num_steps, self.data.train.num_records,
        padded_size(self.data.train.num_records, config.train_batch_size),
        config.num_train_epochs, config.train_batch_size, config.learning_rate,
        int(config.warmup_proportion * num_steps),
        f"{config.layerwise_lr_decay} over {num_layers} layers" if config.layerwise_lr_decay
        else "off",
        config.weight_decay_rate, type(strategy).__name__, strategy.num_replicas_in_sync,
        config.mixed_precision, self.seed)
    start, step, loss = time.time(), 0, float("nan")
    progress_steps = FIRST_PROGRESS_STEPS
    while step < num_steps:
      next_save = (step // config.save_checkpoints_steps + 1) * config.save_checkpoints_steps
      loop_steps = min(config.iterations_per_loop, num_steps - step, next_save - step,
                       progress_steps)
      loop_start = time.time()
      loss_sum, count = train_loop(tf.constant(loop_steps))
      step = int(optimizer.iterations.numpy())
      loss = float(loss_sum) / max(float(count), 1.0)
      elapsed = time.time() - start
      logger.info("step %d/%d (%.1f%%) | loss %.4f | lr %.3e | %.2f steps/s | elapsed %s "
                  "ETA %s", step, num_steps, 100.0 * step / num_steps, loss,
                  float(schedule(step)), loop_steps / (time.time() - loop_start),
                  seconds_to_str(elapsed), seconds_to_str(elapsed / step * (num_steps - step)))
      if step % config.save_checkpoints_steps == 0 or step >= num_steps:
        manager.save(checkpoint_number=step)
      # Loops sized to end about every PROGRESS_SECONDS at the measured rate.
      progress_steps = max(1, int(PROGRESS_SECONDS * step / (time.time() - start)))
    return loss

  def make_train_loop(self, num_steps: int):
    """(train_loop(n): n steps -> (loss sum, real examples), optimizer, schedule)."""
    config, strategy, model, tasks = self.config, self.strategy, self.model, self.tasks
    decay = config.layerwise_lr_decay
    multipliers = (layerwise_lr_multipliers(list(self.names), model.bert_config.num_hidden_layers,
                                            decay) if decay > 0 else None)
    schedule = WarmupPolynomialDecay(config.learning_rate, num_steps,
                                     config.warmup_proportion * num_steps, power=1.0)
    with distribution.precision_policy(config.mixed_precision), strategy.scope():
      base_optimizer = AdamWeightDecay(schedule, self.names,
                                       weight_decay_rate=config.weight_decay_rate,
                                       lr_multipliers=multipliers)
      optimizer = (tf_keras.mixed_precision.LossScaleOptimizer(base_optimizer)
                   if config.mixed_precision == "mixed_float16" else base_optimizer)
      optimizer.build(model.trainable_variables)
    dataset = self.preprocessor.dataset(self.data.train, config.train_batch_size,
                                        is_training=True, seed=self.seed)
    iterator = iter(strategy.experimental_distribute_dataset(dataset))
    variables = model.trainable_variables
    loss_scaling = config.mixed_precision == "mixed_float16"

    def forward_backward(batch):
      with tf.GradientTape() as tape:
        loss = total_loss(tasks, model(batch, training=True), batch, self.num_tasks)
        scaled = optimizer.get_scaled_loss(loss) if loss_scaling else loss
      grads = tape.gradient(scaled, variables)
      if loss_scaling:
        grads = optimizer.get_unscaled_gradients(grads)
      return [tf.convert_to_tensor(g) for g in grads], loss

    forward_backward = tf.function(
        forward_backward, jit_compile=distribution.use_jit_compile(config, strategy))

    def replica_step(batch):
      grads, loss = forward_backward(batch)
      grads = tf.distribute.get_replica_context().all_reduce("SUM", grads)
      clipped, _ = clip_by_global_norm(grads)
      optimizer.apply_gradients(zip(clipped, variables), skip_gradients_aggregation=True)
      real = tf.reduce_sum(tf.cast(batch["task_id"] < self.num_tasks, tf.float32))
      return loss, real

    @tf.function
    def train_loop(steps):
      loss_sum, count = tf.constant(0.0), tf.constant(0.0)
      for _ in tf.range(steps):
        loss, real = strategy.run(replica_step, args=(next(iterator),))
        loss_sum += strategy.reduce("SUM", loss, axis=None)
        count += strategy.reduce("SUM", real, axis=None)
      return loss_sum, count

    return train_loop, optimizer, schedule

  # --- prediction and evaluation --------------------------------------------------------

  def _distributed_predict(self, batch):
    """{task name: its head's outputs, `loss` and features without the task
    prefix}, plus `task_id`, for one batch; per-replica values."""
    return self.strategy.run(self._replica_predict, args=(batch,))

  def _replica_predict(self, batch):
    all_outputs = self.model(batch, training=False)
    results = {"task_id": batch["task_id"]}
    for task in self.tasks:
      prefix = task.name + "_"
      outputs = dict(all_outputs[task.name])
      outputs["loss"] = task.loss(outputs, batch)
      outputs.update({spec.name[len(prefix):]: batch[spec.name]
                      for spec in task.feature_specs()})
      results[task.name] = outputs
    return results

  def predict(self, task: Task, cached: CachedSplit, batch_size: int) -> Dict[str, np.ndarray]:
    """Per-example outputs of `task` on a cached split, padding dropped.

    Returns:
      The head's outputs, `loss`, and the task's features without the task
      prefix (`eid`, labels), as arrays whose first dimension is the example.
    """
    strategy = self.strategy
    dataset = self.preprocessor.dataset(cached, batch_size, is_training=False)
    collected: Dict[str, List[np.ndarray]] = {}
    for batch in strategy.experimental_distribute_dataset(dataset):
      outputs = self._predict_step(batch)
      for name, value in {**outputs[task.name], "task_id": outputs["task_id"]}.items():
        collected.setdefault(name, []).extend(
            t.numpy() for t in strategy.experimental_local_results(value))
    arrays = {name: np.concatenate(parts) for name, parts in collected.items()}
    keep = arrays.pop("task_id") == task.task_id
    return {name: array[keep] for name, array in arrays.items()}

  def evaluate(self) -> Results:
    """Scores every task's dev split(s) (the original's `evaluate`)."""
    results = {}
    for task in self.tasks:
      task_results = {}
      for split, prefix, cached in self.data.evals[task.name]:
        scorer = task.get_split_scorer(split, cached.task_metadata(task.name))
        scorer.update(self.predict(task, cached, self.config.eval_batch_size))
        task_results.update({prefix + k: v for k, v in scorer.get_results().items()})
      logger.info("%s: %s", task.name, format_results(task_results))
      results[task.name] = task_results
    return results

  def write_test_outputs(self) -> List[str]:
    """Predicts every test split and writes the task's test files."""
    written = []
    for task in self.tasks:
      for split, cached in self.data.tests.get(task.name, []):
        outputs = self.predict(task, cached, self.config.predict_batch_size)
        written += task.write_split_test_outputs(split, outputs, self.trial,
                                                 cached.task_metadata(task.name))
    for path in written:
      logger.info("wrote %s", path)
    return written


def checkpoints_in(directory: str) -> bool:
  return tf.io.gfile.isdir(directory) and tf.train.latest_checkpoint(directory) is not None


def _restore_task_files(config: FinetuningConfig, tasks: Sequence[Task]) -> None:
  """Evaluating a fine-tuned model: its tasks' own files (e.g. a tagging label
  mapping) come from its directory, so the data are read as the model was trained."""
  source = (config.trial_model_dir(1) if checkpoints_in(config.trial_model_dir(1))
            else config.init_checkpoint)
  if source and modeling.is_finetuned_dir(source):
    directory = source if tf.io.gfile.isdir(source) else os.path.dirname(source)
    for task in tasks:
      task.load_from_model_dir(directory)


def check_init_checkpoint_kept(config: FinetuningConfig) -> None:
  """Raises CheckpointError if training would replace the trial directory
  that holds `init_checkpoint` (e.g. `init_checkpoint` pointing at this run's
  `<model_dir>_1`, which trial 1 replaces and later trials would read)."""
  if not (config.do_train and config.init_checkpoint):
    return
  trial_dir = re.compile(re.escape(fileio.comparable_path(config.model_dir)) + r"_(\d+)")
  path = fileio.comparable_path(config.init_checkpoint)
  while True:
    match = trial_dir.fullmatch(path)
    if match and (config.num_trials < 0 or int(match.group(1)) <= config.num_trials):
      raise CheckpointError(
          f"init_checkpoint {config.init_checkpoint} is in {path}, the trial directory "
          "this run replaces with a new model: copy it elsewhere and point "
          "init_checkpoint at the copy, or set model_dir to another directory")
    parent = os.path.dirname(path)
    if not parent or parent == path:
      return
    path = parent


def prepare_run(config: FinetuningConfig):
  """Every check and all featurisation, before any model: (tasks, preprocessor, data).

  Raises:
    ConfigError, FinetuningDataError, CheckpointError, FileNotFoundError,
    ValueError: with what is wrong and what to do.
  """
  check_vocab_size(config.vocab_file, config.vocab_size)
  tokenizer = FullTokenizer(config.vocab_file, config.do_lower_case)
  require_tokens(tokenizer.vocab, ["[CLS]", "[SEP]"], config.vocab_file,
                 "which every fine-tuning input starts and ends with")
  tasks = registry.get_tasks(config, tokenizer)
  check_data_files(config, tasks)
  check_init_checkpoint_kept(config)
  if config.do_train or not checkpoints_in(config.trial_model_dir(1)):
    if config.init_checkpoint:
      modeling.check_init_checkpoint(config.init_checkpoint)
    elif not config.do_train:
      raise CheckpointError(
          f"do_train is false but there is nothing to evaluate: no checkpoint in "
          f"{config.trial_model_dir(1)} and no init_checkpoint; point init_checkpoint at "
          "a fine-tuned model directory")
  if not config.do_train:
    _restore_task_files(config, tasks)
  preprocessor = Preprocessor(config, tasks)
  data = prepare_data(config, tasks, preprocessor)
  if config.do_train and num_train_steps(data.train.num_records, config) <= 0:
    raise ConfigError(
        f"{data.train.num_records} training records in batches of {config.train_batch_size} "
        f"for {config.num_train_epochs} epochs is 0 steps; raise num_train_epochs")
  return tasks, preprocessor, data


def run_finetuning(config: FinetuningConfig,
                   strategy: Optional[tf.distribute.Strategy] = None) -> List[Results]:
  """Runs `num_trials` trials (the original's `run_finetuning`).

  Returns:
    The per-trial results ({task: {metric: value}}); empty without `do_eval`.
  """
  strategy = strategy or distribution.create_strategy(config)
  distribution.resolve_mixed_precision(config, strategy)
  tasks, preprocessor, data = prepare_run(config)
  replicas = strategy.num_replicas_in_sync
  for key in ("train_batch_size", "eval_batch_size", "predict_batch_size"):
    if getattr(config, key) % replicas:
      raise ConfigError(f"{key} {getattr(config, key)} cannot be split evenly over "
                        f"{replicas} replicas; use a multiple of {replicas}")
  results: List[Results] = []
  trial = 1
  while config.num_trials < 0 or trial <= config.num_trials:
    seed = (config.seed + trial - 1 if config.seed is not None
            else draw_seed())
    if config.seed is None:
      logger.info("trial %d: seed %d (drawn, as no seed was given; saved in its "
                  "finetune_config.json)", trial, seed)
    model_dir = config.trial_model_dir(trial)
    logger.info("=== trial %d/%s: %s", trial,
                config.num_trials if config.num_trials > 0 else "inf", model_dir)
    if config.do_train:
      # The previous model stays in model_dir until this one is trained and scored.
      with fileio.atomic_directory(model_dir) as work_dir:
        modeling.save_model_files(work_dir, dataclasses.replace(config, seed=seed), tasks)
        runner = ModelRunner(config, tasks, preprocessor, data, strategy, trial, seed,
                             model_dir=work_dir)
        runner.train()
        trial_results = runner.evaluate() if config.do_eval else None
    else:
      runner = ModelRunner(config, tasks, preprocessor, data, strategy, trial, seed)
      trial_results = runner.evaluate() if config.do_eval else None
    if config.do_eval:
      results.append(trial_results)
      write_results(config, results)
      if config.write_test_outputs and trial <= config.n_writes_test:
        runner.write_test_outputs()
    if config.do_train and trial != config.num_trials and not config.keep_all_models:
      shutil.rmtree(model_dir, ignore_errors=True)
    trial += 1
  if results:
    logger.info("results (%s):\n%s", config.results_txt, results_table(results))
  return results
