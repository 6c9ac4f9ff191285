"""Token-aware, multi-dimensional rate limits shared by every instance (DESIGN §3 step 5, §4)."""
