"""Serving span QA on raw (question, context) strings, in the graph.

`QuestionContextInputs` is the QA tasks' `serving_default` signature: string
[B] `question` and `context` in, the answer out, on core TensorFlow ops (the
in-graph tokenizer of `electra_tf.text.ingraph`; no tensorflow-text, no
Python). It reproduces the fine-tuning featurisation
(`finetune.qa.featurization`) and decoding (`finetune.qa.decoding`):

1. the context's whitespace doc tokens (the original's `is_whitespace`:
   space, tab, CR, LF, U+202F) with their character offsets;
2. each doc token's WordPieces (`FullTokenizer` per token, as the
   original), with the characters each piece covers;
3. the question's WordPieces cut to `max_query_length`;
4. the original's windows of `max_seq_length - len(query) - 3` pieces every
   `min(window, doc_stride)` pieces, `[CLS] query [SEP] window [SEP]`, with
   the max-context flag of every window piece (`check_is_max_context`: the
   first window with the best min(left, right) + 0.01 * length wins);
5. the model on all windows of the batch;
6. the candidates of every window (the head's top-k starts and ends in joint
   mode, else the `n_best_size` best start and end logits) with the
   original's filters and `max_answer_length`, scored as start + end (in
   float64, as the Python decoder); the best candidate over the example's
   windows (the first in window, start, end order among equals);
7. the null odds: the minimum over windows of `answerable_logit` (without
   the classifier: of start_logits[0] + end_logits[0], minus the best
   span's score), 1e6 for a context without windows, as the decoder.

Answer text: the context's characters between the span's offsets. Where the
piece texts line up with the context (each doc token's normalised
characters as many as its own: case folding, accent stripping of composed
letters), the offsets are those of the first and last piece, which is what
the original's `get_final_text` alignment gives (e.g. "Smith" out of
"Smith's"). Where they do not (an [UNK] in the span, deleted control
characters, an accent-stripped decomposed letter, a non-breaking space
inside a doc token), `get_final_text` returns the whole doc tokens and so
do the offsets. What differs from the Python decoder, by design: the text
keeps the context's own whitespace between doc tokens (the decoder joins
them with one space); a span whose text also occurs earlier in its first doc
token gets its own offsets (`get_final_text` takes the first occurrence,
which can differ in case); and a question without any valid span answers ""
at offsets -1 with score 0 (the decoder's v1 "empty" nonce).
"""

import dataclasses
from typing import Dict

import tensorflow as tf

from electra_tf.serving.exportable import ServingContext, TextInputs

# The original's `is_whitespace` (finetune/qa/qa_tasks.py): doc token separators.
DOC_WHITESPACE = (0x20, 0x09, 0x0D, 0x0A, 0x202F)
NO_WINDOWS_NULL_SCORE = 1000000.0  # the decoder's initial score_null
_LOWEST = tf.float64.min


@dataclasses.dataclass(frozen=True)
class QAServingParams:
  """The featurisation and decoding hparams the signature bakes in (names as
  the fine-tuning config)."""
  max_query_length: int
  doc_stride: int
  n_best_size: int
  max_answer_length: int
  joint_prediction: bool = True
  answerable_classifier: bool = True


def _first_index_of_max(values: tf.Tensor, axis: int = -1) -> tf.Tensor:
  """The first index of the maximum along `axis` (tf.argmax does not promise
  which of equal values it returns)."""
  maximum = tf.reduce_max(values, axis=axis, keepdims=True)
  size = tf.shape(values)[axis]
  index = tf.range(size)
  shape = [1] * values.shape.rank
  shape[axis] = -1
  index = tf.reshape(index, shape) + tf.zeros_like(values, tf.int32)
  return tf.reduce_min(tf.where(values == maximum, index, size), axis=axis)


def _padded_gather(values: tf.Tensor, indices: tf.Tensor) -> tf.Tensor:
  """`tf.gather` that tolerates empty `values` and out-of-range indices
  (their results are masked by the caller): the last index reads a 0."""
  padded = tf.concat([values, tf.zeros([1], values.dtype)], 0)
  return tf.gather(padded, tf.clip_by_value(indices, 0, tf.shape(values)[0]))


