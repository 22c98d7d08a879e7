"""PretrainingModel: architecture, parameter counts, variants, gradients,
XLA compilation and MirroredStrategy."""

import math

import numpy as np
import pytest
import tensorflow as tf

from electra_tf.config.pretraining import PretrainingConfig
from electra_tf.modeling.pretraining_model import PretrainingModel
from electra_tf.text.vocab import SpecialTokenIds

SPECIAL = SpecialTokenIds()
V = 30522


def make_model(**hparams):
  config = PretrainingConfig.create("m", "/data", **hparams)
  model = PretrainingModel(config, SPECIAL)
  model.build_variables()
  return model


def sample_batch(batch_size=4, seq_length=32, seed=0):
  rng = np.random.default_rng(seed)
  ids = rng.integers(1000, 20000, size=[batch_size, seq_length]).astype(np.int32)
  mask = np.ones_like(ids)
  for b in range(batch_size):
    n = seq_length - 3 * b
    ids[b, 0], ids[b, n - 1] = SPECIAL.cls, SPECIAL.sep
    ids[b, n:] = 0
    mask[b, n:] = 0
  return {"input_ids": tf.constant(ids), "input_mask": tf.constant(mask),
          "segment_ids": tf.zeros_like(tf.constant(ids))}


def count(model, prefixes):
  return sum(v.shape.num_elements() for k, v in model.named_variables().items()
             if k.split("/")[0] in prefixes)


def encoder_params(vocab, emb, hidden, layers, own_embeddings=True):
  """Parameters of an original BertModel scope, from the spec's shapes."""
  embeddings = vocab * emb + 2 * emb + 512 * emb + 2 * emb  # word, type, position, LayerNorm
  project = emb * hidden + hidden if emb != hidden else 0
  # Q, K, V, attention output: 4 (H*H + H); two LayerNorms: 4H;
  # intermediate H*4H + 4H; output 4H*H + H  =>  12 H^2 + 13 H per layer.
  layer = 4 * (hidden * hidden + hidden) + 4 * hidden + (hidden * 4 * hidden + 4 * hidden) + (
      4 * hidden * hidden + hidden)
  assert layer == 12 * hidden ** 2 + 13 * hidden
  return (embeddings if own_embeddings else 0) + project + layers * layer


def mlm_head_params(hidden, emb, vocab):
  return hidden * emb + emb + 2 * emb + vocab  # dense, LayerNorm, output_bias


@pytest.mark.parametrize("size,gen_fraction,emb,hidden,layers,gen_hidden", [
    ("small", 0.25, 128, 256, 12, 64),      # code default
    ("small", 1.0, 128, 256, 12, 256),      # released ELECTRA-Small++
    ("base", 0.33333, 768, 768, 12, 256),
    ("large", 0.25, 1024, 1024, 24, 256),
])
def test_parameter_counts_match_the_original_architecture(size, gen_fraction, emb, hidden,
                                                          layers, gen_hidden):
  model = make_model(model_size=size, generator_hidden_size=gen_fraction)
  disc = encoder_params(V, emb, hidden, layers) + (hidden * hidden + hidden) + (hidden + 1)
  gen = encoder_params(V, emb, gen_hidden, layers, own_embeddings=False) + mlm_head_params(
      gen_hidden, emb, V)
  assert count(model, {"electra", "discriminator_predictions"}) == disc
  assert count(model, {"generator", "generator_predictions"}) == gen
  # The name table covers exactly the trainable variables (shared ones once).
  named = {v.ref() for v in model.named_variables().values()}
  assert named == {v.ref() for v in model.trainable_variables}
  assert sum(v.shape.num_elements() for v in model.trainable_variables) == disc + gen


def test_published_discriminator_sizes():
  # README: ELECTRA-Small 14M, Base 110M, Large 335M parameters.
  assert encoder_params(V, 128, 256, 12) == 13_483_008
  assert encoder_params(V, 768, 768, 12) == 108_891_648
  assert encoder_params(V, 1024, 1024, 24) == 334_092_288


