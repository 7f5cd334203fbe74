"""The Hugging Face Daily Papers source: parsing (pure) and fetching (async)."""
