"""docker-compose.yml and the Dockerfile, checked without a Docker engine.

There is no Docker engine on the development and CI machines, so the compose file is parsed and
every command it gives the portal's containers is resolved against this project: management
commands, the Celery app, the WSGI application. `docker-compose config` runs when Debian's
docker-compose is installed.
"""

import json
import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from django.conf import settings
from django.core.management import get_commands
from django.urls import Resolver404, resolve

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
SERVICES = {"web", "worker", "beat", "db", "redis"}
PORTAL_SERVICES = ("web", "worker", "beat")
MEDIA_ROOT_IN_CONTAINER = "/app/var/media"


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text())


@pytest.fixture(scope="module")
def services(compose: dict) -> dict:
    return compose["services"]


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with comments dropped and continuation lines joined."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for line in DOCKERFILE.read_text().splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        keyword, _, arguments = (pending + stripped).partition(" ")
        instructions.append((keyword.upper(), arguments.strip()))
        pending = ""
    return instructions


def dockerfile_cmd() -> list[str]:
    commands = [args for keyword, args in dockerfile_instructions() if keyword == "CMD"]
    assert commands, "the Dockerfile has no CMD"
    return json.loads(commands[-1])


def as_argv(command: str | list[str]) -> list[str]:
    return shlex.split(command) if isinstance(command, str) else list(command)


def invocations(argv: list[str]) -> list[list[str]]:
    """The programs one command runs: a `sh -c` script is split on `&&` and `exec` dropped."""
    if argv[:2] == ["sh", "-c"]:
        programs = []
        for part in argv[2].split("&&"):
            words = shlex.split(part)
            programs.extend(invocations(words[1:] if words[:1] == ["exec"] else words))
        return programs
    return [argv]


def healthcheck_argv(test: str | list[str]) -> list[str]:
    argv = as_argv(test)
    if argv[0] == "CMD-SHELL":
        return ["sh", "-c", argv[1]]
    if argv[0] == "CMD":
        return argv[1:]
    raise AssertionError(f"unexpected healthcheck form: {test!r}")


def check_program_exists_in_project(argv: list[str]) -> None:
    """Fail unless `argv` names something this project really has."""
    program, args = argv[0], argv[1:]
    if program == "python" and args[:1] == ["manage.py"]:
        assert (ROOT / "manage.py").is_file(), "manage.py is missing"
        assert len(args) > 1, f"no management command in {argv}"
        assert args[1] in get_commands(), f"{args[1]!r} is not a Django management command"
    elif program == "python" and args[:1] == ["-c"]:
        compile(args[1], "<healthcheck>", "exec")
    elif program == "celery":
        from celery.bin.celery import celery as celery_cli

        from portal.celery import app

        assert args[:2] == ["-A", "portal"], f"celery is not pointed at the portal app: {argv}"
        assert app.main == "portal"
        assert args[2] in celery_cli.commands, f"{args[2]!r} is not a celery subcommand"
    elif program == "gunicorn":
        module_name, _, attribute = args[0].partition(":")
        assert module_name == "portal.wsgi", f"gunicorn serves {args[0]!r}"
        import portal.wsgi

        assert callable(getattr(portal.wsgi, attribute, None)), f"no WSGI app {args[0]!r}"
    else:
        raise AssertionError(f"the test does not know how to check {argv}")


def test_compose_defines_the_five_services(services: dict) -> None:
    assert set(services) == SERVICES


@pytest.mark.parametrize("name", ["web", "db", "redis"])
def test_services_others_wait_for_have_a_healthcheck(services: dict, name: str) -> None:
    test = services[name].get("healthcheck", {}).get("test")
    assert test, f"{name} has no healthcheck"


def test_every_depends_on_names_an_existing_service_and_waits_for_health(services: dict) -> None:
    for name, service in services.items():
        depends_on = service.get("depends_on", {})
        for dependency in depends_on:
            assert dependency in services, f"{name} depends on unknown service {dependency!r}"
            if isinstance(depends_on, dict):
                condition = depends_on[dependency].get("condition")
                assert condition == "service_healthy", f"{name} -> {dependency}: {condition}"
                assert "healthcheck" in services[dependency], f"{dependency} has no healthcheck"


