"""FLOPs counting against the original's `flops_computation.MODEL_FLOPS` table."""

import pytest

from electra_tf.config.pretraining import PretrainingConfig
from electra_tf.pretraining import flops

# Values of the original's MODEL_FLOPS entries (flops_computation.py run with Python 3).
ELECTRA_SMALL = 1.293743798272e18  # get_electra_train_flops(256, 12, 64, 12, 128, 1e6, True, s=128, e=128)
BERT_SMALL = 1.4187399146496e18    # TransformerHparams(256, 12, e=128, s=128).get_train_flops(128, 1.45e6)


def test_electra_small_entry_matches_the_original_table():
  value = flops.electra_train_flops(256, 12, 64, 12, 128, 1e6, embedding_size=128,
                                    seq_length=128)
  assert value == pytest.approx(ELECTRA_SMALL, rel=1e-12)


def test_bert_small_entry_matches_the_original_table():
  value = flops.TransformerFlops(256, 12, seq_length=128, embedding_size=128).train_flops(
      128, 1.45e6)
  assert value == pytest.approx(BERT_SMALL, rel=1e-12)


def test_config_counts_the_models_it_builds():
  electra = PretrainingConfig.create("m", "/tmp/d", model_size="small",
                                     train_batch_size=128, num_train_steps=1000000)
  assert flops.pretraining_flops(electra) == pytest.approx(ELECTRA_SMALL, rel=1e-12)
  bert = PretrainingConfig.create("m", "/tmp/d", model_size="small", electra_objective=False,
                                  train_batch_size=128, num_train_steps=1450000)
  assert flops.pretraining_flops(bert) == pytest.approx(BERT_SMALL, rel=1e-12)
  # Steps scale linearly; an explicit step count overrides num_train_steps.
  assert flops.pretraining_flops(electra, 10) * 1e5 == pytest.approx(ELECTRA_SMALL, rel=1e-12)


def test_electric_is_refused():
  config = PretrainingConfig.create("m", "/tmp/d", model_size="small", electric_objective=True,
                                    two_tower_generator=True)
  with pytest.raises(ValueError, match="ELECTRA and masked-LM"):
    flops.pretraining_flops(config)
