"""Wire formats: one module per format, all producing :class:`ParsedReport`."""

from abusedesk.formats.base import ParsedReport, ParseError, Problem, Reporter

__all__ = ["ParseError", "ParsedReport", "Problem", "Reporter"]
