"""Raw page bytes -> articles: decoding, trafilatura in isolated processes, metadata (dates,
titles, language, ids)."""
