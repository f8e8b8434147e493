"""eval: the same memories answered by every method (parametric, RAG, long-context, hybrid, base), one report."""
