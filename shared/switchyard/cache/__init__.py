"""The exact-match response cache."""
