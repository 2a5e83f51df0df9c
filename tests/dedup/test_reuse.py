"""Passage reuse: records, the alignment rules, and DetectReuse in batch runs that add up."""

import random
import unicodedata

import numpy as np
import pytest

from tests.support.reprints import article, run_detect
from tests.support.reuse import link_scores, reuse_in_memory, reuse_vi_set
from transforms.dedup import passages
from transforms.dedup.fingerprints import id_hash, pack
from transforms.dedup.passages import ReuseConfig, _maybe_frequent, passage_records, unpack, unpack_all
from transforms.dedup.rules import DedupConfig, SortKey

HEAT = (
    "Trung tâm Dự báo khí tượng thủy văn quốc gia cho biết đợt nắng nóng gay gắt sẽ kéo dài ít nhất đến cuối tuần, "
    "nhiệt độ cao nhất tại nhiều nơi ở Bắc Bộ và Trung Bộ phổ biến từ 38 đến 40 độ C.",
    "Người dân được khuyến cáo hạn chế ra đường vào buổi trưa, uống đủ nước và chú ý phòng chống cháy nổ do sử dụng "
    "nhiều thiết bị điện trong thời gian dài, nhất là ở các khu nhà trọ đông người.",
    "Ngành điện cho biết phụ tải tiêu thụ đã lập đỉnh mới trong ngày hôm qua, vượt mức cao nhất của cùng kỳ năm "
    "trước, và đề nghị các doanh nghiệp sản xuất chủ động chuyển bớt giờ làm việc sang ban đêm.",
    "Theo các chuyên gia, hiện tượng El Nino khiến mùa nắng năm nay đến sớm hơn, và khả năng sẽ còn thêm hai đến "
    "ba đợt nắng nóng kéo dài trước khi mùa mưa bắt đầu ở khu vực phía bắc vào cuối tháng Năm.",
)
MARKET = (
    "Chợ nông sản lớn nhất thành phố vừa hoàn thành giai đoạn nâng cấp đầu tiên, với hệ thống mái che mới, khu "
    "sơ chế đạt chuẩn và bãi đỗ xe cho hơn hai trăm xe tải vào ban đêm.",
    "Ban quản lý chợ cho biết các tiểu thương được miễn phí thuê sạp trong ba tháng đầu để ổn định việc kinh doanh, "
    "đồng thời được hướng dẫn bán hàng qua các sàn thương mại điện tử.",
    "Giai đoạn hai của dự án dự kiến khởi công vào quý sau, tập trung vào kho lạnh và hệ thống xử lý nước thải, "
    "với tổng vốn đầu tư khoảng ba trăm tỷ đồng từ ngân sách và doanh nghiệp.",
)
FESTIVAL = (
    "Lễ hội hoa xuân năm nay thu hút hàng chục nghìn lượt khách trong ba ngày đầu, với hơn năm mươi tiểu cảnh "
    "được các nghệ nhân từ nhiều tỉnh thành mang về trưng bày dọc bờ sông.",
    "Ban tổ chức cho biết lượng khách quốc tế tăng gần gấp đôi so với năm ngoái, nhờ các chương trình quảng bá "
    "trên mạng xã hội và đường bay thẳng mới mở từ một số nước trong khu vực.",
    "Các hoạt động biểu diễn nghệ thuật đường phố diễn ra mỗi tối đến hết tuần, bên cạnh chợ phiên ẩm thực với "
    "nhiều món đặc sản vùng miền lần đầu được giới thiệu tại thành phố.",
)


def text(*paragraphs) -> str:
    return "\n".join(paragraphs)


def rows_of(articles, stories, **settings):
    return reuse_in_memory(articles, stories, ReuseConfig(**settings))


# ---------------------------------------------------------------------------- records


def test_seeds_held_more_than_once_pass_the_linear_filter_and_most_others_do_not():
    rng = np.random.default_rng(3)
    seeds = rng.integers(0, 1 << 26, 50_000, dtype=np.uint32) * 64 + 5  # one seed shard's: all 5 modulo 64
    seeds[::10] = seeds[1::10]  # every tenth seed held twice
    kept = _maybe_frequent(seeds, 2)
    twice = np.isin(seeds, seeds[::10])
    assert kept[twice].all() and kept[~twice].mean() < 0.3


