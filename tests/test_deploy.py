"""The deployment files agree with the server: ports, probe paths, configs that load."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.config import load_config
from bot.web import build_web_app

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"


def server_paths() -> set[str]:
    app = build_web_app([], {}, max_body_bytes=1024)
    return {resource.canonical for resource in app.router.resources()}


def manifests() -> list[dict[str, Any]]:
    documents: list[dict[str, Any]] = []
    for path in sorted((DEPLOY / "kubernetes").glob("*.yaml")):
        documents.extend(doc for doc in yaml.safe_load_all(path.read_text()) if doc)
    return documents


def by_kind(kind: str, name: str) -> dict[str, Any]:
    for doc in manifests():
        if doc["kind"] == kind and doc["metadata"]["name"] == name:
            return doc
    raise AssertionError(f"no {kind} {name} in deploy/kubernetes")


def test_every_manifest_is_valid_yaml_with_kind_and_name() -> None:
    documents = manifests()
    assert {doc["kind"] for doc in documents} >= {"Deployment", "Service", "ConfigMap", "Secret"}
    for doc in documents:
        assert doc["apiVersion"] and doc["metadata"]["name"]


def test_deployment_probes_and_ports_match_the_server(tmp_path: Path) -> None:
    deployment = by_kind("Deployment", "digestbot")
    assert deployment["spec"]["replicas"] == 2
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    ports = {port["name"]: port["containerPort"] for port in container["ports"]}
    config_text = by_kind("ConfigMap", "digestbot-config")["data"]["config.yaml"]
    config_path = tmp_path / "config.yaml"
    config_path.write_text(config_text)
    settings = load_config(config_path, env={})
    assert ports["http"] == settings.server.port
    paths = server_paths()
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz" in paths
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz" in paths
    for probe in ("livenessProbe", "readinessProbe"):
        assert container[probe]["httpGet"]["port"] in ports
    # Replicas share the ledger, so the store must be Redis, and Telegram must not be polled twice.
    assert settings.store.startswith("redis://")
    assert settings.telegram.updates == "webhook"
    service = by_kind("Service", "digestbot")
    assert service["spec"]["ports"][0]["targetPort"] in ports
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]


def test_secret_template_holds_every_variable_the_config_uses() -> None:
    config_text = by_kind("ConfigMap", "digestbot-config")["data"]["config.yaml"]
    used = set(re.findall(r"\$\{([A-Z_]+)", config_text))
    secret_keys = set(by_kind("Secret", "digestbot-secrets")["stringData"])
    assert used <= secret_keys


def test_compose_file_matches_the_server() -> None:
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    bot = compose["services"]["bot"]
    assert "redis" in compose["services"]
    assert any(str(port).endswith(":8080") for port in bot["ports"])
    assert any(volume.endswith(":/etc/digestbot/config.yaml:ro") for volume in bot["volumes"])
    assert bot["environment"]["DIGESTBOT_STORE"].startswith("redis://")
    settings = load_config(DEPLOY / "config.yaml", env={"DIGESTBOT_STORE": "redis://redis:6379/0"})
    assert settings.server.port == 8080
    assert settings.store == "redis://redis:6379/0"


def test_compose_config_is_accepted_by_compose_when_installed() -> None:
    for command in (["docker", "compose"], ["docker-compose"]):
        if shutil.which(command[0]) is None:
            continue
        probe = subprocess.run([*command, "version"], capture_output=True, text=True)
        if probe.returncode != 0:
            continue
        result = subprocess.run([*command, "-f", str(DEPLOY / "docker-compose.yml"), "config", "-q"],
                                capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
        return
    pytest.skip("neither `docker compose` nor `docker-compose` is installed")


def test_dockerfile_runs_as_non_root_with_a_health_check_on_the_server_port() -> None:
    text = (DEPLOY / "Dockerfile").read_text()
    assert text.count("FROM ") >= 2, "multi-stage build"
    assert re.search(r"^USER (?!root)\w+", text, re.MULTILINE)
    assert "EXPOSE 8080" in text
    healthcheck = re.search(r"HEALTHCHECK.*?CMD (.*)$", text, re.MULTILINE | re.DOTALL)
    assert healthcheck is not None and "127.0.0.1:8080/healthz" in healthcheck.group(1)
    assert "/healthz" in server_paths()


def test_systemd_unit_is_hardened_and_runs_the_service() -> None:
    unit = (DEPLOY / "systemd" / "digestbot.service").read_text()
    assert re.search(r"^ExecStart=\S*digestbot run -c ", unit, re.MULTILINE)
    for directive in ("NoNewPrivileges=yes", "ProtectSystem=strict", "DynamicUser=yes", "PrivateTmp=yes"):
        assert directive in unit
