"""trafilatura in an isolated process with a time budget (transforms/extract/isolated.py)."""

import pytest

from tests.support.pagegen import PARAGRAPHS_VI, article_html
from transforms.extract.articles import ExtractConfig
from transforms.extract.decode import PageRejected
from transforms.extract.isolated import IsolatedExtractor

VI_PAGE = article_html("Giá vàng hôm nay tăng mạnh", PARAGRAPHS_VI)


def test_isolated_extractor_times_out_then_recovers():
    slow = IsolatedExtractor(ExtractConfig(timeout_s=0.0001))
    with pytest.raises(PageRejected) as info:
        slow(VI_PAGE * 50, None)
    assert info.value.error_type == "ExtractionTimeout"
    slow.close()
    normal = IsolatedExtractor(ExtractConfig())
    hints, doc = normal(VI_PAGE, None)
    assert PARAGRAPHS_VI[1] in doc["text"] and hints.html_lang == "vi"
    normal.close()