def test_a_seed_shard_whose_seeds_are_each_held_once_pairs_nothing():
    holdings = np.zeros(3, dtype=passages._HOLDING)
    holdings["article"], holdings["story"], holdings["seeds"] = [1, 2, 3], [1, 2, 3], 1
    seeds = np.array([64, 128, 192], dtype=np.uint32)
    assert passages.shared_seeds((0, [[holdings.tobytes(), seeds.tobytes()]]), DedupConfig(), ReuseConfig()) == []


def test_an_article_posts_each_of_its_seeds_once_to_the_seed_shard_it_belongs_to():
    records = passage_records([text(HEAT[0], HEAT[1], HEAT[0]), HEAT[1]], ReuseConfig())  # the first repeats a paragraph
    key = SortKey(0.0, 2, -50, "a")
    holders = [passages.Holder(i, id_hash(i), key, "story", key, 2, record) for i, record in zip("ab", records)]
    posted = {holder.h: [] for holder in holders}
    for shard, (holdings, seeds) in passages._postings(holders, DedupConfig(lsh_shards=8)):
        holdings, seeds = np.frombuffer(holdings, passages._HOLDING), np.frombuffer(seeds, np.uint32)
        assert (seeds % 8 == shard).all()
        for holding, held in zip(holdings, np.split(seeds, np.cumsum(holdings["seeds"])[:-1])):
            posted[int(holding["article"])] += held.tolist()
    for holder, record in zip(holders, records):
        assert sorted(posted[holder.h]) == sorted(set(unpack(record).seeds.tolist()))
    assert len(unpack(records[0]).seeds) > len(set(unpack(records[0]).seeds.tolist()))  # (it does repeat seeds)


def test_a_shard_whose_pairs_each_share_a_seed_or_two_decides_no_reuse_there():
    record = passage_records([HEAT[1]], ReuseConfig())[0]
    key = SortKey(0.0, 2, -50, "a")
    holder = passages.Holder("a", id_hash("a"), key, "story-a", key, 1, record)
    matches = np.zeros(2, dtype=passages._MATCH)  # two seeds shared with each of two other stories
    matches["target"], matches["story"], matches["seed"] = holder.h, [7, 8], unpack(record).seeds[:2]
    picked = passages.pick_pairs(
        (0, {"holders": [pack([(holder.row(), "sha", True, None)])], "matches": [[matches.tobytes()]]}), DedupConfig(), ReuseConfig()
    )
    assert sorted(tag for tag, _ in picked) == ["index"]


def test_a_record_keys_tone_mark_placement_and_nfd_alike():
    old_style = HEAT[1].replace("khuyến cáo", "khuyến cáo").replace("hòa", "hoà")
    nfd = unicodedata.normalize("NFD", HEAT[1])
    records = [unpack(r) for r in passage_records([HEAT[1], old_style.replace("thủy", "thuỷ"), nfd], ReuseConfig())]
    assert len(records[0].seeds) > 5
    assert all(list(r.seeds) == list(records[0].seeds) for r in records)


def test_units_are_sentences_with_their_spans_and_paragraphs():
    body = text("Câu thứ nhất có đủ nhiều chữ để thành một đơn vị riêng biệt ở đây. Câu thứ hai cũng đủ dài để "
                "đứng riêng như một đơn vị của văn bản này.", "Ngắn thôi.", HEAT[0])
    record = unpack(passage_records([body], ReuseConfig())[0])
    units = [body[s:e] for s, e in zip(record.starts, record.ends)]
    assert units[0] == "Câu thứ nhất có đủ nhiều chữ để thành một đơn vị riêng biệt ở đây."
    assert units[1].startswith("Câu thứ hai") and units[1].endswith("văn bản này.")
    assert units[2] == "Ngắn thôi."  # alone in its paragraph
    assert list(record.paragraphs) == [0, 0, 1, 2]


def test_no_texts_no_records_and_an_empty_text_an_empty_record():
    assert passage_records([], ReuseConfig()) == []
    empty = unpack(passage_records([""], ReuseConfig())[0])
    assert not len(empty.starts) and not len(empty.seeds)


