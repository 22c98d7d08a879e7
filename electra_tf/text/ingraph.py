"""`FullTokenizer` as core TensorFlow ops, and the fine-tuning featurisation in-graph.

For SavedModel signatures that take raw text: everything here is a graph of
core TensorFlow ops with the tables baked in, so a served model tokenizes
exactly as `electra_tf.text.tokenization.FullTokenizer` (the original's semantics,
`model/tokenization.py`) with no Python and no project code at serving
time, and with no custom ops either: tensorflow-text's ops (FastBertTokenizer,
regex_split) are not registered in the stock `saved_model_cli`, TF Serving
builds without tensorflow-text, or TF's C/Java APIs, and a graph that uses them
fails to load there ("Op type not registered").

Steps, each reproducing the original's pure-Python tokenizer:

1. decode UTF-8; invalid bytes are dropped, as the original's
   `convert_to_unicode(bytes)` (decode with errors="ignore");
2. delete code point 0, U+FFFD and every category C* character except tab,
   newline and carriage return;
3. if lower-casing: Python's `str.lower`, including the Final_Sigma rule
   (capital sigma becomes "ς" after a cased letter not followed by one,
   skipping case-ignorable characters) and "İ" -> "i" + U+0307;
4. if also stripping accents: full canonical decomposition (NFD) per code
   point, the canonical ordering of combining marks (a stable sort by
   combining class within each run of non-starters), then deletion of
   category Mn: `unicodedata.normalize("NFD", text)` minus Mn marks;
5. words: split on whitespace (Python's `str.isspace`), with every
   punctuation character (ASCII non-alphanumerics and Unicode P*) and CJK
   ideograph a word of its own;
6. WordPiece: greedy longest-match-first against the vocab with "##"
   continuations; a word longer than `max_input_chars_per_word` (200) or one
   that cannot be segmented becomes one [UNK].

TensorFlow's own Unicode ops follow other Unicode versions and rules
(measured with Python 3.11 / Unicode 14 and TF 2.20: `tf.strings.lower` leaves
40 letters upper-case that Python lowers, ICU's NFD decomposes 20 more
characters, RE2's `\p{C}` lacks unassigned code points, 35 marks differ in
category). So
steps 2-5 use tables computed with Python's own `unicodedata` and `re` when
the tokenizer is built. The result equals `FullTokenizer` run by the Python
that built the tokenizer, on every input tested (Shakespeare, the sentiment
sentences, every code point in context, random text over all planes).
"""

import functools
import re
import unicodedata
from typing import List, Sequence, Tuple

import numpy as np
import tensorflow as tf

from electra_tf.text import tokenization
from electra_tf.text.vocab import load_vocab, require_tokens

CAPITAL_SIGMA, SMALL_SIGMA, FINAL_SIGMA = 0x3A3, 0x3C3, 0x3C2
REPLACEMENT_CHARACTER = 0xFFFD
_NUM_CODE_POINTS = 0x110000


# --- Unicode tables from Python's unicodedata (built once per process) ------

def _to_ranges(code_points: Sequence[int]) -> List[Tuple[int, int]]:
  """Sorted code points -> inclusive (first, last) ranges."""
  ranges: List[List[int]] = []
  for code_point in code_points:
    if ranges and ranges[-1][1] == code_point - 1:
      ranges[-1][1] = code_point
    else:
      ranges.append([code_point, code_point])
  return [(a, b) for a, b in ranges]


def _range_boundaries(ranges: Sequence[Tuple[int, int]]) -> np.ndarray:
  """[first_0, last_0 + 1, first_1, last_1 + 1, ...]: a code point is in the
  ranges iff an odd number of boundaries is <= it (see `_in_ranges`)."""
  return np.array([bound for first, last in ranges for bound in (first, last + 1)],
                  np.int32)


