"""Async jobs (docs/jobs.md): submission, the SQS worker, results and signed webhooks."""
