"""Raw page bytes -> articles: decoding, trafilatura in isolated processes, metadata (titles,
language, ids, page hints), dates (publication times and their zones)."""