@functools.lru_cache(maxsize=None)
def _deleted_code_points() -> np.ndarray:
  """bool [0x110000]: what the original's `_clean_text` deletes."""
  # The uncached rule: caching a million one-off characters would only fill memory.
  is_deleted = tokenization._is_deleted_char.__wrapped__  # pylint: disable=protected-access
  return np.array([is_deleted(chr(c)) for c in range(_NUM_CODE_POINTS)])


@functools.lru_cache(maxsize=None)
def _live_code_points() -> Tuple[int, ...]:
  """Code points that survive the original's `_clean_text` deletion."""
  return tuple(np.flatnonzero(~_deleted_code_points()).tolist())


@functools.lru_cache(maxsize=None)
def _deleted_boundaries() -> np.ndarray:
  return _range_boundaries(_to_ranges(np.flatnonzero(_deleted_code_points()).tolist()))


@functools.lru_cache(maxsize=None)
def _sigma_context_boundaries() -> Tuple[np.ndarray, np.ndarray]:
  """(case-ignorable, cased-and-not-case-ignorable) range boundaries.

  Python exposes neither property, so they are read off `str.lower` itself,
  which is what has to be matched: for a character x, "xΣ" ends in final
  sigma iff x is cased and not case-ignorable; "AxΣ" does iff x is
  case-ignorable (skipped, so "A" decides) or cased.
  """
  ignorable, cased = [], []
  for code_point in _live_code_points():
    char = chr(code_point)
    if (char + "\u03a3").lower().endswith("\u03c2"):
      cased.append(code_point)
    elif ("A" + char + "\u03a3").lower().endswith("\u03c2"):
      ignorable.append(code_point)
  return _range_boundaries(_to_ranges(ignorable)), _range_boundaries(_to_ranges(cased))


@functools.lru_cache(maxsize=None)
def _char_map(strip_accents: bool) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
  """The per-code-point part of lower-casing (and decomposition).

  Returns:
    (keys [K], starts [K], values): sorted code points that change, and
    where each one's replacement sequence starts in `values` (it ends where
    the next starts; `starts` has a final entry len(values)). A replacement
    is `c.lower()`, or with `strip_accents` NFD(`c.lower()`) with its marks
    still in place (they are reordered and deleted afterwards).
  """
  keys, starts, values = [], [], []
  for code_point in _live_code_points():
    char = chr(code_point)
    mapped = char.lower()
    if strip_accents:
      mapped = unicodedata.normalize("NFD", mapped)
    if mapped != char:
      keys.append(code_point)
      starts.append(len(values))
      values.extend(map(ord, mapped))
  starts.append(len(values))
  return (np.array(keys, np.int32), np.array(starts, np.int32), np.array(values, np.int32))


@functools.lru_cache(maxsize=None)
def _combining_classes() -> Tuple[np.ndarray, np.ndarray]:
  """(code points, canonical combining classes) of the non-starters, sorted."""
  pairs = [(c, unicodedata.combining(chr(c))) for c in _live_code_points()]
  pairs = [(c, ccc) for c, ccc in pairs if ccc]
  return (np.array([c for c, _ in pairs], np.int32), np.array([k for _, k in pairs], np.int32))


@functools.lru_cache(maxsize=None)
def _mark_boundaries() -> np.ndarray:
  """Category Mn: what accent stripping deletes."""
  return _range_boundaries(_to_ranges(
      [c for c in _live_code_points() if unicodedata.category(chr(c)) == "Mn"]))


def _re2_class(code_points: Sequence[int]) -> str:
  """A regex class body in RE2 syntax (`\\x{...}` escapes) for code points."""
  return "".join(f"\\x{{{a:x}}}" if a == b else f"\\x{{{a:x}}}-\\x{{{b:x}}}"
                 for a, b in _to_ranges(sorted(code_points)))