@pytest.mark.parametrize("name", PORTAL_SERVICES)
def test_every_service_command_exists_in_the_project(services: dict, name: str) -> None:
    programs = invocations(as_argv(services[name]["command"]))
    assert programs
    for argv in programs:
        check_program_exists_in_project(argv)


@pytest.mark.parametrize("name", PORTAL_SERVICES)
def test_every_portal_healthcheck_command_exists_in_the_project(services: dict, name: str) -> None:
    healthcheck = services[name].get("healthcheck")
    if healthcheck is None:
        return
    for argv in invocations(healthcheck_argv(healthcheck["test"])):
        check_program_exists_in_project(argv)


def test_web_migrates_before_it_serves(services: dict) -> None:
    programs = invocations(as_argv(services["web"]["command"]))
    assert programs[0][:3] == ["python", "manage.py", "migrate"]
    assert "--noinput" in programs[0]
    assert programs[-1][0] == "gunicorn"


def test_worker_and_beat_run_the_portal_celery_app(services: dict) -> None:
    assert as_argv(services["worker"]["command"])[:4] == ["celery", "-A", "portal", "worker"]
    beat = as_argv(services["beat"]["command"])
    assert beat[:4] == ["celery", "-A", "portal", "beat"]
    schedule = beat[beat.index("--schedule") + 1]
    assert schedule.startswith("/app/var/"), "beat must write its schedule where it may write"


def test_web_healthcheck_requests_a_page_the_portal_serves(services: dict) -> None:
    argv = healthcheck_argv(services["web"]["healthcheck"]["test"])
    url = re.search(r"https?://[^'\"\s]+", " ".join(argv))
    assert url, f"no URL in the web healthcheck: {argv}"
    assert url.group(0).startswith("http://127.0.0.1:8000/")
    path = "/" + url.group(0).split("/", 3)[3]
    try:
        resolve(path)
    except Resolver404:
        pytest.fail(f"the web healthcheck asks for {path}, which the portal does not serve")
    allowed_hosts = services["web"]["environment"]["ALLOWED_HOSTS"]
    assert "127.0.0.1" in allowed_hosts.split(","), "the healthcheck's host would be refused"


def test_dockerfile_cmd_matches_the_web_server_in_compose(services: dict) -> None:
    gunicorn = invocations(as_argv(services["web"]["command"]))[-1]
    cmd = dockerfile_cmd()
    assert cmd == gunicorn
    check_program_exists_in_project(cmd)
    assert "0.0.0.0:8000" in cmd
    assert ("EXPOSE", "8000") in dockerfile_instructions()


def test_dockerfile_installs_dependencies_before_copying_the_code() -> None:
    steps = [f"{keyword} {args}" for keyword, args in dockerfile_instructions()]
    assert steps[0].startswith("FROM python:3.11-slim")
    copy_pyproject = steps.index("COPY pyproject.toml ./")
    install = next(i for i, step in enumerate(steps) if step.startswith("RUN pip install ."))
    first_code_copy = next(
        i for i, step in enumerate(steps) if step.startswith("COPY") and i != copy_pyproject
    )
    assert copy_pyproject < install < first_code_copy
    assert any("collectstatic --noinput" in step for step in steps[first_code_copy:])


def test_dockerfile_runs_as_a_user_other_than_root() -> None:
    users = [args for keyword, args in dockerfile_instructions() if keyword == "USER"]
    assert users, "the image runs as root"
    assert users[-1] not in {"root", "0"}


def test_dockerfile_copies_everything_the_settings_load() -> None:
    copied = {
        args.split()[0].rstrip("/")
        for keyword, args in dockerfile_instructions()
        if keyword == "COPY" and not args.startswith("--from")
    }
    local_apps = {app for app in settings.INSTALLED_APPS if (ROOT / app).is_dir()}
    folders = [
        *settings.STATICFILES_DIRS,
        *settings.TEMPLATES[0]["DIRS"],
        *settings.LOCALE_PATHS,
    ]
    needed = {"manage.py", "portal", *local_apps}
    needed |= {Path(f).relative_to(ROOT).parts[0] for f in folders if Path(f).exists()}
    assert needed <= copied, f"the image lacks {sorted(needed - copied)}"
    assert not copied & {".", ".venv", "var", ".env"}, "the image would carry local files"


