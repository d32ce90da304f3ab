"""Recommendations: a LightFM hybrid model, folded in with a person's latest behaviour at request
time, behind one pipeline of candidates, filters, caps, ranking adjustments, diversity and exploration.

Pure Python and numpy: no Faust here. Modules, in the order a request goes through them: ``config``,
``interactions``, ``features``, ``catalog_index``, ``model``, ``similar``, ``candidates``, ``filters``, ``caps``, ``ranking``,
``diversity``, ``pipeline``; ``evaluation`` for offline metrics and model promotion.
"""
