"""Model outputs -> answer texts, as the original's
`SpanBasedQAScorer.write_predictions` (`finetune/qa/qa_metrics.py`).

Per example, over all its windows:

1. candidates: (start_top_index[i], end_top_index[i][j]) in joint mode, else
   the `n_best_size` best starts x the `n_best_size` best ends;
2. kept if both positions are inside the window's tokens, the start is not
   [CLS], both are context tokens, the start is a max-context token of this
   window, end >= start and the span has at most `max_answer_length` pieces;
3. score: start + end log-probability (joint) or logit;
4. best first, mapped back to the original text (`get_final_text`), deduped
   by text, at most `n_best_size` kept ("empty" if none is left);
5. v1 / MRQA: the prediction is the best text; v2: the best non-empty one,
   and the null odds are the minimum over windows of `answerable_logit`
   (without the classifier: the null score start[0] + end[0], minimised over
   windows, minus the best span's score).
"""

import collections
import dataclasses
from typing import Dict, List, Optional, Tuple

import numpy as np

from electra_tf.text.tokenization import BasicTokenizer
from finetune.qa.featurization import DecodingData, Window

NO_ANSWER_TEXT = "empty"  # the original's nonce prediction when no span is valid


@dataclasses.dataclass(frozen=True)
class DecodingParams:
  """The hparams decoding reads (names as the original's config)."""
  n_best_size: int = 20
  max_answer_length: int = 30
  joint_prediction: bool = True
  answerable_classifier: bool = True
  do_lower_case: bool = True
  v2: bool = False


@dataclasses.dataclass
class Candidate:
  """A span of one window: input positions [start, end] and its score parts."""
  window: Window
  start: int
  end: int
  start_score: float
  end_score: float

  @property
  def score(self) -> float:
    return self.start_score + self.end_score


@dataclasses.dataclass
class Predictions:
  """Decoded predictions, keyed by question id.

  Attributes:
    answers: the predicted text (v2: the best non-null text).
    null_odds: v2 only: higher = more likely unanswerable.
    nbest: the n-best list: (text, probability, start logit, end logit).
  """
  answers: Dict[str, str]
  null_odds: Dict[str, float]
  nbest: Dict[str, List[Tuple[str, float, float, float]]]


def _strip_spaces(text: str) -> Tuple[str, Dict[int, int]]:
  """The text without spaces and a map from its indices to the original's."""
  chars, index_map = [], {}
  for i, char in enumerate(text):
    if char != " ":
      index_map[len(chars)] = i
      chars.append(char)
  return "".join(chars), index_map


def get_final_text(pred_text: str, orig_text: str, do_lower_case: bool) -> str:
  """The original's `get_final_text`: the span of `orig_text` that the
  normalised `pred_text` came from, e.g. ("steve smith", "Steve Smith's") ->
  "Steve Smith". Falls back to `orig_text` when the alignment fails."""
  tok_text = " ".join(BasicTokenizer(do_lower_case).tokenize(orig_text))
  start = tok_text.find(pred_text)
  if start == -1:
    return orig_text
  end = start + len(pred_text) - 1
  orig_ns_text, orig_ns_to_s = _strip_spaces(orig_text)
  tok_ns_text, tok_ns_to_s = _strip_spaces(tok_text)
  if len(orig_ns_text) != len(tok_ns_text):
    return orig_text
  tok_s_to_ns = {s: ns for ns, s in tok_ns_to_s.items()}
  if start not in tok_s_to_ns or end not in tok_s_to_ns:
    return orig_text
  orig_start = orig_ns_to_s.get(tok_s_to_ns[start])
  orig_end = orig_ns_to_s.get(tok_s_to_ns[end])
  if orig_start is None or orig_end is None:
    return orig_text
  return orig_text[orig_start:orig_end + 1]


def softmax(scores: List[float]) -> List[float]:
  """The original's `_compute_softmax` (max-shifted)."""
  if not scores:
    return []
  exp = np.exp(np.asarray(scores, np.float64) - max(scores))
  return (exp / exp.sum()).tolist()


def _best_indexes(logits: np.ndarray, n: int) -> List[int]:
  return [int(i) for i in np.argsort(-logits, kind="stable")[:n]]


