"""A small SQuAD-2.0-format task built from the shipped Shakespeare text.

`build_speaker_task` reads the plays in `data/corpus/` (Project Gutenberg,
public domain) as speeches: a speaker line such as "Hor." and the lines
after it, up to a blank line. Each context is a run of consecutive
speeches (`speeches_per_context`), and each gets one question, "Who speaks
first?" or "Who speaks last?" (chosen at random):

- answerable contexts keep the speaker tags inline ("Hor. Before my God, I
  might not this believe ... Mar. Is it not like the King?"); the answer is
  the first or last tag without its period ("Hor", "Mar") at its character
  offset;
- unanswerable contexts (`is_impossible`) are the same kind of run with
  the tags left out, so nobody is named as speaking.

Half the questions are unanswerable, so "always unanswerable" scores EM 50,
and so does "the first word" (right on the answerable "first" questions
only, at most 50): the trivial baselines. The model must tell tagged from
untagged text, find the tag and pick the first or last one. Runs are split
between train and dev (no speech is in both); the same arguments give the
same files.
"""

import dataclasses
import json
import os
import random
import re
from typing import Dict, List, Tuple

from electra_tf import fileio
from finetune.task import FinetuningDataError

_SPEAKER = re.compile(r"^([A-Z][a-z]+(?: [A-Z][a-z]+)?)\.$")
QUESTIONS = {"first": "Who speaks first?", "last": "Who speaks last?"}


@dataclasses.dataclass
class SpeakerTaskSummary:
  """What `build_speaker_task` wrote: questions and answerable ones per split."""
  questions: Dict[str, int]
  answerable: Dict[str, int]

  def no_answer_rate(self, split: str) -> float:
    """EM (%) on `split` of predicting "no answer" for every question."""
    return 100.0 * (1 - self.answerable[split] / self.questions[split])


def read_speeches(corpus_dir: str) -> List[Tuple[str, str]]:
  """(speaker tag without its period, the speech's lines joined by spaces)
  for each speech of the plays, in file order."""
  files = sorted(f for f in os.listdir(corpus_dir) if f.endswith(".txt"))
  if not files:
    raise FinetuningDataError(f"{corpus_dir} has no .txt files")
  speeches = []
  for name in files:
    with open(os.path.join(corpus_dir, name), encoding="utf-8") as f:
      lines = f.read().splitlines()
    speaker, current = None, []
    for line in lines + [""]:
      line = line.strip()
      match = _SPEAKER.match(line)
      if match:
        speaker, current = match.group(1), []
      elif not line:
        if speaker and current:
          speeches.append((speaker, " ".join(current)))
        speaker, current = None, []
      elif speaker:
        current.append(line)
  return speeches


def _question(qid: str, run: List[Tuple[str, str]], tagged: bool, which: str) -> Dict:
  if not tagged:
    return {"context": " ".join(text for _, text in run), "qas": [{
        "id": qid, "question": QUESTIONS[which], "is_impossible": True, "answers": []}]}
  parts, starts = [], []
  for speaker, text in run:
    starts.append(len(" ".join(parts)) + (1 if parts else 0))
    parts.append(f"{speaker}. {text}")
  context = " ".join(parts)
  index = 0 if which == "first" else len(run) - 1
  speaker = run[index][0]
  assert context[starts[index]:starts[index] + len(speaker)] == speaker
  return {"context": context, "qas": [{
      "id": qid, "question": QUESTIONS[which], "is_impossible": False,
      "answers": [{"text": speaker, "answer_start": starts[index]}]}]}


def build_speaker_task(corpus_dir: str, output_dir: str, *, num_train: int = 560,
                       num_dev: int = 160, speeches_per_context: int = 2,
                       max_speech_words: int = 40, seed: int = 0) -> SpeakerTaskSummary:
  """Writes `train.json` and `dev.json` (SQuAD 2.0 format) to output_dir.

  Args:
    corpus_dir: the plays (`data/corpus`).
    output_dir: e.g. `<data_dir>/finetuning_data/squad`; created.
    num_train, num_dev: questions (one per context) per split.
    speeches_per_context: consecutive speeches per context.
    max_speech_words: longer speeches are not used (keeps contexts short).
    seed: chooses the runs, the question kinds and the split.
  """
  speeches = read_speeches(corpus_dir)
  runs = []
  for start in range(0, len(speeches) - speeches_per_context + 1, speeches_per_context):
    run = speeches[start:start + speeches_per_context]
    if all(len(text.split()) <= max_speech_words for _, text in run):
      runs.append(run)
  rng = random.Random(seed)
  rng.shuffle(runs)
  if len(runs) < num_train + num_dev:
    raise FinetuningDataError(f"{corpus_dir}: {len(runs)} runs of {speeches_per_context} "
                              f"short speeches, fewer than {num_train + num_dev}")
  counts, answerable = {}, {}
  for split, first, size in (("train", 0, num_train), ("dev", num_train, num_dev)):
    paragraphs = [_question(f"{split}{i}", runs[first + i], tagged=i % 2 == 0,
                            which=rng.choice(sorted(QUESTIONS))) for i in range(size)]
    rng.shuffle(paragraphs)
    fileio.atomic_write(os.path.join(output_dir, f"{split}.json"), json.dumps(
        {"version": "v2.0", "data": [{"title": "shakespeare", "paragraphs": paragraphs}]}))
    counts[split] = size
    answerable[split] = sum(not p["qas"][0]["is_impossible"] for p in paragraphs)
  return SpeakerTaskSummary(counts, answerable)
