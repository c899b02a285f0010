"""Worker Deployments (Temporal worker versioning): which build of the worker code new and running cases go to.

Every worker of a release polls as version ``<deployment_name>.<build_id>``. Nothing is routed to a new build until
it is made *current* (or *ramping*, for a share of new workflows). Every workflow is AUTO_UPGRADE (the deployment's
default behaviour; a behaviour written on a workflow definition makes an unversioned worker's task completions fail,
so `jiesu dev` could not run the same code): a running case moves to the current build at its next task and replays
its history there, which the ``workflow.patched()`` rule and the replayed histories in tests/histories/ keep safe.
Pinning would keep a build alive for as long as its oldest case (weeks, with the appeal window)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from temporalio.api.enums.v1 import WorkerDeploymentVersionStatus
from temporalio.api.workflowservice.v1 import (
    DescribeWorkerDeploymentRequest,
    SetWorkerDeploymentCurrentVersionRequest,
    SetWorkerDeploymentRampingVersionRequest,
)
from temporalio.client import Client
from temporalio.common import VersioningBehavior, WorkerDeploymentVersion
from temporalio.service import RPCError, RPCStatusCode
from temporalio.worker import WorkerDeploymentConfig

from core.settings import Settings

POLLER_WAIT = 60.0  # seconds to wait for a new build's workers to poll before it can be made current


def deployment_config(settings: Settings) -> WorkerDeploymentConfig | None:
    """The worker's deployment version (None: an unversioned worker, as `jiesu dev` runs)."""
    if not settings.build_id:
        return None
    return WorkerDeploymentConfig(
        version=WorkerDeploymentVersion(deployment_name=settings.deployment_name, build_id=settings.build_id),
        use_worker_versioning=True, default_versioning_behavior=VersioningBehavior.AUTO_UPGRADE)


@dataclass
class DeploymentState:
    """Routing of a deployment: the current and ramping builds, and every build with its status."""

    current: str
    ramping: str
    ramp_percentage: float
    builds: dict[str, str]


async def describe(client: Client, deployment: str) -> DeploymentState:
    """The deployment's routing as the server holds it."""
    info = (await client.workflow_service.describe_worker_deployment(DescribeWorkerDeploymentRequest(
        namespace=client.namespace, deployment_name=deployment))).worker_deployment_info
    route = info.routing_config
    return DeploymentState(
        current=route.current_deployment_version.build_id, ramping=route.ramping_deployment_version.build_id,
        ramp_percentage=route.ramping_version_percentage,
        builds={s.deployment_version.build_id: WorkerDeploymentVersionStatus.Name(s.status).removeprefix(
            "WORKER_DEPLOYMENT_VERSION_STATUS_").lower() for s in info.version_summaries})


async def set_current(client: Client, deployment: str, build_id: str, wait: float = POLLER_WAIT) -> str:
    """Route new workflows (and AUTO_UPGRADE running ones) to ``build_id``; returns the build that was current.
    Waits until the build's workers poll: the server refuses a build nobody runs."""
    request = SetWorkerDeploymentCurrentVersionRequest(namespace=client.namespace, deployment_name=deployment,
                                                       build_id=build_id, identity=client.identity)
    answer = await _until_polled(lambda: client.workflow_service.set_worker_deployment_current_version(request),
                                 wait)
    return answer.previous_deployment_version.build_id


async def set_ramping(client: Client, deployment: str, build_id: str, percentage: float,
                      wait: float = POLLER_WAIT) -> None:
    """Send ``percentage`` % of new workflows to ``build_id`` (0 with an empty build: stop ramping)."""
    request = SetWorkerDeploymentRampingVersionRequest(namespace=client.namespace, deployment_name=deployment,
                                                       build_id=build_id, percentage=percentage,
                                                       identity=client.identity)
    await _until_polled(lambda: client.workflow_service.set_worker_deployment_ramping_version(request), wait)


async def _until_polled(call, wait: float):  # type: ignore[no-untyped-def]
    """Retry ``call`` while the server does not know the build yet (its workers have not polled)."""
    deadline = time.monotonic() + wait
    while True:
        try:
            return await call()
        except RPCError as exc:
            if exc.status != RPCStatusCode.NOT_FOUND or time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)
