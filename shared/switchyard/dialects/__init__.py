"""Callers' dialects, translated at the edge: an entry point turns a caller's request into the
canonical (OpenAI chat) one the pipeline runs, and the canonical answer back into the caller's
shape. Pure functions over wire models; the provider-side translations live with each provider."""
