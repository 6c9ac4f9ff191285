"""Usage aggregates per tenant, key, model, provider and day: recording and reports."""
