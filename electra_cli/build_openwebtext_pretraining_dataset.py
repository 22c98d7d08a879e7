"""Preprocesses the OpenWebText corpus for ELECTRA pre-training.

  python build_openwebtext_pretraining_dataset.py --data-dir DATA_DIR \\
      [--max-seq-length 128] [--num-processes 5] [--no-lower-case] ...

Expects DATA_DIR/vocab.txt and DATA_DIR/openwebtext/*.xz; writes
DATA_DIR/pretrain_tfrecords/ (the original's command line); see
`data_prep.openwebtext`.
"""

import functools
import os
from typing import Optional, Sequence

from electra_cli.build_pretraining_dataset import add_common_flags
from electra_tf import cli, fileio


def build_arg_parser():
  parser = cli.new_parser(__doc__)
  parser.add_argument("--data-dir", required=True,
                      help="Location of data (vocab file, corpus, etc).")
  add_common_flags(parser)
  return parser


def _run(argv: Optional[Sequence[str]]) -> int:
  args = build_arg_parser().parse_args(argv)
  from data_prep import openwebtext, pretraining_dataset  # pylint: disable=import-outside-toplevel
  from data_prep.corpus import DataPrepError  # pylint: disable=import-outside-toplevel
  owt_dir = os.path.join(args.data_dir, "openwebtext")
  tmp_root = os.path.join(args.data_dir, "tmp")
  options = pretraining_dataset.BuildOptions(
      vocab_file=os.path.join(args.data_dir, fileio.VOCAB_FILE),
      output_dir=os.path.join(args.data_dir, "pretrain_tfrecords"),
      max_seq_length=args.max_seq_length, num_processes=args.num_processes,
      num_out_files=args.num_out_files, blanks_separate_docs=False,
      do_lower_case=args.do_lower_case, strip_accents=args.strip_accents, seed=args.seed)
  tmp_root_existed = os.path.isdir(tmp_root)
  try:
    if not os.path.isdir(args.data_dir):
      raise DataPrepError(f"--data-dir {args.data_dir!r} is not a directory")
    archives = openwebtext.list_archives(owt_dir)
    pretraining_dataset.build(
        options, archives, protected_dirs=[owt_dir, tmp_root],
        job_fn=functools.partial(openwebtext.write_archives_job, tmp_root=tmp_root))
  finally:
    if not tmp_root_existed and os.path.isdir(tmp_root) and not os.listdir(tmp_root):
      os.rmdir(tmp_root)
  return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
  return cli.run_main(_run, argv)
