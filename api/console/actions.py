"""The case actions of the console: each is a REST route function called as the API calls it (same body model,
same services, same workflow Update), so the console implements no rule of its own. Who may use an action comes
from the route's role set, when it fits from the workflow's FITS table; a refusal the route raises is shown next to
the action."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, get_type_hints

from pydantic import BaseModel, ValidationError

from api.auth import admitted, roles_of
from api.errors import ServiceError
from api.routes import cases, clocks, partners, supervision
from api.schemas.cases import ContactIn, HandlingStartedIn, ReplyIn, ReviewIn, ScreeningDecisionIn, SignForIn
from api.schemas.clocks import DecisionIn, ExtensionIn, PauseIn, ResumeIn
from api.schemas.partners import AssignIn, PartnerReplyIn, PartnersIn, ReturnIn, WaiveIn
from api.schemas.supervision import FindingIn, MergeIn, NoteIn, RatingIn, ReasonIn, TerminateIn
from core.contracts import CaseStatus, Role
from workflows.fits import FITS
from workflows.fits import Action as A


@dataclass(frozen=True)
class Input:
    """One form field: ``kind`` text | textarea | number | choice (``options``: a list name) | yesno."""

    name: str
    label: str
    kind: str = "text"
    options: str = ""
    required: bool = True


@dataclass(frozen=True)
class UiAction:
    """A case action as the console offers it."""

    slug: str
    label: str
    route: Callable[..., Any]
    body: type[BaseModel]
    fits: A | None
    inputs: tuple[Input, ...] = ()
    shape: Callable[[dict[str, Any]], dict[str, Any]] | None = None  # form fields → the body's shape
    extra: tuple[str, ...] = field(default=())  # route parameters taken from the form (waive: department)

    @property
    def roles(self) -> tuple[Role, ...]:
        """Who may: the route's own role set."""
        return roles_of(get_type_hints(self.route, include_extras=True)["actor"])

    def fits_status(self, status: str) -> bool:
        """Whether the case's status fits (actions the table does not name fit any status)."""
        return self.fits is None or CaseStatus(status) in FITS[self.fits]


def _partners(form: dict[str, Any]) -> dict[str, Any]:
    departments = form.get("departments") or []
    return {"requests": [{"department": d, "question": form.get("question", "")} for d in departments]}


