"""Every benchmark refuses a count of 0 in one line, before it measures anything."""

import argparse
import importlib.util

import pytest

from electra_tf import cli
from tests.conftest import ROOT

COUNT_FLAGS = [
    ("data_prep_throughput", "--copies"),
    ("dropout_throughput", "--steps"),
    ("finetune_serving_throughput", "--serve-calls"),
    ("precision_quality", "--steps"),
    ("pretrain_throughput", "--batch-size"),
    ("qa_end_head_memory", "--seq"),
    ("qa_finetune_throughput", "--batch"),
    ("qa_serving_latency", "--iterations"),
    ("serving_latency", "--batches"),
    ("tagging_throughput", "--steps"),
]


def test_positive_int_accepts_counts_and_names_what_it_refuses():
  assert cli.positive_int("32") == 32
  for bad in ("0", "-3", "2.5", "ten"):
    with pytest.raises(argparse.ArgumentTypeError,
                       match=f"expected a positive integer, got '{bad}'"):
      cli.positive_int(bad)


@pytest.mark.parametrize("script, flag", COUNT_FLAGS)
def test_a_zero_count_stops_the_benchmark_before_it_starts(script, flag, monkeypatch, capsys):
  spec = importlib.util.spec_from_file_location(f"bench_{script}", ROOT / "bench" / f"{script}.py")
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  monkeypatch.setattr("sys.argv", [f"{script}.py", flag, "0"])
  with pytest.raises(SystemExit) as raised:
    module.main()
  assert raised.value.code == 2
  error = capsys.readouterr().err.strip().splitlines()[-1]
  assert error.endswith(f"error: argument {flag}: expected a positive integer, got '0'")
