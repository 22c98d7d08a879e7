"""BERT WordPiece tokenization with the original ELECTRA semantics, made fast.

The original (`model/tokenization.py`) is BERT's
pure-Python `FullTokenizer`. `FullTokenizer` here gives the same token ids,
10-20x faster (bench/data_prep_throughput.py), by splitting the work:

1. Text normalisation in Python, on a whole batch of lines at once with
   C-speed `str` methods: delete code point 0, U+FFFD and control characters
   (category C* except tab, newline, carriage return); lower-case with
   `str.lower`; NFD-normalise and delete category Mn marks (accents) only when
   lower-casing and `strip_accents`.
2. tensorflow-text's `FastBertTokenizer`, without its own normalisation, for
   CJK spacing, whitespace and punctuation splitting and greedy longest-match
   WordPiece.

Fix-ups where tensorflow-text's semantics differ from the original, each
checked code point by code point against the pure-Python reference (tests):

- FastBertTokenizer treats control characters as whitespace; the original
  deletes them (so "a\\x00b" is one word). Step 1 deletes them first.
- FastBertTokenizer lower-cases, NFD-normalises and strips accents with its
  own tables and only all together (`lower_case_nfd_strip_accents`); the
  original uses Python's `str.lower` and `unicodedata`, and can lower-case
  without stripping accents. Step 1 does it the original's way.
- The original maps a word longer than 200 characters to [UNK]; tensorflow-text
  limits bytes, not characters. Such words are replaced by a one-character
  word that cannot be segmented, which FastBertTokenizer maps to one [UNK].
- FastBertTokenizer rejects a vocab with duplicate tokens and mis-tokenizes
  with empty or whitespace-containing entries; the original keeps the last id
  of a duplicate and can never produce the others. Such entries become
  placeholders that no word can match, so every id keeps its meaning.

`ReferenceFullTokenizer` is Model Garden's pure-Python FullTokenizer adjusted
to the original (slow; for tests and benchmarks). `BasicTokenizer` is the
original's word splitter (no WordPiece), used to learn vocabularies and later to
align answers in question answering.
"""

import functools
import re
import unicodedata
from typing import Dict, Iterable, List, Sequence, Union

from electra_tf.text.vocab import load_vocab, require_tokens

# The original's WordpieceTokenizer default (Model Garden's is 400).
MAX_INPUT_CHARS_PER_WORD = 200
UNK_TOKEN = "[UNK]"
UNK_NEEDED_FOR = "which WordPiece needs for unknown words"

# CJK ideograph blocks that BERT surrounds with spaces (BasicTokenizer).
_CJK_RANGES = ((0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF),
               (0x2A700, 0x2B73F), (0x2B740, 0x2B81F), (0x2B820, 0x2CEAF),
               (0xF900, 0xFAFF), (0x2F800, 0x2FA1F))
# ASCII characters that are not letters or digits count as punctuation in BERT,
# even "$", "^" and "`", which Unicode does not call punctuation.
_ASCII_PUNCTUATION_RANGES = ((33, 47), (58, 64), (91, 96), (123, 126))
# Characters per tensorflow-text call: tens of thousands of lines amortise
# its per-call overhead; larger batches only cost memory.
_BATCH_CHARS = 1 << 20


@functools.lru_cache(maxsize=None)
def _is_deleted_char(char: str) -> bool:
  """True for the characters BERT's `_clean_text` deletes."""
  if char in "\t\n\r":
    return False
  return char in "\x00\ufffd" or unicodedata.category(char).startswith("C")


@functools.lru_cache(maxsize=None)
def _is_accent_mark(char: str) -> bool:
  return unicodedata.category(char) == "Mn"


def _delete_chars(text: str, predicate) -> str:
  # Text rarely holds more than a few distinct offending characters, and one
  # `str.replace` per character runs at memory speed, much faster than
  # `str.translate` with a dict; for many distinct ones translate wins.
  offending = [char for char in set(text) if predicate(char)]
  if len(offending) > 8:
    return text.translate(dict.fromkeys(map(ord, offending)))
  for char in offending:
    text = text.replace(char, "")
  return text


