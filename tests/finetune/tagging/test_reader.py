"""CoNLL files: the original's reading rules, and every bad input named by file and line."""

import logging
import re

import pytest

from finetune.tagging import reader
from finetune.task import FinetuningDataError
from tests.finetune.tagging.conftest import make_task, write


def test_reads_the_real_conll2000_sentences(data_dir, conll2000_text):
  path = write(data_dir, "chunk", "train", "-DOCSTART- -X- O\n\n" + conll2000_text)
  sentences = reader.read_conll(str(path))
  assert len(sentences) == 2
  first = sentences[0]
  assert first.words[:4] == ["Confidence", "in", "the", "pound"]
  assert first.tags[:4] == ["B-NP", "B-PP", "B-NP", "I-NP"]
  assert first.columns[0] == ["Confidence", "NN", "B-NP"]
  assert first.lines[0] == 3 and first.has_tags  # after -DOCSTART- and its blank line
  assert sentences[1].words[0] == "Chancellor"
  assert sum(len(s.words) for s in sentences) == sum(
      1 for line in conll2000_text.splitlines() if line.strip())


def test_sentence_boundaries_docstart_and_words_only_files(data_dir):
  path = write(data_dir, "chunk", "test", "\n\nA\nb\n\n\n-DOCSTART-\nc\n")
  sentences = reader.read_conll(str(path), labelled=False)
  assert [s.words for s in sentences] == [["A", "b"], ["c"]]
  assert [s.lines for s in sentences] == [[3, 4], [8]]
  assert not any(s.has_tags for s in sentences)
  assert len(reader.read_conll(str(path), labelled=False, max_sentences=1)) == 1


@pytest.mark.parametrize("text,split,message", [
    ("a DT B-NP\nb\n", "train", r"train\.txt:2: 1 columns where line 1 has 3"),
    ("a\nb\n", "train", r"train\.txt:1: 1 column \('a'\) where a word and its tag are needed"),
    ("a NN B-NP\nb NN\n", "dev", r"dev\.txt:2: 2 columns where line 1 has 3"),
    ("a\tNN\tB-NP\nNew York\tNNP\tI-NP\n", "train",
     r"train\.txt:2: a tab-separated column contains a space"),
    ("\n\n-DOCSTART- -X- O\n\n", "train", r"train\.txt has no sentences"),
    ("", "dev", r"dev\.txt has no sentences"),
])
def test_bad_files_are_named_by_file_and_line(data_dir, text, split, message):
  path = write(data_dir, "chunk", split, text)
  with pytest.raises(FinetuningDataError, match=message):
    reader.read_conll(str(path), labelled=True)


def test_mixed_tab_and_space_columns_are_read_alike_and_counted(data_dir, caplog):
  path = write(data_dir, "chunk", "train", "a\tDT\tB-NP\nb NN I-NP\n\nc\tNN\tB-NP\n")
  with caplog.at_level(logging.WARNING):
    sentences = reader.read_conll(str(path))
  assert [s.tags for s in sentences] == [["B-NP", "I-NP"], ["B-NP"]]
  assert re.search(r"train\.txt: 2 line\(s\) separate columns with tabs and 1 with spaces",
                   caplog.text)


def test_a_tag_that_is_not_iob_is_refused_for_a_span_task(data_dir):
  write(data_dir, "chunk", "train", "a DT B-NP\nb NN NP\n")
  path = write(data_dir, "chunk", "dev", "a DT B-NP\n")
  task = make_task(data_dir)
  with pytest.raises(FinetuningDataError, match=re.escape(
      f"{path.parent / 'train.txt'}:2: tag 'NP' is not IOB/BIOES")):
    task.get_examples("dev")
  # A token-level task takes any tag.
  pos = make_task(data_dir, "wsj", tagging_tasks={"wsj": "token"})
  write(data_dir, "wsj", "train", "a DT B-NP\nb NN NP\n")
  assert pos.label_list == ["B-NP", "NP"]
