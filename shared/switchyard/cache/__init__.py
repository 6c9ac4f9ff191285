"""The exact-match response cache (DESIGN §3 step 4)."""