def _window_candidates(window: Window, result: Dict[str, np.ndarray],
                       params: DecodingParams) -> List[Candidate]:
  if params.joint_prediction:
    starts = result["start_top_index"].tolist()
    ends = result["end_top_index"].tolist()
  else:
    starts = _best_indexes(result["start_logits"], params.n_best_size)
    ends = _best_indexes(result["end_logits"], params.n_best_size)
  candidates = []
  for i, start in enumerate(starts):
    for j, end in enumerate(ends[i] if params.joint_prediction else ends):
      if (start >= window.num_tokens or end >= window.num_tokens or start == 0
          or not window.is_context(start) or not window.is_context(end)
          or not window.is_max_context(start) or end < start
          or end - start + 1 > params.max_answer_length):
        continue
      if params.joint_prediction:
        scores = (float(result["start_top_log_probs"][i]), float(result["end_top_log_probs"][i, j]))
      else:
        scores = (float(result["start_logits"][start]), float(result["end_logits"][end]))
      candidates.append(Candidate(window, start, end, *scores))
  return candidates


def _span_text(data: DecodingData, candidate: Candidate, do_lower_case: bool) -> str:
  window = candidate.window
  context = data.contexts[data.examples[window.example].context]
  first, last = window.wordpiece_index(candidate.start), window.wordpiece_index(candidate.end)
  tok_text = " ".join(context.wordpieces[first:last + 1])
  tok_text = " ".join(tok_text.replace(" ##", "").replace("##", "").strip().split())
  orig_text = " ".join(context.doc_tokens[context.tok_to_orig[first]:context.tok_to_orig[last] + 1])
  return get_final_text(tok_text, orig_text, do_lower_case)


def decode(data: DecodingData, results: Dict[int, Dict[str, np.ndarray]],
           params: DecodingParams) -> Predictions:
  """Decodes every example of `data`.

  Args:
    data: the split's DecodingData.
    results: window eid -> that window's head outputs (`start_top_index`
      [K], `end_top_index` [K, K], `start_top_log_probs`, `end_top_log_probs`,
      `start_logits` [L], `end_logits` [L], `answerable_logit` scalar).
    params: the decoding hparams.

  Raises:
    ValueError: a window of `data` without a result.
  """
  windows_of: Dict[int, List[Window]] = collections.defaultdict(list)
  for window in data.windows:
    windows_of[window.example].append(window)
  answers, null_odds, nbest_json = {}, {}, {}
  for index, info in enumerate(data.examples):
    candidates: List[Candidate] = []
    score_null = 1000000.0
    for window in windows_of[index]:
      if window.eid not in results:
        raise ValueError(f"no model output for window eid {window.eid} of question "
                         f"{info.qas_id}: predictions and decoding data do not match")
      result = results[window.eid]
      if params.v2:
        null = (float(result["answerable_logit"]) if params.answerable_classifier
                else float(result["start_logits"][0] + result["end_logits"][0]))
        score_null = min(score_null, null)
      candidates += _window_candidates(window, result, params)
    candidates.sort(key=lambda c: c.score, reverse=True)
    nbest: List[Tuple[str, float, float]] = []
    seen = set()
    for candidate in candidates:
      if len(nbest) >= params.n_best_size:
        break
      text = _span_text(data, candidate, params.do_lower_case)
      if text not in seen:
        seen.add(text)
        nbest.append((text, candidate.start_score, candidate.end_score))
    if not nbest:
      nbest.append((NO_ANSWER_TEXT, 0.0, 0.0))
    probs = softmax([s + e for _, s, e in nbest])
    nbest_json[info.qas_id] = [(t, p, s, e) for (t, s, e), p in zip(nbest, probs)]
    best_non_null: Optional[Tuple[str, float, float]] = next((n for n in nbest if n[0]), None)
    if not params.v2:
      answers[info.qas_id] = nbest[0][0]
      continue
    # The original assumes a non-empty entry exists; an all-empty n-best list
    # can only come from empty-context spans, which predict "".
    best_text, best_start, best_end = best_non_null or ("", 0.0, 0.0)
    answers[info.qas_id] = best_text
    null_odds[info.qas_id] = (score_null if params.answerable_classifier
                              else score_null - best_start - best_end)
  return Predictions(answers, null_odds, nbest_json)


def thresholded_answers(predictions: Predictions, threshold: float) -> Dict[str, str]:
  """v2 submission answers: "" where the null odds exceed `threshold`
  (`qa_na_threshold`), as the original's test outputs and the official
  evaluator's `na_prob_thresh` decide."""
  return {qid: "" if predictions.null_odds[qid] > threshold else text
          for qid, text in predictions.answers.items()}