def doc_tokens(context: tf.Tensor) -> Dict[str, tf.Tensor]:
  """string [B] -> the whitespace doc tokens of each context.

  Returns:
    chars: int32 code points, ragged [B, (characters)].
    tokens: string [T], every context's doc tokens in order.
    token_splits: int64 [B + 1], row splits of `tokens` per context.
    token_start, token_end: int32 [T], each token's first and one-past-last
      character offset in its context (code points, as Python indices).
  """
  chars = tf.strings.unicode_decode(context, "UTF-8", errors="replace")
  flat = chars.flat_values
  is_space = tf.reduce_any(flat[:, tf.newaxis] == tf.constant(DOC_WHITESPACE), axis=1)
  position = tf.cast(tf.range(tf.shape(flat)[0]), tf.int64)
  row_start = tf.gather(chars.row_splits, chars.value_rowids())
  previous_is_space = tf.concat([[True], is_space], 0)[:-1] | (position == row_start)
  starts_token = ~is_space & previous_is_space
  token_of_char = tf.cumsum(tf.cast(starts_token, tf.int64)) - 1  # global token index
  kept = tf.where(~is_space)[:, 0]
  num_tokens = tf.reduce_sum(tf.cast(starts_token, tf.int64))
  token_chars = tf.RaggedTensor.from_value_rowids(
      tf.gather(flat, kept), tf.gather(token_of_char, kept), nrows=num_tokens)
  token_start = tf.cast(tf.gather(position - row_start, tf.where(starts_token)[:, 0]), tf.int32)
  tokens_per_row = tf.math.unsorted_segment_sum(
      tf.cast(starts_token, tf.int64), chars.value_rowids(), chars.nrows())
  return {"chars": chars, "tokens": tf.strings.unicode_encode(token_chars, "UTF-8"),
          "token_splits": tf.concat([[0], tf.cumsum(tokens_per_row)], 0),
          "token_start": token_start,
          "token_end": token_start + tf.cast(token_chars.row_lengths(), tf.int32)}


def _pieces(serving: ServingContext, doc: Dict[str, tf.Tensor]) -> Dict[str, tf.Tensor]:
  """The WordPieces of every doc token, flat over the batch [P], with their
  doc token, character offsets and whether they are [UNK]; and per token
  whether its pieces line up with its characters."""
  ids, chars = serving.tokenizer.word_pieces(doc["tokens"])
  ids, chars = ids.merge_dims(1, 2), chars.merge_dims(1, 2)  # [T, (pieces)]
  piece_token = tf.cast(ids.value_rowids(), tf.int32)
  flat_chars = chars.flat_values
  chars_before = tf.cumsum(flat_chars, exclusive=True)  # over the whole batch
  token_first_piece = tf.cast(ids.row_splits[:-1], tf.int32)
  offset_in_token = chars_before - tf.gather(_padded_gather(chars_before, token_first_piece),
                                             piece_token)
  token_length = doc["token_end"] - doc["token_start"]
  aligned = tf.reduce_sum(chars, axis=1) == token_length  # [T]
  piece_start = tf.gather(doc["token_start"], piece_token) + offset_in_token
  pieces_per_token = ids.row_lengths()
  return {
      "ids": tf.cast(ids.flat_values, tf.int32), "token": piece_token,
      "start": piece_start, "end": piece_start + flat_chars,
      "is_unk": ids.flat_values == serving.tokenizer.unk_id,
      "splits": tf.gather(tf.concat([[0], tf.cumsum(pieces_per_token)], 0),
                          doc["token_splits"]),
      "token_misaligned": ~aligned,
  }


