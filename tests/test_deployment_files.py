"""The deployment files agree with the code: compose.yaml runs every role against the shared
engines, names only real settings, and clusters NATS; the Dockerfile runs `seamline` as a user
other than root. Images cannot be built here, so this is what is checked of them."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from seamline.config import Settings
from seamline.roles.names import ROLES

ROOT = Path(__file__).resolve().parents[1]
SERVED_ROLES = [role for role in ROLES if role != "all"]
ENGINE_SETTINGS = (
    "SEAMLINE_LOG_URL",
    "SEAMLINE_DATABASE_URL",
    "SEAMLINE_EVENTS_URL",
    "SEAMLINE_SECRET_KEY",
)
SETTING_NAME = re.compile(r"\bSEAMLINE_[A-Z][A-Z0-9_]*\b")


def real_settings() -> set[str]:
    return {f"SEAMLINE_{name.upper()}" for name in Settings.model_fields}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "compose.yaml").read_text())
    return loaded


def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = compose["services"]
    return found


def command_of(service: dict[str, Any]) -> str:
    command = service.get("command", "")
    return " ".join(command) if isinstance(command, list) else str(command)


def environment_of(service: dict[str, Any]) -> dict[str, str]:
    environment = service.get("environment") or {}
    if isinstance(environment, list):
        return dict(item.split("=", 1) if "=" in item else (item, "") for item in environment)
    return {key: "" if value is None else str(value) for key, value in environment.items()}


def role_services(compose: dict[str, Any], role: str) -> dict[str, dict[str, Any]]:
    """The services that run `serve --role ROLE`."""
    wanted = re.compile(rf"\bserve\b.*--role[ =]{role}\b")
    return {
        name: service
        for name, service in services(compose).items()
        if wanted.search(command_of(service))
    }


def one_role_service(compose: dict[str, Any], role: str) -> dict[str, Any]:
    found = role_services(compose, role)
    assert found, f"compose.yaml has no service running `serve --role {role}`"
    return next(iter(found.values()))


@pytest.mark.parametrize("role", SERVED_ROLES)
def test_every_role_has_a_service(compose: dict[str, Any], role: str) -> None:
    assert role_services(compose, role), f"no service runs `serve --role {role}`"


@pytest.mark.parametrize("role", SERVED_ROLES)
@pytest.mark.parametrize("setting", ENGINE_SETTINGS)
def test_every_role_is_given_the_shared_engines(
    compose: dict[str, Any], role: str, setting: str
) -> None:
    for name, service in role_services(compose, role).items():
        assert environment_of(service).get(setting), f"service {name} does not set {setting}"


@pytest.mark.parametrize("role", SERVED_ROLES)
def test_every_role_is_scaled_out_and_waits_for_its_engines(
    compose: dict[str, Any], role: str
) -> None:
    service = one_role_service(compose, role)
    assert service.get("deploy", {}).get("replicas", 1) >= 2
    depends_on = service.get("depends_on", {})
    engines = ["postgres", *(name for name in services(compose) if name.startswith("nats-"))]
    for engine in engines:
        assert depends_on.get(engine, {}).get("condition") == "service_healthy", engine


@pytest.mark.parametrize("role", SERVED_ROLES)
def test_every_role_shares_the_lake(compose: dict[str, Any], role: str) -> None:
    """SEAMLINE_EVENTS_URL=file:///lake is only one lake if /lake is one volume for all."""
    service = one_role_service(compose, role)
    url = environment_of(service)["SEAMLINE_EVENTS_URL"]
    assert url.startswith("file://")
    path = url.removeprefix("file://")
    mounts = [volume.split(":") for volume in service.get("volumes", [])]
    shared = [source for source, target, *_ in mounts if target == path]
    assert shared and shared[0] in compose.get("volumes", {}), f"{path} is not a named volume"


@pytest.mark.parametrize("role", SERVED_ROLES)
def test_the_secret_key_comes_from_the_environment(compose: dict[str, Any], role: str) -> None:
    """No key is written in the file: compose refuses to start until .env gives one."""
    key = environment_of(one_role_service(compose, role))["SEAMLINE_SECRET_KEY"]
    assert re.fullmatch(r"\$\{SEAMLINE_SECRET_KEY:\?[^}]+\}", key), key


def test_collect_is_published_and_checked_on_healthz(compose: dict[str, Any]) -> None:
    collect = one_role_service(compose, "collect")
    assert collect.get("ports"), "collect publishes no port"
    check = collect.get("healthcheck", {})
    assert not check.get("disable") and "/healthz" in json.dumps(check.get("test"))


