"""The deployment files, checked offline: the compose file parses, every jiesu service runs a command the CLI has
with options it takes, every JIESU_ variable is a setting, the ports line up, the image holds every package."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from core.settings import Settings

DEPLOY = Path(__file__).parents[2] / "deploy"
COMPOSE_ONLY = {"JIESU_DB_PASSWORD"}  # interpolated into the compose file itself, not read by jiesu


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))


def jiesu_services(compose: dict) -> dict[str, dict]:
    return {name: s for name, s in compose["services"].items() if s.get("image", "").startswith("jiesu")}


def test_every_process_is_there(compose: dict) -> None:
    commands = {name: s["command"][1] for name, s in jiesu_services(compose).items()}
    assert sorted(c for c in commands.values()) == ["api", "api", "codec-server", "migrate", "rules", "sender",
                                                   "worker", "worker"]
    assert {"postgresql", "temporal", "temporal-ui"} <= set(compose["services"])
    assert compose["services"]["temporal"]["environment"]["DB"] == "postgres12"  # PostgreSQL persistence


def test_each_command_and_option_exists_in_the_cli(compose: dict) -> None:
    import typer

    from cli import app

    group = typer.main.get_command(app)
    for name, service in jiesu_services(compose).items():
        argv = service["command"]
        assert argv[0] == "jiesu", name
        command = group.commands.get(argv[1])  # type: ignore[attr-defined]
        assert command is not None, f"{name}: jiesu has no command {argv[1]!r}"
        options = {o for p in command.params for o in p.opts}
        for arg in argv[2:]:
            if arg.startswith("--"):
                assert arg in options, f"{name}: jiesu {argv[1]} has no option {arg}"


def test_every_variable_is_a_setting(compose: dict) -> None:
    fields = {f.upper() for f in Settings.model_fields}
    names = set()
    for service in jiesu_services(compose).values():
        names |= set(service.get("environment", {}))
    names |= {line.split("=", 1)[0] for line in (DEPLOY / "env.example").read_text().splitlines()
              if line and not line.startswith("#")}
    unknown = [n for n in names if n.startswith("JIESU_") and n not in COMPOSE_ONLY
               and n.removeprefix("JIESU_") not in fields]
    assert not unknown, f"not a setting: {unknown}"


def test_ports_and_addresses_line_up(compose: dict) -> None:
    services = jiesu_services(compose)
    for name in ("api-1", "api-2", "codec"):
        argv = services[name]["command"]
        port = argv[argv.index("--port") + 1]
        assert any(p.endswith(f":{port}") for p in services[name]["ports"]), name
    env = services["api-1"]["environment"]
    host, _, port = env["JIESU_TEMPORAL_ADDRESS"].partition(":")
    assert host in compose["services"] and any(p.endswith(f":{port}") for p in compose["services"][host]["ports"])
    assert "@postgresql:5432/" in env["JIESU_DATABASE_URL"]


def test_the_image_holds_every_package() -> None:
    pyproject = (Path(__file__).parents[2] / "pyproject.toml").read_text()
    packages = {p.split(".")[0] for p in re.findall(r'"([a-z_.]+)"', pyproject.split("packages = [", 1)[1]
                                                                     .split("]", 1)[0])}
    copied = set(re.findall(r"^COPY (\w+) \1$", (DEPLOY / "Dockerfile").read_text(), re.M))
    assert packages <= copied, packages - copied
