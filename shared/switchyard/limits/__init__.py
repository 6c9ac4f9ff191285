"""Token-aware, multi-dimensional rate limits shared by every instance (docs/state.md)."""
