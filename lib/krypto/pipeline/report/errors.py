"""The one error the report raises."""

from __future__ import annotations


class ReportError(Exception):
    """A run's output is missing or a README cannot take the report."""
