"""Ingestion: what a Segment-style message must look like, where it goes, and how its time is corrected."""
