import random

import numpy as np
import pytest

from transforms.dedup import minhash
from transforms.dedup.textmatch import match_text, token_hashes

NUM_PERM = 128
VERIFY = {"min_jaccard": 0.5, "min_containment": 0.5, "min_shingles": 20, "max_number_conflict_ratio": 0.05,
          "number_sketch_size": 32}


def words(n, seed):
    rng = random.Random(seed)
    return [f"w{rng.randrange(50_000)}" for _ in range(n)]


def shingles(tokens, size=4):
    hashes, _, offsets = token_hashes([" ".join(tokens)])
    return minhash.shingle_rows(hashes, offsets, size)[0]


def sketch(tokens):
    return minhash.number_sketches(*token_hashes([" ".join(tokens)]), 32)[0]


def fingerprint(tokens):
    rows = shingles(tokens)
    return minhash.signatures([rows], NUM_PERM)[0], len(rows), sketch(tokens)


def match_tokens(text):
    return match_text(text).split()


def test_candidate_probability_is_the_banding_s_curve():
    # P(J) = 1 - (1 - J**r)**b, by hand for 42 bands x 3 rows
    assert minhash.candidate_probability(0.3, 42, 3) == pytest.approx(1 - (1 - 0.027) ** 42)
    assert minhash.candidate_probability(0.05, 42, 3) < 0.01
    assert minhash.candidate_probability(0.5, 42, 3) > 0.99
    curve = [minhash.candidate_probability(j / 20, 42, 3) for j in range(21)]
    assert curve == sorted(curve) and curve[0] == 0.0 and curve[-1] == 1.0


def test_choose_banding_puts_the_threshold_at_the_s_curve_midpoint():
    bands, rows = minhash.choose_banding(128, 0.3)
    assert bands * rows <= 128
    assert abs((1 / bands) ** (1 / rows) - 0.3) < 0.05
    assert minhash.choose_banding(128, 0.8)[1] > rows


def test_banding_probability_matches_the_formula_empirically():
    # pairs of random shingle sets sharing 60 of 200 shingles (J = 60/340): the measured
    # candidate rate is the formula's (binomial sd over 400 trials ~ 0.02)
    rng = np.random.default_rng(0)
    hits, trials = 0, 400
    for _ in range(trials):
        base = rng.integers(1, 2**63, size=200, dtype=np.uint64)
        other = np.concatenate([base[:60], rng.integers(1, 2**63, size=140, dtype=np.uint64)])
        sig_a, sig_b = minhash.signatures([base, other], NUM_PERM)
        hits += bool((minhash.band_keys(sig_a, 42, 3) == minhash.band_keys(sig_b, 42, 3)).any())
    assert abs(hits / trials - minhash.candidate_probability(60 / 340, 42, 3)) < 0.07


def test_estimated_jaccard_and_containment():
    text = words(400, 1)
    sig_full, n_full, _ = fingerprint(text)
    sig_cut, n_cut, _ = fingerprint(text[:120])  # a truncated reprint: 30% of the text
    jaccard = minhash.estimate_jaccard(sig_full, sig_cut)
    assert 0.2 < jaccard < 0.42
    assert minhash.containment(jaccard, n_full, n_cut) > 0.85
    sig_other, _, _ = fingerprint(words(400, 2))
    assert minhash.estimate_jaccard(sig_full, sig_other) < 0.05
    assert minhash.containment(0.0, 10, 0) == 0.0


def test_containment_formula():
    # A = 100, B = 40 inside A: J = 40/100, containment of B in A = 1
    assert minhash.containment(0.4, 100, 40) == pytest.approx(1.0)
    assert minhash.containment(1 / 3, 100, 100) == pytest.approx(0.5)


