"""Stream stages, one module each; the domain logic they call lives in ``tastemaker/``."""
