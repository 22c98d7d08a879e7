"""Exports a fine-tuned task model or a pre-trained discriminator as a SavedModel.

  # each task of a run_finetuning model (the last trial's directory)
  python export_saved_model.py \\
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
saved_model_cli; see docs/serving.md.
"""

import os
from typing import Optional, Sequence

from electra_tf import cli, fileio
from electra_tf.config.hparams import ConfigError, parse_hparams


def build_arg_parser():
  parser = cli.new_parser(__doc__)
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
                           "(default: the run's max_seq_length, else 128)")
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
  return parser


def _run(argv: Optional[Sequence[str]]) -> int:
  args = build_arg_parser().parse_args(argv)
  from electra_tf.checkpoints.original import \
    CheckpointError  # pylint: disable=import-outside-toplevel
  if not os.path.isdir(args.model_dir):
    raise CheckpointError(f"model dir {args.model_dir!r} does not exist or is not a directory")
  # --overwrite replaces a version directory, which could be the model's own.
  relation = args.overwrite and fileio.path_overlap(args.export_dir, args.model_dir)
  if relation in ("is", "contains"):
    raise ConfigError(f"--export-dir {args.export_dir} {relation} --model-dir "
                      f"{args.model_dir}; with --overwrite an export could replace the model "
                      "it reads: export to a directory outside the model dir")
  if os.path.exists(os.path.join(args.model_dir, fileio.FINETUNE_CONFIG_FILE)):
    fixed = [flag for flag, value in (("--vocab-file", args.vocab_file),
                                      ("--max-seq-length", args.max_seq_length),
                                      ("--do-lower-case/--no-lower-case", args.do_lower_case),
                                      ("--hparams", args.hparams)) if value is not None]
    if fixed:
      raise ConfigError(f"{', '.join(fixed)}: a fine-tuned model serves with the vocab, "
                        "casing and max_seq_length of its fine-tuning run "
                        f"({fileio.FINETUNE_CONFIG_FILE}); drop these flags")
    from finetune import serving  # pylint: disable=import-outside-toplevel
    serving.export_trial_dir(args.model_dir, args.export_dir, task_names=args.tasks,
                             version=args.version, overwrite=args.overwrite,
                             strip_accents=args.strip_accents)
    return 0
  if args.tasks:
    raise ConfigError(f"--task applies to fine-tuned models; {args.model_dir} has no "
                      f"{fileio.FINETUNE_CONFIG_FILE}")
  from electra_tf.serving import discriminator  # pylint: disable=import-outside-toplevel
  discriminator.export_discriminator(
      args.model_dir, args.export_dir, version=args.version, overwrite=args.overwrite,
      vocab_file=args.vocab_file, max_seq_length=args.max_seq_length,
      do_lower_case=args.do_lower_case, strip_accents=args.strip_accents,
      hparams=parse_hparams(args.hparams))
  return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
  return cli.run_main(_run, argv)
