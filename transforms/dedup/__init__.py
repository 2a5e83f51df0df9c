"""Which articles are the same: one article per canonical URL (``by_url``), then reprints of the
same wire story grouped into stories with the original as canonical.

``textmatch`` and ``minhash`` reduce texts to matching keys and signatures, ``fingerprints``
articles to nodes, ``rules`` decides (who is the original, same story or not, which anchor an
article joins, story ids and rows) for both jobs; ``batch`` (with its per-shard steps in
``clustering``) and ``stream`` are the two Beam wirings of those rules.
"""
