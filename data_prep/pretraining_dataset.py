"""Writes text files as TFRecords that ELECTRA can be pre-trained on.

The library behind `build_pretraining_dataset.py` (`electra_cli`): the
original's `build_pretraining_dataset.py` with the same flags, example packing
and shard layout:

  python build_pretraining_dataset.py --corpus-dir CORPUS --vocab-file VOCAB \\
      --output-dir OUT [--max-seq-length 128] [--num-processes 1] \\
      [--blanks-separate-docs true] [--no-lower-case] [--no-strip-accents] \\
      [--seed N] [--num-out-files 1000]

Input: plain-text files, one sentence per line, blank lines between documents.
Every regular file in CORPUS (sorted) goes to job `index % num_processes`;
each job shuffles its files, tokenizes them, packs lines into examples
(`data_prep.examples.ExampleBuilder`) and writes the examples round-robin over
the shards it owns: shard i of `--num-out-files` belongs to job
i % num_processes and is named `pretrain_data.tfrecord-{i}-of-{n}`. A file's
last example is flushed at its end, so no example spans two files.

The changes from the original (none alters the output format: parsed
`--blanks-separate-docs`, `--seed`, `--num-out-files`, counted skips of bad
files, shards renamed into place only when every job succeeded) are listed in
docs/faithfulness.md.
"""

import collections
import dataclasses
import gc
import os
import random
import time
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from data_prep import corpus, jobs
from data_prep.corpus import DataPrepError
from data_prep.examples import ExampleBuilder, ExampleSerializer, PretrainingExample
from electra_tf import fileio
from electra_tf.config.runtime import draw_seed
from electra_tf.text.tokenization import make_tokenizer
from electra_tf.text.vocab import SpecialTokenIds

# The build warns when more of the text tokens than this are [UNK] (BERT's
# uncased vocab on English text: well under 1%).
UNK_WARNING_RATE = 0.05
# Per-category warnings a job prints before it only counts.
_MAX_WARNINGS = 20


@dataclasses.dataclass
class BuildOptions:
  """Everything a build job needs; picklable, so it can go to a subprocess.

  Attributes:
    vocab_file: WordPiece vocab with [PAD], [UNK], [CLS], [SEP], [MASK].
    output_dir: where the shards go; cleared first (see `prepare_output_dir`).
    max_seq_length: tokens per example, [CLS] and [SEP] included.
    num_processes: parallel jobs.
    num_out_files: shards in total (the original: 1000).
    blanks_separate_docs: blank lines end a document.
    do_lower_case: lower-case the text.
    strip_accents: strip accents (only when lower-casing, as the original).
    seed: random seed; None draws one (and logs it).
    tokenizer_backend: "tf_text" (fast) or "python" (the pure-Python
      reference, for benchmarks).
    progress_interval: seconds between a job's progress lines.
  """
  vocab_file: str
  output_dir: str
  max_seq_length: int = 128
  num_processes: int = 1
  num_out_files: int = 1000
  blanks_separate_docs: bool = True
  do_lower_case: bool = True
  strip_accents: bool = True
  seed: Optional[int] = None
  tokenizer_backend: str = "tf_text"
  progress_interval: float = 30.0


@dataclasses.dataclass
class BuildStats:
  """Counters of one job, or of a whole build once merged."""
  files: int = 0
  skipped_files: List[Tuple[str, str]] = dataclasses.field(default_factory=list)
  files_without_tokens: int = 0
  lines: int = 0
  documents: int = 0
  examples: int = 0
  example_tokens: int = 0  # non-padding tokens in examples, [CLS]/[SEP] included
  text_tokens: int = 0  # WordPiece tokens of the text read
  unk_tokens: int = 0  # of which [UNK]
  truncated_tokens: int = 0  # text tokens cut to fit max_seq_length
  bytes_read: int = 0
  invalid_utf8_sequences: int = 0
  files_with_invalid_utf8: int = 0
  shards: int = 0
  nonempty_shards: int = 0
  # Processing (set-up excluded) of the job, or from the first job's start to
  # the last job's end: time.time() stamps.
  started: float = float("inf")
  finished: float = float("-inf")
  cpu_seconds: float = 0.0  # processing CPU time, summed over jobs

  @property
  def seconds(self) -> float:
    """Processing wall time."""
    return max(self.finished - self.started, 1e-9)

  def merge(self, other: "BuildStats") -> None:
    for field in dataclasses.fields(self):
      if field.name == "started":
        self.started = min(self.started, other.started)
      elif field.name == "finished":
        self.finished = max(self.finished, other.finished)
      else:
        setattr(self, field.name, getattr(self, field.name) + getattr(other, field.name))


