"""Hand-built SQuAD/MRQA files and the real SQuAD 1.1 rows of allennlp 0.9.0."""

import gzip
import json
import os
import subprocess
import sys
import zipfile
from typing import Dict, List, Optional

# allennlp 0.9.0's wheel (Apache-2.0) ships 5 real SQuAD 1.1 questions.
ALLENNLP_WHEEL = "allennlp==0.9.0"
ALLENNLP_SQUAD = "allennlp/tests/fixtures/data/squad.json"

# 13 words, one WordPiece each in the BERT uncased vocab.
CONTEXT = "the cat sat on the mat and the dog ran far away today"


def qa(qid: str, question: str, context: str, answer: Optional[str], occurrence: int = 0,
       impossible: bool = False, offset_shift: int = 0) -> Dict:
  """A SQuAD question entry; `answer` located at its `occurrence`-th match."""
  entry = {"id": qid, "question": question, "answers": []}
  if impossible:
    entry["is_impossible"] = True
  elif answer is not None:
    start = -1
    for _ in range(occurrence + 1):
      start = context.index(answer, start + 1)
    entry["answers"] = [{"text": answer, "answer_start": start + offset_shift}]
  return entry


def write_squad(path: str, paragraphs: List[Dict]) -> str:
  """`paragraphs`: [{"context", "qas"}] -> a SQuAD-format JSON file."""
  os.makedirs(os.path.dirname(path), exist_ok=True)
  with open(path, "w", encoding="utf-8") as f:
    json.dump({"version": "v2.0", "data": [{"title": "t", "paragraphs": paragraphs}]}, f)
  return path


def write_mrqa(path: str, paragraphs: List[Dict]) -> str:
  """`paragraphs` in SQuAD form -> MRQA JSON lines (gzipped if path ends in .gz)."""
  lines = [json.dumps({"header": {"dataset": "test", "split": "dev"}})]
  for paragraph in paragraphs:
    qas = []
    for entry in paragraph["qas"]:
      answers = entry["answers"]
      qas.append({"qid": entry["id"], "question": entry["question"],
                  "answers": [a["text"] for a in answers],
                  "detected_answers": [{"text": a["text"], "char_spans": [
                      [a["answer_start"], a["answer_start"] + len(a["text"]) - 1]]}
                                       for a in answers]})
    lines.append(json.dumps({"context": paragraph["context"], "qas": qas}))
  data = ("\n".join(lines) + "\n").encode("utf-8")
  os.makedirs(os.path.dirname(path), exist_ok=True)
  with open(path, "wb") as f:
    f.write(gzip.compress(data) if path.endswith(".gz") else data)
  return path


def fetch_allennlp_squad(directory: str) -> str:
  """Downloads allennlp's wheel with pip and extracts its squad.json; returns its path."""
  subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet",
                  ALLENNLP_WHEEL, "-d", directory], check=True)
  wheel = next(os.path.join(directory, f) for f in os.listdir(directory) if f.endswith(".whl"))
  with zipfile.ZipFile(wheel) as archive:
    data = archive.read(ALLENNLP_SQUAD)
  path = os.path.join(directory, "squad.json")
  with open(path, "wb") as f:
    f.write(data)
  return path
