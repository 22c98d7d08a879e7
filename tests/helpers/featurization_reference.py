"""The original's classification featurisation, ported line by line, and the
shipped sentiment sentences: the independent reference the in-graph
featurisation (serving) and the fine-tuning preprocessing must equal.

`original_featurize` is the original's `SingleOutputTask.featurize` and
`_truncate_seq_pair` (`finetune/classification/classification_tasks.py`).
"""

import pathlib
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

# Also read by bench/serving_latency.py, which must not import tests/conftest.py
# (it splits the CPU into two logical devices).
SENTIMENT_FILE = (pathlib.Path(__file__).resolve().parents[2] / "data" / "sentiment"
                  / "amazonReviewSnippets_GroundTruth.txt")


def _truncate_seq_pair(tokens_a: List, tokens_b: List, max_length: int) -> None:
  """The original's `_truncate_seq_pair`, verbatim in behaviour."""
  while True:
    total_length = len(tokens_a) + len(tokens_b)
    if total_length <= max_length:
      break
    if len(tokens_a) > len(tokens_b):
      tokens_a.pop()
    else:
      tokens_b.pop()


def original_featurize(tokenizer, text_a: str, text_b: Optional[str],
                       max_seq_length: int) -> Dict[str, List[int]]:
  """`SingleOutputTask.featurize`: tokens -> input_ids, input_mask, segment_ids."""
  tokens_a = tokenizer.tokenize(text_a)
  tokens_b = None
  if text_b:
    tokens_b = tokenizer.tokenize(text_b)
  if tokens_b:
    _truncate_seq_pair(tokens_a, tokens_b, max_seq_length - 3)
  else:
    if len(tokens_a) > max_seq_length - 2:
      tokens_a = tokens_a[0:(max_seq_length - 2)]
  tokens = ["[CLS]"]
  segment_ids = [0]
  for token in tokens_a:
    tokens.append(token)
    segment_ids.append(0)
  tokens.append("[SEP]")
  segment_ids.append(0)
  if tokens_b:
    for token in tokens_b:
      tokens.append(token)
      segment_ids.append(1)
    tokens.append("[SEP]")
    segment_ids.append(1)
  input_ids = tokenizer.convert_tokens_to_ids(tokens)
  input_mask = [1] * len(input_ids)
  while len(input_ids) < max_seq_length:
    input_ids.append(0)
    input_mask.append(0)
    segment_ids.append(0)
  return {"input_ids": input_ids, "input_mask": input_mask, "segment_ids": segment_ids}


def featurize_batch(tokenizer, texts: Sequence[str], texts_b: Sequence[str],
                    max_seq_length: int) -> Dict[str, np.ndarray]:
  """int32 [B, L] features of text pairs ("" = no second text)."""
  rows = [original_featurize(tokenizer, a, b, max_seq_length) for a, b in zip(texts, texts_b)]
  return {key: np.array([row[key] for row in rows], np.int32) for key in rows[0]}


def sentiment_sentences() -> Tuple[List[str], np.ndarray]:
  """(sentences, ratings in [-4, 4]) of the shipped review snippets."""
  sentences, ratings = [], []
  for line in SENTIMENT_FILE.read_text(encoding="utf-8").splitlines():
    _, rating, sentence = line.split("\t", 2)
    sentences.append(sentence)
    ratings.append(float(rating))
  return sentences, np.array(ratings, np.float32)
