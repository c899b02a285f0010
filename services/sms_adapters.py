"""SMS providers behind one interface (``settings.sms_adapter``): ``log`` prints each message (jiesu dev), ``http``
posts to a generic gateway, ``tencent`` sends through Tencent Cloud SMS (短信, its PyPI SDK). Every message carries
the outbox key as its out id, so the sender can ask a provider about a message whose outcome it does not know."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any, Protocol

import httpx

from core.settings import Settings

log = logging.getLogger("jiesu.sender")


class DeliveryError(Exception):
    """The provider refused or could not be reached. ``unknown``: it may have sent the message; ``permanent``: a
    retry cannot help (a template the provider does not have, a number it refuses)."""

    def __init__(self, message: str, unknown: bool = False, permanent: bool = False) -> None:
        super().__init__(message)
        self.unknown, self.permanent = unknown, permanent


class SmsAdapter(Protocol):
    """An SMS provider: send a message under our out id, ask for an out id's status."""

    name: str
    needs_template: bool  # sends only pre-approved templates (a notice the rules do not map cannot go)
    status_lag: timedelta  # how long after sending the provider may not know the message yet

    def send(self, out_id: str, phone: str, text: str, template: str, params: list[str] | None = None) -> str:
        """Send (``template``: the provider's template code when the rules map one, then ``params`` fill it);
        the provider's message id (DeliveryError when it failed)."""
        ...

    def status(self, out_id: str, phone: str, since: datetime) -> str | None:
        """'sent', 'delivered' or 'failed' for a message it has (sent after ``since``), None when it has none."""
        ...


class LogSms:
    """Development: every SMS is printed (to the sender's log), nothing leaves the machine."""

    name, needs_template, status_lag = "log", False, timedelta(0)

    def send(self, out_id: str, phone: str, text: str, template: str, params: list[str] | None = None) -> str:
        """Print the message (the number masked)."""
        log.info("SMS %s to %s****%s: %s", out_id, phone[:3], phone[-4:], text)
        return f"log-{out_id}"

    def status(self, out_id: str, phone: str, since: datetime) -> str | None:
        """The log keeps nothing."""
        return None


class HttpSmsGateway:
    """A generic HTTP SMS gateway: ``POST {base}/send`` ``{out_id, to, text, template, params}`` → ``{"id"}``,
    ``GET {base}/status/{out_id}`` → ``{"status"}`` (404: unknown)."""

    name, needs_template, status_lag = "http", False, timedelta(0)

    def __init__(self, base: str, timeout: float = 5.0) -> None:
        self.base, self.timeout = base.rstrip("/"), timeout

    def send(self, out_id: str, phone: str, text: str, template: str, params: list[str] | None = None) -> str:
        """Post the message; a timeout leaves the outcome unknown."""
        try:
            r = httpx.post(f"{self.base}/send", json={"out_id": out_id, "to": phone, "text": text,
                                                      "template": template, "params": params or []},
                           timeout=self.timeout)
        except httpx.TimeoutException as exc:
            raise DeliveryError(f"timeout: {exc}", unknown=True) from exc
        except httpx.HTTPError as exc:
            raise DeliveryError(f"gateway unreachable: {type(exc).__name__}") from exc
        if r.status_code >= 300:
            raise DeliveryError(f"gateway answered {r.status_code}", permanent=r.status_code in (400, 422))
        return str(r.json().get("id", out_id))

    def status(self, out_id: str, phone: str, since: datetime) -> str | None:
        """The gateway's status of an out id (None: it has no such message)."""
        try:
            r = httpx.get(f"{self.base}/status/{out_id}", timeout=self.timeout)
        except httpx.HTTPError as exc:
            raise DeliveryError(f"status unknown: {type(exc).__name__}", unknown=True) from exc
        return None if r.status_code == 404 else str(r.json().get("status"))


# Tencent Cloud SMS error codes after which the same request can never succeed
TENCENT_PERMANENT = ("FailedOperation.TemplateIncorrectOrUnapproved", "FailedOperation.SignatureIncorrectOrUnapproved",
                     "InvalidParameterValue.IncorrectPhoneNumber", "InvalidParameterValue.TemplateParameterFormatError",
                     "FailedOperation.PhoneNumberInBlacklist", "UnauthorizedOperation.SmsSdkAppIdVerifyFail",
                     "AuthFailure")


