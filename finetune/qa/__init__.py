"""Span question answering: SQuAD 1.1 / 2.0 and the MRQA 2019 datasets."""
