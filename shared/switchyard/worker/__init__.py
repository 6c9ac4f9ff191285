"""The SQS entry point: one batch of job messages per invocation, each job run through the same
request pipeline as an HTTP request (:mod:`switchyard.worker.jobs`), with partial batch failures
reported to SQS (:mod:`switchyard.worker.batch`) by a runtime that outlives invocations
(:mod:`switchyard.worker.runtime`)."""
