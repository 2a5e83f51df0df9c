"""Where tests find the project, its fixtures and the shared corpora."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures"
SHARED_DATA = REPO.parent / "shared" / "data"  # third-party corpora: tests skip when absent
