"""A small SQuAD-2.0-format task built from the shipped Shakespeare text.

`build_word_pair_task` reads the plays in `data/corpus/` (Project
Gutenberg, public domain), keeps each speech (the lines after a speaker
line such as "Hor.", up to a blank line) and joins consecutive speeches
into contexts of at least `min_context_words` words. For each context it
asks one question of each kind:

- answerable: "<w> and the word after it?" where w is a word that occurs
  once in the context; the answer is w and the word that follows it (its
  character offset in the context);
- unanswerable (`is_impossible`): the same question about a word of another
  context that this one lacks.

So half the dev questions have no answer: "always unanswerable" scores
EM 50, the trivial baseline. Contexts are split between train and dev
(no context is in both); the same arguments give the same files.
"""

import dataclasses
import json
import os
import random
import re
from typing import Dict, List

from electra_tf import fileio
from finetune.task import FinetuningDataError

_SPEAKER = re.compile(r"^[A-Z][A-Za-z]*(?: [A-Z][A-Za-z]*)?\.$")
_WORD = re.compile(r"^[A-Za-z]{4,}$")


@dataclasses.dataclass
class WordPairSummary:
  """What `build_word_pair_task` wrote: questions and answerable ones per split."""
  questions: Dict[str, int]
  answerable: Dict[str, int]

  def no_answer_rate(self, split: str) -> float:
    """EM (%) on `split` of predicting "no answer" for every question."""
    return 100.0 * (1 - self.answerable[split] / self.questions[split])


def read_speeches(corpus_dir: str) -> List[str]:
  """Each speech of the plays, its lines joined by spaces, in file order."""
  files = sorted(f for f in os.listdir(corpus_dir) if f.endswith(".txt"))
  if not files:
    raise FinetuningDataError(f"{corpus_dir} has no .txt files")
  speeches = []
  for name in files:
    with open(os.path.join(corpus_dir, name), encoding="utf-8") as f:
      lines, current = f.read().splitlines(), None
    for line in lines + [""]:
      line = line.strip()
      if _SPEAKER.match(line):
        current = []
      elif not line:
        if current:
          speeches.append(" ".join(current))
        current = None
      elif current is not None:
        current.append(line)
  return speeches


def _question(word: str) -> str:
  return f"{word} and the word after it?"


def build_word_pair_task(corpus_dir: str, output_dir: str, *, num_train: int = 400,
                         num_dev: int = 100, min_context_words: int = 40,
                         seed: int = 0) -> WordPairSummary:
  """Writes `train.json` and `dev.json` (SQuAD 2.0 format) to output_dir.

  Args:
    corpus_dir: the plays (`data/corpus`).
    output_dir: e.g. `<data_dir>/finetuning_data/squad`.
    num_train, num_dev: contexts per split (two questions each).
    min_context_words: speeches are joined until a context has this many words.
    seed: chooses the contexts, words and split.
  """
  contexts, current = [], []
  for speech in read_speeches(corpus_dir):
    current.append(speech)
    if sum(len(s.split()) for s in current) >= min_context_words:
      contexts.append(" ".join(current))
      current = []
  rng = random.Random(seed)
  rng.shuffle(contexts)
  if len(contexts) < num_train + num_dev + 1:
    raise FinetuningDataError(f"{corpus_dir}: {len(contexts)} contexts, fewer than "
                              f"{num_train + num_dev + 1}")
  chosen = contexts[:num_train + num_dev + 1]
  counts: Dict[str, int] = {}
  for split, first, last in (("train", 0, num_train), ("dev", num_train, num_train + num_dev)):
    paragraphs = []
    for index in range(first, last):
      context, other = chosen[index], chosen[index + 1]
      paragraph = _paragraph(context, other, f"{split}{index}", rng)
      if paragraph:
        paragraphs.append(paragraph)
    fileio.atomic_write(os.path.join(output_dir, f"{split}.json"), json.dumps(
        {"version": "v2.0", "data": [{"title": "shakespeare", "paragraphs": paragraphs}]}))
    counts[split] = len(paragraphs)
  return WordPairSummary({s: 2 * n for s, n in counts.items()}, dict(counts))


def _paragraph(context: str, other: str, qid: str, rng: random.Random):
  """One answerable and one unanswerable question about `context`, or None."""
  words = context.split(" ")
  lowered = [w.lower() for w in words]
  candidates = [i for i, w in enumerate(words[:-1])
                if _WORD.match(w) and lowered.count(w.lower()) == 1]
  absent = sorted({w for w in other.split(" ") if _WORD.match(w)
                   and w.lower() not in context.lower()})
  if not candidates or not absent:
    return None
  i = rng.choice(candidates)
  answer = f"{words[i]} {words[i + 1]}"
  start = len(" ".join(words[:i])) + (1 if i else 0)
  assert context[start:start + len(answer)] == answer
  missing = rng.choice(absent)
  return {"context": context, "qas": [
      {"id": qid + "a", "question": _question(words[i]), "is_impossible": False,
       "answers": [{"text": answer, "answer_start": start}]},
      {"id": qid + "u", "question": _question(missing), "is_impossible": True,
       "answers": []}]}
