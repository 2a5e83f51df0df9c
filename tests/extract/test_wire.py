import time

import pytest
from lxml import html as lxml_html

from pipelines.config import ConfigError, parse_config
from tests.extract.pages import article_of, html_page, paragraphs
from tests.support.pagegen import PARAGRAPHS_EN, PARAGRAPHS_VI
from transforms.extract.articles import ExtractConfig
from transforms.extract.wire import (
    AGENCIES,
    DEFAULT_AGENCIES,
    agency_lookup,
    lines_after,
    wire_source,
)

VI = (
    "Bộ Y tế cho biết số ca mắc sốt xuất huyết trong tuần qua tăng 12% so với tuần trước.\n"
    "Các địa phương được yêu cầu tăng cường phun hóa chất tại các ổ dịch."
)
EN = (
    "The central bank kept its benchmark rate unchanged on Tuesday, citing slowing inflation.\n"
    "Economists had expected the decision after weak factory data last week."
)


def credit(text: str, *bylines: str) -> str | None:
    return wire_source(text, bylines, DEFAULT_AGENCIES)


@pytest.mark.parametrize(
    "text, code",
    [
        # datelines
        ("Hà Nội (TTXVN) - Ngày 12/3, Bộ Y tế tổ chức hội nghị trực tuyến.\n" + VI, "VNA"),
        ("TP Hồ Chí Minh, 5/4 (TTXVN) - Sở Giao thông vận tải thông báo phân luồng.\n" + VI, "VNA"),
        ("(TTXVN) - Sáng nay, Quốc hội thảo luận ở tổ.\n" + VI, "VNA"),
        ("Hà Nội, 12/3 (TTXVN) Bộ Tài chính vừa ban hành thông tư mới.\n" + VI, "VNA"),
        ("Cần Thơ (TTXVN/Vietnam+) - Hàng nghìn du khách đổ về chợ nổi.\n" + VI, "VNA"),
        ("WASHINGTON (AP) — A man was charged on Monday.\n" + EN, "AP"),
        ("(Reuters) - Shares of the chipmaker jumped 8%.\n" + EN, "REUTERS"),
        ("LONDON, March 3 (Reuters) - Britain's lenders face a test.\n" + EN, "REUTERS"),
        ("BEIJING, Jan. 5 (Xinhua) -- China's foreign trade grew.\n" + EN, "XINHUA"),
        ("SEOUL, Feb. 2 (Yonhap) -- Exports rose for a fourth month.\n" + EN, "YONHAP"),
        ("MOSCOW, March 3. /TASS/. Russia's grain harvest may reach a record.\n" + EN, "TASS"),
        ("МОСКВА, 3 мар — РИА Новости. Урожай зерна может стать рекордным.\n" + EN, "RIA"),
        ("Madrid, 5 mar (EFE).- El Gobierno aprobó el plan.\n" + EN, "EFE"),
        ("Berlin (dpa) - Die Bundesregierung will das Rentenpaket beschließen.\n" + EN, "DPA"),
        ("(CNN) — (Reuters) — The attorney general is investigating.\n" + EN, "REUTERS"),
        ("| NEW YORK (Reuters) - Oil fell. |\n" + EN, "REUTERS"),
        ("By Jane Doe, Reuters\n" + EN, "REUTERS"),
        # credit lines and sign-offs
        (VI + "\nTheo TTXVN", "VNA"),
        (VI + "\n(Theo TTXVN)", "VNA"),
        (VI + "\nNguồn: VNA", "VNA"),
        (VI + "\nTheo Báo Tin tức/TTXVN", "VNA"),
        (VI + "\nThu Hằng/TTXVN", "VNA"),
        (VI + "\nMinh Thu (TTXVN)", "VNA"),
        (VI + "\nTheo TTXVN./.", "VNA"),
        (VI + " Dự án hoàn thành trong quý III./. (TTXVN)", "VNA"),
        (VI + "\nTheo Thông tấn xã Việt Nam", "VNA"),
        (VI + "\nTheo hãng tin AP", "AP"),
        (VI + "\nTheo Tân Hoa xã", "XINHUA"),
        (VI + "\nHương Giang (Theo Reuters)", "REUTERS"),
        (EN + "\n— AP", "AP"),
        (EN + "\n– Reuters", "REUTERS"),
        (EN + "\nSource: Reuters", "REUTERS"),
        (EN + "\n(Reporting by Jane Lee in Singapore; Editing by Mark Potter)", "REUTERS"),
        (EN + "\nCopyright 2019 The Associated Press. All rights reserved.", "AP"),
        (EN + "\nWith files from The Associated Press", "AP"),
        (EN + "\n—Associated Press writer John Leicester in Paris contributed to this report.", "AP"),
        (EN + "\nmit dpa", "DPA"),
        (EN + "\n(Quelle: APA/sda/dpa)", "APA"),
        # several credits: the first in reading order
        (VI + "\nTheo Reuters, AFP", "REUTERS"),
        (VI + "\nTheo AFP, Reuters", "AFP"),
        ("LONDON (AFP) - The museum reopened.\n" + EN + "\nCopyright 2019 The Associated Press.", "AFP"),
    ],
)
def test_credits_in_attribution_positions(text, code):
    assert credit(text) == code


