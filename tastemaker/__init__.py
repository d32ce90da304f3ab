"""Tastemaker's domain logic: plain Python, no Faust, tested directly.

Agents (``agents/``) and web views (``app/web/``) are thin glue that feed Kafka records and table values
into these functions and write back what they return.
"""
