"""Preprocesses the OpenWebText corpus for ELECTRA pre-training.

The library behind `build_openwebtext_pretraining_dataset.py` (`electra_cli`):
the original's `build_openwebtext_pretraining_dataset.py`, with the same flags
plus `--seed` and `--num-out-files`:

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

import glob
import lzma
import os
import tarfile
import tempfile
from typing import List, Sequence

from data_prep import pretraining_dataset as bpd
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