def test_band_keys_equal_exactly_when_bands_equal():
    a = np.arange(128, dtype=np.uint32)
    b = a.copy()
    b[5] = 7
    keys_a, keys_b = minhash.band_keys(a, 42, 3), minhash.band_keys(b, 42, 3)
    assert (keys_a == keys_b).tolist() == [i != 1 for i in range(42)]
    assert len(set(keys_a.tolist())) == 42
    matrix = minhash.band_keys(np.stack([a, b]), 42, 3)  # a signature matrix: one row of keys each
    assert (matrix[0] == keys_a).all() and (matrix[1] == keys_b).all()


TEMPLATE = ("Giá vàng hôm nay {d}/3: vàng SJC mua vào {buy} triệu đồng, bán ra {sell} triệu đồng. Các doanh nghiệp "
            "niêm yết giá vàng nhẫn ở mức {ring} triệu đồng mỗi lượng, trong khi giá thế giới đứng ở mức {world} USD. "
            "Chuyên gia khuyên nhà đầu tư thận trọng và theo dõi diễn biến lãi suất trước khi quyết định mua vào.")


def test_templated_reports_conflict_on_numbers():
    day1 = match_tokens(TEMPLATE.format(d=12, buy="78,5", sell="80,1", ring="77,9", world="2.931"))
    day2 = match_tokens(TEMPLATE.format(d=13, buy="78,9", sell="80,6", ring="78,2", world="2.940"))
    same_prices = match_tokens(TEMPLATE.format(d=13, buy="78,5", sell="80,1", ring="77,9", world="2.931"))
    fp1, fp2, fp3 = fingerprint(day1), fingerprint(day2), fingerprint(same_prices)
    assert minhash.number_conflicts(fp1[2], fp2[2], 32)[1] >= 2
    assert minhash.number_conflicts(fp1[2], fp3[2], 32)[1] == 2  # only the date differs, in its two contexts
    assert minhash.verify(*fp1, *fp2, **VERIFY) is None
    assert minhash.verify(*fp1, *fp3, **VERIFY) is None
    assert minhash.verify(*fp1, *fingerprint(day1[:-6]), **VERIFY) is not None  # a cut copy of the same day


