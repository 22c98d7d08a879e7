"""QA examples -> sliding-window features, as the original's `QATask.featurize`
(`finetune/qa/qa_tasks.py`), and the metadata the decoder needs.

Per example:

1. the question's WordPieces, truncated to `max_query_length`;
2. each whitespace doc token's WordPieces, with `tok_to_orig_index`
   (WordPiece -> doc token) and `orig_to_tok_index`;
3. training: the answer's WordPiece span, refined by `improve_answer_span`;
4. windows of `max_tokens_for_doc = L - len(query) - 3` WordPieces, each
   starting `min(window length, doc_stride)` after the previous one, until
   one reaches the end of the document;
5. each window as `[CLS] query [SEP]` (segment 0) `window [SEP]` (segment 1),
   zero-padded to L; its eid is `1000 * example eid + window index`;
6. training labels per window: the answer's positions (offset by
   len(query) + 2) if the whole answer lies inside the window, else [CLS]
   (0, 0), as for impossible questions; `is_impossible` is the example's
   flag, also in windows that only lack the answer.

The decoder needs, per window, which positions are context tokens, the
doc token each maps to and whether this window is the token's "max
context" (`check_is_max_context`). The original re-featurised the dev set
in the scorer; here `DecodingData` holds all of it (JSON-serialisable),
stored beside the cached records so a cache hit keeps it.
"""

import bisect
import dataclasses
from typing import Dict, List, Sequence, Tuple

import numpy as np

from finetune.qa.examples import QAExample

# The original's eid of window w of example e: 1000 * e + w.
WINDOWS_PER_EXAMPLE = 1000


@dataclasses.dataclass(frozen=True)
class DocSpan:
  """A window over an example's WordPieces: [start, start + length)."""
  start: int
  length: int


def improve_answer_span(doc_tokens: Sequence[str], start: int, end: int,
                        answer_tokens: Sequence[str]) -> Tuple[int, int]:
  """The original's `_improve_answer_span`: the first sub-span of
  [start, end] (outermost starts first, longest first) whose WordPieces are
  exactly the answer's, e.g. "1895" in "(1895-1943)." instead of the whole
  whitespace token; [start, end] if none matches."""
  answer = " ".join(answer_tokens)
  for new_start in range(start, end + 1):
    for new_end in range(end, new_start - 1, -1):
      if " ".join(doc_tokens[new_start:new_end + 1]) == answer:
        return new_start, new_end
  return start, end


def make_doc_spans(num_tokens: int, max_tokens_for_doc: int, doc_stride: int) -> List[DocSpan]:
  """The original's windows: each starts min(length, doc_stride) after the
  previous one; the last reaches the end of the document."""
  spans: List[DocSpan] = []
  start = 0
  while start < num_tokens:
    length = min(num_tokens - start, max_tokens_for_doc)
    spans.append(DocSpan(start, length))
    if start + length == num_tokens:
      break
    start += min(length, doc_stride)
  return spans


def check_is_max_context(doc_spans: Sequence[DocSpan], span_index: int, position: int) -> bool:
  """The original's `_check_is_max_context`: whether window `span_index` is
  the one where WordPiece `position` has the most context, scored as
  min(left, right context) + 0.01 * window length (the first wins ties)."""
  best_score, best_index = None, None
  for index, span in enumerate(doc_spans):
    end = span.start + span.length - 1
    if position < span.start or position > end:
      continue
    score = min(position - span.start, end - position) + 0.01 * span.length
    if best_score is None or score > best_score:
      best_score, best_index = score, index
  return best_index == span_index


@dataclasses.dataclass
class Context:
  """A context's whitespace tokens and WordPieces (shared by its questions).

  Attributes:
    doc_tokens: whitespace tokens.
    wordpieces: every doc token's WordPieces, concatenated.
    tok_to_orig: the doc token of each WordPiece.
  """
  doc_tokens: List[str]
  wordpieces: List[str]
  tok_to_orig: List[int]


