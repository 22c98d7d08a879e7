"""Reading SQuAD and MRQA files into `QAExample`s, as the original's
`finetune/qa/qa_tasks.py` (`QATask._add_examples`, `get_examples`).

- SQuAD (`<split>.json`): `{"data": [{"paragraphs": [{"context", "qas":
  [{"id", "question", "answers": [{"text", "answer_start"}],
  "is_impossible"}]}]}]}`.
- MRQA 2019 (`<split>.jsonl`, or the official `<split>.jsonl.gz`): a
  `{"header": ...}` first line, then one paragraph per line: `{"context",
  "qas": [{"qid", "question", "answers": [...], "detected_answers":
  [{"text", "char_spans": [[start, end]]}]}]}`.

The context is split on whitespace (space, tab, CR, LF, U+202F) into
`doc_tokens`, each character mapped to its token. Training questions take
their first answer; one whose end lies past the document, or whose text is
not found (case-insensitively) in the whitespace-joined tokens of its span,
is skipped and counted (the count is logged), as the original. v2 impossible
questions get positions -1 and an empty answer. Dev and test examples carry
the gold answer texts (for scoring) but no positions.
"""

import dataclasses
import gzip
import json
import logging
from typing import Dict, Iterator, List, Optional, Tuple

import tensorflow as tf

from finetune.task import Example, FinetuningDataError

logger = logging.getLogger(__name__)


def is_whitespace(char: str) -> bool:
  """The original's `is_whitespace`: what separates `doc_tokens`."""
  return char in " \t\r\n" or ord(char) == 0x202F


def split_context(context: str) -> Tuple[List[str], List[int]]:
  """Whitespace tokens of a context and each character's token index.

  Returns:
    (doc_tokens, char_to_word_offset): the tokens, and for every character
    of `context` the index of its token (of the previous one for whitespace;
    -1 before the first token).
  """
  doc_tokens: List[str] = []
  char_to_word_offset: List[int] = []
  previous_is_whitespace = True
  for char in context:
    if is_whitespace(char):
      previous_is_whitespace = True
    else:
      if previous_is_whitespace:
        doc_tokens.append(char)
      else:
        doc_tokens[-1] += char
      previous_is_whitespace = False
    char_to_word_offset.append(len(doc_tokens) - 1)
  return doc_tokens, char_to_word_offset


class QAExample(Example):
  """One question about one context.

  Attributes:
    qas_id: the question's id (SQuAD `id`, MRQA `qid`): the key of the
      predictions file.
    question_text: the question.
    doc_tokens: the context's whitespace tokens.
    orig_answer_text: the training answer ("" for impossible, None off train).
    start_position, end_position: the answer's first and last doc token
      (-1 for impossible questions, None off train).
    is_impossible: a v2 training question without an answer.
    gold_answers: every gold answer text (empty for unanswerable questions).
  """

  def __init__(self, task_name: str, eid: int, qas_id: str, question_text: str,
               doc_tokens: List[str], orig_answer_text: Optional[str] = None,
               start_position: Optional[int] = None, end_position: Optional[int] = None,
               is_impossible: bool = False, gold_answers: Optional[List[str]] = None):
    super().__init__(task_name, eid)
    self.qas_id = qas_id
    self.question_text = question_text
    self.doc_tokens = doc_tokens
    self.orig_answer_text = orig_answer_text
    self.start_position = start_position
    self.end_position = end_position
    self.is_impossible = is_impossible
    self.gold_answers = list(gold_answers or [])

  def __repr__(self) -> str:
    return (f"QAExample({self.task_name} {self.eid} {self.qas_id}: {self.question_text!r}, "
            f"answer={self.orig_answer_text!r} [{self.start_position}, {self.end_position}], "
            f"impossible={self.is_impossible})")


@dataclasses.dataclass
class Paragraph:
  """One context with its questions, and where it was read (for errors)."""
  context: str
  qas: List[dict]
  where: str


def _fail(where: str, problem: str) -> FinetuningDataError:
  return FinetuningDataError(
      f"{where}: {problem}; expected SQuAD JSON ({{\"data\": [{{\"paragraphs\": [{{"
      f"\"context\", \"qas\"}}]}}]}}) or MRQA JSON lines (a {{\"header\"}} line, then one "
      f"{{\"context\", \"qas\"}} object per line)")


def _paragraph(value, where: str) -> Paragraph:
  if not isinstance(value, dict) or not isinstance(value.get("context"), str) or \
      not isinstance(value.get("qas"), list):
    raise _fail(where, "a paragraph without a string \"context\" and a list \"qas\"")
  return Paragraph(value["context"], value["qas"], where)


def read_squad_json(path: str) -> Iterator[Paragraph]:
  """The paragraphs of a SQuAD-format JSON file.

  Raises:
    FinetuningDataError: not JSON, or not SQuAD's layout (naming the file).
  """
  with tf.io.gfile.GFile(path, "rb") as f:
    data = f.read()
  try:
    dataset = json.loads(data.decode("utf-8"))
  except (UnicodeDecodeError, json.JSONDecodeError) as e:
    raise _fail(path, f"not valid JSON ({e})") from None
  if not isinstance(dataset, dict) or not isinstance(dataset.get("data"), list):
    raise _fail(path, "no top-level \"data\" list")
  for a, article in enumerate(dataset["data"]):
    if not isinstance(article, dict) or not isinstance(article.get("paragraphs"), list):
      raise _fail(path, f"data[{a}] has no \"paragraphs\" list")
    for p, paragraph in enumerate(article["paragraphs"]):
      yield _paragraph(paragraph, f"{path} (data[{a}].paragraphs[{p}])")


