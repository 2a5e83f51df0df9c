import unicodedata

import pytest

from transforms.textmatch import match_text, strip_attribution, unify_tone_marks


def match_tokens(text):
    return match_text(text).split()


@pytest.mark.parametrize(
    "old, new",
    [("hòa", "hoà"), ("thúy", "thuý"), ("khỏe", "khoẻ"), ("qủa", "quả"), ("Hòa Bình", "Hoà Bình"), ("thủy", "thuỷ")],
)
def test_tone_mark_placement_is_unified(old, new):
    assert match_tokens(old) == match_tokens(new)
    assert unify_tone_marks(old) == unify_tone_marks(new) == unify_tone_marks(unicodedata.normalize("NFD", new))


def test_tone_marks_still_tell_words_apart():
    words = ["hoa", "hoá", "hoà", "hoả", "hoạ", "hoã"]
    assert len({tuple(match_tokens(w)) for w in words}) == len(words)
    assert match_tokens("người") != match_tokens("ngươi")


def test_nfd_and_case_match_nfc():
    text = "Thủ tướng HÒA BÌNH phát biểu tại Hà Nội"
    assert match_tokens(unicodedata.normalize("NFD", text)) == match_tokens(text.lower())


def test_tokens_drop_punctuation_and_keep_numbers():
    tokens = match_tokens("Giá vàng, hôm nay (12/3): 78,5 triệu!")
    assert tokens == match_tokens("giá vàng hôm nay 12 3 78 5 triệu")
    assert len(tokens) == 9 and tokens[4:8] == [b"12", b"3", b"78", b"5"]
    assert match_tokens("It’s “quoted” — here…") == [b"it", b"s", b"quoted", b"here"]


@pytest.mark.parametrize(
    "noise",
    [
        "Theo Reuters",
        "Theo TTXVN/Vietnam+",
        "Nguồn: VnExpress",
        "Ảnh: Reuters",
        "Cầu Long Biên về đêm. Ảnh: Ngọc Hà",
        "| The harbour at dawn. Photo: Getty Images |",
        "(Tổng hợp)",
        "Read more: Ten things to know today",
        "Tin liên quan: Giá vàng tăng mạnh",
        "(Reporting by Ethan Walsh; Editing by Maria Lopez)",
        "This article originally appeared on World News Hub.",
    ],
)
def test_attribution_and_caption_lines_are_dropped(noise):
    story = "Mưa lớn kéo dài khiến nhiều tuyến phố ngập sâu."
    assert strip_attribution(f"{story}\n{noise}\n{story}") == f"{story}\n{story}"


def test_agency_tags_are_dropped_inline():
    assert match_tokens("Hà Nội (TTXVN) - Mưa lớn") == match_tokens("Hà Nội - Mưa lớn")
    assert match_tokens("LONDON (Reuters) - Rain") == match_tokens("LONDON - Rain")


@pytest.mark.parametrize(
    "line",
    [
        "Theo kế hoạch, dự án sẽ hoàn thành vào năm 2027.",
        "According to officials, three cases were found.",
        "The photo: a story line that is long, about a photographer and a lot more words than any caption has, "
        "going on and on about the exhibition that opened on Sunday in the old town hall and will run for a month "
        "with more than two hundred works.",
    ],
)
def test_story_lines_are_kept(line):
    assert strip_attribution(line) == line


def test_match_text_separates_tokens_by_spaces_only():
    text = match_text("Tin nóng:\tGiá vàng\n\n“tăng” 2,5%  (AP) — hôm nay")
    assert all(byte == 32 or byte >= 128 or chr(byte).isalnum() for byte in text)
    assert text.split() == match_tokens("tin nóng giá vàng tăng 2 5 hôm nay")
