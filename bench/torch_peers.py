"""PyTorch / Hugging Face transformers peers of electra-tf's benches (CPU).

Run under the peers venv (bench/setup_peers_venv.sh), never next to TF; models
are built from configs with random init (nothing is downloaded). Measurements:

  pretrain  full ELECTRA pre-training steps (forward, backward, optimizer) of
            HF `ElectraForMaskedLM` (generator) + `ElectraForPreTraining`
            (discriminator) with this file's own step: 15% of non-special
            positions masked (int((0.15 + 0.005) * seq) per sequence, as the
            original's `max_predictions_per_seq`; 85% of them [MASK], the rest
            kept), generator MLM loss on the masked positions only (its head
            runs on those positions, as in the original), Gumbel-max sampling
            of replacements, discriminator loss weight 50, AdamW lr 1e-4
            (weight decay 0.01, eps 1e-6) after a grad-norm clip of 1.0.
            Generator embeddings are the discriminator's (one shared module),
            and its output projection is the shared word-embedding table.
  finetune  GLUE-style classification steps (`ElectraForSequenceClassification`,
            2 labels, the discriminator's dims), same optimizer and clip.
  serve     batch-1 inference latency of that classifier (p50 / p90 ms).

Each measurement runs in fp32 and under `torch.autocast("cpu", torch.bfloat16)`
(bf16 only when /proc/cpuinfo shows avx512_bf16 or amx_bf16; otherwise a
"skipped" row). Each prints one JSON line to stdout:
  {"name", "what", "dtype", "batch", "seq", "model_size", "seq_per_s" | "p50_ms",
   "p90_ms", "peak_rss_mb", "torch", "transformers", "threads"}
peak_rss_mb is this process's peak so far (ru_maxrss), so it is per
measurement only when one process runs one measurement, as
bench/pretrain_throughput.py does.

Usage:
  bench/.venv-peers/bin/python bench/torch_peers.py [--what pretrain,finetune,serve]
      [--dtypes fp32,bf16] [--seq 128] [--batch-size 32] [--steps 5] [--warmup 2]
      [--serve-calls 50] [--model-size small|base]
"""

import argparse
import json
import os
import resource
import sys
import time

import numpy as np
import torch
import transformers

VOCAB = 30522
PAD_ID, CLS_ID, SEP_ID, MASK_ID = 0, 101, 102, 103
DISC_DIMS = {  # hidden, layers, heads, FFN, embedding width (the original's model sizes)
    "small": (256, 12, 4, 1024, 128),
    "base": (768, 12, 12, 3072, 768),
}
# The original's default generator_hidden_size, for every size, as electra-tf's
# config in bench/pretrain_throughput.py (0.33 for Base gave 253-wide, 3-head layers).
GENERATOR_FRACTION = 0.25


def cpu_has_bf16() -> bool:
  """Whether the CPU has native bf16 matmul (avx512_bf16 or amx_bf16 flags)."""
  try:
    with open("/proc/cpuinfo", encoding="utf-8") as f:
      flags = next((line for line in f if line.startswith("flags")), "").split()
  except OSError:
    return False
  return "avx512_bf16" in flags or "amx_bf16" in flags


