"""One place for configuration (pydantic-settings, environment variables prefixed ``JIESU_``)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


# per-minute defaults: personal-data reads per token, tracking lookups and failed authentications per address
RATE_LIMITS = {"personal_reads": 20, "tracking": 30, "failed_auth": 10}


class Settings(BaseSettings):
    """Runtime settings; every field can be set as ``JIESU_<NAME>`` in the environment or ``.env``."""

    model_config = SettingsConfigDict(env_prefix="JIESU_", env_file=".env", extra="ignore")

    data_dir: Path = PROJECT_ROOT / ".data"
    database_url: str = Field(
        default="",
        validation_alias=AliasChoices("JIESU_DATABASE_URL", "DATABASE_URL"),
        description="SQLAlchemy URL; empty means SQLite at <data_dir>/jiesu.db",
    )
    temporal_address: str = "127.0.0.1:7233"
    temporal_namespace: str = "default"
    temporal_tls: bool = Field(default=False, description="TLS to the Temporal frontend (on when a CA or a client "
                               "certificate is given); the dev server stays plain on loopback")
    temporal_tls_ca: Path | None = Field(default=None, description="PEM file of the server's root CA")
    temporal_tls_cert: Path | None = Field(default=None, description="PEM client certificate (mTLS)")
    temporal_tls_key: Path | None = Field(default=None, description="PEM private key of the client certificate")
    temporal_tls_server_name: str | None = Field(default=None, description="the name the server certificate has")
    temporal_api_key: str = Field(default="", description="API key for the Temporal connection (Temporal Cloud)")
    task_queue: str = "jiesu-cases"
    temporal_ui_port: int = 8233
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    public_base_url: str = "http://127.0.0.1:8000"
    encryption_key: str = Field(
        default="",
        description="Fernet key for personal data; empty means a key generated once in <data_dir>/secret.key",
    )
    token_max_days: int = Field(default=365, ge=1, description="the longest an API token may live (its default)")
    key_file: Path | None = Field(default=None, description=(
        "where the generated encryption key lives (default <data_dir>/secret.key); keep it apart from the data"))
    previous_encryption_keys: list[str] = Field(default_factory=list, description=(
        "older Fernet keys: personal data encrypted with them still decrypts (`jiesu keys rotate-data-key` "
        "re-encrypts it under the current key)"))
    phone_hash_key: str = Field(default="", description=(
        "own key of the phone hash (repeat detection), so rotating the encryption key keeps it; default: derived "
        "from the encryption key"))
    rate_limits: dict[str, int] = Field(default_factory=lambda: dict(RATE_LIMITS), description=(
        "per minute: unmasked or phone-filtered exports per token, tracking lookups per client address, failed "
        "authentications per client address (then locked out for 15 minutes)"))
    smtp_host: str = Field(default="", description="SMTP server for e-mail copies of staff notices (empty: none)")
    smtp_port: int = 25
    smtp_from: str = "jiesu@localhost"
    supervisor_email: str = Field(default="", description="where the supervisors' notices also go by e-mail")
    sms_adapter: str = Field(default="log", description=(
        "'log' (prints each SMS: jiesu dev), 'http' (a generic gateway) or 'tencent' (Tencent Cloud SMS)"))
    sms_gateway_url: str = Field(default="", description="base URL of the HTTP SMS gateway (POST /send, GET /status)")
    tencent_secret_id: str = ""
    tencent_secret_key: str = ""
    tencent_sms_app_id: str = Field(default="", description="SmsSdkAppId of the Tencent Cloud SMS application")
    tencent_sms_sign_name: str = Field(default="", description="the approved SMS signature (签名), e.g. 北京12345")
    tencent_sms_region: str = "ap-guangzhou"
    tencent_sms_endpoint: str = "sms.tencentcloudapi.com"
    tencent_sms_scheme: str = "https"
    tencent_sms_timeout: int = 10
    tencent_sms_receipt_lag_seconds: int = Field(default=300, description=(
        "after an unknown outcome, how long to wait for the provider's receipt before sending again"))
    im_urls: dict[str, list[str]] = Field(default_factory=dict, description=(
        "channel 'im' (Apprise URLs: wecombot://KEY for a WeCom group robot, dingtalk://TOKEN/ for DingTalk, …) "
        "per department code, and 'supervisor' for the hotline centre"))
    delivery_receipt_token: str = Field(default="", description=(
        "shared secret the SMS provider sends in X-Receipt-Token with delivery receipts (empty: receipts off)"))
    privacy_relay: str = Field(default="", description=(
        "隐私号 relay adapter ('fake' for development): the handler gets a temporary number, never the real one"))
    payload_previous_keys: list[str] = Field(default_factory=list, description=(
        "earlier encryption keys whose Temporal payloads must still decode (key rotation: the current key encrypts)"))
    payload_encryption: bool = Field(default=True, description="encrypt every Temporal payload (payload codec)")
    sdk_metrics_address: str = Field(default="", description=(
        "host:port where the Temporal SDK serves its runtime metrics for Prometheus (a worker: 127.0.0.1:9464); "
        "empty: off"))
    worker_metrics_address: str = Field(default="", description=(
        "host:port where a worker serves the case engine's own gauges for Prometheus (open cases by status, "
        "overdue, outbox, projection lag), e.g. 0.0.0.0:9465; empty: off"))
    deployment_name: str = Field(default="jiesu", description="Temporal Worker Deployment of the workers")
    build_id: str = Field(default="", description=(
        "this worker's build in the Worker Deployment (worker versioning; e.g. the image tag). Empty: an "
        "unversioned worker. A new build gets work once `jiesu deploy current BUILD` makes it current"))
    console_idle_minutes: int = Field(default=30, ge=1, description="a console session ends after this long unused")
    rules_dir: Path = PROJECT_ROOT / "rules" / "versions"
    intake_plan_wait_seconds: float = 10.0
    timezone: str = "Asia/Shanghai"

    def rate_limit(self, name: str) -> int:
        """The per-minute limit of ``name`` (personal_reads, tracking, failed_auth): configured, else the default."""
        return self.rate_limits.get(name, RATE_LIMITS[name])

    @property
    def db_url(self) -> str:
        """The effective database URL."""
        return self.database_url or f"sqlite:///{self.data_dir / 'jiesu.db'}"


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings (cached)."""
    return Settings()