@dataclasses.dataclass
class JobResult:
  stats: BuildStats
  # temporary shard path -> final shard path
  shards: Dict[str, str]


def log(message: str, job_id: Optional[int] = None) -> None:
  prefix = "" if job_id is None else f"Job {job_id}: "
  print(prefix + message, flush=True)


def format_duration(seconds: float) -> str:
  if seconds < 60:
    return f"{seconds:.1f}s"
  seconds = int(seconds)
  if seconds < 3600:
    return f"{seconds // 60}m{seconds % 60:02d}s"
  return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def format_count(value: float) -> str:
  for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
    if value >= scale:
      return f"{value / scale:.2f}{unit}"
  return f"{value:.0f}"


class ExampleWriter:
  """Tokenizes files, packs them into examples and writes this job's shards.

  The original's `ExampleWriter`: job `job_id` of `options.num_processes`
  owns shards i with i % num_processes == job_id and writes its examples
  round-robin over them. Shards are written under temporary names; `close`
  returns the renames for the caller to apply once every job has succeeded.

  Args:
    job_id: index of this job.
    options: the build options.
    rng: this job's random stream (packing decisions).

  Attributes:
    progress: called with the stats after every batch of lines; set it to
      report progress.
  """

  def __init__(self, job_id: int, options: BuildOptions, rng: random.Random):
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    self.job_id = job_id
    self.options = options
    self.stats = BuildStats()
    self.progress: Callable[[BuildStats], None] = lambda stats: None
    self._warnings: Dict[str, int] = collections.Counter()
    self.tokenizer = make_tokenizer(options.vocab_file, options.do_lower_case,
                                    options.strip_accents, options.tokenizer_backend)
    special = SpecialTokenIds.from_vocab(self.tokenizer.vocab, options.vocab_file)
    self._unk = special.unk
    self.builder = ExampleBuilder(options.max_seq_length, special.cls, special.sep, rng)
    self._serializer = ExampleSerializer(max(self.tokenizer.vocab.values()))
    self._document_has_tokens = False
    self._shards: Dict[str, str] = {}
    self._writers = []
    for index in range(options.num_out_files):
      if index % options.num_processes == job_id:
        names = dict(index=index, num_shards=options.num_out_files)
        temp_path = os.path.join(options.output_dir,
                                 corpus.TEMP_SHARD_FORMAT.format(**names))
        self._shards[temp_path] = os.path.join(options.output_dir,
                                               corpus.SHARD_FORMAT.format(**names))
        self._writers.append(tf.io.TFRecordWriter(temp_path))
    self.stats.shards = len(self._writers)

  def warn(self, category: str, message: str) -> None:
    """Prints a warning, up to `_MAX_WARNINGS` per category; the stats count all."""
    self._warnings[category] += 1
    count = self._warnings[category]
    if count <= _MAX_WARNINGS:
      log(f"WARNING: {message}", self.job_id)
    if count == _MAX_WARNINGS:
      log(f"WARNING: further '{category}' warnings are only counted", self.job_id)

  def skip_file(self, path: str, reason: str) -> None:
    self.stats.skipped_files.append((path, reason))
    self.warn("skipped file", f"skipping {path}: {reason}")

  def write_file(self, path: str) -> None:
    """Writes the examples of one text file; its last example ends with it."""
    self.stats.files += 1
    try:
      reason = corpus.binary_file_reason(path)
    except OSError as e:
      reason = f"cannot be read ({e.strerror or e})"
    if reason:
      self.skip_file(path, reason)
      return
    counts = corpus.ReadCounts()
    tokens_before = self.stats.text_tokens
    bytes_before = self.stats.bytes_read
    try:
      for lines in corpus.read_line_blocks(path, counts):
        if not self.options.blanks_separate_docs:
          lines = [line for line in lines if line]
        self._write_lines(lines)
        self.stats.bytes_read = bytes_before + counts.bytes_read
        self.progress(self.stats)
    except OSError as e:
      self.warn("read error", f"{path}: read failed after {counts.bytes_read} "
                f"bytes ({e.strerror or e}); keeping what was read")
    self._end_document()
    self.stats.bytes_read = bytes_before + counts.bytes_read
    if counts.invalid_sequences:
      self.stats.invalid_utf8_sequences += counts.invalid_sequences
      self.stats.files_with_invalid_utf8 += 1
      self.warn("invalid UTF-8",
                f"{path}: replaced {counts.invalid_sequences} invalid UTF-8 "
                f"sequence(s) in {counts.lines_with_invalid_bytes} line(s); the "
                "tokenizer drops them. If the file is Latin-1 or cp1252, convert "
                "it first (iconv -f latin1 -t utf-8)")
    if self.stats.text_tokens == tokens_before:
      self.stats.files_without_tokens += 1
      self.warn("no tokens", f"{path} has no text (empty or blank lines only); "
                "it adds no examples")
    self.progress(self.stats)

  def _write_lines(self, lines: Sequence[str]) -> None:
    """Feeds stripped lines (blank = document boundary) to the builder."""
    texts = [line for line in lines if line]
    encoded = self.tokenizer.encode_batch(texts)
    self.stats.lines += len(texts)
    self.stats.text_tokens += sum(map(len, encoded))
    self.stats.unk_tokens += sum(ids.count(self._unk) for ids in encoded)
    token_ids = iter(encoded)
    add_line = self.builder.add_line
    for line in lines:
      if line:
        ids = next(token_ids)
        if ids:
          self._document_has_tokens = True
        example = add_line(ids)
        if example is not None:
          self._write_example(example)
      else:
        self._end_document()

  def _end_document(self) -> None:
    if self._document_has_tokens:
      self.stats.documents += 1
      self._document_has_tokens = False
    example = self.builder.end_document()
    if example is not None:
      self._write_example(example)

  def _write_example(self, example: PretrainingExample) -> None:
    shard = self.stats.examples % len(self._writers)
    self._writers[shard].write(self._serializer.serialize(example))
    self.stats.examples += 1
    self.stats.example_tokens += example.num_tokens

  def close(self) -> JobResult:
    """Closes the shards; returns the stats and the pending renames."""
    for writer in self._writers:
      writer.close()
    self.stats.truncated_tokens = self.builder.truncated_tokens
    # Round-robin: the first `examples` shards got one example or more.
    self.stats.nonempty_shards = min(self.stats.examples, len(self._writers))
    return JobResult(stats=self.stats, shards=dict(self._shards))

  def abort(self) -> None:
    """Closes and deletes the temporary shards."""
    for writer in self._writers:
      writer.close()
    for temp_path in self._shards:
      if os.path.exists(temp_path):
        os.remove(temp_path)


