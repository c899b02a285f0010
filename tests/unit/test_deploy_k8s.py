"""deploy/k8s checked offline: the files parse and are listed, each container runs a real `jiesu` command, the variables
are settings and the secrets in the Secret, probes hit app routes, ports line up, the Helm values fit (PostgreSQL)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from core.settings import Settings

K8S = Path(__file__).parents[2] / "deploy" / "k8s"
SECRET_TEMPLATE, HELM_VALUES = "secret.example.yaml", "temporal-values.yaml"  # in the folder, not in resources
SECRET_NAME = re.compile(r"(_key|_keys|_token|password)$|(^|_)secret(_|$)")  # not token_max_days
NOT_JIESU_ENV = {"FORWARDED_ALLOW_IPS"}  # uvicorn's own: whose X-Forwarded-For the API believes
REMOVED_SUBCHARTS = {"cassandra", "elasticsearch", "mysql", "postgresql", "prometheus", "grafana"}  # chart >= 1.0
PROBES = ("readinessProbe", "livenessProbe", "startupProbe")


def documents(name: str) -> list[dict]:
    """Every non-empty YAML document of one file under deploy/k8s."""
    return [d for d in yaml.safe_load_all((K8S / name).read_text(encoding="utf-8")) if d]


@pytest.fixture(scope="module")
def objects() -> list[dict]:
    """The objects `kubectl apply -k` applies, and the Secret of the template."""
    names = yaml.safe_load((K8S / "kustomization.yaml").read_text())["resources"] + [SECRET_TEMPLATE]
    return [doc for name in names for doc in documents(name)]


def of_kind(objects: list[dict], kind: str) -> dict[str, dict]:
    """The objects of one kind by name."""
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == kind}


def workloads(objects: list[dict]) -> dict[str, dict]:
    """The pod templates of the Deployments and the Job by workload name."""
    return {o["metadata"]["name"]: o["spec"]["template"] for o in objects if o["kind"] in ("Deployment", "Job")}


def containers(template: dict) -> list[dict]:
    """The init containers and the containers of a pod template."""
    return template["spec"].get("initContainers", []) + template["spec"]["containers"]


def container_ports(template: dict) -> dict[str, int]:
    """Every container port of a pod template, by name and by number."""
    ports = [p for c in containers(template) for p in c.get("ports", [])]
    return {str(key): p["containerPort"] for p in ports for key in (p.get("name"), p["containerPort"]) if key}


def settings_data(objects: list[dict]) -> tuple[dict, dict]:
    """The data of the one ConfigMap and the stringData of the one Secret."""
    (config,), (secret,) = of_kind(objects, "ConfigMap").values(), of_kind(objects, "Secret").values()
    return config["data"], secret["stringData"]


def secret_settings() -> set[str]:
    """Settings without a default, and those holding a secret (a key, token, password, not a file path)."""
    names = {"database_url"}  # the URL carries the database password
    for name, field in Settings.model_fields.items():
        kind = str(field.annotation)
        if field.is_required() or "Secret" in kind or (SECRET_NAME.search(name) and "Path" not in kind):
            names.add(name)
    return {f"JIESU_{n.upper()}" for n in names}


def test_every_file_parses_and_the_kustomization_lists_them(objects: list[dict]) -> None:
    """Each file is YAML; the kustomization lists every manifest but the Secret's template and the Helm values."""
    files = {p.name for p in K8S.iterdir()}
    assert all(documents(name) for name in files)
    resources = yaml.safe_load((K8S / "kustomization.yaml").read_text())["resources"]
    assert sorted(resources) == sorted(files - {"kustomization.yaml", SECRET_TEMPLATE, HELM_VALUES})
    (namespace,) = of_kind(objects, "Namespace")  # named explicitly too, for `kubectl apply -f` of one file
    assert all(o["kind"] == "Namespace" or o["metadata"]["namespace"] == namespace for o in objects)