@dataclasses.dataclass
class Window:
  """One feature (model input) of an example.

  Attributes:
    eid: the feature's eid, 1000 * example eid + window index.
    example: index into `DecodingData.examples`.
    doc_start: the window's first WordPiece in the context's `wordpieces`.
    doc_offset: the position of that WordPiece in the input (len(query) + 2).
    max_context: per window WordPiece, "1" if this window is its max context,
      else "0" (a string: compact in the cached JSON).
  """
  eid: int
  example: int
  doc_start: int
  doc_offset: int
  max_context: str

  @property
  def length(self) -> int:
    return len(self.max_context)

  @property
  def num_tokens(self) -> int:
    """Tokens of the input, [CLS] to the final [SEP]."""
    return self.doc_offset + self.length + 1

  def is_context(self, position: int) -> bool:
    """Whether input position `position` is a context WordPiece (the
    original's `position in token_to_orig_map`)."""
    return self.doc_offset <= position < self.doc_offset + self.length

  def wordpiece_index(self, position: int) -> int:
    return self.doc_start + position - self.doc_offset

  def is_max_context(self, position: int) -> bool:
    return self.is_context(position) and self.max_context[position - self.doc_offset] == "1"


@dataclasses.dataclass
class ExampleInfo:
  """What scoring needs of an example: its id, context and gold answers."""
  qas_id: str
  context: int
  gold_answers: List[str]


@dataclasses.dataclass
class DecodingData:
  """Everything decoding and scoring need besides the model's outputs."""
  contexts: List[Context]
  examples: List[ExampleInfo]
  windows: List[Window]

  def to_json(self) -> Dict:
    return dataclasses.asdict(self)

  @classmethod
  def from_json(cls, value: Dict) -> "DecodingData":
    return cls([Context(**c) for c in value["contexts"]],
               [ExampleInfo(**e) for e in value["examples"]],
               [Window(**w) for w in value["windows"]])


