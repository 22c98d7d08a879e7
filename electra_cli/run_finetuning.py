"""Fine-tunes (and evaluates) an ELECTRA model: the original's command line.

  python run_finetuning.py --data-dir DATA_DIR --model-name MODEL \\
      --hparams '{"model_size": "small", "task_names": ["rte", "sts"], ...}'

Reads DATA_DIR/finetuning_data/<task>/*.tsv, the vocabulary
DATA_DIR/models/MODEL/vocab.txt (else DATA_DIR/vocab.txt) and, by default,
the pre-trained checkpoint in DATA_DIR/models/MODEL (hparam init_checkpoint:
ours, the original's TF1 format, a Hugging Face directory, or null). Writes
fine-tuned models to DATA_DIR/models/MODEL/finetuning_models/<tasks>_model_<trial>,
dev results to DATA_DIR/models/MODEL/results/<tasks>_results.{txt,pkl} and,
with write_test_outputs, test predictions to DATA_DIR/models/MODEL/test_predictions/.
"""

from typing import Optional, Sequence

from electra_tf import cli
from electra_tf.config.help import format_hparam_help
from electra_tf.config.hparams import parse_hparams


def build_arg_parser():
  from finetune.config import FinetuningConfig  # pylint: disable=import-outside-toplevel
  epilog = ("hparams (--hparams JSON keys), grouped as the original's configure_finetuning.py, "
            "with their defaults:\n\n" + format_hparam_help(FinetuningConfig))
  parser = cli.new_parser(__doc__, epilog)
  cli.add_run_flags(parser, "The name of the model being fine-tuned.")
  return parser


def _run(argv: Optional[Sequence[str]]) -> int:
  args = build_arg_parser().parse_args(argv)
  cli.configure_logging()
  from finetune.config import FinetuningConfig  # pylint: disable=import-outside-toplevel
  from finetune.runner import run_finetuning  # pylint: disable=import-outside-toplevel
  config = FinetuningConfig.create(args.model_name, args.data_dir,
                                   **parse_hparams(args.hparams))
  run_finetuning(config)
  return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
  return cli.run_main(_run, argv)