NOTE = Input("note", "备注", "textarea", required=False)
REASON = Input("reason", "理由", "textarea")
YES = Input("approve", "决定", "yesno")
ACTIONS: tuple[UiAction, ...] = (
    UiAction("sign-for", "签收", cases.sign_for, SignForIn, A.SIGN_FOR, (NOTE,)),
    UiAction("return", "退单", partners.return_case, ReturnIn, A.RETURN,
             (Input("reason_code", "退单原因", "choice", "return_reasons"), Input("text", "说明", "textarea"))),
    UiAction("contacts", "记录联系", cases.record_contact, ContactIn, A.CONTACT,
             (Input("method", "方式", "choice", "contact_methods"), Input("summary", "沟通内容", "textarea"),
              Input("call_id", "通话编号（隐私号）", required=False))),
    UiAction("handling-started", "处置启动", cases.record_handling_started, HandlingStartedIn, A.HANDLING_STARTED,
             (NOTE,)),
    UiAction("partners", "申请协办", partners.request_partners, PartnersIn, A.PARTNERS,
             (Input("departments", "协办单位", "multi", "departments"), Input("question", "协办事项", "textarea")),
             shape=_partners),
    UiAction("extension", "申请延期", clocks.request_extension, ExtensionIn, A.EXTENSION,
             (Input("working_days", "延长工作日", "number"), REASON)),
    UiAction("pause", "申请挂起", clocks.request_pause, PauseIn, A.PAUSE, (REASON,)),
    UiAction("resume", "恢复办理", clocks.resume, ResumeIn, A.RESUME, (NOTE,)),
    UiAction("reply", "办结答复", cases.submit_reply, ReplyIn, A.REPLY, (Input("content", "答复内容", "textarea"),)),
    UiAction("partner-replies", "协办答复", partners.reply_as_partner, PartnerReplyIn, A.PARTNER_REPLY,
             (Input("content", "协办意见", "textarea"),)),
    UiAction("screening", "甄别确认", cases.decide_screening, ScreeningDecisionIn, A.DECIDE_SCREENING,
             (Input("confirm", "按规则分流", "yesno"), Input("department", "改为派往", "choice", "departments",
                                                         required=False), NOTE)),
    UiAction("review", "录入回访", cases.record_review, ReviewIn, A.REVIEW,
             (Input("contacted", "是否联系", "yesno", required=False),
              Input("resolution", "是否解决", "choice", "resolutions"),
              Input("satisfaction", "是否满意", "choice", "satisfactions"), NOTE)),
    UiAction("extension/decision", "审批延期", clocks.decide_extension, DecisionIn, A.DECIDE_EXTENSION, (YES, NOTE)),
    UiAction("pause/decision", "审批挂起", clocks.decide_pause, DecisionIn, A.DECIDE_PAUSE, (YES, NOTE)),
    UiAction("arbitrate", "派单异议裁定", partners.arbitrate, AssignIn, A.ARBITRATE,
             (Input("department", "责任单位", "choice", "departments"), NOTE)),
    UiAction("reassign", "改派", partners.reassign, AssignIn, A.REASSIGN,
             (Input("department", "改派至", "choice", "departments"), NOTE)),
    UiAction("escalate", "督办升级", supervision.escalate, ReasonIn, A.ESCALATE, (REASON,)),
    UiAction("waive", "免除协办", partners.waive_partner, WaiveIn, A.WAIVE,
             (Input("department", "协办单位", "choice", "partners"), REASON), extra=("department",)),
    UiAction("rehandle", "上级复核：重办", supervision.order_rehandle, NoteIn, A.REHANDLE, (NOTE,)),
    UiAction("merge", "并单", supervision.merge, MergeIn, A.MERGE, (Input("parent_case_no", "并入工单号"),)),
    UiAction("close", "办结", supervision.close_case, FindingIn, A.CLOSE, (Input("finding", "结论", "textarea"),)),
    UiAction("terminate", "终结", supervision.terminate, TerminateIn, A.TERMINATE,
             (Input("reason_code", "终结原因", "choice", "termination_reasons"), Input("text", "说明", "textarea"))),
    UiAction("rating", "双评价", supervision.rate, RatingIn, None,
             (Input("score", "评分（1–5）", "number"), NOTE)),
)
BY_SLUG = {a.slug: a for a in ACTIONS}


def offered(role: Role, status: str) -> list[UiAction]:
    """The actions a role may use on a case in ``status`` (the workflow still checks department and details)."""
    closed = status in (CaseStatus.CLOSED.value, CaseStatus.ARCHIVED.value)
    return [a for a in ACTIONS if role in a.roles and (a.fits_status(status) if a.fits else closed)]


def body_of(action: UiAction, form: dict[str, Any]) -> BaseModel:
    """The route's body from the form (empty optional fields left out); 422 with the field's problem."""
    names = {i.name for i in action.inputs} - set(action.extra)
    raw = {k: v for k, v in form.items() if k in names and v not in ("", None, [])}
    data = action.shape(raw) if action.shape else raw
    try:
        return action.body.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        labels = {i.name: i.label for i in action.inputs}
        top = str(first.get("loc", ("",))[0])
        raise ServiceError(422, "validation_error", f"{labels.get(top, where)}：{first.get('msg', '')}") from exc


async def perform(action: UiAction, form: dict[str, Any], **deps: Any) -> Any:
    """Call the action's route with the body built from the form and the request's dependencies."""
    admitted(deps["actor"], action.roles)  # the route's role set, as its dependency would check it
    params = inspect.signature(action.route).parameters
    kwargs = {name: value for name, value in deps.items() if name in params}
    kwargs["body"] = body_of(action, form)
    for name in action.extra:
        kwargs[name] = form.get(name, "")
    result = action.route(**kwargs)
    return await result if inspect.isawaitable(result) else result