def test_a_record_stays_within_its_byte_budget():
    long_text = text(*(" ".join(random.Random(k).sample(HEAT[0].split() * 3, 60)) + "." for k in range(300)))
    records = passage_records([long_text, HEAT[0]], ReuseConfig(max_record_bytes=2048))
    assert len(records[0]) <= 2048
    assert len(unpack(records[0]).seeds) > 100  # a lower rate, not an empty record
    assert unpack(records[1]).threshold > unpack(records[0]).threshold  # nested samples: comparable


def test_records_unpacked_together_are_each_record_unpacked_alone():
    """Wide offsets (a unit longer than 65,535 characters), an empty text and plain ones."""
    wide = "x " * 40_000 + "\n" + HEAT[0]
    records = passage_records([HEAT[0], "", wide, text(*MARKET)], ReuseConfig())
    long_unit = unpack(records[2])
    assert long_unit.ends[0] > 0xFFFF and wide[long_unit.starts[-1] : long_unit.ends[-1]] == HEAT[0]
    together = unpack_all(records)
    for k, record in enumerate(records):
        alone = unpack(record)
        units, seeds = slice(*together.unit_cuts[k : k + 2]), slice(*together.seed_cuts[k : k + 2])
        assert together.thresholds[k] == alone.threshold
        for name in ("starts", "ends", "paragraphs", "tokens"):
            assert list(getattr(together, name)[units]) == list(getattr(alone, name))
        assert list(together.units[seeds]) == list(alone.units) and list(together.seeds[seeds]) == list(alone.seeds)


@pytest.mark.parametrize("opening, closing", [("“", "”"), ('"', '"'), ("«", "»"), ("„", "“")])
def test_quoted_words_hold_no_seeds_but_an_unclosed_quote_quotes_nothing(opening, closing):
    said = f"Ông Nam nói: {opening}{HEAT[1]}{closing} Sau đó {HEAT[2]}"
    unclosed = f"Ông Nam nói: {opening}{HEAT[1]}\n{HEAT[2]}"
    plain = f"Ông Nam nói: {HEAT[1]}\n{HEAT[2]}"
    plain, quoted, open_only = (unpack(r) for r in passage_records([plain, said, unclosed], ReuseConfig()))
    after = set(unpack(passage_records([f"Sau đó {HEAT[2]}"], ReuseConfig())[0]).seeds)
    assert set(quoted.seeds) == after  # the quoted sentence gives none, the next one all of its seeds
    assert set(open_only.seeds) == set(plain.seeds)


def test_link_rails_and_quoted_speech_hold_no_seeds():
    rail = "Read more: " + HEAT[0]
    quoted = "Ông nói: “" + HEAT[0] + "”"
    records = [unpack(r) for r in passage_records([rail, quoted], ReuseConfig())]
    assert not len(records[0].seeds) and not len(records[1].seeds)


# ---------------------------------------------------------------------------- alignment rules


def heat_and_market(extra_market_paragraph: str, hours=5.0):
    """The heat story (original + reprint) and a market story whose second page adds ``extra``."""
    articles = [
        article("heat-original", text(*HEAT), 0), article("heat-reprint", text(*HEAT[:3]), 1, domain="b.example"),
        article("market-original", text(*MARKET), 2, domain="c.example"),
        article("market-reprint", text(*MARKET, extra_market_paragraph), hours, domain="d.example"),
    ]
    stories = {"heat-original": "heat", "heat-reprint": "heat", "market-original": "market", "market-reprint": "market"}
    return articles, stories


def test_a_paragraph_taken_from_another_story_is_one_row_from_its_earliest_holder():
    articles, stories = heat_and_market(HEAT[1])
    rows = rows_of(articles, stories)
    assert len(rows) == 1
    row = rows[0]
    body = articles[3]["text"]
    assert row["article_id"] == "market-reprint" and body[row["start"]:row["end"]] == HEAT[1]
    assert (row["source_article_id"], row["source_story_id"]) == ("heat-original", "heat")
    assert articles[0]["text"][row["source_start"]:row["source_end"]] == HEAT[1]
    assert row["similarity"] == 1.0


