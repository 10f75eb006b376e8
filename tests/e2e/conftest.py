"""Real Prefect machinery for the end-to-end tests: one server, the real deployments, one worker.

Everything is started as a separate process, the way a user runs it (``prefect server start``,
``prefect work-pool create``, ``prefect --no-prompt deploy --all``, ``prefect worker start``),
against a temporary ``PREFECT_HOME``. Each process is stopped by its PID at teardown (SIGTERM,
then SIGKILL), failures included. Waiting is always polling with a deadline.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Callable

import httpx
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
PREFECT_YAML = ROOT / "prefect.yaml"
ARTIFACTS_DIR = ROOT / "test-artifacts" / "e2e"
PREFECT = [sys.executable, "-m", "prefect"]

# The open-gate tiny configuration: about a minute per run on an idle 2-core machine.
TINY = {
    "source": "sample",
    "real_labeled_limit": 512,
    "steps": 20,
    "batch_size": 32,
    "samples_per_class": 20,
    "judge_epochs": 1,
    "min_confidence": 0.0,
    "max_label_fidelity_gap": 1.0,
    "max_second_judge_gap": 1.0,
    "max_fid_ratio": 1e9,
    "max_memorization_rate": 1.0,
    "min_coverage": 0.0,
    "min_acceptance_rate": 0.0,
    "min_judge_accuracy": 0.0,
}
TERMINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}
SERVER_START_SECONDS = 240  # 10-17 s when idle; almost a minute was seen on a loaded machine
RUN_DEADLINE_SECONDS = 900


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def stop_process(process: subprocess.Popen, grace: float = 20.0) -> None:
    """SIGTERM to the PID, SIGKILL if it is still alive after ``grace``; then its leftover children.

    Every process here is started in its own session, so its process group id is its PID and
    any children it left behind (flow-run processes of a worker) are reached by that id.
    """
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=grace)
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def tail(path: Path, lines: int = 60) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return f"({path} unreadable)"


def wait_until(condition: Callable[[], object], deadline_seconds: float, what: str, interval: float = 1.0):
    """Polls ``condition`` until it returns something truthy; fails naming ``what`` at the deadline."""
    deadline = time.monotonic() + deadline_seconds
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {deadline_seconds:.0f} s waiting for {what}")
        time.sleep(interval)


@dataclass
class PrefectServer:
    """A running ``prefect server`` and the environment a CLI or worker needs to talk to it."""

    url: str
    home: Path
    logs: Path
    env: dict
    processes: list = field(default_factory=list)

    @property
    def api_url(self) -> str:
        return f"{self.url}/api"

    def cli(self, *args: str, cwd: Path = ROOT, timeout: float = 300, env: dict | None = None) -> subprocess.CompletedProcess:
        """Runs ``prefect <args>`` against this server and fails the test with its output if it fails."""
        done = subprocess.run(
            [*PREFECT, *args], cwd=cwd, env=env or self.env, capture_output=True, text=True, timeout=timeout
        )
        if done.returncode != 0:
            pytest.fail(f"prefect {' '.join(args)} exited {done.returncode}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
        return done

    def start(self, name: str, args: list[str], cwd: Path, env: dict) -> subprocess.Popen:
        """Starts a long-running process in its own session, logging to ``<logs>/<name>.log``."""
        log = open(self.logs / f"{name}.log", "ab")
        process = subprocess.Popen(args, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        self.processes.append(process)
        return process


class PrefectApi:
    """The few REST calls the tests need (httpx, so the test process' own Prefect settings stay untouched)."""

    # Like Prefect's own client: the server answers 503 for retryable errors (SQLite "database
    # is locked" while the scheduler and the worker write), 429/502 when overloaded.
    RETRY_CODES = {429, 502, 503}
    ATTEMPTS = 6

    def __init__(self, api_url: str):
        self.client = httpx.Client(base_url=api_url, timeout=60)

    def request(self, method: str, path: str, body: dict | None = None) -> httpx.Response:
        """Sends a request, retrying retryable statuses with backoff; raises for any other error."""
        for attempt in range(self.ATTEMPTS):
            response = self.client.request(method, path, json=body)
            if response.status_code not in self.RETRY_CODES or attempt == self.ATTEMPTS - 1:
                break
            time.sleep(2**attempt * 0.5)
        response.raise_for_status()
        return response

    def get(self, path: str):
        return self.request("GET", path).json()

    def post(self, path: str, body: dict | None = None):
        response = self.request("POST", path, body or {})
        return response.json() if response.content else None

    def patch(self, path: str, body: dict) -> None:
        self.request("PATCH", path, body)

    def deployment(self, flow_and_name: str) -> dict:
        return self.get(f"/deployments/name/{flow_and_name}")

    def deployment_named(self, name: str) -> dict:
        """The one deployment called ``name``, whichever flow it belongs to."""
        [found] = self.post("/deployments/filter", {"deployments": {"name": {"any_": [name]}}})
        return found

    def create_run(self, deployment_id: str, parameters: dict) -> dict:
        return self.post(f"/deployments/{deployment_id}/create_flow_run", {"parameters": parameters})

    def flow_run(self, run_id: str) -> dict:
        return self.get(f"/flow_runs/{run_id}")

    def flow_runs_of(self, deployment_id: str) -> list[dict]:
        return self.post("/flow_runs/filter", {"flow_runs": {}, "deployments": {"id": {"any_": [deployment_id]}}})

    def task_runs(self, run_id: str) -> list[dict]:
        return self.post("/task_runs/filter", {"flow_runs": {"id": {"any_": [run_id]}}})

    def artifacts(self, run_id: str) -> dict[str, dict]:
        found = self.post("/artifacts/filter", {"artifacts": {"flow_run_id": {"any_": [run_id]}}})
        return {artifact["key"]: artifact for artifact in found}

    def logs(self, run_id: str, limit: int = 80) -> str:
        found = self.post(
            "/logs/filter", {"logs": {"flow_run_id": {"any_": [run_id]}}, "sort": "TIMESTAMP_DESC", "limit": limit}
        )
        return "\n".join(f"{log['timestamp'][11:19]} {log['message'][:400]}" for log in reversed(found))

    def wait_final(self, run_id: str, deadline_seconds: float = RUN_DEADLINE_SECONDS) -> dict:
        """Polls a flow run until it is Completed (or fails the test with its logs)."""
        run = wait_until(
            lambda: (r := self.flow_run(run_id))["state_type"] in TERMINAL and r,
            deadline_seconds, f"flow run {run_id} to finish",
        )
        if run["state_type"] != "COMPLETED":
            pytest.fail(f"flow run {run['name']} ended {run['state_type']}: {run['state']['message']}\n{self.logs(run_id)}")
        return run


@dataclass
class Timings:
    """Trigger-to-Completed seconds per e2e run, written to test-artifacts/e2e/timings.json."""

    runs: list = field(default_factory=list)

    def add(self, kind: str, triggered_at: float, run: dict) -> float:
        """Records a Completed run; the end is the server's end_time (same clock: loopback server)."""
        seconds = round(datetime.fromisoformat(run["end_time"]).timestamp() - triggered_at, 1)
        self.runs.append({"kind": kind, "flow_run": run["name"], "trigger_to_completed_seconds": seconds,
                          "server_run_seconds": run.get("total_run_time")})
        return seconds


def prefect_yaml() -> dict:
    return yaml.safe_load(PREFECT_YAML.read_text())


@pytest.fixture(scope="session")
def e2e_artifacts() -> Path:
    ARTIFACTS_DIR.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS_DIR


@pytest.fixture(scope="session")
def prefect_server(tmp_path_factory, e2e_artifacts):
    """``prefect server start`` on a free loopback port with a temporary PREFECT_HOME."""
    home = tmp_path_factory.mktemp("prefect-home")
    logs = tmp_path_factory.mktemp("prefect-logs")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    base = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    base.update(PREFECT_HOME=str(home), TF_CPP_MIN_LOG_LEVEL="2", PYTHONUNBUFFERED="1")
    server_env = {
        **base,
        "PREFECT_SERVER_API_HOST": "127.0.0.1",
        "PREFECT_SERVER_API_PORT": str(port),
        # The UI asks /ui-settings where the API is; without this it points at port 4200.
        "PREFECT_UI_API_URL": f"{url}/api",
        # A private copy of the UI bundle, instead of rewriting the one in site-packages.
        "PREFECT_UI_STATIC_DIRECTORY": str(home / "ui"),
        "PREFECT_SERVER_UI_SHOW_PROMOTIONAL_CONTENT": "false",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        # A 503 from SQLite contention then leaves its traceback in server.log.
        "PREFECT_API_LOG_RETRYABLE_ERRORS": "true",
    }
    client_env = {**base, "PREFECT_API_URL": f"{url}/api", "GAN_AUGMENT_HOME": str(ROOT)}
    server = PrefectServer(url=url, home=home, logs=logs, env=client_env)
    process = server.start("server", [*PREFECT, "server", "start", "--host", "127.0.0.1", "--port", str(port)], home, server_env)
    try:
        def healthy():
            if process.poll() is not None:
                pytest.fail(f"prefect server exited {process.returncode}:\n{tail(logs / 'server.log')}")
            try:
                return httpx.get(f"{url}/api/health", timeout=5).json() is True
            except (httpx.HTTPError, ValueError):
                return False

        wait_until(healthy, SERVER_START_SECONDS, "the Prefect server to answer /api/health")
        yield server
    finally:
        for started in reversed(server.processes):
            stop_process(started)
        for log in logs.glob("*.log"):
            (e2e_artifacts / log.name).write_bytes(log.read_bytes())


@pytest.fixture(scope="session")
def api(prefect_server) -> PrefectApi:
    return PrefectApi(prefect_server.api_url)


@pytest.fixture(scope="session")
def deployed(prefect_server, api) -> dict:
    """The pool, the training concurrency limit and every deployment of the real prefect.yaml."""
    config = prefect_yaml()
    pool = config["definitions"]["work_pool"]["name"]
    prefect_server.cli("work-pool", "create", pool, "--type", "process")
    prefect_server.cli("concurrency-limit", "create", "gan-training", "1")
    prefect_server.cli("--no-prompt", "deploy", "--all")
    return {
        "pool": pool,
        "config": config,
        "deployments": {d["name"]: api.deployment_named(d["name"]) for d in config["deployments"]},
    }


@pytest.fixture(scope="session")
def worker(prefect_server, deployed, api, tmp_path_factory):
    """``prefect worker start --pool <pool>``, run from an unrelated directory so the pull step matters."""
    elsewhere = tmp_path_factory.mktemp("worker-cwd")
    # Poll every 2 s instead of 10 s: only the pickup latency changes.
    env = {**prefect_server.env, "PREFECT_WORKER_QUERY_SECONDS": "2"}
    process = prefect_server.start("worker", [*PREFECT, "worker", "start", "--pool", deployed["pool"]], elsewhere, env)

    def online():
        if process.poll() is not None:
            pytest.fail(f"prefect worker exited {process.returncode}:\n{tail(prefect_server.logs / 'worker.log')}")
        return api.post(f"/work_pools/{deployed['pool']}/workers/filter")

    wait_until(online, 180, "the worker to register with its pool")
    return process


@pytest.fixture(scope="session")
def timings(e2e_artifacts):
    recorded = Timings()
    yield recorded
    if recorded.runs:
        values = sorted(r["trigger_to_completed_seconds"] for r in recorded.runs)
        middle = len(values) // 2
        median = values[middle] if len(values) % 2 else (values[middle - 1] + values[middle]) / 2
        (e2e_artifacts / "timings.json").write_text(
            json.dumps({"runs": recorded.runs, "median_trigger_to_completed_seconds": median}, indent=2)
        )