def test_each_container_runs_a_cli_command_with_its_options(objects: list[dict]) -> None:
    """Each container reads the ConfigMap and the Secret and runs a (sub)command of the CLI with options it takes."""
    import typer

    from cli import app

    expected = {("configMapRef", *of_kind(objects, "ConfigMap")), ("secretRef", *of_kind(objects, "Secret"))}
    for workload, template in workloads(objects).items():
        for c in containers(template):
            assert {(kind, ref["name"]) for s in c["envFrom"] for kind, ref in s.items()} == expected, workload
            argv = c["command"] + c.get("args", [])
            assert argv[0] == "jiesu", workload
            command, words = typer.main.get_command(app), argv[1:]
            while words and words[0] in getattr(command, "commands", {}):  # typer vendors click: no isinstance
                command, words = command.commands[words[0]], words[1:]  # type: ignore[attr-defined]
            assert not hasattr(command, "commands"), f"{workload}: {argv} names no command"
            command.make_context("jiesu", list(words))  # unknown options and bad values raise UsageError


def test_every_variable_is_a_setting_and_every_secret_in_the_secret(objects: list[dict]) -> None:
    """ConfigMap, Secret and container env name settings; required and secret settings are in the Secret only."""
    fields = {f"JIESU_{f.upper()}" for f in Settings.model_fields}
    config, secret = settings_data(objects)
    extra = {e["name"] for t in workloads(objects).values() for c in containers(t) for e in c.get("env", [])}
    assert not (set(config) | set(secret)) - fields, f"not a setting: {(set(config) | set(secret)) - fields}"
    assert not extra - fields - NOT_JIESU_ENV, f"not a setting: {extra - fields - NOT_JIESU_ENV}"
    assert all(isinstance(v, str) for v in config.values()), "ConfigMap values must be strings"
    assert not secret_settings() - set(secret), f"missing from the Secret: {secret_settings() - set(secret)}"
    assert not secret_settings() & set(config), f"secrets in the ConfigMap: {secret_settings() & set(config)}"


