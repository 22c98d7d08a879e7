"""Converts ELECTRA checkpoints between the original's TF1 format, electra-tf's
TF2 format and Hugging Face directories.

  # Google's released ELECTRA-Small -> electra-tf (TF2) checkpoint
  python convert_checkpoint.py --input electra_small --output small_tf2 --to electra_tf
  # electra-tf checkpoint -> original format (for the original code or HF's converter)
  python convert_checkpoint.py --input small_tf2 --output small_tf1 --to original
  # Hugging Face discriminator (+ generator) -> original format
  python convert_checkpoint.py --input electra-small-discriminator \\
      --hf-generator electra-small-generator --output small_tf1 --to original

The logic is in `electra_tf.checkpoints.conversion`.
"""

from typing import Optional, Sequence

from electra_tf import cli
from electra_tf.checkpoints import conversion
from electra_tf.config.hparams import parse_hparams


def build_arg_parser():
  parser = cli.new_parser(__doc__)
  parser.add_argument("--input", required=True,
                      help="checkpoint prefix or directory (original or electra_tf), or a "
                           "Hugging Face directory with config.json and model.safetensors")
  parser.add_argument("--output", required=True,
                      help="output directory (must not exist or be empty, unless --overwrite)")
  parser.add_argument("--to", required=True, choices=conversion.OUTPUT_FORMATS,
                      help="original: name-based TF1 checkpoint with the original's variable "
                           "names; electra_tf: TF2 tf.train.Checkpoint plus model_spec.json")
  parser.add_argument("--from", dest="source_format", choices=conversion.FORMATS,
                      help="input format (default: detected)")
  parser.add_argument("--hf-generator", "--hf_generator", dest="hf_generator",
                      help="Hugging Face generator directory (ElectraForMaskedLM) to pair with "
                           "the discriminator given as --input: gives generator + discriminator")
  parser.add_argument("--hparams",
                      help="pre-training hparams as a JSON object or a .json file, as the "
                           "original's --hparams: override what is inferred from an original "
                           "checkpoint, or rebuild an electra_tf checkpoint without "
                           "model_spec.json")
  parser.add_argument("--global-step", "--global_step", dest="global_step", type=int,
                      help="global_step to write (default: the input's, if it has one)")
  parser.add_argument("--overwrite", action="store_true",
                      help="replace a non-empty output directory")
  return parser


def _run(argv: Optional[Sequence[str]]) -> int:
  args = build_arg_parser().parse_args(argv)
  hparams = parse_hparams(args.hparams)
  conversion.convert(
      args.input, args.output, args.to, source_format=args.source_format,
      generator_path=args.hf_generator, hparams=hparams, global_step=args.global_step,
      overwrite=args.overwrite)
  return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
  return cli.run_main(_run, argv)