class ProgressReporter:
  """Prints a job's progress line at most every `interval` seconds."""

  def __init__(self, job_id: int, interval: float, total_units: int, unit: str):
    self.job_id = job_id
    self.interval = interval
    self.total_units = max(total_units, 1)
    self.unit = unit
    self.start = time.time()
    self.cpu_start = time.process_time()
    self._last = self.start

  def stamp(self, stats: BuildStats) -> None:
    """Records the processing wall and CPU time so far in `stats`."""
    stats.started = self.start
    stats.finished = time.time()
    stats.cpu_seconds = time.process_time() - self.cpu_start

  def __call__(self, stats: BuildStats, done_units: float, force: bool = False) -> None:
    now = time.time()
    if not force and now - self._last < self.interval:
      return
    self._last = now
    elapsed = max(now - self.start, 1e-9)
    fraction = min(done_units / self.total_units, 1.0)
    eta_text = (format_duration(elapsed * (1 - fraction) / fraction)
                if fraction > 0 else "?")
    log(f"{fraction:.1%} of {self.unit}, {stats.files} files, "
        f"{stats.documents:,} documents, {stats.examples:,} examples, "
        f"{format_count(stats.text_tokens / elapsed)} tokens/s, "
        f"{stats.bytes_read / elapsed / 1e6:.2f} MB/s, "
        f"ELAPSED {format_duration(elapsed)}, ETA {eta_text}", self.job_id)


