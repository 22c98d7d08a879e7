"""Tags <-> spans: the original's decoder on well-formed and malformed sequences."""

import numpy as np
import pytest
from seqeval.metrics.sequence_labeling import get_entities

from finetune.tagging import labels, metrics

# (tags, the spans the original's `get_span_labels` gives), worked out by hand
# from its rules: a span starts at B or S or after O, ends before the next B,
# S or O, and takes its last tag's type.
MALFORMED = [
    (["I-X", "I-X"], [(0, 1, "X")]),                         # IOB1: no B at all
    (["B-X", "I-Y"], [(0, 1, "Y")]),                         # type change inside: last wins
    (["E-X", "E-X"], [(0, 1, "X")]),                         # E does not close a span
    (["B-X", "O", "I-X"], [(0, 0, "X"), (2, 2, "X")]),       # I after O starts a span
    (["S-X", "I-X"], [(0, 1, "X")]),                         # S continued by I
    (["I-X", "B-X"], [(0, 0, "X"), (1, 1, "X")]),            # B closes the open span
    (["B-X", "E-Y", "I-Z", "O"], [(0, 2, "Z")]),
    (["E-X", "B-Y", "S-Z"], [(0, 0, "X"), (1, 1, "Y"), (2, 2, "Z")]),
    (["O", "E-X"], [(1, 1, "X")]),
    (["O", "O"], []),
    ([], []),
]


@pytest.mark.parametrize("tags,spans", MALFORMED)
def test_lenient_decoder_on_malformed_sequences(tags, spans):
  assert labels.get_span_labels(tags) == spans


@pytest.mark.parametrize("tags,spans,bioes", [
    # IOB2 (CoNLL-2000)
    (["B-NP", "I-NP", "O", "B-VP", "B-NP", "I-NP", "I-NP"],
     [(0, 1, "NP"), (3, 3, "VP"), (4, 6, "NP")],
     ["B-NP", "E-NP", "O", "S-VP", "B-NP", "I-NP", "E-NP"]),
    # IOB1 (CoNLL-2003): I starts a span, B only separates adjacent ones
    (["I-PER", "I-PER", "B-PER", "O", "I-LOC"],
     [(0, 1, "PER"), (2, 2, "PER"), (4, 4, "LOC")],
     ["B-PER", "E-PER", "S-PER", "O", "S-LOC"]),
    # BIOES already
    (["S-A", "B-B", "I-B", "E-B", "O"], [(0, 0, "A"), (1, 3, "B")],
     ["S-A", "B-B", "I-B", "E-B", "O"]),
])
def test_iob_to_spans_to_bioes_round_trips(tags, spans, bioes):
  assert labels.get_span_labels(tags) == spans
  assert labels.to_bioes(tags) == bioes
  assert labels.get_span_labels(bioes) == spans
  assert labels.get_tags(spans, len(tags)) == bioes
  bio = labels.get_tags(spans, len(tags), "BIO")
  assert labels.get_span_labels(bio) == spans
  assert all(tag[0] in "BIO" for tag in bio)


@pytest.mark.parametrize("tag", ["NP", "B-NP-X", "X-NP", "B-", "b-NP", ""])
def test_tags_that_are_not_spans_are_refused(tag):
  with pytest.raises(labels.TagError, match="is not IOB/BIOES"):
    labels.check_span_tag(tag)
  with pytest.raises(labels.TagError):
    labels.get_span_labels(["O", tag])


def strict_bioes_spans(tags):
  """An independent decoder for well-formed BIOES: B..E and S, nothing else."""
  spans, start = [], None
  for i, tag in enumerate(tags):
    position, _, kind = tag.partition("-")
    if position == "S":
      spans.append((i, i, kind))
    elif position == "B":
      start = i
    elif position == "E":
      spans.append((start, i, kind))
  return spans


def random_spans(rng, length, kinds):
  spans, i = [], 0
  while i < length:
    if rng.random() < 0.4:
      end = min(length - 1, i + int(rng.integers(0, 3)))
      spans.append((i, end, str(rng.choice(kinds))))
      i = end + 1
    else:
      i += 1
  return spans


