"""CoNLL-format files: one word a line, blank lines between sentences.

The original's `TaggingTask._get_labeled_sentences`: each line is split on
whitespace; the first column is the word and the last the tag; `-DOCSTART-`
lines are skipped. Checks added here (the original read any of these
silently, or crashed later):

- every line of a file has the same number of columns, at least 2 (word and
  tag) for a labelled file; a file whose lines all have 1 column is a
  words-only file (allowed for test splits);
- in a tab-separated line no column may contain a space (e.g.
  "New York\\tNNP\\tB-NP"): split on whitespace as the original, it would
  shift the columns;
- lines separated by tabs and lines separated by spaces in one file are read
  alike (the original's whitespace split) and counted in the log;
- a file without sentences is an error.
"""

import dataclasses
import logging
from typing import List, Optional, Tuple

from finetune.task import FinetuningDataError, read_data_file

logger = logging.getLogger(__name__)

DOCSTART = "-DOCSTART-"
# Sentences read per file in debug mode: the original stops after 101.
DEBUG_MAX_SENTENCES = 101


@dataclasses.dataclass
class Sentence:
  """One sentence of a CoNLL file.

  Attributes:
    words: the first column of each line.
    tags: the last column of each line (the words again in a words-only file).
    has_tags: False for a words-only file (one column a line).
    lines: each word's 1-based line number in the file.
    columns: each line's columns as read (written back beside predictions).
  """
  words: List[str]
  tags: List[str]
  lines: List[int]
  columns: List[List[str]]
  has_tags: bool = True


def _split_line(path: str, number: int, line: str) -> Tuple[List[str], bool]:
  """A line's columns, and whether it separates them with tabs."""
  fields = line.split()
  if "\t" in line.strip():
    tab_fields = line.strip().split("\t")
    if len(tab_fields) != len(fields):
      raise FinetuningDataError(
          f"{path}:{number}: a tab-separated column contains a space ({tab_fields!r}); words "
          "and tags are split on any whitespace (as the original), so remove the space or "
          "join the word with another character")
    return fields, True
  return fields, False


def read_conll(path: str, labelled: bool = True,
               max_sentences: Optional[int] = None) -> List[Sentence]:
  """Reads a CoNLL file's sentences.

  Args:
    path: the file.
    labelled: every line must have a tag column (train and dev splits).
    max_sentences: stop after this many sentences (debug mode).

  Raises:
    FinetuningDataError: a missing or non-UTF-8 file, a line whose column
      count differs from the file's first line, a labelled file of single
      columns, a space inside a tab-separated column, or no sentences;
      naming the file and line.
  """
  text = read_data_file(path)
  sentences: List[Sentence] = []
  current = Sentence([], [], [], [])
  num_columns, first_line = None, None
  separators = {True: 0, False: 0}
  for number, line in enumerate(text.split("\n"), start=1):
    fields, tabbed = _split_line(path, number, line)
    if not fields:
      if current.words:
        sentences.append(current)
        current = Sentence([], [], [], [])
        if max_sentences is not None and len(sentences) >= max_sentences:
          break
      continue
    if fields[0] == DOCSTART:
      continue
    if num_columns is None:
      num_columns, first_line = len(fields), number
      if labelled and num_columns < 2:
        raise FinetuningDataError(
            f"{path}:{number}: 1 column ({fields[0]!r}) where a word and its tag are needed "
            "(word first, tag last, separated by whitespace)")
    elif len(fields) != num_columns:
      raise FinetuningDataError(
          f"{path}:{number}: {len(fields)} columns where line {first_line} has {num_columns} "
          f"({fields!r}); every line needs the word first and the tag last")
    separators[tabbed] += 1
    current.words.append(fields[0])
    current.tags.append(fields[-1])
    current.lines.append(number)
    current.columns.append(fields)
  if current.words:
    sentences.append(current)
  if not sentences:
    raise FinetuningDataError(f"{path} has no sentences (one word and tag a line, blank "
                              "lines between sentences)")
  for sentence in sentences:
    sentence.has_tags = num_columns > 1
  if separators[True] and separators[False]:
    logger.warning("%s: %d line(s) separate columns with tabs and %d with spaces; both are "
                   "read as whitespace-separated (as the original)", path, separators[True],
                   separators[False])
  return sentences
