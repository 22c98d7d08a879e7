"""Fake OpenWebText archives for the data-prep tests."""

import io
import tarfile


def write_archive(path, documents):
  """A tar.xz of text files: {member name: text}."""
  with tarfile.open(path, "w:xz") as tar:
    for name, text in documents.items():
      data = text.encode("utf-8")
      info = tarfile.TarInfo(name)
      info.size = len(data)
      tar.addfile(info, io.BytesIO(data))