def test_the_lender_gets_no_row_even_when_its_reprint_comes_later():
    """The heat reprint appears after the market page that borrowed from the heat story: its text
    is still its own story's (the heat original holds it), not taken from the market page."""
    articles, stories = heat_and_market(HEAT[1], hours=0.5)
    rows = rows_of(articles, stories)
    assert [r["article_id"] for r in rows] == ["market-reprint"]


def test_an_undated_holder_is_never_the_earliest():
    """A copy of the heat story with no publication time holds the paragraph too: the dated heat
    original stays the source (an undated article counts as published last)."""
    articles, stories = heat_and_market(HEAT[1])
    undated = {**article("heat-undated", text(*HEAT[:2]), domain="e.example"), "published_at": None}
    rows = rows_of([undated, *articles], {**stories, "heat-undated": "heat"})
    assert [(r["article_id"], r["source_article_id"]) for r in rows] == [("market-reprint", "heat-original")]


def test_edited_rewrapped_and_attributed_reuse_is_found():
    edited = (HEAT[1].replace("hạn chế", "tránh").replace("nhất là", "đặc biệt")
              .replace(", uống đủ nước", ",\nuống đủ nước"))
    articles, stories = heat_and_market("(TTXVN) " + unicodedata.normalize("NFD", edited))
    rows = rows_of(articles, stories)
    assert [(r["article_id"], r["source_story_id"]) for r in rows] == [("market-reprint", "heat")]
    assert rows[0]["similarity"] < 1.0


def test_one_sentence_is_enough_but_a_shared_phrase_is_not():
    sentence = HEAT[3]  # ~40 words
    articles, stories = heat_and_market(MARKET[2] + " " + sentence)
    assert [r["source_story_id"] for r in rows_of(articles, stories)] == ["heat"]
    phrase = " ".join(HEAT[3].split()[:9])  # 9 words: under min_passage_words
    articles, stories = heat_and_market("Trong khi đó " + phrase + " theo nhận định của nhiều người.")
    assert rows_of(articles, stories) == []


def test_a_compilation_page_links_its_second_story_also_when_it_came_first():
    """No original of either story: the compilation (story of its lead) stitched the festival story
    in, though it is earlier than the festival reprint; the reprint takes nothing from it."""
    articles = [
        article("market-reprint", text(*MARKET), 3),
        article("compilation", text(*MARKET, *FESTIVAL), 1, domain="agg.example"),
        article("festival-reprint", text(*FESTIVAL), 2, domain="e.example"),
    ]
    stories = {"market-reprint": "market", "compilation": "market", "festival-reprint": "festival"}
    rows = rows_of(articles, stories)
    assert [(r["article_id"], r["source_article_id"]) for r in rows] == [("compilation", "festival-reprint")]
    body = articles[1]["text"]
    assert body[rows[0]["start"]:rows[0]["end"]] == text(*FESTIVAL)


def test_templated_siblings_and_shared_quotes_are_not_reuse():
    day1 = text(*HEAT).replace("38 đến 40", "37 đến 39")
    quote = "“" + HEAT[2] + "”"
    articles = [
        article("heat-1", day1, 0), article("heat-2", text(*HEAT), 24),
        article("market-a", text(MARKET[0], "Ông Nam nói: " + quote), 1, domain="a.example"),
        article("festival-b", text(FESTIVAL[0], "Bà Lan dẫn lời: " + quote), 2, domain="b.example"),
    ]
    stories = {"heat-1": "h1", "heat-2": "h2", "market-a": "m", "festival-b": "f"}
    assert rows_of(articles, stories) == []


def test_rows_do_not_depend_on_input_order():
    articles, stories = heat_and_market(HEAT[1] + " " + HEAT[3])
    first = rows_of(articles, stories)
    assert first and rows_of(articles[::-1], dict(reversed(list(stories.items())))) == first


# ---------------------------------------------------------------------------- the Vietnamese set


@pytest.fixture(scope="module")
def vi_set():
    articles, manifest = reuse_vi_set()
    gold_story = {a["article_id"]: manifest[a["url"]]["story_id"] for a in articles}
    links = {(a["article_id"], d) for a in articles for d in manifest[a["url"]]["reused_from"]}
    neutral = {(a["article_id"], d) for a in articles for d in manifest[a["url"]]["reuse_neutral"]}
    return articles, gold_story, links, neutral


