"""abusedesk: enforce a provider's acceptable use policy, from report to decision record."""

__version__ = "0.1.0"
