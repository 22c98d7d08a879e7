"""Exports a fine-tuned task model or a pre-trained discriminator as a SavedModel.

  # each task of a run_finetuning model (the last trial's directory)
  python export_saved_model.py \
      --model-dir DATA_DIR/models/MODEL/finetuning_models/sst_model_1 --export-dir exports
  # the pre-trained discriminator of a run_pretraining model dir
  python export_saved_model.py --model-dir DATA_DIR/models/MODEL --export-dir exports/electra
  # Google's released ELECTRA-Small (original TF1 checkpoint + vocab.txt)
  python export_saved_model.py --model-dir electra_small --export-dir exports/electra_small

A fine-tuned model writes one SavedModel per task, EXPORT_DIR/<task>/<version>/,
featurising text exactly as its fine-tuning run did (vocab, casing,
max_seq_length); a discriminator writes EXPORT_DIR/<version>/. The version
defaults to one more than the highest present. Signatures: `serving_default`
(raw text) and `serve_ids` (token ids), for TF Serving, tf.saved_model.load or
saved_model_cli; see electra_tf/serving.py. The logic is in electra_tf.serving
and finetune.modeling; this file parses flags and checks them before loading
any weights.
"""

import argparse
import os
import sys

import electra_tf  # noqa: F401  (sets Keras 2 before TensorFlow is imported)
from electra_tf import checkpoints, serving
from electra_tf.checkpoints import CheckpointError
from electra_tf.config import PretrainingConfig
from electra_tf.hparams import ConfigError, parse_hparams
from electra_tf.huggingface import read_json_object
from electra_tf.training import CONFIG_FILE as PRETRAIN_CONFIG_FILE
from finetune import modeling
from finetune.config import FINETUNE_CONFIG_FILE, FinetuningConfig

DEFAULT_MAX_SEQ_LENGTH = 128


def parse_args(argv):
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--model-dir", required=True,
                      help="a run_pretraining model dir (DATA_DIR/models/MODEL), an original "
                           "TF1 checkpoint dir (e.g. the released electra_small), an electra_tf "
                           "checkpoint from convert_checkpoint.py, a Hugging Face "
                           "ElectraForPreTraining dir, or a fine-tuned trial dir "
                           "(DATA_DIR/models/MODEL/finetuning_models/<tasks>_model_<trial>)")
  parser.add_argument("--export-dir", required=True,
                      help="base directory; the export goes to EXPORT_DIR/<version>/ "
                           "(fine-tuned models: EXPORT_DIR/<task>/<version>/)")
  parser.add_argument("--task", action="append", dest="tasks",
                      help="fine-tuned models: export this task (repeatable; default: all)")
  parser.add_argument("--version", type=int,
                      help="version number (default: one more than the highest in EXPORT_DIR)")
  parser.add_argument("--overwrite", action="store_true",
                      help="replace an existing non-empty version directory")
  parser.add_argument("--vocab-file",
                      help="WordPiece vocab (default: MODEL_DIR/vocab.txt, else the run's "
                           "vocab_file from pretrain_config.json)")
  parser.add_argument("--max-seq-length", type=int,
                      help="featurisation length of the text signature and longest id input "
                           f"(default: the run's max_seq_length, else {DEFAULT_MAX_SEQ_LENGTH})")
  parser.add_argument("--do-lower-case", dest="do_lower_case", action="store_true",
                      default=None, help="lower-case input text (default: the run's "
                      "do_lower_case, else true)")
  parser.add_argument("--no-lower-case", dest="do_lower_case", action="store_false",
                      default=None)
  parser.add_argument("--no-strip-accents", dest="strip_accents", action="store_false",
                      help="keep accents when lower-casing (the original's "
                           "--no-strip-accents at data preparation)")
  parser.add_argument("--hparams",
                      help="pre-training hparams (JSON object or .json file) for checkpoints "
                           "whose sizes cannot be inferred, as convert_checkpoint.py")
  return parser.parse_args(argv)


