"""Words -> WordPiece ids with each word's first sub-token, as the original.

The original's `tokenize_and_align` and `TaggingTask.featurize`
(`finetune/tagging/tagging_tasks.py`):

- each word is tokenised on its own: control characters deleted, then
  **always** lower-cased and accent-stripped (`cased=False`, whatever
  `do_lower_case` says), split at punctuation, WordPiece; a word whose
  characters are all deleted has no pieces, and its tagged position is that
  of the next token;
- the sequence is [CLS] + every word's pieces + [SEP]; the tag of a word is
  predicted at its first piece;
- truncation (quirk): with n = words + 2 items ([CLS], the words, [SEP]),
  before adding each item, if n + tokens so far + 1 > max_seq_length, [SEP]
  is appended and the rest dropped. So a sentence of many short words is cut
  well before the length is full, and one of max_seq_length - 1 or more words
  becomes the single token [SEP];
- fixed here: the original overflowed (and failed an assertion) when one word
  had more pieces than the room left; such a word is dropped with the rest;
- `segment_ids` are 1 for every token, [CLS] and [SEP] included (quirk),
  `input_mask` 1.

Known difference: the original does not put spaces around CJK ideographs
inside a word (its `tokenize_and_align` skips that step); here, as in
`FullTokenizer`, each ideograph is a word piece sequence of its own.
"""

from typing import List, Sequence, Tuple


def align(word_pieces: Sequence[Sequence[int]], max_seq_length: int, cls_id: int,
          sep_id: int) -> Tuple[List[int], List[int]]:
  """One sentence's pieces -> (input ids, first-piece position of each kept word).

  Args:
    word_pieces: each word's WordPiece ids.
    max_seq_length: L.
    cls_id, sep_id: ids of [CLS] and [SEP].

  Returns:
    `input_ids` (at most L, ending with [SEP]) and the positions of the first
    `len(positions)` words; the others were truncated away.
  """
  items = [[cls_id]] + [list(pieces) for pieces in word_pieces] + [[sep_id]]
  num_items = len(items)
  input_ids: List[int] = []
  positions: List[int] = []
  for index, item in enumerate(items):
    is_word = 0 < index < num_items - 1
    if (num_items + len(input_ids) + 1 > max_seq_length
        or (is_word and len(input_ids) + len(item) + 1 > max_seq_length)):
      input_ids.append(sep_id)
      break
    if is_word:
      positions.append(len(input_ids))
    input_ids += item
  return input_ids, positions