def test_the_settings_load_from_configmap_and_secret(objects: list[dict], monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings() validates every value (numbers, booleans, JSON lists) and reads it."""
    env = {k: v for data in settings_data(objects) for k, v in data.items()}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert (settings.temporal_address, settings.database_url) == (env["JIESU_TEMPORAL_ADDRESS"],
                                                                  env["JIESU_DATABASE_URL"])


def test_probes_and_metrics_hit_routes_of_the_app(objects: list[dict], tmp_path: Path) -> None:
    """Each httpGet probe of the API and its scrape path is a GET route of the FastAPI app."""
    from starlette.routing import Match

    from api.app import create_app

    app = create_app(Settings(data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'j.db'}"))
    template = workloads(objects)["jiesu-api"]
    paths = {c[p]["httpGet"]["path"] for c in containers(template) for p in PROBES if "httpGet" in c.get(p, {})}
    assert {"/api/v1/health", "/api/v1/health/ready"} <= paths
    for path in paths | {template["metadata"]["annotations"]["prometheus.io/path"]}:
        scope = {"type": "http", "path": path, "method": "GET", "root_path": "", "headers": []}
        assert any(r.matches(scope)[0] == Match.FULL for r in app.router.routes), f"no route {path}"


def test_container_probe_and_metrics_ports_line_up(objects: list[dict]) -> None:
    """--port, the probes, the scrape annotation and the SDK metrics address name a container port."""
    for workload, template in workloads(objects).items():
        ports = container_ports(template)
        for c in containers(template):
            if "--port" in c["command"]:
                assert int(c["command"][c["command"].index("--port") + 1]) in ports.values(), workload
            for probe in (c[p] for p in PROBES if p in c):
                handler = probe.get("httpGet") or probe["tcpSocket"]
                assert str(handler["port"]) in ports, f"{workload}: probe port {handler['port']}"
            for e in c.get("env", []):
                if e["name"] == "JIESU_SDK_METRICS_ADDRESS":
                    assert e["value"].rpartition(":")[2] in ports, workload
        scrape = template["metadata"].get("annotations", {}).get("prometheus.io/port")
        assert scrape is None or scrape in ports, f"{workload}: scrape port {scrape}"


def test_services_reach_a_deployment_port(objects: list[dict]) -> None:
    """Each Service selects exactly one Deployment and its targetPorts are that Deployment's container ports."""
    deployments = {n: o["spec"]["template"] for n, o in of_kind(objects, "Deployment").items()}
    for name, service in of_kind(objects, "Service").items():
        selector = service["spec"]["selector"].items()
        (target,) = [t for t in deployments.values() if selector <= t["metadata"]["labels"].items()]
        for port in service["spec"]["ports"]:
            assert str(port["targetPort"]) in container_ports(target), f"{name}: {port}"


def autoscaled(objects: list[dict]) -> dict[str, dict]:
    """The specs of the HorizontalPodAutoscalers by the name of the Deployment they scale."""
    hpas = of_kind(objects, "HorizontalPodAutoscaler").values()
    return {h["spec"]["scaleTargetRef"]["name"]: h["spec"] for h in hpas}


def test_the_autoscaler_scales_the_api_on_cpu_requests(objects: list[dict]) -> None:
    """The HPA targets a Deployment that sets no replicas and requests CPU, from at least 2 pods."""
    deployments, hpas = of_kind(objects, "Deployment"), autoscaled(objects)
    assert set(hpas) <= set(deployments) and "jiesu-api" in hpas
    for name, hpa in hpas.items():
        assert "replicas" not in deployments[name]["spec"], f"{name}: the HPA owns the replica count"
        assert 2 <= hpa["minReplicas"] <= hpa["maxReplicas"]
        assert all(c["resources"]["requests"]["cpu"] for c in containers(deployments[name]["spec"]["template"]))


def test_disruptions_are_survivable(objects: list[dict]) -> None:
    """API and worker PDBs each select one Deployment and let a pod go; a worker outlasts an activity's timeout."""
    from workflows.io_steps import IO_TIMEOUT

    deployments, hpas = of_kind(objects, "Deployment"), autoscaled(objects)
    budgets = of_kind(objects, "PodDisruptionBudget").values()
    assert {"jiesu-api", "jiesu-worker"} <= {p["metadata"]["name"] for p in budgets}
    for pdb in budgets:
        selector = pdb["spec"]["selector"]["matchLabels"]
        (name,) = [n for n, d in deployments.items() if d["spec"]["selector"]["matchLabels"] == selector]
        replicas = hpas[name]["minReplicas"] if name in hpas else deployments[name]["spec"]["replicas"]
        assert pdb["spec"].get("minAvailable", 0) < replicas and pdb["spec"].get("maxUnavailable", 1) >= 1, name
    grace = deployments["jiesu-worker"]["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    assert grace > IO_TIMEOUT.total_seconds()


def test_helm_values_put_both_stores_on_postgres12(objects: list[dict]) -> None:
    """Default and visibility stores are sql/postgres12 with a password Secret; the chart fits our settings."""
    (values,) = documents(HELM_VALUES)
    persistence = values["server"]["config"]["persistence"]
    assert persistence["visibilityStore"] == "visibility"  # the chart's schema job picks the schema by this name
    for store in (persistence["defaultStore"], persistence["visibilityStore"]):
        sql = persistence["datastores"][store]["sql"]
        assert sql["pluginName"] == "postgres12" and sql["existingSecret"] and "password" not in sql, store
        assert re.fullmatch(r"[^:]+:\d+", sql["connectAddr"]), store  # the schema job splits host:port from it
    assert not REMOVED_SUBCHARTS & set(values), "chart >= 1.0 fails on sub-chart keys"
    assert values["web"]["enabled"]
    namespaces = {n["name"] for n in values["server"]["config"]["namespaces"]["namespace"]}
    assert settings_data(objects)[0]["JIESU_TEMPORAL_NAMESPACE"] in namespaces
    codec = {e["name"]: e["value"] for e in values["web"]["additionalEnv"]}["TEMPORAL_CODEC_ENDPOINT"]
    service = of_kind(objects, "Service")["jiesu-codec"]
    assert int(codec.rpartition(":")[2]) in {p["port"] for p in service["spec"]["ports"]}