@pytest.mark.parametrize(
    "text",
    [
        # an agency named in a sentence
        "The minister told Reuters on Monday that talks would continue.\n" + EN,
        "Reuters reported earlier that the company was in talks.\n" + EN,
        "According to Reuters, the deal is worth $2 billion.\n" + EN,
        EN + "\nThe talks collapsed on Friday, Reuters reported.",
        EN + "\nThe ministry said in a statement to Agence France-Presse (AFP).",
        "Theo TTXVN, Bộ Công an vừa ban hành thông tư mới về đăng ký phương tiện giao thông.\n" + VI,
        "Theo Reuters, giá dầu thô đã tăng hơn 3% trong phiên giao dịch hôm qua.\n" + VI,
        VI + "\nHãng Bloomberg đưa tin, các quốc gia sử dụng đồng euro đang cân nhắc biện pháp mới.",
        # captions credit a picture
        VI + "\nẢnh: TTXVN",
        VI + "\nẢnh: Minh Quyết (TTXVN)",
        EN + "\nPhoto: AFP via Getty Images",
        EN + "\n(AP Photo/Evan Vucci)",
        # outlets that are no agencies, link rails
        "(PLO) - Sáng 5/3, tòa mở phiên xét xử.\n" + VI,
        "(CNN) — Gone are the days of desktop-only design software.\n" + EN,
        VI + "\nTheo VnExpress",
        VI + "\n(Tổng hợp)",
        VI + "\nTags: Reuters, Kinh tế thế giới",
        EN + "\nThis article originally appeared on Midwest Ledger.",
        EN + "\nJane Doe in Berlin contributed to this report.",
        # the names as words
        "The EFEKT festival opened on Friday.\n" + EN,
        "Students took the AP exam on Monday.\n" + EN,
        EN + "\n— Efe",
        "Apple (AAPL) - shares fell 2% in early trading.\n" + EN,
        "Hôm nay (10/3) - Bộ Y tế họp báo thường kỳ.\n" + VI,
    ],
)
def test_mentions_captions_and_words_are_no_credits(text):
    assert credit(text) is None


def test_bylines_credit_their_agency():
    assert credit(EN, "Jane Doe; AP") == "AP"
    assert credit(EN, "By The Associated Press") == "AP"
    assert credit(EN, "Thu Hà/TTXVN") == "VNA"
    assert credit(EN, "Konstantin Furrer; Deutsche Presse-Agentur") == "DPA"
    assert credit(EN, "Reuters Staff") == "REUTERS"
    assert credit(EN, None, "Efe Yilmaz", "Phóng viên Minh Anh") is None
    assert credit("(AP) — The Senate passed the bill.\n" + EN, "AFP") == "AFP"  # the byline is read first


def test_only_the_edges_of_a_text_are_read():
    middle = "\n".join(["Theo Reuters"] + [EN] * 3)
    assert credit(EN + "\n" + EN + "\n" + middle + "\n" + EN) is None
    assert credit("x" * 100_000 + "\n" + EN + "\nTheo TTXVN") == "VNA"
    assert credit("") is None


