"""The raw-text signature of tagging models: sentences of words -> one tag per word.

`WordTaggingInputs` is `featurization.align` and the first-sub-token
gather as core TensorFlow ops, so a SavedModel tags raw text with no
project code. Words are split on whitespace as Python's `str.split()` (the
reader's rule); each word is tokenised on its own by the export's in-graph
tokenizer, which for tagging always lower-cases and strips accents (as the
original's `tokenize_and_align`).
"""

from typing import Dict

import tensorflow as tf

from electra_tf.serving.exportable import ServingContext, TextInputs


def align_in_graph(word_lengths: tf.Tensor, num_words: tf.Tensor,
                   max_seq_length: int) -> Dict[str, tf.Tensor]:
  """`featurization.align`'s truncation rule on piece counts.

  Args:
    word_lengths: int32 [B, W] pieces per word (0 past each row's words).
    num_words: int32 [B] words per row.
    max_seq_length: L.

  Returns:
    `kept` bool [B, W] (the words that keep a tagged position: a prefix of
    each row), `positions` int32 [B, W] (their first piece; 0 elsewhere),
    `cls_kept` int32 [B] (1 unless the row is only [SEP]) and `length`
    int32 [B] (tokens including [CLS] and [SEP]).
  """
  num_items = num_words + 2
  cls_kept = tf.cast(num_items + 1 <= max_seq_length, tf.int32)
  starts = cls_kept[:, tf.newaxis] + tf.cumsum(word_lengths, axis=1, exclusive=True)
  fits = ((num_items[:, tf.newaxis] + starts + 1 <= max_seq_length)
          & (starts + word_lengths + 1 <= max_seq_length)
          & (cls_kept[:, tf.newaxis] > 0)
          & tf.sequence_mask(num_words, tf.shape(word_lengths)[1]))
  kept = tf.math.cumprod(tf.cast(fits, tf.int32), axis=1) > 0
  kept_int = tf.cast(kept, tf.int32)
  length = cls_kept + tf.reduce_sum(word_lengths * kept_int, axis=1) + 1
  return {"kept": kept, "positions": starts * kept_int, "cls_kept": cls_kept, "length": length}


class WordTaggingInputs(TextInputs):
  """`text`: string [B], each a sentence of whitespace-separated words.

  Returns `words` string [B, W] (padded with ""), `tags` string [B, W] (the
  predicted label of each word: BIOES for span tasks; "" for padding and for
  words truncated away), `tag_ids` int32 [B, W] (-1 there), and the int32
  [B, max_seq_length] `input_ids`, `input_mask`, `segment_ids` the model saw.
  """
  names = ("text",)

  def serve(self, context: ServingContext, text):
    length = context.max_seq_length
    words = context.tokenizer.split_on_whitespace(text)
    pieces = context.tokenizer.tokenize(words.flat_values)
    word_lengths = words.with_flat_values(tf.cast(pieces.row_lengths(), tf.int32))
    num_words = tf.cast(words.row_lengths(), tf.int32)
    aligned = align_in_graph(word_lengths.to_tensor(0), num_words, length)
    # Every ragged tensor here has int64 row splits, as the tokenizer's.
    kept_mask = tf.RaggedTensor.from_tensor(aligned["kept"], lengths=words.row_lengths())
    body = tf.ragged.boolean_mask(words.with_flat_values(pieces), kept_mask).merge_dims(1, 2)
    batch_size = tf.shape(num_words)[0]
    cls = tf.RaggedTensor.from_row_lengths(
        tf.fill([tf.reduce_sum(aligned["cls_kept"])], tf.cast(context.cls_id, tf.int64)),
        tf.cast(aligned["cls_kept"], tf.int64))
    sep = tf.RaggedTensor.from_row_lengths(
        tf.fill([batch_size], tf.cast(context.sep_id, tf.int64)), tf.ones([batch_size], tf.int64))
    input_ids = tf.cast(tf.concat([cls, body, sep], axis=1).to_tensor(0, shape=[None, length]),
                        tf.int32)
    input_mask = tf.sequence_mask(aligned["length"], length, dtype=tf.int32)
    features = {"input_ids": input_ids, "input_mask": input_mask, "segment_ids": input_mask}
    outputs = context.run(features)
    kept, positions = aligned["kept"], aligned["positions"]
    word_predictions = tf.gather(outputs["predictions"], positions, batch_dims=1)
    word_tags = tf.gather(outputs["tags"], positions, batch_dims=1)
    return {"words": words.to_tensor(""), "tags": tf.where(kept, word_tags, ""),
            "tag_ids": tf.where(kept, word_predictions, -1), **features}