def test_span_f1_equals_an_independent_count():
  rng = np.random.default_rng(0)
  kinds = ["NP", "VP", "PP"]
  gold_tags, predicted_tags = [], []
  for _ in range(60):
    length = int(rng.integers(1, 15))
    gold_tags.append(labels.get_tags(random_spans(rng, length, kinds), length))
    predicted_tags.append(labels.get_tags(random_spans(rng, length, kinds), length))
  label_list = sorted({t for tags in gold_tags + predicted_tags for t in tags})
  ids = {t: i for i, t in enumerate(label_list)}
  length = 16
  outputs = {name: np.zeros([len(gold_tags), length], np.int32)
             for name in ("labels", "predictions")}
  outputs["labels_mask"] = np.zeros([len(gold_tags), length], np.float32)
  outputs["loss"] = rng.random(len(gold_tags))
  for row, (gold, predicted) in enumerate(zip(gold_tags, predicted_tags)):
    outputs["labels"][row, :len(gold)] = [ids[t] for t in gold]
    outputs["predictions"][row, :len(gold)] = [ids[t] for t in predicted]
    outputs["labels_mask"][row, :len(gold)] = 1.0
    # Past the words: junk the scorer must ignore.
    outputs["predictions"][row, len(gold):] = ids[label_list[-1]]
  scorer = metrics.EntityLevelF1Scorer(label_list)
  scorer.update({k: v[:25] for k, v in outputs.items()})
  scorer.update({k: v[25:] for k, v in outputs.items()})
  results = scorer.get_results()

  correct = n_gold = n_predicted = words = right_words = 0
  for gold, predicted in zip(gold_tags, predicted_tags):
    gold_spans, predicted_spans = strict_bioes_spans(gold), strict_bioes_spans(predicted)
    correct += sum(1 for span in predicted_spans if span in gold_spans)
    n_gold += len(gold_spans)
    n_predicted += len(predicted_spans)
    words += len(gold)
    right_words += sum(g == p for g, p in zip(gold, predicted))
  precision, recall = 100 * correct / n_predicted, 100 * correct / n_gold
  assert correct > 0 and n_gold != n_predicted
  assert results["precision"] == pytest.approx(precision)
  assert results["recall"] == pytest.approx(recall)
  assert results["f1"] == pytest.approx(2 * precision * recall / (precision + recall))
  assert results["accuracy"] == pytest.approx(100 * right_words / words)
  assert results["loss"] == pytest.approx(outputs["loss"].sum() / words)  # counted once
  assert list(results) == ["f1", "precision", "recall", "accuracy", "loss"]


def test_scorer_without_a_right_span_reports_zero_and_token_scorer_accuracy():
  outputs = {"labels": np.array([[1, 0]]), "predictions": np.array([[0, 0]]),
             "labels_mask": np.array([[1.0, 1.0]]), "loss": np.array([2.0])}
  scorer = metrics.EntityLevelF1Scorer(["O", "S-X"])
  scorer.update(outputs)
  assert scorer.get_results() == {"f1": 0.0, "precision": 0.0, "recall": 0.0,
                                  "accuracy": 50.0, "loss": 1.0}
  token_scorer = metrics.AccuracyScorer()
  token_scorer.update(outputs)
  assert token_scorer.get_results() == {"accuracy": 50.0, "loss": 1.0}


def seqeval_spans(tags):
  return sorted((start, end, kind) for kind, start, end in get_entities(list(tags)))


@pytest.mark.parametrize("tags,ours,theirs", [
    # The rows of docs/tagging.md and finetune/tagging/labels.py.
    (["B-NP", "I-VP"], [(0, 1, "VP")], [(0, 0, "NP"), (1, 1, "VP")]),
    (["E-NP", "E-NP"], [(0, 1, "NP")], [(0, 0, "NP"), (1, 1, "NP")]),
    (["I-NP", "I-NP"], [(0, 1, "NP")], [(0, 1, "NP")]),
    (["B-X", "O", "I-X"], [(0, 0, "X"), (2, 2, "X")], [(0, 0, "X"), (2, 2, "X")]),
])
def test_where_the_decoder_differs_from_seqeval(tags, ours, theirs):
  assert labels.get_span_labels(tags) == ours
  assert seqeval_spans(tags) == theirs


def test_the_decoder_agrees_with_seqeval_on_well_formed_sequences():
  rng = np.random.default_rng(1)
  for _ in range(300):
    length = int(rng.integers(1, 12))
    spans = random_spans(rng, length, ["A", "B"])
    for encoding in ("BIO", "BIOES"):
      tags = labels.get_tags(spans, length, encoding)
      assert labels.get_span_labels(tags) == spans == seqeval_spans(tags)
