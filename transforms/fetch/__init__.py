"""Which URLs to fetch (crawl state, first-seen filtering) and fetching them politely and safely.

``client``: the HTTP client (SSRF guard in ``netguard``, robots.txt, pacing, retries, caps);
``polite``: its Beam transforms; ``crawl`` and ``crawl_state``: what a scheduled run fetches
again and what it remembers; ``first_seen``: the streaming job's filter of URLs seen before.
"""
