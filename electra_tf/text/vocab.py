"""WordPiece vocabulary files and the special-token ids the objective needs."""

import dataclasses
import os
from typing import Dict, Sequence

from electra_tf.config.hparams import ConfigError

SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")


def load_vocab(vocab_file: str) -> Dict[str, int]:
  """Reads one token per line; the id is the line index (as BERT's `load_vocab`).

  Raises:
    FileNotFoundError: the file does not exist.
    ConfigError: the file is empty or not UTF-8.
  """
  remote = "://" in vocab_file  # gs:// etc., e.g. for TPUs (original issue #50)
  if remote:
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    exists, open_file = tf.io.gfile.exists(vocab_file), tf.io.gfile.GFile
  else:
    exists, open_file = os.path.isfile(vocab_file), open
  if not exists:
    raise FileNotFoundError(
        f"vocab file {vocab_file!r} does not exist; put a WordPiece vocab there or point "
        "the command at one (the BERT uncased vocab ships as data/vocab.txt)")
  vocab: Dict[str, int] = {}
  try:
    with open_file(vocab_file, "rb") as f:
      lines = f.read().decode("utf-8").split("\n")
  except UnicodeDecodeError as e:
    raise ConfigError(f"vocab file {vocab_file!r} is not UTF-8: {e}") from e
  if lines[-1] == "":
    lines.pop()  # after the final newline
  for index, line in enumerate(lines):
    vocab[line.strip()] = index  # a duplicated token keeps its last id, as BERT's
  if not vocab:
    raise ConfigError(f"vocab file {vocab_file!r} is empty")
  return vocab


def require_tokens(vocab: Dict[str, int], tokens: Sequence[str], vocab_file: str,
                   why: str) -> None:
  """Raises ConfigError naming the `tokens` missing from `vocab` and `why` they are needed."""
  missing = [token for token in tokens if token not in vocab]
  if missing:
    raise ConfigError(f"vocab file {vocab_file!r} lacks {' and '.join(missing)}, {why}; use "
                      "a WordPiece vocab that has them, e.g. the model's own")


@dataclasses.dataclass(frozen=True)
class SpecialTokenIds:
  """Ids of the tokens masking treats specially. BERT uncased: 0,100,101,102,103."""
  pad: int = 0
  unk: int = 100
  cls: int = 101
  sep: int = 102
  mask: int = 103

  @classmethod
  def from_vocab(cls, vocab: Dict[str, int], vocab_file: str = "vocab") -> "SpecialTokenIds":
    missing = [t for t in SPECIAL_TOKENS if t not in vocab]
    if missing:
      raise ConfigError(
          f"{vocab_file} lacks the special tokens {missing}; ELECTRA needs a "
          "WordPiece vocab with [PAD], [UNK], [CLS], [SEP] and [MASK] (a "
          "SentencePiece vocab will not work, cf. original issue #8)")
    return cls(pad=vocab["[PAD]"], unk=vocab["[UNK]"], cls=vocab["[CLS]"],
               sep=vocab["[SEP]"], mask=vocab["[MASK]"])

  @classmethod
  def from_vocab_file(cls, vocab_file: str) -> "SpecialTokenIds":
    return cls.from_vocab(load_vocab(vocab_file), vocab_file)


def check_vocab_size(vocab_file: str, vocab_size: int) -> None:
  """The vocab file must have exactly `vocab_size` entries (its line count).

  Raises:
    ConfigError: saying both numbers and which hparam to set.
    FileNotFoundError: the vocab file is missing.
  """
  num_tokens = max(load_vocab(vocab_file).values()) + 1
  if num_tokens != vocab_size:
    raise ConfigError(
        f"vocab file {vocab_file} has {num_tokens} tokens but vocab_size is "
        f"{vocab_size}; set the hparam vocab_size to {num_tokens} (\"vocab_size\": "
        f"{num_tokens} in --hparams) or use the vocab the model was built with")