class QAFeaturizer:
  """Featurises QA examples with the original's windows and labels.

  Attributes:
    truncated_questions: questions cut to `max_query_length` so far (logged
      by the task).
  """

  def __init__(self, tokenizer, max_seq_length: int, max_query_length: int, doc_stride: int):

    self.tokenizer = tokenizer
    self.max_seq_length = max_seq_length
    self.max_query_length = max_query_length
    self.doc_stride = doc_stride
    self.truncated_questions = 0

  def _contexts(self, examples: Sequence[QAExample]) -> Tuple[List[Context], List[int]]:
    """The distinct contexts (by identity of their token list) and each example's."""
    index_of: Dict[int, int] = {}
    unique: List[List[str]] = []
    per_example = []
    for example in examples:
      key = id(example.doc_tokens)
      if key not in index_of:
        index_of[key] = len(unique)
        unique.append(example.doc_tokens)
      per_example.append(index_of[key])
    flat = [token for doc_tokens in unique for token in doc_tokens]
    encoded = iter(self.tokenizer.encode_batch(flat))
    contexts = []
    for doc_tokens in unique:
      ids, tok_to_orig = [], []
      for i in range(len(doc_tokens)):
        pieces = next(encoded)
        ids += pieces
        tok_to_orig += [i] * len(pieces)
      contexts.append(Context(doc_tokens, self.tokenizer.convert_ids_to_tokens(ids),
                              tok_to_orig))
    return contexts, per_example

  def featurize(self, examples: Sequence[QAExample], is_training: bool, task_name: str,
                task_id: int) -> Tuple[Dict[str, np.ndarray], DecodingData]:
    """Examples -> ({feature: [N, ...]}, DecodingData), one row per window.

    Features: `input_ids`, `input_mask`, `segment_ids` int32 [N, L];
    `task_id`, `<task>_eid`, `<task>_start_positions`, `<task>_end_positions`,
    `<task>_is_impossible` int32 [N] (positions 0 off training).
    """
    contexts, context_of = self._contexts(examples)
    queries = self.tokenizer.encode_batch([e.question_text for e in examples])
    answers = (self.tokenizer.encode_batch([e.orig_answer_text or "" for e in examples])
               if is_training else [None] * len(examples))
    cls_id, sep_id = self.tokenizer.convert_tokens_to_ids(["[CLS]", "[SEP]"])
    rows: List[Tuple[List[int], int, int, int, int]] = []
    windows: List[Window] = []
    infos = []
    for index, example in enumerate(examples):
      context = contexts[context_of[index]]
      infos.append(ExampleInfo(example.qas_id, context_of[index], example.gold_answers))
      query = list(queries[index][:self.max_query_length])
      self.truncated_questions += len(queries[index]) > self.max_query_length
      answer = (self._answer_span(example, context, answers[index])
                if is_training and not example.is_impossible else None)
      max_tokens_for_doc = self.max_seq_length - len(query) - 3
      spans = make_doc_spans(len(context.wordpieces), max_tokens_for_doc, self.doc_stride)
      doc_ids = self.tokenizer.convert_tokens_to_ids(context.wordpieces)
      doc_offset = len(query) + 2
      for span_index, span in enumerate(spans):
        ids = [cls_id] + query + [sep_id] + doc_ids[span.start:span.start + span.length] + [sep_id]
        start = end = 0
        if answer is not None and span.start <= answer[0] and answer[1] < span.start + span.length:
          start, end = (p - span.start + doc_offset for p in answer)
        eid = WINDOWS_PER_EXAMPLE * example.eid + span_index
        rows.append((ids, doc_offset, start, end, eid))
        windows.append(Window(eid, index, span.start, doc_offset, "".join(
            "1" if check_is_max_context(spans, span_index, span.start + i) else "0"
            for i in range(span.length))))
    return self._columns(rows, examples, windows, task_name, task_id), DecodingData(
        contexts, infos, windows)

  def _answer_span(self, example: QAExample, context: Context,
                   answer_ids: List[int]) -> Tuple[int, int]:
    """The training answer's first and last WordPiece (refined)."""
    # The original's orig_to_tok_index[i]: WordPieces before doc token i.
    def orig_to_tok(i):
      return bisect.bisect_left(context.tok_to_orig, i)
    start = orig_to_tok(example.start_position)
    if example.end_position < len(example.doc_tokens) - 1:
      end = orig_to_tok(example.end_position + 1) - 1
    else:
      end = len(context.wordpieces) - 1
    return improve_answer_span(context.wordpieces, start, end,
                               self.tokenizer.convert_ids_to_tokens(answer_ids))

  def _columns(self, rows, examples: Sequence[QAExample], windows: Sequence[Window],
               task_name: str, task_id: int) -> Dict[str, np.ndarray]:
    num, length = len(rows), self.max_seq_length
    input_ids = np.zeros([num, length], np.int32)
    input_mask = np.zeros([num, length], np.int32)
    segment_ids = np.zeros([num, length], np.int32)
    for i, (ids, doc_offset, _, _, _) in enumerate(rows):
      input_ids[i, :len(ids)] = ids
      input_mask[i, :len(ids)] = 1
      segment_ids[i, doc_offset:len(ids)] = 1
    impossible = [int(examples[w.example].is_impossible) for w in windows]
    return {
        "input_ids": input_ids, "input_mask": input_mask, "segment_ids": segment_ids,
        "task_id": np.full([num], task_id, np.int32),
        f"{task_name}_eid": np.array([r[4] for r in rows], np.int32),
        f"{task_name}_start_positions": np.array([r[2] for r in rows], np.int32),
        f"{task_name}_end_positions": np.array([r[3] for r in rows], np.int32),
        f"{task_name}_is_impossible": np.array(impossible, np.int32),
    }


def window_tokens(data: DecodingData, window: Window) -> List[str]:
  """The input tokens of a window's context part (for logging and tests)."""
  context = data.contexts[data.examples[window.example].context]
  return context.wordpieces[window.doc_start:window.doc_start + window.length]