def test_default_model_shares_embeddings_and_ties_the_mlm_head():
  model = make_model(model_size="tiny")
  assert model.generator.embeddings is model.discriminator.embeddings
  assert model.generator.embedding_table is model.embeddings.word_embeddings
  names = model.named_variables()
  assert not any(k.startswith("generator/embeddings/") for k in names)
  assert names["generator/embeddings_project/kernel"].shape == (64, 32)
  assert names["generator_predictions/dense/kernel"].shape == (32, 64)
  assert names["discriminator_predictions/dense_1/kernel"].shape == (128, 1)


def test_outputs_and_total_loss_formula():
  model = make_model(model_size="tiny", max_seq_length=32, gen_weight=2.0, disc_weight=30.0)
  out = model(sample_batch(), training=False)
  assert out["mlm_logits"].shape == (4, 4, V)  # N = int(0.155 * 32) = 4
  assert out["disc_logits"].shape == (4, 32)
  np.testing.assert_allclose(out["total_loss"], 2.0 * out["mlm_loss"] + 30.0 * out["disc_loss"],
                             rtol=1e-6)
  # Labels mark exactly the updated positions whose sampled id differs.
  fake, original = out["fake_input_ids"].numpy(), sample_batch()["input_ids"].numpy()
  np.testing.assert_array_equal(out["disc_labels"].numpy(), (fake != original).astype(np.int32))


def test_example_seeds_make_the_step_deterministic_and_split_invariant():
  model = make_model(model_size="tiny", max_seq_length=32)
  batch = sample_batch()
  seeds = tf.constant([[1, 2], [3, 4], [5, 6], [7, 8]])
  whole = model(batch, training=False, example_seeds=seeds)
  halves = [model({k: v[i:i + 2] for k, v in batch.items()}, training=False,
                  example_seeds=seeds[i:i + 2]) for i in (0, 2)]
  for key in ("masked_lm_positions", "masked_input_ids", "sampled_ids", "disc_labels"):
    np.testing.assert_array_equal(whole[key], tf.concat([h[key] for h in halves], 0))
  np.testing.assert_allclose(whole["disc_logits"], tf.concat([h["disc_logits"] for h in halves], 0),
                             atol=1e-5)


def grads_of(model, loss_key, batch):
  with tf.GradientTape() as tape:
    out = model(batch, training=True)
  return dict(zip(model.named_variables(),
                  tape.gradient(out[loss_key], list(model.named_variables().values()))))


def nonzero(grad):
  if grad is None:
    return False
  if isinstance(grad, tf.IndexedSlices):
    grad = tf.convert_to_tensor(grad)
  return bool(tf.reduce_any(grad != 0))


def test_no_gradient_from_discriminator_loss_into_generator():
  model = make_model(model_size="tiny", max_seq_length=32)
  grads = grads_of(model, "disc_loss", sample_batch())
  generator = [k for k in grads if k.startswith(("generator/", "generator_predictions/"))]
  assert generator and all(not nonzero(grads[k]) for k in generator)
  assert nonzero(grads["electra/embeddings/word_embeddings"])
  assert nonzero(grads["electra/encoder/layer_0/attention/self/query/kernel"])


def test_shared_embeddings_receive_gradients_from_both_losses():
  model = make_model(model_size="tiny", max_seq_length=32)
  mlm = grads_of(model, "mlm_loss", sample_batch())
  for name in ("electra/embeddings/word_embeddings", "electra/embeddings/position_embeddings",
               "electra/embeddings/LayerNorm/gamma", "generator/encoder/layer_0/output/dense/kernel",
               "generator_predictions/output_bias"):
    assert nonzero(mlm[name]), name
  # The MLM loss does not reach the discriminator's own layers.
  assert not nonzero(mlm["electra/encoder/layer_0/attention/self/query/kernel"])
  assert not nonzero(mlm["discriminator_predictions/dense/kernel"])


def test_uniform_generator_has_no_generator_variables():
  model = make_model(model_size="tiny", max_seq_length=32, uniform_generator=True)
  names = model.named_variables()
  assert not any(k.startswith("generator") for k in names)
  out = model(sample_batch(), training=False)
  np.testing.assert_allclose(out["mlm_loss"], math.log(V), rtol=1e-5)


