"""Tag sequences <-> labelled spans, as the original's `finetune/tagging/tagging_utils.py`.

A span is (first word, last word, type), both ends inclusive. Tags are "O" or
"<position>-<type>" with position one of B (begin), I (inside), E (end),
S (single); IOB1, IOB2 (BIO) and BIOES sequences all decode with the same
function.

`get_span_labels` is the original's lenient decoder, not seqeval's. On
well-formed sequences they agree; on malformed ones they differ, e.g.:

| tags               | here (the original)        | seqeval 1.2.2 (default mode)  |
|--------------------|----------------------------|-------------------------------|
| I-X I-X            | (0, 1, X)                  | (0, 1, X)                     |
| B-X I-Y            | (0, 1, Y): one span whose  | (0, 0, X), (1, 1, Y)          |
|                    | type is the last tag's     |                               |
| E-X E-X            | (0, 1, X): E does not end  | (0, 0, X), (1, 1, X)          |
|                    | a span, only B, S and O do |                               |
| B-X O I-X          | (0, 0, X), (2, 2, X)       | (0, 0, X), (2, 2, X)          |

i.e. a span runs from a B or S tag (or any tag after an O) up to the next
B, S or O, whatever the I/E tags and their types in between; its type is
that of its last tag. The tagging scorer therefore counts a predicted
`B-NP I-VP` as one VP span.
"""

from typing import List, Optional, Sequence, Tuple

Span = Tuple[int, int, str]

OUTSIDE = "O"
POSITIONS = ("B", "I", "E", "S")
# The original's LABEL_ENCODING: span tasks are trained on BIOES tags.
LABEL_ENCODING = "BIOES"


class TagError(ValueError):
  """A tag that is not "O" nor "<B|I|E|S>-<type>"."""


def check_span_tag(tag: str) -> None:
  """Raises TagError unless `tag` is "O" or "<B|I|E|S>-<type>" (one dash, as the
  original's `tag.split("-")` requires)."""
  if tag == OUTSIDE:
    return
  parts = tag.split("-")
  if len(parts) != 2 or parts[0] not in POSITIONS or not parts[1]:
    raise TagError(f"tag {tag!r} is not IOB/BIOES: span tasks need \"O\" or "
                   "\"<B|I|E|S>-<type>\" with a type free of \"-\"; use a token-level "
                   "task for tags that are not spans (e.g. part-of-speech)")


def get_span_labels(tags: Sequence[str]) -> List[Span]:
  """The original's `get_span_labels`: tag sequence -> spans, leniently.

  Args:
    tags: one tag per word (checked with `check_span_tag`).

  Returns:
    (start, end, type) spans in order; [] for no words.
  """
  spans = []
  last, start = OUTSIDE, -1
  for i, tag in enumerate(tags):
    check_span_tag(tag)
    position = None if tag == OUTSIDE else tag.split("-")[0]
    if position in ("B", "S", None) and last != OUTSIDE:
      spans.append((start, i - 1, last.split("-")[-1]))
    if position in ("B", "S") or last == OUTSIDE:
      start = i
    last = tag
  if tags and tags[-1] != OUTSIDE:
    spans.append((start, len(tags) - 1, tags[-1].split("-")[-1]))
  return spans


def get_tags(spans: Sequence[Span], length: int, encoding: str = LABEL_ENCODING) -> List[str]:
  """The original's `get_tags`: spans -> one tag per word in `encoding`.

  Args:
    spans: (start, end, type), inclusive, within [0, length).
    length: the number of words.
    encoding: the positions used, e.g. "BIOES" or "BIO" (I inside; E on the
      last word and B on the first if in the encoding; S on one-word spans
      if in it).
  """
  tags = [OUTSIDE] * length
  for start, end, span_type in spans:
    for i in range(start, end + 1):
      tags[i] = "I-" + span_type
    if "E" in encoding:
      tags[end] = "E-" + span_type
    if "B" in encoding:
      tags[start] = "B-" + span_type
    if "S" in encoding and start == end:
      tags[start] = "S-" + span_type
  return tags


def to_bioes(tags: Sequence[str]) -> List[str]:
  """IOB / BIO / BIOES tags -> the BIOES tags of their spans (what span tasks learn)."""
  return get_tags(get_span_labels(tags), len(tags))


def decode_ids(label_ids: Sequence[int], label_list: Sequence[str],
               limit: Optional[int] = None) -> List[Span]:
  """Label ids -> spans, through `label_list` (id -> tag); the first `limit` ids."""
  ids = list(label_ids)[:limit] if limit is not None else list(label_ids)
  return get_span_labels([label_list[i] for i in ids])
