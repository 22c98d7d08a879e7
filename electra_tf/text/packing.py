"""Packing token ids into encoder inputs, in the graph.

`pack_inputs` is the original's sentence(-pair) featurisation
(`finetune/classification/classification_tasks.py: SingleOutputTask.featurize`)
on ragged WordPiece ids, so that serving signatures can featurise raw text in
the same graph as the model.
"""

from typing import Dict

import tensorflow as tf


def pack_inputs(tokens_a: tf.RaggedTensor, tokens_b: tf.RaggedTensor, max_seq_length: int,
                cls_id: int, sep_id: int) -> Dict[str, tf.Tensor]:
  """The original's classification featurisation (`SingleOutputTask.featurize`).

  A row whose `tokens_b` is empty is a single text: truncated to L - 2 tokens,
  packed as [CLS] A [SEP]. Otherwise a pair, truncated as
  `_truncate_seq_pair` with L - 3 (pop the last token of the longer side, of
  B on ties, until they fit; in closed form below), packed as
  [CLS] A [SEP] B [SEP] with segment ids 0 up to the first [SEP], then 1.
  As in the original, a pair whose B is truncated away (L <= 4) keeps A
  truncated to L - 3 but is packed as a single text. Padding is 0 up to L.

  Args:
    tokens_a, tokens_b: int ragged [B, (tokens)] WordPiece ids.
    max_seq_length: L.
    cls_id, sep_id: ids of [CLS] and [SEP].

  Returns:
    int32 [B, L] `input_ids`, `input_mask`, `segment_ids`.

  Raises:
    ValueError: L < 3 (the original's pair truncation fails there).
  """
  if max_seq_length < 3:
    raise ValueError(f"max_seq_length must be >= 3 for [CLS] A [SEP] B [SEP], got "
                     f"{max_seq_length}")
  length_a = tf.cast(tokens_a.row_lengths(), tf.int32)
  length_b = tf.cast(tokens_b.row_lengths(), tf.int32)
  budget = max_seq_length - 3
  # `_truncate_seq_pair` shortens the longer side until both fit; if the
  # shorter one is over half the budget both end at half (A keeps the odd one).
  kept_b = tf.where(length_b > 0,
                    tf.minimum(length_b, tf.maximum(budget - length_a, budget // 2)), 0)
  kept_a = tf.where(length_b > 0, tf.minimum(length_a, budget - kept_b),
                    tf.minimum(length_a, max_seq_length - 2))
  # The original decides the layout after truncating (`if tokens_b:`).
  is_pair = kept_b > 0
  # Built position by position on dense [B, L] tensors: cheaper to trace and
  # run than concatenating ragged pieces.
  dense = lambda tokens: tf.cast(tokens.to_tensor(0, shape=[None, max_seq_length]), tf.int32)
  position = tf.broadcast_to(tf.range(max_seq_length), [tf.shape(length_a)[0], max_seq_length])
  first_sep = 1 + kept_a[:, tf.newaxis]
  second_sep = first_sep + 1 + kept_b[:, tf.newaxis]
  length = tf.where(is_pair[:, tf.newaxis], second_sep + 1, first_sep + 1)
  from_a = tf.gather(dense(tokens_a), tf.maximum(position - 1, 0), batch_dims=1)
  from_b = tf.gather(dense(tokens_b), tf.maximum(position - first_sep - 1, 0), batch_dims=1)
  input_ids = tf.where(position == 0, cls_id,
                       tf.where(position < first_sep, from_a,
                                tf.where((position == first_sep) | (position == second_sep),
                                         sep_id, from_b)))
  input_mask = tf.cast(position < length, tf.int32)
  return {"input_ids": input_ids * input_mask, "input_mask": input_mask,
          "segment_ids": tf.cast((position > first_sep) & (position < length), tf.int32)}
