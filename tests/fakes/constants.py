"""Keys the tests configure. None of them may ever appear in a gateway response."""

MASTER_KEY = "sk-sy-test-master"
# The key the gateway presents upstream (set through ``api_key: {env: FAKE_KEY}``).
FAKE_KEY = "sk-fake-upstream-4b1d7e2a9c"
FAKE_KEY_ENV = "FAKE_KEY"
# The AWS credentials the fake Bedrock endpoint checks SigV4 signatures against (set them as
# AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY for a gateway that calls it).
AWS_ACCESS_KEY_ID = "AKIAFAKEBEDROCK00001"
AWS_SECRET_ACCESS_KEY = "fake/bedrock/secret/key/0123456789abcdefgh"