# The ASCII characters `_is_deleted_char` deletes, for `str.translate`, which
# is fastest on ASCII text.
_ASCII_DELETIONS = dict.fromkeys(
    code for code in range(128) if _is_deleted_char(chr(code)))


def normalize_text(text: str, do_lower_case: bool = True,
                   strip_accents: bool = True) -> str:
  """The original's character-level normalisation, on any amount of text.

  Deletes code point 0, U+FFFD and control characters (category C* except
  tab, newline and carriage return); then, if `do_lower_case`, lower-cases and,
  if also `strip_accents`, NFD-normalises and deletes combining marks (Mn).
  Whitespace, CJK and punctuation splitting are left to the caller. Applying
  this to several lines joined by "\\n" equals applying it line by line.
  """
  if text.isascii():
    text = text.translate(_ASCII_DELETIONS)
  else:
    text = _delete_chars(text, _is_deleted_char)
  if do_lower_case:
    text = text.lower()
    if strip_accents and not text.isascii():
      text = _delete_chars(unicodedata.normalize("NFD", text), _is_accent_mark)
  return text


def _ranges_to_class(ranges: Iterable[Sequence[int]]) -> str:
  """Code point ranges -> the body of a regex character class."""
  parts = []
  for start, end in ranges:
    parts.append(re.escape(chr(start)) if start == end
                 else f"{re.escape(chr(start))}-{re.escape(chr(end))}")
  return "".join(parts)


@functools.lru_cache(maxsize=None)
def split_char_ranges() -> List[List[int]]:
  """Inclusive code point ranges of the characters that always form a word on
  their own: BERT's punctuation (ASCII non-alphanumerics and every Unicode
  category P*) and CJK ideographs. Built once by scanning all code points
  (~0.3 s)."""
  ranges: List[List[int]] = [list(r) for r in _ASCII_PUNCTUATION_RANGES]
  ranges += [list(r) for r in _CJK_RANGES]
  for code_point in range(128, 0x110000):
    if unicodedata.category(chr(code_point)).startswith("P"):
      if ranges[-1][1] == code_point - 1:
        ranges[-1][1] = code_point
      else:
        ranges.append([code_point, code_point])
  return ranges


@functools.lru_cache(maxsize=None)
def _split_class() -> str:
  """Regex class body of `split_char_ranges`."""
  return _ranges_to_class(split_char_ranges())


@functools.lru_cache(maxsize=None)
def _word_pattern() -> "re.Pattern":
  """Matches one BERT basic token in normalised text."""
  split = _split_class()
  return re.compile(f"[{split}]|[^\\s{split}]+")


class BasicTokenizer:
  """The original's BasicTokenizer: normalisation and word splitting.

  Splits on whitespace, puts every punctuation character and CJK ideograph in
  its own word; no WordPiece. Same output as BERT's BasicTokenizer with the
  original's `strip_accents` toggle.
  """

  def __init__(self, do_lower_case: bool = True, strip_accents: bool = True):
    self.do_lower_case = do_lower_case
    self.strip_accents = strip_accents

  def tokenize(self, text: str) -> List[str]:
    text = normalize_text(text, self.do_lower_case, self.strip_accents)
    return _word_pattern().findall(text)


def _unreachable_token(index: int) -> str:
  # A vocab entry no input word can equal: basic tokens never mix punctuation
  # with other characters, and never contain a space.
  return f"[electra_tf unreachable {index}]"


def _fast_wordpiece_vocab(vocab: Dict[str, int]) -> List[str]:
  """The id-ordered token list for tensorflow-text, keeping every id's meaning.

  Entries the original can never emit (the earlier copies of a duplicated
  token; empty lines; tokens with whitespace or deleted control characters)
  become unreachable placeholders, because FastBertTokenizer rejects
  duplicates and misparses the others.
  """
  size = max(vocab.values()) + 1
  tokens = [_unreachable_token(i) for i in range(size)]
  for token, index in vocab.items():
    if token and not any(c.isspace() or _is_deleted_char(c) for c in token):
      tokens[index] = token
  return tokens