def test_tied_generator_shares_the_whole_network():
  model = make_model(model_size="tiny", max_seq_length=32, untied_generator=False)
  assert model.generator is model.discriminator
  names = model.named_variables()
  assert not any(k.startswith("generator/") for k in names)
  assert names["generator_predictions/dense/kernel"].shape == (128, 64)
  out = model(sample_batch(), training=False)
  assert "disc_loss" in out


def test_untied_generator_embeddings():
  model = make_model(model_size="tiny", max_seq_length=32, untied_generator_embeddings=True)
  names = model.named_variables()
  assert names["generator/embeddings/word_embeddings"].shape == (V, 32)
  assert "generator/embeddings_project/kernel" not in names
  assert names["generator_predictions/dense/kernel"].shape == (32, 32)
  assert model.generator.embedding_table is not model.embeddings.word_embeddings
  model(sample_batch(), training=False)


def test_mlm_only_objective_is_a_bert_baseline():
  model = make_model(model_size="tiny", max_seq_length=32, electra_objective=False)
  names = model.named_variables()
  assert {k.split("/")[0] for k in names} == {"electra", "generator_predictions"}
  out = model(sample_batch(), training=False)
  assert "disc_loss" not in out
  np.testing.assert_allclose(out["total_loss"], out["mlm_loss"])


def test_electric_two_tower_generator():
  model = make_model(model_size="tiny", max_seq_length=32, electric_objective=True)
  names = model.named_variables()
  assert {k.split("/")[0] for k in names} == {
      "electra", "generator_ltr", "generator_rtl", "cloze_predictions",
      "discriminator_predictions"}
  assert names["cloze_predictions/dense/kernel"].shape == (64, 64)  # 2 * H_g -> E
  out = model(sample_batch(), training=False)
  # Electric labels every updated position as fake, even a correct sample.
  updated = (out["masked_lm_weights"].numpy() > 0)
  for b in range(4):
    positions = set(out["masked_lm_positions"].numpy()[b][updated[b]])
    assert set(np.nonzero(out["disc_labels"].numpy()[b])[0]) == positions
  np.testing.assert_allclose(out["total_loss"], out["cloze_loss"] + 50 * out["disc_loss"], rtol=1e-6)


def test_electric_rejects_a_tied_generator():
  config = PretrainingConfig.create("m", "/d", model_size="tiny", electric_objective=True,
                                    untied_generator=False)
  with pytest.raises(ValueError, match="two-tower generator"):
    PretrainingModel(config, SPECIAL)


def train_step_fn(model):
  def step(batch):
    with tf.GradientTape() as tape:
      loss = model(batch, training=True)["total_loss"]
    grads = tape.gradient(loss, model.trainable_variables)
    return loss, tf.linalg.global_norm(grads)
  return step


@pytest.mark.e2e  # an XLA compile of a whole train step
def test_train_step_compiles_with_xla():
  model = make_model(model_size="tiny", max_seq_length=32)
  step = tf.function(train_step_fn(model), jit_compile=True)
  batch = sample_batch()
  loss, grad_norm = step(batch)
  assert np.isfinite(loss.numpy()) and grad_norm.numpy() > 0
  # The whole step lowers to one XLA module (it would raise on an unsupported op).
  assert "HloModule" in step.experimental_get_compiler_ir(batch)(stage="hlo")


@pytest.mark.e2e  # a whole train step compiled for two replicas
def test_train_step_under_two_replica_mirrored_strategy():
  strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
  assert strategy.num_replicas_in_sync == 2
  with strategy.scope():
    model = make_model(model_size="tiny", max_seq_length=32)
  batch = sample_batch(batch_size=4)
  dataset = tf.data.Dataset.from_tensors(batch)
  per_replica = next(iter(strategy.experimental_distribute_dataset(dataset)))

  @tf.function
  def run(inputs):
    loss, grad_norm = strategy.run(train_step_fn(model), args=(inputs,))
    return (strategy.reduce("MEAN", loss, axis=None), strategy.reduce("MEAN", grad_norm, axis=None))

  loss, grad_norm = run(per_replica)
  assert np.isfinite(loss.numpy()) and grad_norm.numpy() > 0
