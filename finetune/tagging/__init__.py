"""Sequence tagging: chunking (CoNLL-2000) and any IOB / BIO / BIOES-tagged corpus."""