@functools.lru_cache(maxsize=None)
def _word_split_classes() -> Tuple[str, str]:
  """RE2 class bodies (whitespace, characters that are words of their own),
  as `BasicTokenizer`: Python's `\\s` (`str.isspace`) separates words;
  punctuation and CJK ideographs stand alone."""
  every_char = "".join(chr(c) for c in _live_code_points())
  spaces = sorted(map(ord, re.findall(r"\s", every_char)))
  splits = [c for first, last in tokenization.split_char_ranges()
            for c in range(first, last + 1)]
  return _re2_class(spaces), _re2_class(splits)


@functools.lru_cache(maxsize=None)
def _raw_whitespace_class() -> str:
  """RE2 class body of every character `str.isspace` (so `str.split()`) splits
  on, including the control characters normalisation would delete."""
  return _re2_class([c for c in range(_NUM_CODE_POINTS) if chr(c).isspace()])


# --- graph helpers -----------------------------------------------------------

def _in_ranges(boundaries: tf.Tensor, code_points):
  """bool, shaped like `code_points` (a tensor [N] or a ragged tensor):
  membership in the ranges given by `_range_boundaries`."""
  if isinstance(code_points, tf.RaggedTensor):
    return tf.ragged.map_flat_values(lambda flat: _in_ranges(boundaries, flat), code_points)
  index = tf.searchsorted(boundaries, code_points, side="right")
  return tf.math.floormod(index, 2) == 1


def _sorted_lookup(keys: tf.Tensor, code_points: tf.Tensor) -> Tuple[tf.Tensor, tf.Tensor]:
  """(found [N] bool, index [N] into keys, valid where found) for sorted keys."""
  index = tf.minimum(tf.searchsorted(keys, code_points, side="left"),
                     tf.shape(keys, out_type=tf.int32)[0] - 1)
  return tf.gather(keys, index) == code_points, index


