"""Pre-trains (or evaluates) an ELECTRA model: the original's command line.

  python run_pretraining.py --data-dir DATA_DIR --model-name MODEL \\
      [--hparams '{"model_size": "small", ...}' | --hparams hparams.json ...]

Rerunning the same command resumes from the latest checkpoint. The hparams
and their defaults are listed below the flags.
"""

import shutil
from typing import Optional, Sequence

from electra_tf import cli
from electra_tf.config.help import format_hparam_help
from electra_tf.config.hparams import parse_hparams
from electra_tf.config.pretraining import PretrainingConfig

DATA_DIR_LAYOUT = """\
data-dir layout (as the original's):
  DATA_DIR/vocab.txt                           the WordPiece vocab (build_vocab.py, or Google's)
  DATA_DIR/pretrain_tfrecords/pretrain_data.tfrecord-*-of-*
                                               the input (build_pretraining_dataset.py)
  DATA_DIR/models/MODEL/                       checkpoints, pretrain_config.json (the resolved
                                               config), TensorBoard logs
  DATA_DIR/models/MODEL/results/unsup_results.{txt,pkl}
                                               eval results
"""


def build_arg_parser():
  epilog = (DATA_DIR_LAYOUT + "\nhparams (--hparams JSON keys), grouped as the original's "
            "configure_pretraining.py, with their defaults:\n\n"
            + format_hparam_help(PretrainingConfig))
  parser = cli.new_parser(__doc__, epilog)
  cli.add_run_flags(parser, "The name of the model being pre-trained; checkpoints go to "
                            "DATA_DIR/models/MODEL_NAME.")
  return parser


def _run(argv: Optional[Sequence[str]]) -> int:
  args = build_arg_parser().parse_args(argv)
  cli.configure_logging()
  config = PretrainingConfig.create(args.model_name, args.data_dir,
                                    **parse_hparams(args.hparams))
  # Imported after the config checks: TensorFlow takes seconds to load.
  from electra_tf.pretraining import pretrain_data  # pylint: disable=import-outside-toplevel
  from electra_tf.pretraining.trainer import Pretrainer  # pylint: disable=import-outside-toplevel
  from electra_tf.text.vocab import check_vocab_size  # pylint: disable=import-outside-toplevel
  from electra_tf.training import distribution  # pylint: disable=import-outside-toplevel

  # Multi-worker and TPU strategies must exist before any TensorFlow op runs.
  strategy = distribution.create_strategy(config)
  distribution.check_batch_sizes(config, strategy.num_replicas_in_sync)
  check_vocab_size(config.vocab_file, config.vocab_size)
  pretrain_data.validate_pretraining_data(config)
  if config.debug and config.do_train:
    # As the original: debug runs start from scratch.
    shutil.rmtree(config.model_dir, ignore_errors=True)

  # Read before the trainer fills in a seed it draws or a resumed run saved:
  # only a seed the user gave fixes the training input's order.
  seed_given = config.seed is not None

  def dataset_fn(input_context, batch_size, is_training):
    return pretrain_data.make_dataset(config, batch_size, is_training, input_context,
                                      seeded_order=seed_given)

  trainer = Pretrainer(config, dataset_fn, strategy)
  if config.do_train:
    trainer.train()
  else:
    trainer.evaluate()
  return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
  return cli.run_main(_run, argv)
