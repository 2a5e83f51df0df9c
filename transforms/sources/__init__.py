"""Where pages and URLs come from: HTML files, WARC archives, feeds, URL lists, Pub/Sub messages.

Every source returns its records (raw pages or URL entries, see ``transforms.records``) and a
failures output; nothing it cannot read is dropped silently.
"""