def main(argv=None) -> int:
  args = parse_args(sys.argv[1:] if argv is None else argv)
  try:
    if not os.path.isdir(args.model_dir):
      raise CheckpointError(f"model dir {args.model_dir!r} does not exist or is not a directory")
    if modeling.is_finetuned_dir(args.model_dir):
      export_finetuned(args)
    else:
      if args.tasks:
        raise ConfigError(f"--task applies to fine-tuned models; {args.model_dir} has no "
                          f"{FINETUNE_CONFIG_FILE}")
      export_discriminator(args)
  except (CheckpointError, ConfigError, serving.ExportError, FileNotFoundError, ValueError) as e:
    print(f"error: {e}", file=sys.stderr)
    return 1
  return 0


def export_finetuned(args) -> None:
  """EXPORT_DIR/<task>/<version>/ for each (chosen) task of a fine-tuned trial dir."""
  fixed = [flag for flag, value in (("--vocab-file", args.vocab_file),
                                    ("--max-seq-length", args.max_seq_length),
                                    ("--do-lower-case/--no-lower-case", args.do_lower_case),
                                    ("--hparams", args.hparams)) if value is not None]
  if fixed:
    raise ConfigError(f"{', '.join(fixed)}: a fine-tuned model serves with the vocab, casing "
                      f"and max_seq_length of its fine-tuning run ({FINETUNE_CONFIG_FILE}); "
                      "drop these flags")
  config = FinetuningConfig.from_dict(
      read_json_object(os.path.join(args.model_dir, FINETUNE_CONFIG_FILE)))
  task_names = args.tasks or config.task_names
  unknown = sorted(set(task_names) - set(config.task_names))
  if unknown:
    raise ConfigError(f"--task {unknown}: the model's tasks are {config.task_names}")
  checkpoints.resolve_checkpoint(args.model_dir)  # fails early without a checkpoint
  versions = {name: serving.resolve_version(os.path.join(args.export_dir, name), args.version,
                                            args.overwrite) for name in task_names}
  finetuned = modeling.load_finetuned_model(args.model_dir)
  print(f"loaded the fine-tuned model from {finetuned.checkpoint}")
  for exportable in modeling.task_exportables(finetuned, task_names, args.strip_accents):
    serving.export_saved_model(exportable, os.path.join(args.export_dir, exportable.name),
                               versions[exportable.name], args.overwrite)


def export_discriminator(args) -> None:
  """EXPORT_DIR/<version>/ of the pre-trained discriminator in MODEL_DIR."""
  hparams = parse_hparams(args.hparams)
  run_config = None
  config_path = os.path.join(args.model_dir, PRETRAIN_CONFIG_FILE)
  if os.path.exists(config_path):
    run_config = PretrainingConfig()
    run_config.update(read_json_object(config_path))
  if not os.path.exists(os.path.join(args.model_dir, "config.json")):
    checkpoints.resolve_checkpoint(args.model_dir)  # fails early without a checkpoint
  vocab_file = args.vocab_file or os.path.join(args.model_dir, "vocab.txt")
  if not args.vocab_file and not os.path.exists(vocab_file) and run_config is not None:
    vocab_file = run_config.vocab_file
  if not os.path.exists(vocab_file):
    raise FileNotFoundError(f"vocab file {vocab_file!r} does not exist; pass --vocab-file")
  version = serving.resolve_version(args.export_dir, args.version, args.overwrite)

  loaded = serving.load_discriminator(args.model_dir, hparams)
  print(f"loaded the discriminator from {loaded.source}")
  exportable = serving.discriminator_exportable(
      loaded.network, vocab_file=vocab_file,
      max_seq_length=args.max_seq_length or (
          run_config.max_seq_length if run_config else DEFAULT_MAX_SEQ_LENGTH),
      do_lower_case=args.do_lower_case if args.do_lower_case is not None else (
          run_config.do_lower_case if run_config else True),
      strip_accents=args.strip_accents,
      config={"pretraining": run_config.to_dict()} if run_config else None)
  serving.export_saved_model(exportable, args.export_dir, version, args.overwrite)


if __name__ == "__main__":
  sys.exit(main())