def test_uploads_live_on_the_named_media_volume_at_media_root(compose: dict) -> None:
    assert "media" in compose["volumes"]
    for name in PORTAL_SERVICES:
        service = compose["services"][name]
        assert service["environment"]["MEDIA_ROOT"] == MEDIA_ROOT_IN_CONTAINER
        assert f"media:{MEDIA_ROOT_IN_CONTAINER}" in service["volumes"]


def test_portal_services_reach_the_compose_database_and_redis(services: dict) -> None:
    for name in PORTAL_SERVICES:
        environment = services[name]["environment"]
        assert re.fullmatch(
            r"postgres://portal:[^@]+@db:5432/portal", environment["DATABASE_URL"]
        ), environment["DATABASE_URL"]
        assert environment["REDIS_URL"] == "redis://redis:6379/0"
        assert {"db", "redis"} <= set(services[name]["depends_on"])
        assert services[name]["restart"] == "unless-stopped"


def test_compose_demands_a_secret_key_instead_of_shipping_one(services: dict) -> None:
    for name in PORTAL_SERVICES:
        assert services[name]["environment"]["SECRET_KEY"].startswith("${SECRET_KEY:?")


def run_compose_config(secret_key: str | None, tmp_path: Path) -> subprocess.CompletedProcess:
    executable = shutil.which("docker-compose")
    if executable is None:
        pytest.skip("docker-compose is not installed (apt-get install docker-compose)")
    environment = {key: value for key, value in os.environ.items() if key != "SECRET_KEY"}
    if secret_key is not None:
        environment["SECRET_KEY"] = secret_key
    # An empty env file, so that a developer's .env does not decide the outcome.
    env_file = tmp_path / "empty.env"
    env_file.write_text("")
    return subprocess.run(
        [executable, "--env-file", str(env_file), "-f", str(COMPOSE_FILE), "config", "-q"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_docker_compose_accepts_the_file(tmp_path: Path) -> None:
    result = run_compose_config("test-secret-key", tmp_path)
    assert result.returncode == 0, result.stderr


def test_docker_compose_refuses_to_run_without_a_secret_key(tmp_path: Path) -> None:
    result = run_compose_config(None, tmp_path)
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_web_is_published_on_the_loopback_only(services: dict) -> None:
    """The TLS proxy on the host is the only way in: gunicorn is never on a public interface."""
    ports = services["web"]["ports"]
    assert ports
    for port in ports:
        assert str(port).startswith("127.0.0.1:"), f"web publishes {port!r} on every interface"
    for name in ("worker", "beat", "db", "redis"):
        assert "ports" not in services[name], f"{name} publishes a port"


def test_web_healthcheck_passes_the_https_redirect(services: dict, client, settings) -> None:
    """With HTTPS=1 plain http is redirected to https; the healthcheck says it came via TLS."""
    argv = healthcheck_argv(services["web"]["healthcheck"]["test"])
    assert "headers={'X-Forwarded-Proto': 'https'}" in " ".join(argv)
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    assert client.get("/login/", HTTP_HOST="127.0.0.1").status_code == 301
    answer = client.get("/login/", HTTP_HOST="127.0.0.1", HTTP_X_FORWARDED_PROTO="https")
    assert answer.status_code == 200


def test_dockerfile_build_steps_that_load_the_settings_give_a_secret_key() -> None:
    """Without DEBUG the settings refuse to load with no SECRET_KEY, and the build has none."""
    for keyword, args in dockerfile_instructions():
        if keyword == "RUN" and "manage.py" in args:
            words = shlex.split(args)
            assignments = words[: words.index("python")]
            assert any(word.startswith(("SECRET_KEY=", "DEBUG=1")) for word in assignments), args


def test_compose_passes_the_log_in_protection_settings(services: dict) -> None:
    for name in PORTAL_SERVICES:
        environment = services[name]["environment"]
        assert environment["HTTPS"].startswith("${HTTPS:-")
        assert environment["LOGIN_FAILURE_LIMIT"] == "${LOGIN_FAILURE_LIMIT:-10}"
        assert environment["LOGIN_LOCKOUT_MINUTES"].startswith("${LOGIN_LOCKOUT_MINUTES:-")