def _pick_unknown_word_char(vocab: Dict[str, int]) -> str:
  """A letter that appears in no vocab token, so as a word it becomes [UNK].

  Letters (category Lo) are neither punctuation, whitespace, CJK nor removed by
  normalisation, so tensorflow-text treats the character as a one-character
  word and, with no vocab entry starting with it, emits exactly one [UNK].
  """
  used = set("".join(vocab))
  for code_point in range(0xA500, 0x110000):  # Vai and later scripts
    char = chr(code_point)
    if (unicodedata.category(char) == "Lo" and char not in used
        and not any(a <= code_point <= b for a, b in _CJK_RANGES)):
      return char
  raise ValueError("the vocab uses every letter; cannot mark over-long words")


class FullTokenizer:
  """BERT's FullTokenizer (basic + WordPiece) with the original's semantics.

  Same interface as the original (`tokenize`, `convert_tokens_to_ids`,
  `convert_ids_to_tokens`, `vocab`, `inv_vocab`) plus fast batch encoding
  (`encode_batch`), backed by tensorflow-text (see the module docstring).

  Args:
    vocab_file: WordPiece vocab, one token per line, id = line index.
    do_lower_case: lower-case the input (the original's `--do-lower-case`).
    strip_accents: strip accents; only applies when lower-casing, as in the
      original.
    max_input_chars_per_word: longer words become [UNK] (the original's 200).
  """

  def __init__(self, vocab_file: str, do_lower_case: bool = True,
               strip_accents: bool = True,
               max_input_chars_per_word: int = MAX_INPUT_CHARS_PER_WORD):
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    import tensorflow_text as tf_text  # pylint: disable=g-import-not-at-top
    self.vocab = load_vocab(vocab_file)
    require_tokens(self.vocab, [UNK_TOKEN], vocab_file, UNK_NEEDED_FOR)
    self.inv_vocab = {index: token for token, index in self.vocab.items()}
    self.do_lower_case = do_lower_case
    self.strip_accents = strip_accents
    self.max_input_chars_per_word = max_input_chars_per_word
    self.basic_tokenizer = BasicTokenizer(do_lower_case, strip_accents)
    self._tf = tf
    self._unknown_word = _pick_unknown_word_char(self.vocab)
    self._long_run = re.compile(f"\\S{{{max_input_chars_per_word + 1},}}")
    self._fast_bert = tf_text.FastBertTokenizer(
        vocab=_fast_wordpiece_vocab(self.vocab),
        unknown_token=UNK_TOKEN,
        # Longer words were already replaced; 4 bytes per UTF-8 character.
        max_bytes_per_word=4 * max_input_chars_per_word,
        token_out_type=tf.int64,
        lower_case_nfd_strip_accents=False)

  def __len__(self) -> int:
    return len(self.vocab)

  def tokenize(self, text: str) -> List[str]:
    """Text -> WordPiece tokens, e.g. "unaffable" -> ["una", "##ffa", "##ble"]."""
    return self.convert_ids_to_tokens(self.encode(text))

  def encode(self, text: str) -> List[int]:
    """Text -> WordPiece ids."""
    return self.encode_batch([text])[0]

  def encode_batch(self, texts: Sequence[str]) -> List[List[int]]:
    """Many texts -> one list of WordPiece ids per text, in order.

    This is the fast path: call it with many lines at once.
    """
    if not texts:
      return []
    num_chunks = 1 + sum(map(len, texts)) // _BATCH_CHARS
    chunk_size = -(-len(texts) // num_chunks)
    encoded: List[List[int]] = []
    for start in range(0, len(texts), chunk_size):
      encoded.extend(self._encode_chunk(texts[start:start + chunk_size]))
    return encoded

  def _encode_chunk(self, texts: Sequence[str]) -> List[List[int]]:
    joined = "\n".join(texts)
    if joined.count("\n") != len(texts) - 1:
      # Newlines inside a text are whitespace to BERT; make them spaces so
      # "\n" can delimit the texts through normalisation.
      joined = "\n".join(t.replace("\n", " ") for t in texts)
    normalized = normalize_text(joined, self.do_lower_case, self.strip_accents)
    lines = normalized.split("\n")
    limit = self.max_input_chars_per_word
    lines = [self._mark_long_words(line)
             if len(line) > limit and self._long_run.search(line) else line
             for line in lines]
    ragged = self._fast_bert.tokenize(self._tf.constant(lines))
    flat = ragged.flat_values.numpy().tolist()
    splits = ragged.row_splits.numpy().tolist()
    return [flat[a:b] for a, b in zip(splits[:-1], splits[1:])]

  def _mark_long_words(self, line: str) -> str:
    """Replaces each word longer than the limit with a guaranteed-[UNK] word."""
    limit = self.max_input_chars_per_word
    words = _word_pattern().findall(line)
    if all(len(word) <= limit for word in words):
      return line
    return " ".join(self._unknown_word if len(word) > limit else word
                    for word in words)

  def convert_tokens_to_ids(self, tokens: Iterable[str]) -> List[int]:
    return [self.vocab[token] for token in tokens]

  def convert_ids_to_tokens(self, ids: Iterable[int]) -> List[str]:
    return [self.inv_vocab[index] for index in ids]


class ReferenceFullTokenizer:
  """Pure-Python ground truth: Model Garden's FullTokenizer made original.

  `official.nlp.tools.tokenization.FullTokenizer` is BERT's code with three
  differences from ELECTRA's `model/tokenization.py`, undone here:

  - words over 400 (not 200) characters become [UNK];
  - it has no `strip_accents` switch (always strips when lower-casing);
  - it deletes only control characters of category Cc and Cf, where the
    original deletes all of C* (also Cn unassigned, Co private use and Cs
    surrogates).

  About 10x slower than `FullTokenizer`; used to prove parity and as the
  benchmark's baseline.
  """

  def __init__(self, vocab_file: str, do_lower_case: bool = True,
               strip_accents: bool = True):
    from official.nlp.tools import tokenization  # pylint: disable=g-import-not-at-top
    self._tokenizer = tokenization.FullTokenizer(
        vocab_file, do_lower_case=do_lower_case)
    self._tokenizer.wordpiece_tokenizer.max_input_chars_per_word = (
        MAX_INPUT_CHARS_PER_WORD)
    basic = self._tokenizer.basic_tokenizer
    if not strip_accents:
      basic._run_strip_accents = lambda text: text  # pylint: disable=protected-access
    model_garden_clean = basic._clean_text  # pylint: disable=protected-access
    basic._clean_text = lambda text: model_garden_clean(  # pylint: disable=protected-access
        "".join(c for c in text if c in "\t\n\r"
                or not unicodedata.category(c).startswith("C")))
    self.vocab = self._tokenizer.vocab
    self.inv_vocab = self._tokenizer.inv_vocab

  def tokenize(self, text: str) -> List[str]:
    return self._tokenizer.tokenize(text)

  def encode(self, text: str) -> List[int]:
    return self._tokenizer.convert_tokens_to_ids(self._tokenizer.tokenize(text))

  def encode_batch(self, texts: Sequence[str]) -> List[List[int]]:
    return [self.encode(text) for text in texts]

  def convert_tokens_to_ids(self, tokens: Iterable[str]) -> List[int]:
    return self._tokenizer.convert_tokens_to_ids(tokens)

  def convert_ids_to_tokens(self, ids: Iterable[int]) -> List[str]:
    return self._tokenizer.convert_ids_to_tokens(ids)


def make_tokenizer(vocab_file: str, do_lower_case: bool = True,
                   strip_accents: bool = True, backend: str = "tf_text",
                   ) -> Union[FullTokenizer, ReferenceFullTokenizer]:
  """`backend` "tf_text" (fast, default) or "python" (the slow reference)."""
  if backend == "tf_text":
    return FullTokenizer(vocab_file, do_lower_case, strip_accents)
  if backend == "python":
    return ReferenceFullTokenizer(vocab_file, do_lower_case, strip_accents)
  raise ValueError(f"tokenizer backend {backend!r} is not 'tf_text' or 'python'")
