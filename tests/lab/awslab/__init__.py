"""The local AWS lab for textract-audit (see tests/lab/README.md)."""
