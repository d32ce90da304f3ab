"""Records that travel on topics (``faust.Record`` types, JSON without Faust metadata)."""