def job_rng(seed: int, job_id: int) -> random.Random:
  """The random stream of one job: distinct per job, fixed by the seed."""
  return random.Random(f"{seed}/{job_id}")


def write_files_job(job_id: int, options: BuildOptions,
                    paths: Sequence[str]) -> JobResult:
  """One job of `build_pretraining_dataset`: writes examples of `paths`.

  Like the original, the job shuffles its files, then packs them in that
  order with the same random stream.
  """
  rng = job_rng(options.seed, job_id)
  paths = list(paths)
  rng.shuffle(paths)
  total_bytes = sum(os.path.getsize(p) for p in paths if os.path.isfile(p))
  writer = ExampleWriter(job_id, options, rng)
  # Started after the set-up (TensorFlow import, tokenizer) so that rates
  # measure processing.
  reporter = ProgressReporter(job_id, options.progress_interval, total_bytes,
                              "input bytes")
  writer.progress = lambda stats: reporter(stats, stats.bytes_read)

  def write_inputs() -> int:
    for path in paths:
      writer.write_file(path)
    return total_bytes

  return run_writer_job(writer, reporter, write_inputs)


def run_writer_job(writer: ExampleWriter, reporter: ProgressReporter,
                   write_inputs: Callable[[], float]) -> JobResult:
  """Runs `write_inputs` (which feeds `writer` and returns the final progress
  count), then commits the job's shards; on any failure it removes them."""
  # A job allocates millions of short-lived lists; without freezing, every
  # full garbage collection re-scans TensorFlow's large heap (up to 1/3 of
  # the run time).
  gc.freeze()
  try:
    done = write_inputs()
    reporter(writer.stats, done, force=True)
    result = writer.close()
  except BaseException:
    writer.abort()
    raise
  finally:
    gc.unfreeze()
  reporter.stamp(result.stats)
  return result


def _check_options(options: BuildOptions) -> None:
  if options.max_seq_length < 5:
    raise DataPrepError(f"--max-seq-length must be at least 5 (the shortest "
                        f"random target length), got {options.max_seq_length}")
  if options.num_processes < 1:
    raise DataPrepError(f"--num-processes must be >= 1, got {options.num_processes}")
  if options.num_out_files < options.num_processes:
    raise DataPrepError(
        f"--num-out-files ({options.num_out_files}) must be >= --num-processes "
        f"({options.num_processes}): every job needs a shard of its own")
  try:
    SpecialTokenIds.from_vocab_file(options.vocab_file)
  except (OSError, ValueError) as e:
    raise DataPrepError(str(e)) from e


