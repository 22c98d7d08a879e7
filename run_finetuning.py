"""Fine-tunes (and evaluates) an ELECTRA model: the original's command line.

  python run_finetuning.py --data-dir DATA_DIR --model-name MODEL \
      --hparams '{"model_size": "small", "task_names": ["rte", "sts"], ...}'

Reads DATA_DIR/finetuning_data/<task>/*.tsv, the vocabulary
DATA_DIR/models/MODEL/vocab.txt (else DATA_DIR/vocab.txt) and, by default,
the pre-trained checkpoint in DATA_DIR/models/MODEL (hparam init_checkpoint:
ours, the original's TF1 format, a Hugging Face directory, or null). Writes
fine-tuned models to DATA_DIR/models/MODEL/finetuning_models/<tasks>_model_<trial>,
dev results to DATA_DIR/models/MODEL/results/<tasks>_results.{txt,pkl} and,
with write_test_outputs, test predictions to DATA_DIR/models/MODEL/test_predictions/.
"""

import logging
import sys

import electra_tf  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow loads)
from electra_tf import cli
from electra_tf.checkpoints import CheckpointError
from electra_tf.hparams import ConfigError, parse_hparams
from finetune.config import FinetuningConfig
from finetune.runner import run_finetuning
from finetune.task import FinetuningDataError


def main(argv=None) -> int:
  args = cli.parse_run_args(__doc__.splitlines()[0],
                            "The name of the model being fine-tuned.", argv)
  cli.configure_logging()
  try:
    config = FinetuningConfig.create(args.model_name, args.data_dir,
                                     **parse_hparams(args.hparams))
    run_finetuning(config)
  except (ConfigError, FinetuningDataError, CheckpointError, FileNotFoundError) as e:
    logging.error("error: %s", e)
    return 2
  return 0


if __name__ == "__main__":
  sys.exit(main())
