"""Switchyard: a multi-provider AI gateway for AWS serverless."""

__version__ = "0.1.0"
