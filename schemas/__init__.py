"""Table schemas (pyarrow), defined once."""
