"""Writes text files as TFRecords that ELECTRA can be pre-trained on.

  python build_pretraining_dataset.py --corpus-dir CORPUS --vocab-file VOCAB \\
      --output-dir OUT [--max-seq-length 128] [--num-processes 1] \\
      [--blanks-separate-docs true] [--no-lower-case] [--no-strip-accents] \\
      [--seed N] [--num-out-files 1000]

The original's command line and output (shards
`pretrain_data.tfrecord-{i}-of-{n}`); see `data_prep.pretraining_dataset`.
"""

import argparse
from typing import Optional, Sequence

from electra_tf import cli


def add_common_flags(parser: argparse.ArgumentParser) -> None:
  """Flags shared with the OpenWebText builder, with the original's defaults."""
  parser.add_argument("--max-seq-length", default=128, type=int,
                      help="Number of tokens per example.")
  parser.add_argument("--num-processes", default=1, type=int,
                      help="Parallelize across multiple processes.")
  cli.add_case_flags(parser)
  parser.add_argument("--seed", type=int, default=None,
                      help="Random seed for reproducible builds (not in the "
                      "original, which was unseeded); default: drawn and logged.")
  parser.add_argument("--num-out-files", type=int, default=1000,
                      help="Number of output shards (the original's fixed 1000).")


def build_arg_parser() -> argparse.ArgumentParser:
  parser = cli.new_parser(__doc__)
  parser.add_argument("--corpus-dir", required=True,
                      help="Location of pre-training text files.")
  parser.add_argument("--vocab-file", required=True,
                      help="Location of vocabulary file.")
  parser.add_argument("--output-dir", required=True,
                      help="Where to write out the tfrecords (cleared first).")
  parser.add_argument("--blanks-separate-docs", default=True, type=cli.parse_bool,
                      help="Whether blank lines indicate document boundaries (true/false).")
  add_common_flags(parser)
  return parser


def _run(argv: Optional[Sequence[str]]) -> int:
  args = build_arg_parser().parse_args(argv)
  from data_prep import corpus, pretraining_dataset  # pylint: disable=import-outside-toplevel
  options = pretraining_dataset.BuildOptions(
      vocab_file=args.vocab_file, output_dir=args.output_dir,
      max_seq_length=args.max_seq_length, num_processes=args.num_processes,
      num_out_files=args.num_out_files, blanks_separate_docs=args.blanks_separate_docs,
      do_lower_case=args.do_lower_case, strip_accents=args.strip_accents, seed=args.seed)
  files = corpus.list_corpus_files(args.corpus_dir)
  pretraining_dataset.build(options, files, protected_dirs=[args.corpus_dir])
  return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
  return cli.run_main(_run, argv)
