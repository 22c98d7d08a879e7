"""PretrainingConfig: the original's defaults, order of application, validation."""

import json
import re

import pytest

from electra_tf.config.hparams import ConfigError, parse_hparams
from electra_tf.config.model import get_bert_config
from electra_tf.config.pretraining import PretrainingConfig, get_generator_config


def create(**hparams):
  return PretrainingConfig.create("m", "/data", **hparams)


def test_defaults_are_the_originals():
  c = create()
  expected = dict(
      debug=False, do_train=True, do_eval=False, electra_objective=True,
      electric_objective=False, gen_weight=1.0, disc_weight=50.0, mask_prob=0.15,
      learning_rate=5e-4, lr_decay_power=1.0, weight_decay_rate=0.01,
      num_warmup_steps=10000, iterations_per_loop=200, save_checkpoints_steps=1000,
      num_train_steps=1000000, num_eval_steps=100, keep_checkpoint_max=5,
      model_size="small", model_hparam_overrides={}, embedding_size=128,
      vocab_size=30522, do_lower_case=True, uniform_generator=False,
      two_tower_generator=False, untied_generator_embeddings=False,
      untied_generator=True, generator_layers=1.0, generator_hidden_size=0.25,
      disallow_correct=False, temperature=1.0, max_seq_length=128,
      train_batch_size=128, eval_batch_size=128, use_tpu=False, num_tpu_cores=1,
      tpu_job_name=None, tpu_name=None, tpu_zone=None, gcp_project=None,
      max_predictions_per_seq=19)
  assert {k: getattr(c, k) for k in expected} == expected
  assert c.pretrain_tfrecords == "/data/pretrain_tfrecords/pretrain_data.tfrecord*"
  assert c.vocab_file == "/data/vocab.txt"
  assert c.model_dir == "/data/models/m"
  assert c.results_txt == "/data/models/m/results/unsup_results.txt"


@pytest.mark.parametrize("mask_prob,length,expected", [
    (0.15, 128, 19), (0.15, 512, 79), (0.25, 512, 130), (0.15, 256, 39)])
def test_max_predictions_per_seq_is_derived(mask_prob, length, expected):
  assert create(mask_prob=mask_prob, max_seq_length=length).max_predictions_per_seq == expected


def test_max_predictions_per_seq_cannot_be_passed():
  with pytest.raises(ConfigError, match="max_predictions_per_seq.*derived"):
    create(max_predictions_per_seq=20)


def test_order_debug_then_size_then_user_overrides():
  c = create(debug=True)
  assert (c.train_batch_size, c.num_train_steps, c.eval_batch_size,
          c.iterations_per_loop, c.num_eval_steps) == (8, 20, 4, 1, 2)
  assert create(debug=True, train_batch_size=16).train_batch_size == 16
  assert create(embedding_size=256).embedding_size == 256  # user beats the size default
  assert create(model_size="base").embedding_size is None
  assert create(electric_objective=True).two_tower_generator is True
  debug_model = get_bert_config(create(debug=True))
  assert (debug_model.hidden_size, debug_model.num_hidden_layers,
          debug_model.num_attention_heads, debug_model.intermediate_size) == (144, 3, 4, 576)


@pytest.mark.parametrize("size,hidden,layers,heads,ffn,emb", [
    ("small", 256, 12, 4, 1024, 128), ("base", 768, 12, 12, 3072, 768),
    ("large", 1024, 24, 16, 4096, 1024), ("tiny", 128, 2, 2, 512, 64)])
def test_size_presets(size, hidden, layers, heads, ffn, emb):
  b = get_bert_config(create(model_size=size))
  assert (b.hidden_size, b.num_hidden_layers, b.num_attention_heads,
          b.intermediate_size, b.embedding_width) == (hidden, layers, heads, ffn, emb)
  assert (b.max_position_embeddings, b.type_vocab_size, b.initializer_range,
          b.hidden_dropout_prob, b.attention_probs_dropout_prob, b.hidden_act) == (
              512, 2, 0.02, 0.1, 0.1, "gelu")


@pytest.mark.parametrize("size,fraction,hidden,heads,ffn,layers", [
    ("small", 0.25, 64, 1, 256, 12), ("small", 1.0, 256, 4, 1024, 12),
    ("base", 0.33333, 256, 4, 1024, 12), ("large", 0.25, 256, 4, 1024, 24)])
def test_generator_sizes(size, fraction, hidden, heads, ffn, layers):
  c = create(model_size=size, generator_hidden_size=fraction)
  g = get_generator_config(c, get_bert_config(c))
  assert (g.hidden_size, g.num_attention_heads, g.intermediate_size,
          g.num_hidden_layers) == (hidden, heads, ffn, layers)


def test_model_hparam_overrides_apply_twice_and_generator_ignores_them():
  c = create(model_hparam_overrides={"hidden_size": 512, "num_attention_heads": 16})
  b = get_bert_config(c)
  assert (b.hidden_size, b.num_attention_heads, b.intermediate_size) == (512, 16, 2048)
  assert get_generator_config(c, b).num_attention_heads == 2  # max(1, 128 // 64)


