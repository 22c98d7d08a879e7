"""Pre-trains (or evaluates) an ELECTRA model: the original's command line.

  python run_pretraining.py --data-dir DATA_DIR --model-name MODEL \
      [--hparams '{"model_size": "small", ...}' | --hparams hparams.json]

Reads DATA_DIR/pretrain_tfrecords/ and DATA_DIR/vocab.txt; writes checkpoints,
the resolved config and TensorBoard logs to DATA_DIR/models/MODEL/ and eval
results to DATA_DIR/models/MODEL/results/unsup_results.txt. Rerunning the same
command resumes from the latest checkpoint.
"""

import logging
import shutil
import sys

import electra_tf  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow loads)
from electra_tf import cli, distribution, pretrain_data
from electra_tf.config import PretrainingConfig
from electra_tf.hparams import ConfigError, parse_hparams
from electra_tf.training import Pretrainer


def main(argv=None) -> int:
  args = cli.parse_run_args(__doc__.splitlines()[0], (
      "The name of the model being pre-trained; checkpoints go to "
      "DATA_DIR/models/MODEL_NAME."), argv)
  cli.configure_logging()
  try:
    config = PretrainingConfig.create(args.model_name, args.data_dir,
                                      **parse_hparams(args.hparams))
    # Multi-worker and TPU strategies must exist before any TensorFlow op runs.
    strategy = distribution.create_strategy(config)
    distribution.check_batch_sizes(config, strategy.num_replicas_in_sync)
    pretrain_data.check_vocab_size(config.vocab_file, config.vocab_size)
    pretrain_data.validate_pretraining_data(config)
  except (ConfigError, pretrain_data.PretrainingDataError, FileNotFoundError, ValueError) as e:
    logging.error("error: %s", e)
    return 2
  if config.debug and config.do_train:
    # As the original: debug runs start from scratch.
    shutil.rmtree(config.model_dir, ignore_errors=True)

  def dataset_fn(input_context, batch_size, is_training):
    return pretrain_data.make_dataset(config, batch_size, is_training, input_context)

  trainer = Pretrainer(config, dataset_fn, strategy)
  if config.do_train:
    trainer.train()
  else:
    trainer.evaluate()
  return 0


if __name__ == "__main__":
  sys.exit(main())
