"""Preprocesses the OpenWebText corpus for ELECTRA pre-training.

The original's `build_openwebtext_pretraining_dataset.py`
(`original_electra.md` §4.5), same flags plus `--seed` and `--num-out-files`:

  python build_openwebtext_pretraining_dataset.py --data-dir $DATA_DIR \\
      [--max-seq-length 128] [--num-processes 5] [--no-lower-case] ...

Expects `$DATA_DIR/vocab.txt` and `$DATA_DIR/openwebtext/*.xz`, the archives
inside `openwebtext.tar.xz` (each a tar of per-document .txt files). Writes
`$DATA_DIR/pretrain_tfrecords/pretrain_data.tfrecord-{i}-of-{n}`.

Archive i goes to job i % num_processes; each job shuffles its archives,
extracts one at a time into a temporary dir under `$DATA_DIR/tmp/` (removed
after the archive, as the original's `tmp/job_<i>`), shuffles the extracted
files and writes each as one document (`blanks_separate_docs=False`). An
archive that cannot be read is skipped with a counted warning.
"""

import argparse
import functools
import glob
import lzma
import os
import sys
import tarfile
import tempfile
from typing import List, Optional, Sequence

from data_prep import build_pretraining_dataset as bpd
from data_prep.corpus import DataPrepError


def list_archives(owt_dir: str) -> List[str]:
  """The sorted `*.xz` archives of an extracted openwebtext.tar.xz."""
  if not os.path.isdir(owt_dir):
    raise DataPrepError(
        f"{owt_dir!r} is not a directory; download openwebtext.tar.xz and "
        "extract it into the data dir (tar xf openwebtext.tar.xz -C $DATA_DIR), "
        "which creates openwebtext/*.xz")
  archives = sorted(p for p in glob.glob(os.path.join(owt_dir, "*.xz"))
                    if os.path.isfile(p))
  if not archives:
    raise DataPrepError(f"no *.xz archives in {owt_dir!r}; extract "
                        "openwebtext.tar.xz into the data dir first")
  return archives


def _extracted_files(directory: str) -> List[str]:
  return sorted(os.path.join(root, name)
                for root, _, names in os.walk(directory) for name in names)


def write_archives_job(job_id: int, options: bpd.BuildOptions,
                       archives: Sequence[str], tmp_root: str) -> bpd.JobResult:
  """One job: writes the documents of its OpenWebText archives.

  Args:
    job_id: index of this job.
    options: the build options (blanks_separate_docs False).
    archives: this job's archives.
    tmp_root: where to extract archives, one temporary dir at a time.
  """
  rng = bpd.job_rng(options.seed, job_id)
  archives = list(archives)
  rng.shuffle(archives)
  writer = bpd.ExampleWriter(job_id, options, rng)
  reporter = bpd.ProgressReporter(job_id, options.progress_interval, len(archives),
                                  "archives")
  archives_done = 0
  writer.progress = lambda stats: reporter(stats, archives_done)
  os.makedirs(tmp_root, exist_ok=True)

  def write_inputs() -> int:
    nonlocal archives_done
    for archive in archives:
      with tempfile.TemporaryDirectory(
          prefix=f"job_{job_id}_{os.path.basename(archive)}_", dir=tmp_root) as tmp:
        try:
          with tarfile.open(archive) as tar:
            tar.extractall(tmp, filter="data")
        except (tarfile.TarError, lzma.LZMAError, EOFError, OSError) as e:
          details = "; ".join(line.strip() for line in str(e).splitlines() if line.strip())
          writer.skip_file(archive, f"not a readable tar archive ({details})")
        else:
          files = _extracted_files(tmp)
          rng.shuffle(files)
          for path in files:
            writer.write_file(path)
      archives_done += 1
    return archives_done

  return bpd.run_writer_job(writer, reporter, write_inputs)


def build_arg_parser() -> argparse.ArgumentParser:
  parser = argparse.ArgumentParser(
      description="Preprocesses the Open WebText corpus for ELECTRA pre-training.")
  parser.add_argument("--data-dir", required=True,
                      help="Location of data (vocab file, corpus, etc).")
  bpd.add_common_flags(parser)
  return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
  args = build_arg_parser().parse_args(argv)
  owt_dir = os.path.join(args.data_dir, "openwebtext")
  tmp_root = os.path.join(args.data_dir, "tmp")
  options = bpd.BuildOptions(
      vocab_file=os.path.join(args.data_dir, "vocab.txt"),
      output_dir=os.path.join(args.data_dir, "pretrain_tfrecords"),
      max_seq_length=args.max_seq_length, num_processes=args.num_processes,
      num_out_files=args.num_out_files, blanks_separate_docs=False,
      do_lower_case=args.do_lower_case, strip_accents=args.strip_accents,
      seed=args.seed)
  tmp_root_existed = os.path.isdir(tmp_root)
  try:
    if not os.path.isdir(args.data_dir):
      raise DataPrepError(f"--data-dir {args.data_dir!r} is not a directory")
    archives = list_archives(owt_dir)
    bpd.build(options, archives, protected_dirs=[owt_dir, tmp_root],
              job_fn=functools.partial(write_archives_job, tmp_root=tmp_root))
  except DataPrepError as e:
    print(f"error: {e}", file=sys.stderr, flush=True)
    return 1
  finally:
    if not tmp_root_existed and os.path.isdir(tmp_root) and not os.listdir(tmp_root):
      os.rmdir(tmp_root)
  return 0


if __name__ == "__main__":
  sys.exit(main())