def test_truncated_copy_has_no_number_conflict():
    text = match_tokens(" ".join(f"in {1990 + i} the rate was {i} percent of {i * 7} cases" for i in range(60)))
    full, cut = sketch(text), sketch(text[: len(text) // 3])
    assert minhash.number_conflicts(full, cut, 32)[1] == 0


def test_verify_truncated_reprint_and_reject_unrelated():
    text = words(500, 3)
    verdict = minhash.verify(*fingerprint(text), *fingerprint(text[:150]), **VERIFY)
    assert verdict is not None and verdict.jaccard < 0.5 and verdict.containment > 0.8
    assert verdict.similarity == verdict.containment
    assert minhash.verify(*fingerprint(text), *fingerprint(words(500, 4)), **VERIFY) is None
    # a short text is not "contained" by chance: containment needs min_shingles
    assert minhash.verify(*fingerprint(text), *fingerprint(text[:10]), **VERIFY) is None


def test_token_hashes_are_equal_for_equal_tokens_wherever_they_are():
    hashes, numbers, offsets = token_hashes(["abc x  abc", "", "  yy ABC 78 x5 5x ", "abc"])
    assert offsets.tolist() == [0, 3, 3, 8, 9]
    abc = hashes[0]
    assert hashes[2] == hashes[4] == hashes[8] == abc and len(set(hashes.tolist())) == 6
    assert not numbers.any()  # lines too short to be article text (page chrome)
    assert token_hashes(["yy ABC 78 x5 5x and words enough for an article line"])[1].tolist()[:5] == [
        False, False, True, False, True,
    ]
    vocabulary = sorted({w for seed in range(20) for w in words(2000, seed)} | {"x" * n for n in range(1, 200)})
    assert len(set(token_hashes([" ".join(vocabulary)])[0].tolist())) == len(vocabulary)
    empty = token_hashes([])
    assert len(empty[0]) == 0 and empty[2].tolist() == [0]


def test_shingle_hashes_depend_on_order_and_content():
    a = shingles(["a", "b", "c", "d", "e"])
    assert len(a) == 2
    assert not np.array_equal(a, shingles(["b", "a", "c", "d", "e"]))
    assert len(shingles(["a", "b"])) == 1
    assert len(shingles([])) == 0


def test_a_batch_of_texts_gives_each_text_its_own_rows():
    texts = [words(300, 1), [], ["a"], ["a", "b", "c"], words(4, 2), words(50, 3), ["in", "2024", "rate", "5", "up", "7"]]
    batch = token_hashes([" ".join(t) for t in texts])
    for size in (1, 4):
        for tokens, row in zip(texts, minhash.shingle_rows(batch[0], batch[2], size)):
            assert np.array_equal(row, shingles(tokens, size))
    for tokens, row in zip(texts, minhash.number_sketches(*batch, 32)):
        assert np.array_equal(row, sketch(tokens))
    rows = minhash.shingle_rows(batch[0], batch[2], 4)
    assert np.array_equal(minhash.signatures(rows, NUM_PERM), np.stack([minhash.signatures([r], NUM_PERM)[0] for r in rows]))


def test_number_sketch_keys_numbers_by_the_three_tokens_on_each_side():
    line = "gia vang sjc hom nay mua vao {} trieu dong moi luong tai ha noi"
    base = sketch(line.format("78 5").split())
    assert len(base) == 4 and base.dtype == np.uint32 and base.tolist() == sorted(base.tolist())  # 2 numbers, 2 sides
    assert set(base.tolist()) <= set(sketch(("sang " + line.format("78 5")).split()).tolist())
    other = sketch(line.format("79 5").split())  # same contexts, one number differs
    assert sorted((base >> 16).tolist()) == sorted((other >> 16).tolist()) and len(set(base.tolist()) & set(other.tolist())) == 2
    assert len(sketch(["no", "numbers", "here"])) == 0


def test_number_contexts_are_pieces_of_one_sentence():
    # two sentences sharing only the word on each side of their numbers share no context ...
    one = sketch(match_tokens("Officials said at least 1 of the victims in Tennessee was a child who died at home."))
    three = sketch(match_tokens("In Macon County the storm destroyed at least 3 of the county's fire stations overnight."))
    assert minhash.number_conflicts(one, three, 32) == (0, 0)
    # ... and a word that changes beside a number (the weekday before a date) leaves its other side
    thursday = sketch(match_tokens("Hanoi weather for Thursday, March 13: cloudy, with temperatures between 18C and 24C."))
    friday = sketch(match_tokens("Hanoi weather for Friday, March 14: cloudy, with temperatures between 18C and 24C."))
    assert minhash.number_conflicts(thursday, friday, 32) == (5, 1)
    # ... and a context keeps the next token on its other side: a number dropped beside another is no conflict
    day = sketch(match_tokens("The plant has been shut since its fire of Nov. 15, 2019, the company said on Monday."))
    month = sketch(match_tokens("The plant has been shut since its fire of Nov. 2019, the company said on Monday."))
    assert minhash.number_conflicts(day, month, 32)[1] == 0


def test_a_context_with_several_numbers_in_one_text_is_a_list_and_no_conflict():
    item = "{} plans start at ${} a month for 500 contacts, with a free trial of thirty days."
    edited = "Moosend plans start $9 a month for 500 contacts, with a free trial of thirty days."  # "at" dropped
    listing = sketch(match_tokens(" ".join([edited, item.format("Brevo", 12), item.format("Klaviyo", 20)])))
    cut = sketch(match_tokens(item.format("Moosend", 9)))  # a copy that kept the first item only
    assert minhash.number_conflicts(listing, cut, 32) == (2, 0)  # "for 500 contacts" agrees, on both sides
