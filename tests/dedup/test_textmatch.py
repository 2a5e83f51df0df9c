import unicodedata

import pytest

from transforms.dedup.textmatch import blank_attribution, match_text, token_hashes


def match_tokens(text):
    return match_text(text).split()


@pytest.mark.parametrize(
    "old, new",
    [("hòa", "hoà"), ("thúy", "thuý"), ("khỏe", "khoẻ"), ("qủa", "quả"), ("Hòa Bình", "Hoà Bình"), ("thủy", "thuỷ")],
)
def test_tone_mark_placement_is_unified(old, new):
    assert match_tokens(old) == match_tokens(new) == match_tokens(unicodedata.normalize("NFD", new))
    assert token_hashes([old])[0].tolist() == token_hashes([new])[0].tolist()


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
    assert len(tokens) == 9 and tokens[4:8] == ["12", "3", "78", "5"]
    assert match_tokens("It’s “quoted” — here…") == ["it", "s", "quoted", "here"]
    assert match_tokens("Giá\u00a0vàng 5\u202f000 ₫ ➡️ ١٢") == match_tokens("giá vàng 5 000 ١٢")


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
def test_attribution_and_caption_lines_are_blanked_in_place(noise):
    story = "Mưa lớn kéo dài khiến nhiều tuyến phố ngập sâu."
    assert blank_attribution(f"{story}\n{noise}\n{story}") == f"{story}\n{' ' * len(noise)}\n{story}"
    assert match_text(f"{story}\n{noise}\n{story}") == match_text(f"{story}\n{story}")


def test_agency_tags_are_dropped_inline():
    assert match_tokens("Hà Nội (TTXVN) - Mưa lớn") == match_tokens("Hà Nội - Mưa lớn")
    assert match_tokens("LONDON (Reuters) - Rain") == match_tokens("LONDON - Rain")


@pytest.mark.parametrize(
    "line",
    [
        "Theo kế hoạch, dự án sẽ hoàn thành vào năm 2027.",
        "According to officials, three cases were found.",
        (
            "The photo: a story line that is long, about a photographer and a lot more words than any caption has, "
            "going on and on about the exhibition that opened on Sunday in the old town hall and will run for a month "
            "with more than two hundred works."
        ),
    ],
)
def test_story_lines_are_kept(line):
    assert blank_attribution(line) == line


def test_match_text_separates_tokens_by_single_spaces():
    text = match_text("Tin nóng:\tGiá vàng\n\n“tăng” 2,5%  (AP) — hôm nay")
    assert text == unicodedata.normalize("NFC", "tin nong\u0301 gia\u0301 vang\u0300 tăng 2 5 hôm nay ")


def test_invisible_characters_do_not_split_or_change_words():
    assert match_tokens("thông\u00adtin Re\u200buters \ufeffHà Nội") == match_tokens("thôngtin Reuters Hà Nội")


def test_token_hashes_tell_numbers_and_texts_apart():
    hashes, numbers, offsets = token_hashes(["Giá vàng hôm nay mua vào 78,5 triệu đồng mỗi lượng", "", "hoà HOÀ hòa"])
    assert offsets.tolist() == [0, 12, 12, 15]
    assert numbers.tolist() == [False] * 6 + [True, True] + [False] * 7
    assert len(set(hashes[12:].tolist())) == 1 and len(set(hashes[:12].tolist())) == 12


@pytest.mark.parametrize(
    "chrome", ["Page rendered in 789.0625 ms", "Rating: 3.5/5 (12 votes)", "Posted: Wednesday, January 30, 2008 2:31 PM EST"],
)
def test_numbers_of_page_chrome_lines_are_no_numbers(chrome):
    sentence = "The central bank lowered the federal funds rate to 3 percent, its lowest level since 2005."
    _, alone, _ = token_hashes([sentence])
    _, numbers, _ = token_hashes([f"{chrome}\n{sentence}\n{chrome}"])
    chrome_tokens = len(match_tokens(chrome))
    assert alone.sum() == 2 and numbers.tolist() == [False] * chrome_tokens + alone.tolist() + [False] * chrome_tokens
