"""Learns a WordPiece vocabulary of a chosen size from a text corpus
(the library behind `build_vocab.py`).

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

import collections
from typing import Dict, List, Optional, Sequence

from data_prep import corpus
from data_prep.corpus import DataPrepError
from electra_tf.text.tokenization import BasicTokenizer, FullTokenizer
from electra_tf.text.vocab import SPECIAL_TOKENS

# Text used to report the new vocab's [UNK] rate.
_UNK_SAMPLE_CHARS = 1 << 20


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
  from tensorflow_text.tools.wordpiece_vocab import \
    wordpiece_tokenizer_learner_lib as learner  # pylint: disable=g-import-not-at-top
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
  """Share of [UNK] tokens in the corpus' first 2^20 characters (whole lines) with this vocab."""
  tokenizer = FullTokenizer(vocab_file, do_lower_case, strip_accents)
  unk = tokenizer.vocab["[UNK]"]
  lines: List[str] = []
  size = 0
  for path in files:
    for block in corpus.read_line_blocks(path, corpus.ReadCounts()):
      lines.extend(block)
      size += sum(map(len, block))
      if size >= _UNK_SAMPLE_CHARS:
        break
    if size >= _UNK_SAMPLE_CHARS:
      break
  ids = [i for encoded in tokenizer.encode_batch([l for l in lines if l]) for i in encoded]
  return sum(1 for i in ids if i == unk) / max(len(ids), 1)
