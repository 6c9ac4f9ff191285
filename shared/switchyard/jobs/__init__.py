"""Async jobs (DESIGN §7): submission, the SQS worker, results and signed webhooks."""