def read_mrqa_jsonl(path: str) -> Iterator[Paragraph]:
  """The paragraphs of an MRQA JSON-lines file (plain or gzipped); the
  `{"header": ...}` first line is skipped.

  Raises:
    FinetuningDataError: a line that is not JSON or not a paragraph,
      naming the file and line.
  """
  with tf.io.gfile.GFile(path, "rb") as f:
    data = f.read()
  if path.endswith(".gz"):
    data = gzip.decompress(data)
  for number, line in enumerate(data.decode("utf-8").splitlines(), start=1):
    if not line.strip():
      continue
    try:
      value = json.loads(line)
    except json.JSONDecodeError as e:
      raise _fail(f"{path}:{number}", f"not valid JSON ({e})") from None
    if isinstance(value, dict) and "header" in value:
      continue
    yield _paragraph(value, f"{path}:{number}")


def _first_answer(qa: dict, where: str) -> Tuple[str, int]:
  """The training answer's (text, character offset): MRQA's first detected
  answer, else SQuAD's first answer."""
  try:
    if "detected_answers" in qa:
      answer = qa["detected_answers"][0]
      return answer["text"], int(answer["char_spans"][0][0])
    answer = qa["answers"][0]
    return answer["text"], int(answer["answer_start"])
  except (KeyError, IndexError, TypeError, ValueError):
    raise _fail(where, f"question {qa.get('id', qa.get('qid'))!r} has no answer with a "
                "text and a character offset") from None


def _gold_answers(qa: dict) -> List[str]:
  answers = qa.get("answers", [])
  return [a["text"] if isinstance(a, dict) else a for a in answers]


class ExampleReader:
  """Turns paragraphs into examples, counting the skipped training answers.

  Attributes:
    examples: the examples read so far (eid = their index).
    skipped: training questions skipped because their answer does not match
      the context.
  """

  def __init__(self, task_name: str, split: str, v2: bool):
    self.task_name = task_name
    self.is_training = split == "train"
    self.v2 = v2
    self.examples: List[QAExample] = []
    self.skipped = 0

  def add(self, paragraph: Paragraph) -> None:
    doc_tokens, char_to_word_offset = split_context(paragraph.context)
    for qa in paragraph.qas:
      if not isinstance(qa, dict) or not isinstance(qa.get("question"), str):
        raise _fail(paragraph.where, "a question entry without a string \"question\"")
      qas_id = qa.get("id", qa.get("qid"))
      if qas_id is None:
        raise _fail(paragraph.where, f"question {qa['question']!r} has no \"id\" or \"qid\"")
      example = QAExample(self.task_name, len(self.examples), str(qas_id), qa["question"],
                          doc_tokens, gold_answers=_gold_answers(qa))
      if self.is_training and not self._add_answer(example, qa, paragraph,
                                                   char_to_word_offset):
        self.skipped += 1
        continue
      self.examples.append(example)

  def _add_answer(self, example: QAExample, qa: dict, paragraph: Paragraph,
                  char_to_word_offset: List[int]) -> bool:
    """Sets the training answer; False if it does not match the context."""
    example.is_impossible = bool(qa.get("is_impossible", False)) if self.v2 else False
    if example.is_impossible:
      example.start_position = example.end_position = -1
      example.orig_answer_text = ""
      return True
    text, offset = _first_answer(qa, paragraph.where)
    end_offset = offset + len(text) - 1
    if offset < 0 or end_offset >= len(char_to_word_offset) or not text:
      logger.debug("%s: answer %r of %s ends outside the document", paragraph.where, text,
                   example.qas_id)
      return False
    start, end = char_to_word_offset[offset], char_to_word_offset[end_offset]
    actual = " ".join(example.doc_tokens[start:end + 1]).lower()
    cleaned = " ".join(text.split()).lower()
    if start < 0 or actual.find(cleaned) == -1:
      logger.debug("%s: could not find answer %r of %s in %r", paragraph.where, cleaned,
                   example.qas_id, actual)
      return False
    example.orig_answer_text, example.start_position, example.end_position = text, start, end
    return True


def read_examples(path: str, task_name: str, split: str, v2: bool,
                max_paragraphs: Optional[int] = None) -> List[QAExample]:
  """Reads a SQuAD (.json) or MRQA (.jsonl, .jsonl.gz) file.

  Args:
    path: the file.
    task_name: the examples' task.
    split: "train" reads answer positions (and skips mismatched answers).
    v2: read `is_impossible` (SQuAD 2.0).
    max_paragraphs: read only the first ones (debug).

  Raises:
    FinetuningDataError: missing, malformed or without examples.
  """
  if not tf.io.gfile.exists(path):
    raise FinetuningDataError(f"{path} does not exist")
  paragraphs = read_squad_json(path) if path.endswith(".json") else read_mrqa_jsonl(path)
  reader = ExampleReader(task_name, split, v2)
  for index, paragraph in enumerate(paragraphs):
    if max_paragraphs is not None and index >= max_paragraphs:
      break
    reader.add(paragraph)
  if reader.skipped:
    logger.warning("%s: skipped %d of %d training questions whose answer text does not "
                   "match the context at its answer_start (as the original)", path,
                   reader.skipped, reader.skipped + len(reader.examples))
  if not reader.examples:
    raise FinetuningDataError(
        f"{path} has no examples (the {task_name} {split} split is empty"
        + (f"; all {reader.skipped} answers were skipped" if reader.skipped else "") + ")")
  return reader.examples


def gold_dataset(examples: List[QAExample]) -> List[Dict]:
  """The examples' gold answers in SQuAD's `data` layout, for the evaluators."""
  return [{"paragraphs": [{"qas": [{"id": e.qas_id, "answers": [{"text": t}
                                                                 for t in e.gold_answers]}
                                   for e in examples]}]}]
