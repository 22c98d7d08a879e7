"""Learns a WordPiece vocabulary of a chosen size from a text corpus.

Not in the original, which used BERT's uncased vocab (shipped as
data/vocab.txt). For another language or domain:

  python build_vocab.py --corpus-dir CORPUS --output-file VOCAB \\
      [--vocab-size 30522] [--no-lower-case] [--no-strip-accents] \\
      [--max-corpus-mb N] [--overwrite]

Words are split exactly as the tokenizer will split them (the original's
BasicTokenizer with the same lower-case and strip-accents flags), counted,
and fed to tensorflow-text's WordPiece learner (the algorithm behind
`bert_vocab_from_dataset`, which would otherwise split words with its own,
different normalisation). The vocab starts with [PAD] (id 0, the pad id the
TFRecords use), [UNK], [CLS], [SEP], [MASK], then every character, alone and
as a `##` suffix, then the learned pieces; the learner aims at or below the
size, and `[unusedN]` entries (as in BERT's vocab) fill it to exactly
`--vocab-size`, so `vocab_size` in the hparams is the number you chose. The
file is written atomically. Build the TFRecords with the same lower-case and
strip-accents flags.
"""

import argparse
import collections
import os
import sys
import time
from typing import Dict, List, Optional, Sequence

from data_prep import build_pretraining_dataset, corpus
from data_prep.corpus import DataPrepError
from electra_tf.tokenization import BasicTokenizer, FullTokenizer
from electra_tf.vocab import SPECIAL_TOKENS

# Text used to report the new vocab's [UNK] rate.
_UNK_SAMPLE_BYTES = 1 << 20


def count_words(files: Sequence[str], do_lower_case: bool, strip_accents: bool,
                max_bytes: Optional[int] = None) -> collections.Counter:
  """Word -> count over the files, words split as the tokenizer splits them."""
  tokenizer = BasicTokenizer(do_lower_case, strip_accents)
  counts: collections.Counter = collections.Counter()
  bytes_read = 0
  for path in files:
    reason = corpus.binary_file_reason(path)
    if reason:
      print(f"WARNING: skipping {path}: {reason}", flush=True)
      continue
    read = corpus.ReadCounts()
    for lines in corpus.read_line_blocks(path, read):
      counts.update(tokenizer.tokenize("\n".join(lines)))
      if max_bytes is not None and bytes_read + read.bytes_read >= max_bytes:
        return counts
    bytes_read += read.bytes_read
  return counts


def learn_vocab(word_counts: Dict[str, int], vocab_size: int) -> List[str]:
  """WordPiece vocab of exactly `vocab_size` tokens, special tokens first.

  Raises:
    DataPrepError: the size cannot hold the special tokens and the corpus'
      characters.
  """
  from tensorflow_text.tools.wordpiece_vocab import wordpiece_tokenizer_learner_lib as learner  # pylint: disable=g-import-not-at-top
  if not word_counts:
    raise DataPrepError("the corpus has no words to learn a vocab from")
  vocab = learner.learn(word_counts, vocab_size, list(SPECIAL_TOKENS))
  if len(vocab) > vocab_size:
    raise DataPrepError(
        f"--vocab-size {vocab_size} is too small: the special tokens and the "
        f"corpus' characters (alone and as ## suffixes) already take "
        f"{len(vocab)} entries; choose at least {len(vocab)}")
  existing = set(vocab)
  padding = (f"[unused{i}]" for i in range(vocab_size * 2) if f"[unused{i}]" not in existing)
  return vocab + [next(padding) for _ in range(vocab_size - len(vocab))]


def unknown_rate(vocab_file: str, files: Sequence[str], do_lower_case: bool,
                 strip_accents: bool) -> float:
  """Share of [UNK] tokens in the first MiB of the corpus with this vocab."""
  tokenizer = FullTokenizer(vocab_file, do_lower_case, strip_accents)
  unk = tokenizer.vocab["[UNK]"]
  lines: List[str] = []
  size = 0
  for path in files:
    for block in corpus.read_line_blocks(path, corpus.ReadCounts()):
      lines.extend(block)
      size += sum(map(len, block))
      if size >= _UNK_SAMPLE_BYTES:
        break
    if size >= _UNK_SAMPLE_BYTES:
      break
  ids = [i for encoded in tokenizer.encode_batch([l for l in lines if l]) for i in encoded]
  return sum(1 for i in ids if i == unk) / max(len(ids), 1)


def build_arg_parser() -> argparse.ArgumentParser:
  parser = argparse.ArgumentParser(
      description="Learns a WordPiece vocab (with BERT's special tokens) from a corpus.")
  parser.add_argument("--corpus-dir", required=True,
                      help="Directory of text files (as for build_pretraining_dataset.py).")
  parser.add_argument("--output-file", required=True, help="Where to write vocab.txt.")
  parser.add_argument("--vocab-size", type=int, default=30522,
                      help="Exact number of tokens (default 30522, as BERT's).")
  build_pretraining_dataset.add_case_flags(parser)
  parser.add_argument("--max-corpus-mb", type=float, default=None,
                      help="Count words in at most this much text (default: all).")
  parser.add_argument("--overwrite", action="store_true",
                      help="Replace --output-file if it exists.")
  return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
  args = build_arg_parser().parse_args(argv)
  try:
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
    word_counts = count_words(files, args.do_lower_case, args.strip_accents, max_bytes)
    print(f"Counted {sum(word_counts.values()):,} words ({len(word_counts):,} "
          f"distinct) in {time.time() - start:.1f}s; learning...", flush=True)
    vocab = learn_vocab(dict(word_counts), args.vocab_size)
  except DataPrepError as e:
    print(f"error: {e}", file=sys.stderr, flush=True)
    return 1
  corpus.write_atomically(args.output_file, "".join(f"{token}\n" for token in vocab))
  num_unused = sum(1 for token in vocab if token.startswith("[unused"))
  rate = unknown_rate(args.output_file, files, args.do_lower_case, args.strip_accents)
  flags = (("" if args.do_lower_case else " --no-lower-case")
           + ("" if args.strip_accents else " --no-strip-accents"))
  print(f"Wrote {args.output_file}: {len(vocab):,} tokens ({len(vocab) - num_unused:,} "
        f"learned or special, {num_unused:,} [unusedN] filler) in "
        f"{time.time() - start:.1f}s; [UNK] rate on the first MiB of the corpus "
        f"{rate:.3%}.\nNext: build_pretraining_dataset.py --vocab-file "
        f"{args.output_file}{flags} ..., and pre-train with "
        f"--hparams '{{\"vocab_size\": {len(vocab)}}}'", flush=True)
  return 0


if __name__ == "__main__":
  sys.exit(main())
