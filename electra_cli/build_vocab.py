"""Learns a WordPiece vocab (with BERT's special tokens) from a corpus.

  python build_vocab.py --corpus-dir CORPUS --output-file VOCAB \\
      [--vocab-size 30522] [--no-lower-case] [--no-strip-accents] \\
      [--max-corpus-mb N] [--overwrite]

Not in the original, which used BERT's uncased vocab (shipped as
data/vocab.txt); see `data_prep.wordpiece`. Build the TFRecords with the same
lower-case and strip-accents flags.
"""

import os
import time
from typing import Optional, Sequence

from electra_tf import cli


def build_arg_parser():
  parser = cli.new_parser(__doc__)
  parser.add_argument("--corpus-dir", required=True,
                      help="Directory of text files (as for build_pretraining_dataset.py).")
  parser.add_argument("--output-file", required=True, help="Where to write vocab.txt.")
  parser.add_argument("--vocab-size", type=int, default=30522,
                      help="Exact number of tokens (BERT's is 30522).")
  cli.add_case_flags(parser)
  parser.add_argument("--max-corpus-mb", type=float, default=None,
                      help="Count words in at most this much text (default: all).")
  parser.add_argument("--overwrite", action="store_true",
                      help="Replace --output-file if it exists.")
  return parser


def _run(argv: Optional[Sequence[str]]) -> int:
  args = build_arg_parser().parse_args(argv)
  from data_prep import corpus, wordpiece  # pylint: disable=import-outside-toplevel
  from data_prep.corpus import DataPrepError  # pylint: disable=import-outside-toplevel
  from electra_tf import fileio  # pylint: disable=import-outside-toplevel
  from electra_tf.text.vocab import SPECIAL_TOKENS  # pylint: disable=import-outside-toplevel
  if args.vocab_size < len(SPECIAL_TOKENS) + 1:
    raise DataPrepError(f"--vocab-size must be more than {len(SPECIAL_TOKENS)}")
  if os.path.exists(args.output_file) and not args.overwrite:
    raise DataPrepError(f"{args.output_file!r} exists; pass --overwrite to replace it")
  output_dir = os.path.dirname(os.path.abspath(args.output_file))
  if not os.path.isdir(output_dir):
    raise DataPrepError(f"the directory of --output-file ({output_dir}) does not exist")
  files = corpus.list_corpus_files(args.corpus_dir)
  start = time.time()
  max_bytes = None if args.max_corpus_mb is None else int(args.max_corpus_mb * 1e6)
  word_counts = wordpiece.count_words(files, args.do_lower_case, args.strip_accents, max_bytes)
  print(f"Counted {sum(word_counts.values()):,} words ({len(word_counts):,} "
        f"distinct) in {time.time() - start:.1f}s; learning...", flush=True)
  vocab = wordpiece.learn_vocab(dict(word_counts), args.vocab_size)
  fileio.atomic_write(args.output_file, "".join(f"{token}\n" for token in vocab))
  num_unused = sum(1 for token in vocab if token.startswith("[unused"))
  rate = wordpiece.unknown_rate(args.output_file, files, args.do_lower_case, args.strip_accents)
  flags = (("" if args.do_lower_case else " --no-lower-case")
           + ("" if args.strip_accents else " --no-strip-accents"))
  print(f"Wrote {args.output_file}: {len(vocab):,} tokens ({len(vocab) - num_unused:,} "
        f"learned or special, {num_unused:,} [unusedN] filler) in "
        f"{time.time() - start:.1f}s; [UNK] rate on the first 2^20 characters of the corpus "
        f"{rate:.3%}.\nNext: build_pretraining_dataset.py --vocab-file "
        f"{args.output_file}{flags} ..., and pre-train with "
        f"--hparams '{{\"vocab_size\": {len(vocab)}}}'", flush=True)
  return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
  return cli.run_main(_run, argv)
