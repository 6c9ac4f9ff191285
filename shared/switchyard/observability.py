"""The process's logger, made once and imported (Powertools structured JSON logs)."""

from __future__ import annotations

from aws_lambda_powertools import Logger

# Service name comes from POWERTOOLS_SERVICE_NAME when set, so the template controls it.
logger = Logger(service="switchyard")
