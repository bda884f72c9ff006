"""Prometheus counters for the intake channels, served at ``/metrics`` by the web app.

Counters only, labelled by outcome: what an operator alerts on is a change of rate
(mail stopped arriving, 451s appearing, everything suddenly ignored), not a value.
"""

from __future__ import annotations

from prometheus_client import Counter

SMTP_MESSAGES = Counter(
    "abusedesk_smtp_messages", "SMTP transactions by answer",
    ["result"],  # accepted, duplicate, too_large, temporary_failure
)
SMTP_RECIPIENTS_REJECTED = Counter("abusedesk_smtp_recipients_rejected", "RCPT TO refused with 550 (not an abuse address)")
INBOUND_SORTED = Counter(
    "abusedesk_intake_inputs_sorted", "Stored inputs the worker sorted, by outcome",
    ["channel", "outcome"],  # reports, ignored, correspondence, quarantined
)
ACKNOWLEDGEMENTS = Counter("abusedesk_acknowledgements", "Reporter acknowledgements by result", ["result"])  # queued, skipped
WATCHED_FILES = Counter("abusedesk_watched_files", "Files taken from the watched folder", ["status"])  # processed, failed