class TencentSms:
    """Tencent Cloud SMS (``SendSms`` of API 2021-01-11): only approved templates (``TemplateId`` + an ordered
    ``TemplateParamSet``) under the approved signature; the out id travels as ``SessionContext`` and comes back in
    the receipts, which ``PullSmsSendStatusByPhoneNumber`` reads to learn whether a message went out. Receipts come
    some time after sending, so the sender waits ``status_lag`` before it trusts "no such message"."""

    name, needs_template = "tencent", True

    def __init__(self, settings: Settings) -> None:
        from tencentcloud.common import credential
        from tencentcloud.common.profile.client_profile import ClientProfile
        from tencentcloud.common.profile.http_profile import HttpProfile
        from tencentcloud.sms.v20210111 import sms_client

        http = HttpProfile(protocol=settings.tencent_sms_scheme, endpoint=settings.tencent_sms_endpoint,
                           reqTimeout=settings.tencent_sms_timeout)
        self.client = sms_client.SmsClient(
            credential.Credential(settings.tencent_secret_id, settings.tencent_secret_key),
            settings.tencent_sms_region, ClientProfile(httpProfile=http))
        self.app_id, self.sign = settings.tencent_sms_app_id, settings.tencent_sms_sign_name
        self.status_lag = timedelta(seconds=settings.tencent_sms_receipt_lag_seconds)

    def send(self, out_id: str, phone: str, text: str, template: str, params: list[str] | None = None) -> str:
        """``SendSms`` to one +86 number; the provider's serial number."""
        from tencentcloud.sms.v20210111 import models

        req = models.SendSmsRequest()
        req.PhoneNumberSet, req.SmsSdkAppId, req.SignName = [f"+86{phone}"], self.app_id, self.sign
        req.TemplateId, req.TemplateParamSet, req.SessionContext = template, list(params or []), out_id
        status = self._call(self.client.SendSms, req).SendStatusSet[0]
        if status.Code != "Ok":
            raise DeliveryError(f"tencent: {status.Code} {status.Message}",
                                permanent=status.Code.startswith(TENCENT_PERMANENT))
        return str(status.SerialNo)

    def status(self, out_id: str, phone: str, since: datetime) -> str | None:
        """The receipt of the message with this out id, if the provider has one."""
        from tencentcloud.sms.v20210111 import models

        req = models.PullSmsSendStatusByPhoneNumberRequest()
        req.PhoneNumber, req.SmsSdkAppId, req.Offset, req.Limit = f"+86{phone}", self.app_id, 0, 100
        req.BeginTime, req.EndTime = int((since - timedelta(minutes=1)).timestamp()), None
        for item in self._call(self.client.PullSmsSendStatusByPhoneNumber, req).PullSmsSendStatusSet or []:
            if item.SessionContext == out_id:
                return "delivered" if item.ReportStatus == "SUCCESS" else "failed"
        return None

    @staticmethod
    def _call(method: Any, req: Any) -> Any:
        from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException

        try:
            return method(req)
        except TencentCloudSDKException as exc:
            code, message = exc.get_code() or "", exc.get_message() or ""
            if code == "ClientNetworkError":  # a timeout may have reached the provider; a refused connection not
                raise DeliveryError(f"tencent: {message[:200]}", unknown="timed out" in message.lower()) from exc
            raise DeliveryError(f"tencent: {code} {message[:200]}", permanent=code.startswith(TENCENT_PERMANENT)) \
                from exc


def sms_adapter(settings: Settings) -> SmsAdapter:
    """The adapter the settings name (ValueError when its settings are missing)."""
    if settings.sms_adapter == "http":
        if not settings.sms_gateway_url:
            raise ValueError("sms_adapter 'http' needs sms_gateway_url")
        return HttpSmsGateway(settings.sms_gateway_url)
    if settings.sms_adapter == "tencent":
        missing = [n for n in ("tencent_secret_id", "tencent_secret_key", "tencent_sms_app_id",
                               "tencent_sms_sign_name") if not getattr(settings, n)]
        if missing:
            raise ValueError(f"sms_adapter 'tencent' needs {', '.join(missing)}")
        return TencentSms(settings)
    if settings.sms_adapter != "log":
        raise ValueError(f"unknown sms_adapter {settings.sms_adapter!r} (log, http, tencent)")
    return LogSms()
