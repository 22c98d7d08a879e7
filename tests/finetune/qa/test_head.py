"""The span-QA head: the original's variables, masking, teacher forcing and
beam, checked against a NumPy reference written here; the factorised end head
against the literal tiled one."""

import math

import numpy as np
import pytest
import tensorflow as tf

from electra_tf.checkpoints.original import save_original_checkpoint
from finetune import modeling, registry
from finetune.config import FinetuningConfig
from finetune.qa.head import SpanQAHead, factorized_end_logits, literal_end_logits, span_loss

B, L, H, K = 2, 10, 8, 3
_erf = np.vectorize(math.erf)


def gelu(x):
  return 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)))


def log_softmax(x):
  shifted = x - x.max(-1, keepdims=True)
  return shifted - np.log(np.exp(shifted).sum(-1, keepdims=True))


def features(start_positions=(5, 7)):
  # Example 0: [CLS] q q [SEP] c c c c [SEP] pad; example 1: no padding.
  input_mask = np.array([[1] * 9 + [0], [1] * 10], np.int32)
  segment_ids = np.array([[0] * 4 + [1] * 5 + [0], [0] * 3 + [1] * 7], np.int32)
  return {"input_mask": tf.constant(input_mask), "segment_ids": tf.constant(segment_ids),
          "sq_start_positions": tf.constant(start_positions, tf.int32)}


def allowed(feats):
  mask = feats["input_mask"].numpy() * feats["segment_ids"].numpy()
  mask[:, 0] = 1
  return mask.astype(bool)


@pytest.fixture(scope="module")
def head_and_hidden():
  tf.random.set_seed(0)
  head = SpanQAHead("sq", beam_size=K, name="task_specific_sq")
  hidden = tf.random.normal([B, L, H], seed=1)
  head(hidden, features(), training=False)
  return head, hidden


def weights(head):
  return {name: v.numpy() for name, v in head.named_variables().items()}


def reference_end_logits(w, hidden, start):
  """[L] end logits of one example for start position `start` (no mask)."""
  concat = np.concatenate([np.repeat(hidden[start][None], L, 0), hidden], -1)
  inner = gelu(concat @ w["qa_hidden/kernel"] + w["qa_hidden/bias"])
  return (inner @ w["dense_1/kernel"] + w["dense_1/bias"])[:, 0]


def test_variables_have_the_original_names_and_shapes(head_and_hidden):
  head, _ = head_and_hidden
  assert {k: v.shape.as_list() for k, v in head.named_variables().items()} == {
      "dense/kernel": [H, 1], "dense/bias": [1],
      "qa_hidden/kernel": [2 * H, 512], "qa_hidden/bias": [512],
      "dense_1/kernel": [512, 1], "dense_1/bias": [1],
      "dense_2/kernel": [2 * H, 512], "dense_2/bias": [512],
      "dense_3/kernel": [512, 1], "dense_3/bias": [1]}
  independent = SpanQAHead("sq", K, joint_prediction=False)
  independent(tf.zeros([B, L, H]), features(), training=False)
  assert {k: v.shape.as_list() for k, v in independent.named_variables().items()
          if k.endswith("kernel")} == {"dense/kernel": [H, 1], "dense_1/kernel": [H, 1],
                                      "dense_2/kernel": [2 * H, 512], "dense_3/kernel": [512, 1]}


def test_factorized_end_head_equals_the_literal_tiled_one(head_and_hidden):
  head, hidden = head_and_hidden
  starts = tf.gather(hidden, tf.constant([[0, 4, 6], [9, 3, 3]]), batch_dims=1)
  qa_hidden, dense_1 = head.layers_by_name["qa_hidden"], head.layers_by_name["dense_1"]
  literal = literal_end_logits(hidden, starts, qa_hidden, dense_1)
  factorized = factorized_end_logits(hidden, starts, qa_hidden, dense_1)
  assert factorized.shape == (B, K, L)
  np.testing.assert_allclose(factorized.numpy(), literal.numpy(), atol=1e-5, rtol=1e-5)