def build(options: BuildOptions, inputs: Sequence[str],
          protected_dirs: Sequence[str] = (),
          job_fn: Callable[[int, BuildOptions, Sequence[str]], JobResult] = write_files_job,
          ) -> BuildStats:
  """Builds the shards from `inputs`, split over `options.num_processes` jobs.

  Args:
    options: the build options; `seed` None draws a seed.
    inputs: what `job_fn` reads (text files by default), sorted; job j gets
      the inputs whose index i has i % num_processes == j.
    protected_dirs: input dirs the output dir must not be or contain.
    job_fn: module-level function (job_id, options, inputs) -> JobResult.

  Returns:
    The merged stats.

  Raises:
    DataPrepError: bad options, vocab or output dir, a failed job, or no
      example written. No shard is left under its final name then.
  """
  _check_options(options)
  if options.seed is None:
    options = dataclasses.replace(options, seed=draw_seed())
  corpus.prepare_output_dir(options.output_dir, protected_dirs)
  log(f"Writing {options.num_out_files} shards to {options.output_dir} from "
      f"{len(inputs)} input(s) with {options.num_processes} process(es), "
      f"max_seq_length {options.max_seq_length}, seed {options.seed} "
      f"(pass --seed {options.seed} to reproduce)")
  splits = [[p for i, p in enumerate(inputs) if i % options.num_processes == job_id]
            for job_id in range(options.num_processes)]
  start = time.time()
  try:
    results = jobs.run_jobs(job_fn, options, splits)
  except BaseException:
    corpus.remove_temp_shards(options.output_dir)
    raise
  stats = BuildStats()
  for result in results:
    stats.merge(result.stats)
  if stats.examples == 0:
    corpus.remove_temp_shards(options.output_dir)
    skipped = "; ".join(f"{p}: {r}" for p, r in stats.skipped_files[:5])
    raise DataPrepError(
        f"no examples were written: {stats.files} file(s) read, "
        f"{len(stats.skipped_files)} skipped{' (' + skipped + ')' if skipped else ''}, "
        f"{stats.files_without_tokens} without text. Check the corpus and the "
        "vocab/lower-casing flags")
  final_names = corpus.final_shard_names(
      [(r.shards, r.stats.nonempty_shards) for r in results], options.output_dir)
  filled = len([final for final in final_names.values() if final is not None])
  if filled < stats.shards:
    log(f"{stats.examples:,} examples fill {filled} of the {stats.shards} shards: writing "
        f"{filled} ({corpus.SHARD_FORMAT.format(index='*', num_shards=filled)})")
  stats.shards = stats.nonempty_shards = filled
  for temp_path, final_path in final_names.items():
    if final_path is None:
      os.remove(temp_path)
    else:
      os.replace(temp_path, final_path)
  fileio.write_json(
      os.path.join(options.output_dir, corpus.BUILD_INFO_FILE),
      {"options": dataclasses.asdict(options),
       "stats": {**{k: v for k, v in dataclasses.asdict(stats).items()
                    if k not in ("skipped_files", "started", "finished")},
                 "seconds": stats.seconds},
       "skipped_files": stats.skipped_files})
  print_summary(stats, options, wall_seconds=time.time() - start)
  return stats


def print_summary(stats: BuildStats, options: BuildOptions, wall_seconds: float) -> None:
  slots = stats.examples * options.max_seq_length
  seconds = stats.seconds
  log(f"Done: {stats.examples:,} examples in {stats.shards} shards in {options.output_dir}")
  log(f"  from {stats.files} files ({stats.files_without_tokens} without text; "
      f"{len(stats.skipped_files)} input(s) skipped), {stats.documents:,} documents, "
      f"{stats.lines:,} lines, {stats.bytes_read / 1e6:.2f} MB")
  log(f"  tokens: {stats.example_tokens:,} in examples, padding "
      f"{1 - stats.example_tokens / slots:.1%} of {slots:,} slots; "
      f"{stats.text_tokens:,} text tokens, "
      f"{stats.truncated_tokens / max(stats.text_tokens, 1):.1%} cut by truncation")
  unk_rate = stats.unk_tokens / max(stats.text_tokens, 1)
  log(f"  [UNK]: {unk_rate:.2%} of the text tokens ({stats.unk_tokens:,})")
  if unk_rate > UNK_WARNING_RATE:
    log(f"WARNING: {unk_rate:.1%} of the text tokens are [UNK] (above {UNK_WARNING_RATE:.0%}): "
        f"the vocab {options.vocab_file} does not fit this corpus. Check it is the whole "
        "vocab (not truncated), for this language, and --do-lower-case / --no-lower-case "
        "as it was built")
  if stats.invalid_utf8_sequences:
    log(f"  invalid UTF-8: {stats.invalid_utf8_sequences:,} sequence(s) replaced "
        f"in {stats.files_with_invalid_utf8} file(s)")
  log(f"  time: {format_duration(wall_seconds)} wall, {format_duration(seconds)} "
      f"processing: {format_count(stats.text_tokens / seconds)} tokens/s, "
      f"{stats.bytes_read / seconds / 1e6:.2f} MB/s "
      f"({format_count(stats.text_tokens / max(stats.cpu_seconds, 1e-9))} tokens "
      "per CPU second)")
