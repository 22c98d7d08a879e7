"""Devices that do not exist are an error, not a hang or a silent CPU run."""

import json
import re
import subprocess
import sys

import pytest
import tensorflow as tf

from electra_tf.config.hparams import ConfigError
from electra_tf.config.runtime import RuntimeConfig
from electra_tf.training import distribution
from tests.conftest import ROOT

NO_GPU = not tf.config.list_logical_devices("GPU")


def mirrored(devices):
  return RuntimeConfig(distribution_strategy="mirrored", devices=devices)


def test_existing_devices_make_a_strategy():
  # tests/conftest.py gives this process two logical CPUs.
  strategy = distribution.create_strategy(mirrored(["/cpu:0", "/CPU:1"]))
  assert strategy.num_replicas_in_sync == 2


def test_a_missing_device_is_named():
  with pytest.raises(ConfigError, match=re.escape(
      "devices names '/cpu:2', which this machine does not have (it has /cpu:0, /cpu:1")):
    distribution.create_strategy(mirrored(["/cpu:0", "/cpu:2"]))
  with pytest.raises(ConfigError, match="'gpu0' is not a device name"):
    distribution.create_strategy(mirrored(["gpu0"]))


@pytest.mark.skipif(not NO_GPU, reason="this machine has a GPU")
def test_a_gpu_requested_without_one_says_so():
  with pytest.raises(ConfigError, match=r"devices names '/gpu:0', .* TensorFlow sees no GPU"):
    distribution.create_strategy(mirrored(["/gpu:0"]))
  with pytest.raises(ConfigError, match=r"mirrors over all local GPUs, but TensorFlow sees "
                                        r"no GPU"):
    distribution.create_strategy(mirrored(None))


@pytest.mark.e2e  # runs the script in a fresh process
def test_run_pretraining_with_a_missing_cpu_fails_instead_of_hanging(tmp_path):
  # A fresh process has one CPU device: "/cpu:1" does not exist. Before the
  # check, MirroredStrategy logged "2 replica(s)" and waited forever.
  hparams = {"model_size": "tiny", "distribution_strategy": "mirrored",
             "devices": ["/cpu:0", "/cpu:1"]}
  result = subprocess.run(
      [sys.executable, str(ROOT / "run_pretraining.py"), "--data-dir", str(tmp_path),
       "--model-name", "m", "--hparams", json.dumps(hparams)],
      capture_output=True, text=True, timeout=120)
  assert result.returncode == 2, result.stdout + result.stderr
  assert result.stderr.splitlines()[-1] == (
      "error: devices names '/cpu:1', which this machine does not have (it has /cpu:0).")


@pytest.mark.parametrize("facts, policy", [
    (distribution.DeviceFacts("TPU"), "mixed_bfloat16"),
    (distribution.DeviceFacts("GPU", gpu_compute_capability=(8, 0)), "mixed_float16"),
    (distribution.DeviceFacts("GPU", gpu_compute_capability=(7, 0)), "mixed_float16"),
    (distribution.DeviceFacts("GPU", gpu_compute_capability=(6, 1)), "float32"),
    (distribution.DeviceFacts("GPU"), "float32"),
    (distribution.DeviceFacts("CPU", cpu_flags=frozenset({"avx2"})), "float32"),
    (distribution.DeviceFacts("CPU", cpu_flags=frozenset({"avx512f", "avx512bw"})), "float32"),
    (distribution.DeviceFacts("CPU", cpu_flags=frozenset({"avx512f", "avx512_bf16"})),
     "mixed_bfloat16"),
    (distribution.DeviceFacts("CPU", cpu_flags=frozenset({"avx512_bf16", "amx_bf16"})),
     "mixed_bfloat16"),
])
def test_auto_mixed_precision_follows_the_devices(facts, policy):
  assert distribution.auto_mixed_precision(facts)[0] == policy


def test_cpu_flags_reads_the_first_processors_flags(tmp_path):
  cpuinfo = tmp_path / "cpuinfo"
  cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu avx512f amx_bf16\n\n"
                     "processor\t: 1\nflags\t\t: fpu\n")
  assert distribution.cpu_flags(str(cpuinfo)) == {"fpu", "avx512f", "amx_bf16"}
  assert distribution.cpu_flags(str(tmp_path / "missing")) == frozenset()


def test_resolve_mixed_precision_logs_auto_and_keeps_explicit_values(caplog):
  strategy = tf.distribute.OneDeviceStrategy("/cpu:0")
  caplog.set_level("INFO")
  config = RuntimeConfig()
  assert config.mixed_precision == "auto"
  expected = distribution.auto_mixed_precision(distribution.device_facts(strategy))[0]
  assert distribution.resolve_mixed_precision(config, strategy) == expected
  assert config.mixed_precision == expected
  assert re.search(rf"mixed_precision auto -> {expected} \(CPU.*\)", caplog.text)
  for explicit in ("float32", "mixed_bfloat16", "mixed_float16"):
    config = RuntimeConfig(mixed_precision=explicit)
    assert distribution.resolve_mixed_precision(config, strategy) == explicit