def test_inference_masks_and_beams_as_the_reference(head_and_hidden):
  head, hidden = head_and_hidden
  feats = features()
  out = head(hidden, feats, training=False)
  w, h, ok = weights(head), hidden.numpy(), allowed(feats)
  start = (h @ w["dense/kernel"] + w["dense/bias"])[..., 0] + 1000.0 * (ok - 1.0)
  np.testing.assert_allclose(out["start_logits"].numpy(), start, rtol=1e-5, atol=1e-3)
  assert ok[np.arange(B)[:, None], out["start_top_index"].numpy()].all()
  log_probs = log_softmax(start)
  expected_top = np.argsort(-log_probs, -1)[:, :K]
  np.testing.assert_array_equal(out["start_top_index"].numpy(), expected_top)
  np.testing.assert_allclose(out["start_top_log_probs"].numpy(),
                             np.take_along_axis(log_probs, expected_top, -1), atol=1e-4)
  for b in range(B):
    for i, s in enumerate(expected_top[b]):
      end = reference_end_logits(w, h[b], s) + 1000.0 * (ok[b] - 1.0)
      end_log_probs = log_softmax(end)
      top = np.argsort(-end_log_probs)[:K]
      np.testing.assert_array_equal(out["end_top_index"].numpy()[b, i], top)
      np.testing.assert_allclose(out["end_top_log_probs"].numpy()[b, i], end_log_probs[top],
                                 atol=1e-4)
  # The original returns zero end logits at inference in joint mode.
  assert not out["end_logits"].numpy().any()
  # Answerability: [CLS] and the start-probability-weighted hidden state.
  probs = np.exp(log_probs)
  rep = np.concatenate([h[:, 0], np.einsum("bl,blh->bh", probs, h)], -1)
  answerable = (gelu(rep @ w["dense_2/kernel"] + w["dense_2/bias"]) @ w["dense_3/kernel"]
                + w["dense_3/bias"])[:, 0]
  np.testing.assert_allclose(out["answerable_logit"].numpy(), answerable, atol=1e-4)


def test_training_teacher_forces_the_gold_start(head_and_hidden):
  head, hidden = head_and_hidden
  w, h = weights(head), hidden.numpy()
  for gold in [(5, 7), (0, 3)]:
    feats = features(gold)
    out = head(hidden, feats, training=True)
    ok = allowed(feats)
    for b in range(B):
      expected = reference_end_logits(w, h[b], gold[b]) + 1000.0 * (ok[b] - 1.0)
      np.testing.assert_allclose(out["end_logits"].numpy()[b], expected, rtol=1e-5, atol=1e-3)
    assert not out["start_top_index"].numpy().any()  # no beam in training


def test_span_loss_known_answer():
  logits = tf.math.log(tf.constant([[0.5, 0.25, 0.25]]))
  outputs = {"start_logits": logits, "end_logits": logits,
             "answerable_logit": tf.constant([0.0])}
  no_classifier = span_loss(outputs, tf.constant([1]), tf.constant([0]), tf.constant([1]),
                            0.5, answerable_classifier=False)
  np.testing.assert_allclose(no_classifier.numpy(), [(math.log(4) + math.log(2)) / 2], rtol=1e-6)
  with_classifier = span_loss(outputs, tf.constant([1]), tf.constant([0]), tf.constant([1]),
                              0.5, answerable_classifier=True)
  np.testing.assert_allclose(with_classifier.numpy(),
                             [(math.log(4) + math.log(2)) / 2 + 0.5 * math.log(2)], rtol=1e-6)


def test_a_tf1_checkpoint_with_the_original_names_loads(tmp_path):
  """A name-based checkpoint as the original's fine-tuning writes it loads into
  the QA model: encoder and `task_specific/<task>/` head, every variable."""
  config = FinetuningConfig.create("m", str(tmp_path), task_names=["squad"], model_size="tiny",
                                   max_seq_length=32, max_query_length=8, doc_stride=8)
  source = modeling.build_model(config, registry.get_tasks(config))
  arrays = {name: np.random.default_rng(len(name)).normal(size=v.shape).astype(np.float32)
            for name, v in source.named_variables().items()}
  assert {"task_specific/squad/qa_hidden/kernel", "task_specific/squad/dense_3/bias"} <= set(arrays)
  save_original_checkpoint(arrays, str(tmp_path / "tf1" / "model.ckpt"))
  target = modeling.build_model(config, registry.get_tasks(config))
  report = modeling.load_init_checkpoint(target, str(tmp_path / "tf1"))
  assert report.missing == [] and sorted(report.loaded) == sorted(arrays)
  for name, variable in target.named_variables().items():
    np.testing.assert_array_equal(variable.numpy(), arrays[name])
