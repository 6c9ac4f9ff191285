"""Keys the tests configure. None of them may ever appear in a gateway response."""

MASTER_KEY = "sk-sy-test-master"
# The key the gateway presents upstream (set through ``api_key: {env: FAKE_KEY}``).
FAKE_KEY = "sk-fake-upstream-4b1d7e2a9c"
FAKE_KEY_ENV = "FAKE_KEY"