class InGraphTokenizer(tf.Module):
  """Text -> WordPiece ids with TensorFlow ops, equal to `FullTokenizer`.

  Args:
    vocab_file: WordPiece vocab, one token per line, id = line index.
    do_lower_case: lower-case the input (the original's `--do-lower-case`).
    strip_accents: strip accents; only applies when lower-casing, as in the
      original.
    max_input_chars_per_word: longer words become [UNK] (the original's 200).

  Building takes a few seconds (Python scans every code point once per
  process); calls are graph ops and can be traced into a SavedModel.
  """

  def __init__(self, vocab_file: str, do_lower_case: bool = True, strip_accents: bool = True,
               max_input_chars_per_word: int = tokenization.MAX_INPUT_CHARS_PER_WORD,
               name: str = "in_graph_tokenizer"):
    super().__init__(name=name)
    vocab = load_vocab(vocab_file)
    require_tokens(vocab, [tokenization.UNK_TOKEN], vocab_file, tokenization.UNK_NEEDED_FOR)
    self.do_lower_case = do_lower_case
    self.strip_accents = strip_accents and do_lower_case
    self.max_input_chars_per_word = max_input_chars_per_word
    self._deleted = tf.constant(_deleted_boundaries())
    if do_lower_case:
      ignorable, cased = _sigma_context_boundaries()
      self._case_ignorable, self._cased = tf.constant(ignorable), tf.constant(cased)
      keys, starts, values = _char_map(self.strip_accents)
      self._map_keys, self._map_starts = tf.constant(keys), tf.constant(starts)
      self._map_values = tf.constant(values)
    if self.strip_accents:
      ccc_keys, ccc_values = _combining_classes()
      self._ccc_keys, self._ccc_values = tf.constant(ccc_keys), tf.constant(ccc_values)
      self._marks = tf.constant(_mark_boundaries())
    self._space_class, self._split_class = _word_split_classes()
    # The id-ordered tokens FullTokenizer uses: entries no word can match
    # (earlier copies of a duplicate, blank lines, tokens with spaces) are
    # unreachable placeholders, so the table has unique keys and every id
    # keeps its meaning.
    tokens = tokenization._fast_wordpiece_vocab(vocab)  # pylint: disable=protected-access
    self._vocab_table = tf.lookup.StaticHashTable(
        tf.lookup.KeyValueTensorInitializer(tf.constant(tokens),
                                            tf.range(len(tokens), dtype=tf.int64)),
        default_value=-1)
    self._unk_id = vocab[tokenization.UNK_TOKEN]
    # Characters of the normalised text each piece covers ("##" excluded).
    self._piece_chars = tf.constant(
        [len(token) - 2 if token.startswith("##") else len(token) for token in tokens], tf.int32)
    # Longer candidates cannot match, so greedy matching tries only these.
    self._max_token_chars = max(
        len(token) - 2 if token.startswith("##") else len(token)
        for token in tokens if not any(char.isspace() for char in token))

  def tokenize(self, texts: tf.Tensor) -> tf.RaggedTensor:
    """string [B] -> int64 WordPiece ids, ragged [B, (tokens)]."""
    words = self.split_words(self.normalize(texts))
    pieces_per_word = self._wordpiece(words.flat_values)
    return words.with_flat_values(pieces_per_word).merge_dims(1, 2)

  @property
  def unk_id(self) -> int:
    """The id of [UNK]."""
    return self._unk_id

  def word_pieces(self, texts: tf.Tensor) -> Tuple[tf.RaggedTensor, tf.RaggedTensor]:
    """string [B] -> (ids, chars): int64 WordPiece ids, ragged [B, (words),
    (pieces)], and int32 chars of the same shape, the number of characters
    of the normalised text each piece covers (a word's [UNK] covers the
    whole word). For mapping pieces back to character offsets."""
    words = self.split_words(self.normalize(texts))
    pieces_per_word = self._wordpiece(words.flat_values)
    word_chars = tf.strings.length(words.flat_values, unit="UTF8_CHAR")
    chars = tf.where(pieces_per_word.flat_values == self._unk_id,
                     tf.gather(word_chars, pieces_per_word.value_rowids()),
                     tf.gather(self._piece_chars, pieces_per_word.flat_values))
    return (words.with_flat_values(pieces_per_word),
            words.with_flat_values(pieces_per_word.with_flat_values(chars)))

  def normalize(self, texts: tf.Tensor) -> tf.Tensor:
    """string [B] -> normalised string [B]: steps 1-4 of the module docstring."""
    chars = tf.strings.unicode_decode(texts, "UTF-8", errors="replace",
                                      replacement_char=REPLACEMENT_CHARACTER)
    chars = tf.ragged.boolean_mask(chars, ~_in_ranges(self._deleted, chars))
    if self.do_lower_case:
      chars = self._lower(chars)
    if self.strip_accents:
      chars = self._strip_accents(chars)
    return tf.strings.unicode_encode(chars, "UTF-8")

  def _lower(self, chars: tf.RaggedTensor) -> tf.RaggedTensor:
    """Python's `str.lower` per row (with NFD when stripping accents)."""
    flat = chars.flat_values
    flat = tf.where(flat == CAPITAL_SIGMA,
                    tf.where(self._final_sigma(chars), FINAL_SIGMA, SMALL_SIGMA), flat)
    found, index = _sorted_lookup(self._map_keys, flat)
    starts = tf.gather(self._map_starts, index)
    lengths = tf.where(found, tf.gather(self._map_starts, index + 1) - starts, 1)
    # Unchanged characters are read from a copy of themselves appended to the
    # replacement values, so one gather builds every character's sequence.
    num_values = tf.shape(self._map_values, out_type=tf.int32)[0]
    own = num_values + tf.range(tf.shape(flat, out_type=tf.int32)[0])
    starts = tf.where(found, starts, own)
    positions = tf.ragged.range(starts, starts + lengths).flat_values
    values = tf.gather(tf.concat([self._map_values, flat], 0), positions)
    per_char = tf.RaggedTensor.from_row_lengths(values, tf.cast(lengths, tf.int64))
    return chars.with_flat_values(per_char).merge_dims(1, 2)

  def _final_sigma(self, chars: tf.RaggedTensor) -> tf.Tensor:
    """bool [N] over flat code points: capital sigmas in Final_Sigma context.

    Python's rule: the nearest preceding character that is not
    case-ignorable exists in the same text and is cased, and the nearest
    following one is absent or not cased.
    """
    flat = chars.flat_values
    num_chars = tf.shape(flat, out_type=tf.int32)[0]
    row_splits = tf.cast(chars.row_splits, tf.int32)
    row_starts = tf.gather(row_splits, chars.value_rowids())
    row_limits = tf.gather(row_splits, chars.value_rowids() + 1)
    decisive = ~_in_ranges(self._case_ignorable, flat)
    decisive_positions = tf.cast(tf.where(decisive)[:, 0], tf.int32)
    num_decisive = tf.shape(decisive_positions)[0]
    counts_before = tf.cumsum(tf.cast(decisive, tf.int32), exclusive=True)
    counts_through = counts_before + tf.cast(decisive, tf.int32)

    def cased_at(position, valid):
      code_point = tf.gather(flat, tf.clip_by_value(position, 0, tf.maximum(num_chars - 1, 0)))
      return valid & _in_ranges(self._cased, code_point)

    # The appended -1 answers "none" (its validity mask is False anyway).
    padded = tf.concat([decisive_positions, [-1]], 0)
    previous = tf.gather(padded, tf.where(counts_before > 0, counts_before - 1, num_decisive))
    following = tf.gather(padded, counts_through)
    cased_before = cased_at(previous, (counts_before > 0) & (previous >= row_starts))
    cased_after = cased_at(following, (counts_through < num_decisive) & (following < row_limits))
    return cased_before & ~cased_after

  def _strip_accents(self, chars: tf.RaggedTensor) -> tf.RaggedTensor:
    """Canonical ordering of the decomposed marks, then deletion of Mn."""
    flat = chars.flat_values
    found, index = _sorted_lookup(self._ccc_keys, flat)
    ccc = tf.where(found, tf.gather(self._ccc_values, index), 0)
    # Each starter (class 0) and each text start opens a run; sorting stably
    # by (run, class) orders every run's non-starters by class, in place.
    row_start = tf.gather(chars.row_splits, chars.value_rowids()) == tf.range(
        tf.shape(flat, out_type=chars.row_splits.dtype)[0])
    run = tf.cumsum(tf.cast((ccc == 0) | row_start, tf.int64))
    order = tf.argsort(run * 256 + tf.cast(ccc, tf.int64), stable=True)
    ordered = chars.with_flat_values(tf.gather(flat, order))
    return tf.ragged.boolean_mask(ordered, ~_in_ranges(self._marks, ordered))

  def split_on_whitespace(self, texts: tf.Tensor) -> tf.RaggedTensor:
    """Raw string [B] -> words, ragged string [B, (words)]: Python's `str.split()`
    (every `str.isspace` character separates, control ones included; no
    punctuation splitting), for inputs given as words (tagging)."""
    spaced = tf.strings.regex_replace(texts, f"[{_raw_whitespace_class()}]", " ")
    words = tf.strings.split(spaced, sep=" ")
    return tf.ragged.boolean_mask(words, tf.strings.length(words) > 0)

  def split_words(self, texts: tf.Tensor) -> tf.RaggedTensor:
    """Normalised string [B] -> words, ragged string [B, (words)] (step 5)."""
    spaced = tf.strings.regex_replace(texts, f"([{self._split_class}])", r" \1 ")
    spaced = tf.strings.regex_replace(spaced, f"[{self._space_class}]", " ")
    words = tf.strings.split(spaced, sep=" ")
    return tf.ragged.boolean_mask(words, tf.strings.length(words) > 0)

  def _wordpiece(self, words: tf.Tensor) -> tf.RaggedTensor:
    """string [W] words -> int64 ids, ragged [W, (pieces)] (step 6).

    All words advance together, one piece per loop iteration: each unfinished
    word looks up its next 1..max_token_chars characters ("##"-prefixed after
    its first piece) and takes the longest that is in the vocab. A word
    finishes at its end, or fails when nothing matches.
    """
    num_words = tf.shape(words)[0]
    num_chars = tf.strings.length(words, unit="UTF8_CHAR")
    too_long = num_chars > self.max_input_chars_per_word
    lengths = tf.range(1, self._max_token_chars + 1)

    def step(active, starts, failed, piece_words, piece_ids):
      """active: int32 [A] word indices; starts: int32 [A] char positions."""
      shape = [tf.shape(active)[0], self._max_token_chars]
      candidates = tf.strings.substr(
          tf.broadcast_to(tf.gather(words, active)[:, tf.newaxis], shape),
          tf.broadcast_to(starts[:, tf.newaxis], shape),
          tf.broadcast_to(lengths, shape), unit="UTF8_CHAR")
      candidates = tf.where(starts[:, tf.newaxis] > 0,
                            tf.strings.join(["##", candidates]), candidates)
      ids = self._vocab_table.lookup(candidates)
      # substr stops at the word's end, so longer candidates repeat shorter ones.
      found = (ids >= 0) & (lengths <= (tf.gather(num_chars, active) - starts)[:, tf.newaxis])
      matched = tf.reduce_any(found, axis=1)
      longest = self._max_token_chars - tf.argmax(
          tf.reverse(tf.cast(found, tf.int32), axis=[1]), axis=1, output_type=tf.int32)
      piece_id = tf.gather(ids, longest - 1, batch_dims=1)
      failed = tf.tensor_scatter_nd_update(
          failed, tf.boolean_mask(active, ~matched)[:, tf.newaxis],
          tf.fill([tf.reduce_sum(tf.cast(~matched, tf.int32))], True))
      index = piece_words.size()
      piece_words = piece_words.write(index, tf.boolean_mask(active, matched))
      piece_ids = piece_ids.write(index, tf.boolean_mask(piece_id, matched))
      starts = starts + longest
      going_on = matched & (starts < tf.gather(num_chars, active))
      return (tf.boolean_mask(active, going_on), tf.boolean_mask(starts, going_on), failed,
              piece_words, piece_ids)

    def no_pieces(dtype):
      # An empty first entry, so that concat() works when no word has a piece.
      return tf.TensorArray(dtype, size=0, dynamic_size=True, infer_shape=False,
                            element_shape=[None]).write(0, tf.zeros([0], dtype))

    first = tf.cast(tf.where(~too_long)[:, 0], tf.int32)
    _, _, failed, piece_words, piece_ids = tf.while_loop(
        lambda active, *_: tf.size(active) > 0, step,
        (first, tf.zeros_like(first), tf.zeros([num_words], tf.bool),
         no_pieces(tf.int32), no_pieces(tf.int64)),
        shape_invariants=(tf.TensorShape([None]), tf.TensorShape([None]),
                          tf.TensorShape([None]), None, None))
    # Pieces of failed words are dropped; failed and over-long words get one
    # [UNK]. A stable sort by word keeps each word's pieces in order.
    unknown = failed | too_long
    piece_words, piece_ids = piece_words.concat(), piece_ids.concat()
    kept = ~tf.gather(unknown, piece_words)
    unknown_words = tf.cast(tf.where(unknown)[:, 0], tf.int32)
    piece_words = tf.concat([tf.boolean_mask(piece_words, kept), unknown_words], 0)
    piece_ids = tf.concat([tf.boolean_mask(piece_ids, kept),
                           tf.fill(tf.shape(unknown_words), tf.constant(self._unk_id, tf.int64))], 0)
    order = tf.argsort(piece_words, stable=True)
    pieces_per_word = tf.math.unsorted_segment_sum(tf.ones_like(piece_words), piece_words,
                                                   num_words)
    return tf.RaggedTensor.from_row_lengths(tf.gather(piece_ids, order),
                                            tf.cast(pieces_per_word, tf.int64))