class QuestionContextInputs(TextInputs):
  """`question`, `context`: string [B] -> the best answer of each question.

  Outputs: `answer_text` string [B]; `answer_start`, `answer_end` int32 [B]
  (character offsets of the answer in the context, end exclusive, in
  Unicode code points; -1 when no span is valid); `score` float32 [B]
  (start + end log-probability, the n-best list's first score); `null_odds`
  float32 [B] (higher = unanswerable, `<task>_null_odds.json`'s value);
  `null_probability` float32 [B] (its sigmoid: the answerable classifier's
  probability that the question has no answer); `num_windows` int32 [B].
  """
  names = ("question", "context")

  def __init__(self, params: QAServingParams):
    self.params = params

  def serve(self, serving, question, context):  # pylint: disable=arguments-differ
    check = tf.debugging.assert_equal(tf.shape(question), tf.shape(context), message=(
        "serving_default: question and context must have the same batch size"))
    with tf.control_dependencies([check]):
      doc = doc_tokens(context)
    pieces = _pieces(serving, doc)
    query = serving.tokenizer.tokenize(question)[:, :self.params.max_query_length]
    windows = self._windows(serving, query, pieces)
    outputs = serving.run({k: windows[k] for k in ("input_ids", "input_mask", "segment_ids")})
    best = self._best_spans(windows, outputs)
    return self._answers(doc, pieces, windows, best, outputs, tf.shape(question)[0])

  def _windows(self, serving: ServingContext, query: tf.RaggedTensor,
               pieces: Dict[str, tf.Tensor]) -> Dict[str, tf.Tensor]:
    """Every window of the batch [W]: its example, start, length, features
    [W, L] and max-context flags [W, L] (as `QAFeaturizer.featurize`)."""
    length = serving.max_seq_length
    query_length = tf.cast(query.row_lengths(), tf.int32)
    num_pieces = tf.cast(pieces["splits"][1:] - pieces["splits"][:-1], tf.int32)
    window_size = length - query_length - 3  # max_tokens_for_doc
    stride = tf.minimum(window_size, self.params.doc_stride)
    num_windows = tf.where(
        num_pieces == 0, 0,
        tf.where(num_pieces <= window_size, 1,
                 (num_pieces - window_size + stride - 1) // stride + 1))
    window_index = tf.ragged.range(num_windows).flat_values  # [W]
    example = tf.repeat(tf.range(tf.shape(num_windows)[0]), num_windows)
    per_window = lambda values: tf.gather(values, example)
    start = window_index * per_window(stride)
    size = tf.minimum(per_window(num_pieces) - start, per_window(window_size))
    query_size = per_window(query_length)
    offset = query_size + 2  # [CLS] query [SEP]
    position = tf.range(length)[tf.newaxis]  # [1, L]
    in_query = (position >= 1) & (position <= query_size[:, tf.newaxis])
    doc_position = position - offset[:, tf.newaxis]  # index into the window
    in_doc = (doc_position >= 0) & (doc_position < size[:, tf.newaxis])
    query_ids = _padded_gather(tf.cast(query.flat_values, tf.int32), tf.cast(
        per_window(query.row_splits[:-1]), tf.int32)[:, tf.newaxis] + position - 1)
    piece = (tf.cast(per_window(pieces["splits"][:-1]), tf.int32) + start)[:, tf.newaxis]
    doc_ids = _padded_gather(pieces["ids"], piece + doc_position)
    last = (offset + size)[:, tf.newaxis]  # the final [SEP]
    is_sep = (position == (offset - 1)[:, tf.newaxis]) | (position == last)
    input_ids = tf.where(position == 0, serving.cls_id, tf.where(
        in_query, query_ids, tf.where(in_doc, doc_ids, tf.where(is_sep, serving.sep_id, 0))))
    input_mask = position <= last
    segment_ids = (position >= offset[:, tf.newaxis]) & input_mask
    return {
        "example": example, "index": window_index, "start": start, "size": size,
        "offset": offset, "piece": piece[:, 0],
        "input_ids": input_ids, "input_mask": tf.cast(input_mask, tf.int32),
        "segment_ids": tf.cast(segment_ids, tf.int32),
        "max_context": in_doc & self._max_context(
            start[:, tf.newaxis] + doc_position, per_window(stride), per_window(num_pieces),
            per_window(window_size), per_window(num_windows), window_index),
    }

  @staticmethod
  def _max_context(doc_piece, stride, num_pieces, window_size, num_windows, window_index):
    """bool [W, L]: whether each window is the max context of the document
    piece `doc_piece` [W, L] (the original's `_check_is_max_context`)."""
    other = tf.range(tf.reduce_max(tf.concat([num_windows, [0]], 0)))[tf.newaxis]  # [1, J]
    other_start = other * stride[:, tf.newaxis]  # [W, J]
    other_size = tf.minimum(num_pieces[:, tf.newaxis] - other_start, window_size[:, tf.newaxis])
    other_end = other_start + other_size - 1
    piece = doc_piece[:, :, tf.newaxis]  # [W, L, 1]
    contains = ((other < num_windows[:, tf.newaxis])[:, tf.newaxis]
                & (piece >= other_start[:, tf.newaxis]) & (piece <= other_end[:, tf.newaxis]))
    score = (tf.cast(tf.minimum(piece - other_start[:, tf.newaxis],
                                other_end[:, tf.newaxis] - piece), tf.float64)
             + 0.01 * tf.cast(other_size[:, tf.newaxis], tf.float64))
    score = tf.where(contains, score, _LOWEST)
    return _first_index_of_max(score) == window_index[:, tf.newaxis]

  def _candidates(self, outputs: Dict[str, tf.Tensor]):
    """(starts [W, K], ends [W, K, K'], start scores [W, K], end scores [W, K, K'])."""
    if self.params.joint_prediction:
      return (outputs["start_top_index"], outputs["end_top_index"],
              outputs["start_top_log_probs"], outputs["end_top_log_probs"])
    length = outputs["start_logits"].shape[1]
    k = self.params.n_best_size if length is None else min(self.params.n_best_size, length)
    start_scores, starts = tf.math.top_k(outputs["start_logits"], k=k)
    end_scores, ends = tf.math.top_k(outputs["end_logits"], k=k)
    repeat = lambda values: tf.repeat(values[:, tf.newaxis], k, axis=1)
    return starts, repeat(ends), start_scores, repeat(end_scores)

  def _best_spans(self, windows, outputs) -> Dict[str, tf.Tensor]:
    """Each window's best valid span (as `decoding._window_candidates`):
    start, end [W] input positions, their scores [W] (float64) and whether
    it has one."""
    starts, ends, start_scores, end_scores = self._candidates(outputs)
    starts = tf.repeat(starts[:, :, tf.newaxis], tf.shape(ends)[2], axis=2)  # [W, K, K']
    offset, size = windows["offset"][:, None, None], windows["size"][:, None, None]
    num_tokens = offset + size + 1

    def is_context(position):
      return (position >= offset) & (position < offset + size)

    flat_starts = tf.reshape(starts, [tf.shape(starts)[0], -1])
    start_is_max = tf.reshape(tf.gather(windows["max_context"], flat_starts, batch_dims=1),
                              tf.shape(starts))
    valid = ((starts < num_tokens) & (ends < num_tokens) & (starts != 0)
             & is_context(starts) & is_context(ends) & start_is_max & (ends >= starts)
             & (ends - starts + 1 <= self.params.max_answer_length))
    start_scores = tf.repeat(tf.cast(start_scores, tf.float64)[:, :, tf.newaxis],
                             tf.shape(ends)[2], axis=2)
    end_scores = tf.cast(end_scores, tf.float64)
    num_windows = tf.shape(starts)[0]
    flat = lambda values: tf.reshape(values, [num_windows, -1])
    scores = tf.where(flat(valid), flat(start_scores + end_scores), _LOWEST)
    best = _first_index_of_max(scores)  # [W]
    pick = lambda values: tf.gather(flat(values), best, batch_dims=1)
    return {"start": pick(starts), "end": pick(ends), "start_score": pick(start_scores),
            "end_score": pick(end_scores), "valid": tf.reduce_any(flat(valid), axis=1)}

  def _answers(self, doc, pieces, windows, best, outputs, batch_size) -> Dict[str, tf.Tensor]:
    """The best span over each example's windows -> the signature's outputs."""
    example = windows["example"]
    score = tf.where(best["valid"], best["start_score"] + best["end_score"], _LOWEST)
    example_best = tf.math.unsorted_segment_max(score, example, batch_size)
    has_answer = tf.math.unsorted_segment_max(
        tf.cast(best["valid"], tf.int32), example, batch_size) > 0
    num_windows = tf.shape(example)[0]
    chosen = tf.math.unsorted_segment_min(
        tf.where(best["valid"] & (score == tf.gather(example_best, example)),
                 tf.range(num_windows), num_windows), example, batch_size)
    chosen = tf.minimum(chosen, tf.maximum(num_windows - 1, 0))
    take = lambda values: _padded_gather(values, chosen)
    first = take(windows["piece"] + best["start"] - windows["offset"])
    last = take(windows["piece"] + best["end"] - windows["offset"])
    first_token, last_token = _padded_gather(pieces["token"], first), _padded_gather(
        pieces["token"], last)

    def any_between(flags, first_index, last_index):
      counts = tf.concat([[0], tf.cumsum(tf.cast(flags, tf.int32))], 0)
      return tf.gather(counts, tf.minimum(last_index + 1, tf.shape(flags)[0])) > tf.gather(
          counts, tf.minimum(first_index, tf.shape(flags)[0]))

    # get_final_text falls back to the whole doc tokens when it cannot align.
    whole_tokens = (any_between(pieces["is_unk"], first, last)
                    | any_between(pieces["token_misaligned"], first_token, last_token))
    answer_start = tf.where(whole_tokens, _padded_gather(doc["token_start"], first_token),
                            _padded_gather(pieces["start"], first))
    answer_end = tf.where(whole_tokens, _padded_gather(doc["token_end"], last_token),
                          _padded_gather(pieces["end"], last))
    answer_start = tf.where(has_answer, answer_start, -1)
    answer_end = tf.where(has_answer, answer_end, -1)
    best_score = tf.where(has_answer, take(best["start_score"] + best["end_score"]), 0.0)
    chars = doc["chars"]
    begin = tf.cast(chars.row_splits[:-1], tf.int32) + tf.maximum(answer_start, 0)
    answer_chars = tf.gather(chars.flat_values, tf.ragged.range(
        begin, begin + tf.maximum(answer_end - answer_start, 0)).flat_values)
    answer_text = tf.strings.unicode_encode(tf.RaggedTensor.from_row_lengths(
        answer_chars, tf.cast(tf.maximum(answer_end - answer_start, 0), tf.int64)), "UTF-8")
    null_odds = self._null_odds(outputs, example, batch_size, best_score)
    return {
        "answer_text": answer_text, "answer_start": answer_start, "answer_end": answer_end,
        "score": tf.cast(best_score, tf.float32), "null_odds": tf.cast(null_odds, tf.float32),
        "null_probability": tf.cast(tf.sigmoid(null_odds), tf.float32),
        "num_windows": tf.math.unsorted_segment_sum(tf.ones_like(example), example,
                                                    batch_size),
    }

  def _null_odds(self, outputs, example, batch_size, best_score) -> tf.Tensor:
    """float64 [B]: the decoder's v2 null odds."""
    if self.params.answerable_classifier:
      null = tf.cast(outputs["answerable_logit"], tf.float64)
    else:
      null = tf.cast(outputs["start_logits"][:, 0] + outputs["end_logits"][:, 0], tf.float64)
    score_null = tf.minimum(tf.math.unsorted_segment_min(null, example, batch_size),
                            NO_WINDOWS_NULL_SCORE)
    return score_null if self.params.answerable_classifier else score_null - best_score
