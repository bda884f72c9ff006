"""The one settings object. Built once by the entry point and passed in; never read at import."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from abusedesk.policy.loader import load_policy
from abusedesk.policy.models import Policy


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ABUSEDESK_", env_file=None, extra="ignore")

    data_dir: Path = Path("var")
    #: default: SQLite in ``data_dir``; production: ``postgresql+psycopg://...``
    database_url: str | None = None
    policy_path: Path | None = None

    host: str = "127.0.0.1"
    port: int = 8000
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 2525
    #: addresses the SMTP listener accepts mail for (plus-addressing ``abuse+CASE@`` included)
    abuse_addresses: list[str] = Field(default_factory=lambda: ["abuse@abusedesk.test"])
    notice_from: str = "abuse@abusedesk.test"
    #: where the outbox delivers (production: the local MTA)
    outbound_smtp_host: str = "127.0.0.1"
    outbound_smtp_port: int = 25

    max_body_bytes: int = 10 * 1024 * 1024
    max_message_bytes: int = 25 * 1024 * 1024
    idempotency_window_hours: int = 24
    case_id_prefix: str = "AD"

    # enforcement and notices (enforcement/, notices/)
    #: at most one notice per case in this many seconds; later ones are skipped with a reason
    notice_min_interval_seconds: int = 3600
    #: collect customer notices per recipient and send one digest per window instead
    notice_digest: bool = False
    notice_digest_window_seconds: int = 3600
    #: action kinds that need a second person to approve (approver ≠ proposer)
    two_person_kinds: list[str] = Field(default_factory=lambda: ["terminate_account"])
    #: action kind → adapter name (builtin, webhook, nftables, libcloud); unset kinds use builtin
    enforcement_adapters: dict[str, str] = Field(default_factory=dict)
    #: reporters (addresses or @domains) whose reports count as confirmed
    trusted_reporters: list[str] = Field(default_factory=list)
    webhook_url: str | None = None
    #: HMAC key for the webhook adapter's signatures; required when the adapter is used
    webhook_secret: str | None = None
    webhook_timeout_seconds: float = 10.0
    webhook_attempts: int = 4
    #: the nft command, e.g. ["ip", "netns", "exec", "edge", "nft"]
    nft_command: list[str] = Field(default_factory=lambda: ["nft"])
    nft_table: str = "abusedesk"
    #: apache-libcloud provider name and constructor arguments for the control-plane adapter
    libcloud_provider: str | None = None
    libcloud_args: list[str] = Field(default_factory=list)
    #: how often the deadline scheduler looks for due deadlines
    scheduler_interval_seconds: float = 30.0
    #: DSA Transparency Database: territorial scope of our decisions, puid prefix
    statement_territorial_scope: list[str] = Field(default_factory=lambda: ["AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU", "IE", "IS", "IT", "LI", "LT", "LU", "LV", "MT", "NL", "NO", "PL", "PT", "RO", "SE", "SI", "SK"])
    statement_puid_prefix: str = "abusedesk"

    run_worker: bool = True
    #: ``abusedesk serve`` also listens for SMTP on ``smtp_host``:``smtp_port`` (docs/smtp.md)
    smtp_enabled: bool = True
    #: domains of Message-IDs we generate; mail carrying one is our own (loop); empty: notice_from's
    own_message_id_domains: list[str] = Field(default_factory=list)
    #: acknowledge reporters' mail; at most one per reporter per ``ack_interval_minutes``
    ack_enabled: bool = True
    ack_interval_minutes: int = 60
    #: a folder whose files are ingested once each and moved to ``processed/`` or ``failed/``
    watch_dir: Path | None = None
    watch_poll_seconds: float = 2.0
    #: a file is taken only once its size and mtime have not changed for this long
    watch_settle_seconds: float = 2.0
    max_feed_bytes: int = 512 * 1024 * 1024
    worker_poll_seconds: float = 0.5
    secret_key: str = "change-me-in-production"  # noqa: S105 - development default; production sets ABUSEDESK_SECRET_KEY

    # web console, portal and public form
    #: set true behind HTTPS: session cookies then carry the Secure flag
    cookie_secure: bool = False
    session_max_age_seconds: int = 12 * 3600
    #: how long a portal link in a notice keeps working
    portal_link_max_age_days: int = 60
    #: absolute base for links in notices (portal links)
    public_base_url: str = "http://127.0.0.1:8000"
    #: public report form: at most this many submissions per client address per window
    report_rate_limit: int = 10
    report_rate_window_seconds: int = 3600
    #: failed logins per client address per window before logins are refused for a while
    login_rate_limit: int = 20
    #: OIDC login (authlib); off unless an issuer is set. Users must exist locally: the
    #: first login links the OIDC subject to the user named by ``preferred_username`` or ``email``
    oidc_issuer: str | None = None
    oidc_client_id: str | None = None
    oidc_client_secret: str | None = None
    oidc_scope: str = "openid email profile"

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'abusedesk.db').resolve()}"

    @property
    def blob_dir(self) -> Path:
        return self.data_dir / "blobs"

    def policy(self) -> Policy:
        return load_policy(self.policy_path)