def test_the_vietnamese_set_links_every_gold_reuse_and_nothing_else(vi_set):
    """Seed-like pages lifting paragraphs of two stories, background, follow-ups quoting one
    sentence, compilations without originals (one earlier than its second story's reprints)."""
    articles, gold_story, links, neutral = vi_set
    scores = link_scores(reuse_in_memory(articles, gold_story), gold_story, links, neutral)
    assert scores["missed"] == [] and scores["precision"] == 1.0


def vi_state(runs) -> dict:
    """{article id: its latest reuse set} after these runs' reuse rows."""
    latest = {}
    for rows in runs:
        for row in rows:
            article_id = row["article_id"]
            if article_id not in latest or latest[article_id][0] < row["row_at"]:
                latest[article_id] = (row["row_at"], [])
            if latest[article_id][0] == row["row_at"] and row["row_kind"] == "new":
                latest[article_id][1].append(tuple(sorted((k, v) for k, v in row.items() if k not in ("row_at", "row_kind"))))
    return {a: sorted(rows) for a, (_, rows) in latest.items() if rows}


@pytest.mark.parametrize("order", [pytest.param("reversed", marks=pytest.mark.slow), "shuffled"])
def test_batch_runs_add_up_to_one_run_and_a_rerun_adds_nothing(vi_set, tmp_path, order):
    """DetectReuse after DetectReprints, the Vietnamese set in three runs (arrival order reversed,
    or shuffled), each run reading the index rows of the ones before: the current reuse state is
    the one-run state (which has the gold links); rerunning the last run writes no reuse row."""
    articles = list(vi_set[0])
    config = ReuseConfig()
    (one_dir := tmp_path / "one").mkdir()
    _, _, _, _, one_reuse, _ = run_detect(articles, one_dir, reuse=config)
    one = vi_state([one_reuse])
    scores = link_scores([dict(r) for rows in one.values() for r in rows], *vi_set[1:])
    assert scores["precision"] == 1.0 and scores["missed"] == []  # with dedup's own stories

    ordered = articles[::-1] if order == "reversed" else random.Random(7).sample(articles, len(articles))
    (split_dir := tmp_path / "split").mkdir()
    index, passages, reuse_runs = [], [], []
    for part in (ordered[:16], ordered[16:32], ordered[32:]):
        _, _, index_rows, _, reuse_rows, passage_rows = run_detect(
            part, split_dir, prior=index, reuse=config, prior_passages=passages,
        )
        index, passages = index + index_rows, passages + passage_rows
        reuse_runs.append(reuse_rows)
    assert vi_state(reuse_runs) == one
    *_, again, again_passages = run_detect(ordered[32:], split_dir, prior=index, reuse=config, prior_passages=passages)
    assert again == [] and again_passages == []


def test_a_much_reprinted_story_still_lends_and_a_stock_phrase_lends_nothing():
    """Seeds are capped by stories, not articles: a wire story with 150 reprints is one story."""
    articles = [article("heat-original", text(*HEAT), 0)] + [
        article(f"heat-{k:03d}", text(*HEAT), 1 + k / 100, domain=f"s{k}.example") for k in range(150)
    ]
    articles.append(article("market", text(*MARKET, HEAT[1]), 5, domain="m.example"))
    stories = {a["article_id"]: "heat" for a in articles[:-1]} | {"market": "market"}
    assert [(r["article_id"], r["source_article_id"]) for r in rows_of(articles, stories)] == [("market", "heat-original")]

    words = " ".join(FESTIVAL).split()
    phrase = HEAT[3]  # held by more stories than max_seed_stories
    many = [article(f"s{k}", text(" ".join(random.Random(k).sample(words, 30)) + ".", phrase), k) for k in range(6)]
    assert rows_of(many, {a["article_id"]: a["article_id"] for a in many}, max_seed_stories=5) == []
    assert rows_of(many, {a["article_id"]: a["article_id"] for a in many}, max_seed_stories=6)  # the cap is what stops it