def test_crafted_input_stays_linear():
    lines = ["(" * 5000 + "Reuters" + ")" * 5000, "Theo " + "A, " * 20_000, "By " + "x " * 50_000,
             "Copyright " + "1" * 50_000, "Reporting by " + " " * 50_000, "/" * 50_000, "(Theo " + "a" * 50_000,
             "a" + " " * 100_000 + "b./.", "— " + "A " * 50_000 + "(TTXVN)"]
    started = time.perf_counter()
    for line in lines:
        credit(line + "\n" + line + "\n" + line)
    assert time.perf_counter() - started < 1.0


def test_the_agency_table_is_configurable():
    agencies = agency_lookup({"VOV": ["VOV", "Đài Tiếng nói Việt Nam"], "AP": "AP"})
    assert wire_source(VI + "\nTheo VOV", (), agencies) == "VOV"
    assert wire_source("(VOV) - Sáng nay, Quốc hội họp.\n" + VI, (), agencies) == "VOV"
    assert wire_source(VI + "\nTheo TTXVN", (), agencies) is None
    assert wire_source(EN + "\n(Reporting by A; Editing by B)", (), agencies) is None  # no REUTERS in the table


def test_the_agency_list_is_a_checked_setting():
    config = parse_config("extract:\n  wire_agencies:\n    VOV: [VOV]\n    AP: [AP, Associated Press]\n")
    assert config.extract.wire_agencies == {"VOV": ("VOV",), "AP": ("AP", "Associated Press")}
    assert ExtractConfig().wire_agencies == {code: tuple(names) for code, names in AGENCIES.items()}
    with pytest.raises(ConfigError, match="'reuters' names both REUTERS and RTR"):
        parse_config("extract:\n  wire_agencies:\n    REUTERS: [Reuters]\n    RTR: [reuters]\n")
    with pytest.raises(ConfigError, match="extract.wire_agencies"):
        parse_config("extract:\n  wire_agencies:\n    AP: []\n")
    with pytest.raises(ConfigError, match="extract.wire_agencies"):
        parse_config("extract:\n  wire_agencies: [AP]\n")


def test_lines_after_reads_the_blocks_closing_the_texts_container():
    tree = lxml_html.document_fromstring(
        "<html><body><div class='body'><p>First paragraph of the story here.</p>"
        "<p>Last paragraph of the story here.</p><h2>Related</h2><h2>— AP</h2><script>x()</script></div>"
        "<footer><p>© Site</p></footer></body></html>"
    )
    text = "First paragraph of the story here.\nLast paragraph of the story here."
    assert lines_after(tree, text) == ("Related", "— AP")
    assert lines_after(tree, "no such line in the page") == ()
    flat = lxml_html.document_fromstring("<html><body><p>Last paragraph of the story.</p><p>— AP</p></body></html>")
    assert lines_after(flat, "Last paragraph of the story.") == ()


def test_articles_carry_the_wire_source():
    url = "https://baothu.example/kinh-te/gia-vang.html"
    dateline = article_of(html_page("", "<article>" + paragraphs(
        [f"Hà Nội (TTXVN) - {PARAGRAPHS_VI[0]}", *PARAGRAPHS_VI[1:]]) + "</article>", lang="vi"), url)
    assert dateline["wire_source"] == "VNA"
    signed = article_of(html_page("", "<article>" + paragraphs(PARAGRAPHS_EN) + "<h2>— AP</h2></article>"), url)
    assert signed["wire_source"] == "AP"  # trafilatura drops the trailing heading; the page still has it
    mention = article_of(html_page("", "<article>" + paragraphs(
        [*PARAGRAPHS_EN, "The talks collapsed on Friday, Reuters reported."]) + "</article>"), url)
    assert mention["wire_source"] is None
    byline = article_of(html_page('<meta name="author" content="Jane Doe, Reuters">',
                                  "<article>" + paragraphs(PARAGRAPHS_EN) + "</article>"), url)
    assert byline["wire_source"] == "REUTERS"
