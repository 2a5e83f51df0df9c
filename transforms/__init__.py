"""Composite Beam transforms, one module per stage, over pure functions."""

import logging


def _not_gcp_import_noise(record: logging.LogRecord) -> bool:
    """Beam warns at import that GCP client libraries are missing; without the gcp extra that is
    expected.  Filtered here, before any stage imports Beam, so the extractor and fingerprint
    processes (which import a stage module on start) stay quiet too."""
    return not record.getMessage().startswith("apitools not found")


logging.getLogger().addFilter(_not_gcp_import_noise)