@pytest.mark.parametrize("hparams,message", [
    ({"learning_rat": 1e-3}, r"Unknown hparam 'learning_rat'; did you mean learning_rate\?"),
    ({"learing_rate": 1e-3}, r"'learing_rate'; did you mean learning_rate\? Valid hparams: "),
    ({"zzz": 1}, r"Unknown hparam 'zzz'\. Valid hparams: .*learning_rate"),
    ({"learning_rate": "fast"}, "'learning_rate' must be float"),
    ({"do_train": 1}, "'do_train' must be bool"),
    ({"num_train_steps": 1.5}, "'num_train_steps' must be int"),
    ({"model_hparam_overrides": {"hiden_size": 3}}, "Unknown model_hparam_overrides key 'hiden_size'"),
    ({"model_hparam_overrides": {"hidden_size": "big"}}, "hidden_size' must be int"),
    ({"num_train_steps": 0}, "num_train_steps must be positive"),
    ({"train_batch_size": -8}, "train_batch_size must be positive"),
    ({"embedding_size": 0}, "embedding_size must be positive"),
    ({"model_hparam_overrides": {"hidden_size": 250, "num_attention_heads": 4}},
     "hidden_size 250 is not divisible by num_attention_heads 4"),
    ({"generator_hidden_size": 200 / 256}, "generator: hidden_size 200 is not divisible"),
    ({"model_hparam_overrides": {"num_hidden_layers": 0}}, "num_hidden_layers must be positive"),
    ({"model_size": "huge"}, "model_size 'huge' is not one of"),
    ({"mask_prob": 1.5}, "mask_prob must be in"),
    ({"temperature": 0}, "temperature must be positive"),
    ({"do_eval": True}, "Exactly one of `do_train` or `do_eval`"),
    ({"max_seq_length": 1024}, "exceeds max_position_embeddings"),
])
def test_bad_hparams_raise_one_clear_error(hparams, message):
  with pytest.raises(ConfigError, match=message):
    create(**hparams)


def test_integral_float_accepted_for_int_fields():
  assert create(num_train_steps=1e6).num_train_steps == 1000000


def test_parse_hparams_from_string_and_file(tmp_path):
  assert parse_hparams('{"model_size": "base"}') == {"model_size": "base"}
  path = tmp_path / "h.json"
  path.write_text(json.dumps({"mask_prob": 0.25}))
  assert parse_hparams(str(path)) == {"mask_prob": 0.25}
  with pytest.raises(ConfigError, match="not valid JSON"):
    parse_hparams('{"model_size": }')
  with pytest.raises(ConfigError, match="neither a JSON object nor an existing"):
    parse_hparams(str(tmp_path / "missing.json"))
  binary = tmp_path / "model.ckpt-3.data-00000-of-00001"  # a checkpoint passed by mistake
  binary.write_bytes(b"\x80\x93\xff" * 10)
  with pytest.raises(ConfigError, match=re.escape(f"--hparams file {binary} is not UTF-8 text (")
                     + r".*\); pass a JSON file or a JSON object$"):
    parse_hparams(str(binary))


def test_repeated_hparams_flags_apply_in_order(tmp_path):
  from electra_cli import run_finetuning, run_pretraining  # pylint: disable=import-outside-toplevel
  recipe = tmp_path / "recipe.json"
  recipe.write_text(json.dumps({"model_size": "tiny", "num_train_steps": 500,
                                "learning_rate": 1e-3}))
  argv = ["--data-dir", "/data", "--model-name", "m", "--hparams", str(recipe),
          "--hparams", '{"num_train_steps": 20}', "--hparams", '{"learning_rate": 2e-3}']
  args = run_pretraining.build_arg_parser().parse_args(argv)
  config = create(**parse_hparams(args.hparams))
  assert (config.model_size, config.num_train_steps, config.learning_rate) == ("tiny", 20, 2e-3)
  assert parse_hparams(run_finetuning.build_arg_parser().parse_args(argv).hparams) == {
      "model_size": "tiny", "num_train_steps": 20, "learning_rate": 2e-3}
  assert parse_hparams(run_pretraining.build_arg_parser().parse_args(argv[:4]).hparams) == {}
  recipe.write_text("[1]")
  with pytest.raises(ConfigError, match=f"--hparams file {recipe} must be a JSON object"):
    parse_hparams([str(recipe), "{}"])


def test_resolved_config_round_trips_through_json(tmp_path):
  c = create(model_size="tiny", mask_prob=0.2)
  path = tmp_path / "config.json"
  c.write_json(str(path))
  loaded = json.loads(path.read_text())
  assert loaded["mask_prob"] == 0.2
  assert loaded["max_predictions_per_seq"] == 26  # int(0.205 * 128)
  assert PretrainingConfig(**loaded) == c
  assert not (tmp_path / "config.json.tmp").exists()


@pytest.mark.parametrize("name,derived", [
    ("pretrain_small", {"max_predictions_per_seq": 19, "embedding_size": 128}),
    ("pretrain_base", {"max_predictions_per_seq": 79, "embedding_size": 768}),
    ("pretrain_large", {"max_predictions_per_seq": 130, "embedding_size": 1024}),
    ("demo_pretrain", {"max_predictions_per_seq": 19, "embedding_size": 64}),
    ("pretrain_cpu", {"max_predictions_per_seq": 9, "embedding_size": 128, "vocab_size": 8192}),
])
def test_shipped_recipes_resolve(name, derived):
  from tests.conftest import ROOT  # pylint: disable=import-outside-toplevel
  c = create(**parse_hparams(str(ROOT / "configs" / f"{name}.json")))
  assert {k: getattr(c, k) for k in derived} == derived