@pytest.mark.parametrize("path", ["compose.yaml", "docs/deployment.md", ".env.example"])
def test_only_real_settings_are_named(path: str) -> None:
    named = set(SETTING_NAME.findall((ROOT / path).read_text()))
    assert named, f"{path} names no setting at all"
    unknown = named - real_settings()
    assert not unknown, f"{path} names settings that do not exist: {sorted(unknown)}"


def interpolated(value: str) -> str:
    """`value` as compose would pass it: `${X:-default}` gives the default, `${X:?why}` a
    stand-in for what .env must provide."""
    return re.sub(
        r"\$\{\w+(?::?([-?])([^}]*))?\}",
        lambda m: m.group(2) if m.group(1) == "-" else "from-the-env-file",
        value,
    )


def documented_environment() -> dict[str, str]:
    """The `SEAMLINE_X=value` lines of docs/deployment.md's examples."""
    text = (ROOT / "docs" / "deployment.md").read_text()
    return dict(re.findall(r"(?m)^(SEAMLINE_[A-Z_]+)=(.*)$", text))


@pytest.mark.parametrize("example", [*SERVED_ROLES, "docs/deployment.md"])
def test_the_example_environments_are_valid_settings(
    compose: dict[str, Any], example: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Each example loads as the process would load it (e.g. a lake URL Seamline refuses fails)."""
    if example in SERVED_ROLES:
        environment = environment_of(one_role_service(compose, example))
    else:
        environment = documented_environment()
    assert environment
    monkeypatch.setenv("SEAMLINE_CONFIG", str(tmp_path / "none.toml"))
    for name, value in environment.items():
        monkeypatch.setenv(name, interpolated(value))
    settings = Settings()
    assert settings.log_url and settings.database_url and settings.events_url


def test_nats_is_a_cluster_of_three_jetstream_nodes(compose: dict[str, Any]) -> None:
    nodes = {
        name: service
        for name, service in services(compose).items()
        if str(service.get("image", "")).startswith("nats:")
    }
    assert sorted(nodes) == ["nats-1", "nats-2", "nats-3"]
    configs = compose.get("configs", {})
    names = set()
    for name, node in nodes.items():
        command = node["command"]
        names.add(command[command.index("--name") + 1])
        (mount,) = node["configs"]
        config = configs[mount["source"]]["content"]
        assert command[command.index("--config") + 1] == mount["target"]
        store = re.search(r"jetstream\s*\{[^}]*store_dir:\s*(\S+)", config)
        assert store, f"{name}: no JetStream store_dir in its config"
        assert any(v.endswith(f":{store.group(1)}") for v in node["volumes"]), name
        for other in nodes:
            assert f"nats-route://{other}:6222" in config, f"{name} has no route to {other}"
        assert node.get("healthcheck", {}).get("test"), name
    assert names == set(nodes), "each node needs its own --name"


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined."""
    text = (ROOT / "Dockerfile").read_text()
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n", " ", "\n".join(lines))
    instructions = []
    for line in joined.splitlines():
        if line.strip():
            keyword, _, arguments = line.strip().partition(" ")
            instructions.append((keyword.upper(), arguments.strip()))
    return instructions


def final_stage() -> list[tuple[str, str]]:
    instructions = dockerfile_instructions()
    last_from = max(i for i, (keyword, _) in enumerate(instructions) if keyword == "FROM")
    return instructions[last_from:]


def test_the_image_runs_seamline() -> None:
    (entrypoint,) = [args for keyword, args in final_stage() if keyword == "ENTRYPOINT"]
    assert json.loads(entrypoint) == ["seamline"]


def test_the_image_runs_as_a_user_other_than_root() -> None:
    users = [args for keyword, args in final_stage() if keyword == "USER"]
    assert users, "no USER in the final stage: the image would run as root"
    assert users[-1].split(":")[0] not in {"root", "0"}


def test_the_image_serves_and_checks_its_port() -> None:
    stage = final_stage()
    assert ("EXPOSE", "8088") in stage
    (check,) = [args for keyword, args in stage if keyword == "HEALTHCHECK"]
    assert "/healthz" in check and "python" in check
    assert any(keyword == "VOLUME" for keyword, _ in stage)


def test_the_image_installs_runtime_dependencies_before_the_source() -> None:
    """Cache-friendly: a change to src/ does not reinstall the dependencies; no test extras."""
    instructions = dockerfile_instructions()
    steps = [f"{keyword} {args}" for keyword, args in instructions]
    dependencies = next(i for i, step in enumerate(steps) if "pip install -r" in step)
    source = next(i for i, step in enumerate(steps) if re.match(r"COPY (\S+ )*src\b", step))
    assert dependencies < source
    assert not any("[test]" in step or ".[" in step for step in steps)