def electra_configs(model_size: str, seq: int):
  """(discriminator, generator) `ElectraConfig`s with the original's dims;
  the generator's hidden is round(H * fraction), FFN 4x, heads max(1, h // 64)."""
  hidden, layers, heads, ffn, embedding = DISC_DIMS[model_size]
  common = dict(vocab_size=VOCAB, embedding_size=embedding, num_hidden_layers=layers,
                max_position_embeddings=max(512, seq), type_vocab_size=2,
                hidden_act="gelu", hidden_dropout_prob=0.1,
                attention_probs_dropout_prob=0.1)
  disc = transformers.ElectraConfig(hidden_size=hidden, num_attention_heads=heads,
                                    intermediate_size=ffn, **common)
  gen_hidden = int(round(hidden * GENERATOR_FRACTION))
  gen = transformers.ElectraConfig(hidden_size=gen_hidden,
                                   num_attention_heads=max(1, gen_hidden // 64),
                                   intermediate_size=4 * gen_hidden, **common)
  return disc, gen


def random_batch(batch_size: int, seq: int, seed: int = 0) -> torch.Tensor:
  """[batch, seq] int64 ids: [CLS] random word pieces [SEP], no padding."""
  rng = np.random.default_rng(seed)
  ids = rng.integers(1000, 30000, size=[batch_size, seq]).astype(np.int64)
  ids[:, 0], ids[:, -1] = CLS_ID, SEP_ID
  return torch.from_numpy(ids)


class ElectraPretrainingStep(torch.nn.Module):
  """Generator + discriminator with shared embeddings; `forward(ids)` -> loss."""

  def __init__(self, disc_config, gen_config, seq):
    super().__init__()
    self.discriminator = transformers.ElectraForPreTraining(disc_config)
    self.generator = transformers.ElectraForMaskedLM(gen_config)
    self.generator.electra.embeddings = self.discriminator.electra.embeddings
    self.generator.generator_lm_head.weight = (
        self.discriminator.electra.embeddings.word_embeddings.weight)
    self.num_predictions = int((0.15 + 0.005) * seq)

  def forward(self, ids: torch.Tensor) -> torch.Tensor:
    """ids: [B, S] int64 -> scalar loss (MLM + 50 * replaced-token detection)."""
    batch, seq = ids.shape
    attention_mask = torch.ones_like(ids)
    special = (ids == CLS_ID) | (ids == SEP_ID) | (ids == PAD_ID)
    scores = torch.rand(batch, seq).masked_fill(special, -1.0)
    positions = scores.topk(self.num_predictions, dim=1).indices  # [B, N]
    targets = ids.gather(1, positions)  # [B, N]
    use_mask_token = torch.rand(positions.shape) < 0.85
    masked_ids = ids.scatter(1, positions, torch.where(use_mask_token, MASK_ID, targets))

    hidden = self.generator.electra(masked_ids, attention_mask=attention_mask)[0]  # [B, S, h]
    picked = hidden.gather(1, positions.unsqueeze(-1).expand(-1, -1, hidden.shape[-1]))
    logits = self.generator.generator_lm_head(
        self.generator.generator_predictions(picked)).float()  # [B, N, V]
    mlm_loss = torch.nn.functional.cross_entropy(logits.reshape(-1, VOCAB), targets.reshape(-1))

    with torch.no_grad():  # Gumbel-max: a sample from softmax(logits)
      uniform = torch.rand_like(logits).clamp_(1e-9, 1.0)
      sampled = (logits - torch.log(-torch.log(uniform))).argmax(-1)  # [B, N]
    fake_ids = ids.scatter(1, positions, sampled)
    replaced = (fake_ids != ids).float()  # [B, S]
    disc_logits = self.discriminator(fake_ids, attention_mask=attention_mask).logits.float()
    disc_loss = torch.nn.functional.binary_cross_entropy_with_logits(disc_logits, replaced)
    return mlm_loss + 50.0 * disc_loss


class ClassifierStep(torch.nn.Module):
  """`ElectraForSequenceClassification` (2 labels); `forward(ids)` -> loss."""

  def __init__(self, disc_config):
    super().__init__()
    disc_config.num_labels = 2
    self.model = transformers.ElectraForSequenceClassification(disc_config)

  def forward(self, ids: torch.Tensor) -> torch.Tensor:
    labels = (ids[:, 1] % 2).long()  # [B]; any fixed labels do for timing
    return self.model(ids, attention_mask=torch.ones_like(ids), labels=labels).loss


def autocast(dtype: str):
  return torch.autocast("cpu", dtype=torch.bfloat16, enabled=dtype == "bf16")


def time_training(module, ids, dtype, steps, warmup) -> float:
  """Sequences/s of full training steps (forward, backward, clip, AdamW)."""
  module.train()
  params = list(module.parameters())  # shared parameters appear once
  optimizer = torch.optim.AdamW(params, lr=1e-4, weight_decay=0.01, eps=1e-6)

  def step():
    with autocast(dtype):
      loss = module(ids)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(params, 1.0)
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return loss.item()

  for _ in range(warmup):
    step()
  start = time.perf_counter()
  for _ in range(steps):
    loss = step()
  elapsed = time.perf_counter() - start
  if not np.isfinite(loss):
    raise RuntimeError(f"non-finite loss {loss} in a timed step")
  return steps * ids.shape[0] / elapsed


def time_serving(model, ids, dtype, calls, warmup):
  """(p50, p90) ms of batch-1 classifier calls on ids [1, S]."""
  model.eval()
  mask = torch.ones_like(ids)
  times = []
  with torch.inference_mode(), autocast(dtype):
    for i in range(warmup + calls):
      start = time.perf_counter()
      model(ids, attention_mask=mask).logits.float().numpy()
      if i >= warmup:
        times.append((time.perf_counter() - start) * 1e3)
  return float(np.percentile(times, 50)), float(np.percentile(times, 90))


def emit(row):
  row.update(peak_rss_mb=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
             torch=torch.__version__, transformers=transformers.__version__,
             threads=torch.get_num_threads())
  print(json.dumps(row), flush=True)


def parse_args(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--what", default="pretrain,finetune,serve",
                      help="comma list of pretrain, finetune, serve (default: all)")
  parser.add_argument("--dtypes", default="fp32,bf16", help="comma list of fp32, bf16")
  parser.add_argument("--seq", type=int, default=128, help="sequence length (default 128)")
  parser.add_argument("--batch-size", type=int, default=32,
                      help="training batch size (default 32; serving is batch 1)")
  parser.add_argument("--steps", type=int, default=5, help="timed training steps (default 5)")
  parser.add_argument("--warmup", type=int, default=2, help="untimed steps/calls first (default 2)")
  parser.add_argument("--serve-calls", type=int, default=50,
                      help="timed batch-1 calls for p50/p90 (default 50)")
  parser.add_argument("--model-size", choices=sorted(DISC_DIMS), default="small")
  args = parser.parse_args(argv)
  whats, dtypes = args.what.split(","), args.dtypes.split(",")
  bad = [w for w in whats if w not in ("pretrain", "finetune", "serve")]
  bad += [d for d in dtypes if d not in ("fp32", "bf16")]
  if bad:
    parser.error(f"unknown --what/--dtypes entries {bad}; use pretrain,finetune,serve and fp32,bf16")
  if min(args.seq, args.batch_size, args.steps, args.serve_calls) < 1 or args.warmup < 0:
    parser.error("--seq, --batch-size, --steps and --serve-calls must be >= 1, --warmup >= 0")
  return args, whats, dtypes


def main(argv=None):
  args, whats, dtypes = parse_args(argv)
  torch.set_num_threads(os.cpu_count())
  torch.manual_seed(0)
  bf16_ok = cpu_has_bf16()
  for what in whats:
    for dtype in dtypes:
      batch = 1 if what == "serve" else args.batch_size
      row = {"name": f"torch HF {what} {dtype}", "what": what, "dtype": dtype, "batch": batch,
             "seq": args.seq, "model_size": args.model_size}
      if dtype == "bf16" and not bf16_ok:
        emit(dict(row, skipped="CPU flags show neither avx512_bf16 nor amx_bf16"))
        continue
      disc_config, gen_config = electra_configs(args.model_size, args.seq)
      ids = random_batch(batch, args.seq)
      if what == "pretrain":
        module = ElectraPretrainingStep(disc_config, gen_config, args.seq)
        row["seq_per_s"] = time_training(module, ids, dtype, args.steps, args.warmup)
      elif what == "finetune":
        row["seq_per_s"] = time_training(ClassifierStep(disc_config), ids, dtype, args.steps,
                                         args.warmup)
      else:
        p50, p90 = time_serving(ClassifierStep(disc_config).model, ids, dtype,
                                args.serve_calls, args.warmup)
        row.update(p50_ms=p50, p90_ms=p90)
      emit(row)


if __name__ == "__main__":
  sys.exit(main())
