import subprocess
import sys

WARN = "import logging; logging.warning('apitools not found, and bigquery client libraries are not available')"


def stderr_of(code: str) -> str:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stderr


def test_any_process_importing_a_stage_drops_beams_gcp_import_warning():
    """Extractor and fingerprint processes import a stage module on start, before Beam warns
    that GCP libraries are missing (expected without the gcp extra): the warning must not
    reach the user, while other warnings still do."""
    assert "apitools not found" in stderr_of(WARN)  # what Beam prints on import without the filter
    assert "apitools not found" not in stderr_of("import transforms; " + WARN)
    assert "disk full" in stderr_of("import transforms, logging; logging.warning('disk full')")
