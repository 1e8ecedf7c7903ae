"""The command around the loads, faulted as an operator meets it: the embedded server killed at
several points of `rm-pipeline run`, a Ctrl-C of its process group, the command itself killed,
two first runs at once. Each fault ends in one line, leaves no process behind, and the next
`rm-pipeline run` finishes by itself with exactly the bars of a clean run."""

from __future__ import annotations

import os
import pickle
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import dagster as dg
import psutil
import psycopg
import pytest
from filelock import FileLock

from rm_pipeline.db.engine import with_driver
from rm_pipeline.defs.partitions import partitions_today
from rm_pipeline.launch import CODE_SERVER_SCRATCH, INSTANCE_CONFIG
from rm_pipeline_tests.defs.webhook import local_webhook
from rm_pipeline_tests.providers.test_yfinance_outage import ClosingProxy

pytestmark = pytest.mark.slow

TICKERS = ["AAPL", "SHEL.L", "7203.T", "BTC-USD"]  # four calendars, three currencies
SETTINGS = {
    "RM_HISTORY_YEARS": "3",
    "RM_INGEST_BATCH_SIZE": "1",  # a batch a ticker, so a fault can strike between them
    "RM_PRICE_LOAD_WRITERS": "1",
}
RUN_TIMEOUT_SECONDS = 300
BARS = (
    "SELECT s.ticker, p.date, p.open, p.high, p.low, p.close, p.volume FROM price_history p "
    "JOIN securities s ON s.id = p.security_id ORDER BY 1, 2"
)


@dataclass
class Warehouse:
    """A data directory of its own (embedded server, Dagster's home) and the environment that
    points `rm-pipeline` at it."""

    root: Path
    env: dict[str, str]

    def command(self, *arguments: str) -> list[str]:
        return [sys.executable, "-c", "from rm_pipeline.cli import main; main()", *arguments]

    def run(self, *arguments: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.command(*arguments),
            env=self.env,
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT_SECONDS,
        )

    def start(self, *arguments: str) -> subprocess.Popen[str]:
        """The command in a process group of its own, as a terminal starts it."""
        return subprocess.Popen(
            self.command(*arguments),
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )

    def url(self) -> str:
        return self.run("db", "url").stdout.strip().splitlines()[-1]

    def bars(self) -> list[tuple[object, ...]]:
        with psycopg.connect(self.url()) as conn:
            return conn.execute(BARS).fetchall()

    def postmaster(self) -> int:
        return int((self.root / "pgdata" / "postmaster.pid").read_text().splitlines()[0])

    def processes(self, within: float = 10.0) -> list[str]:
        """Dagster and rm-pipeline processes of this data directory still running after
        `within` seconds (a process killed a moment ago may still be exiting)."""
        deadline = time.monotonic() + within
        while (found := self._running()) and time.monotonic() < deadline:
            time.sleep(0.2)
        return [f"{pid} {command[:120]}" for pid, command in found]

    def find(self, fragment: str) -> int:
        """The pid of this data directory's process whose command line holds `fragment`."""
        pids = [pid for pid, command in self._running() if fragment in command]
        assert len(pids) == 1, (fragment, self._running())
        return pids[0]

    def _running(self) -> list[tuple[int, str]]:
        found = []
        for process in psutil.process_iter(["cmdline", "environ"]):
            try:
                environ = process.info["environ"] or {}
                command = " ".join(process.info["cmdline"] or [])
            except psutil.Error:
                continue
            if environ.get("RM_DATA_DIR") == str(self.root) and "postgres" not in command:
                found.append((process.pid, command))
        return found


def make_warehouse(root: Path) -> Warehouse:
    universe = root / "universe.yaml"
    root.mkdir(parents=True, exist_ok=True)
    universe.write_text("securities:\n" + "".join(f"  - '{t}'\n" for t in TICKERS))
    env = {key: value for key, value in os.environ.items() if not key.startswith(("RM_", "DAG"))}
    env.pop("DATABASE_URL", None)
    env |= SETTINGS | {"RM_DATA_DIR": str(root), "RM_UNIVERSE_FILE": str(universe)}
    return Warehouse(root, env)


@contextmanager
def scratch_warehouse() -> Iterator[Warehouse]:
    """A warehouse in a new directory the embedded server's own user may enter (pytest's
    temporary directories are private to the user running the tests), removed afterwards."""
    root = Path(tempfile.mkdtemp(prefix="rm-operations-"))
    root.chmod(0o755)
    made = make_warehouse(root / "data")
    try:
        yield made
    finally:
        made.run("db", "stop")
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def warehouse() -> Iterator[Warehouse]:
    with scratch_warehouse() as made:
        yield made


CleanBars = Callable[[date], list[tuple[object, ...]]]
"""The bars of a clean `rm-pipeline run` on a given day (New York's, as a run's range is)."""


@pytest.fixture(scope="session")
def clean_bars(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> CleanBars:
    """The bars of one clean `rm-pipeline run` a day, made once for all of the session's workers:
    a session running past midnight in New York compares a run of the new day with the new
    day's (a run's range ends on its day, so the two days' clean runs differ)."""
    base = tmp_path_factory.getbasetemp()
    root = base if worker_id == "master" else base.parent

    def on(day: date) -> list[tuple[object, ...]]:
        kept = root / f"clean-run-bars-{day}.pickle"
        with FileLock(f"{kept}.lock"):
            if kept.exists():
                bars: list[tuple[object, ...]] = pickle.loads(kept.read_bytes())
                return bars
            with scratch_warehouse() as clean:
                result = clean.run("run", "--no-demo")
                assert result.returncode == 0, result.stdout + result.stderr
                bars = clean.bars()
            kept.write_bytes(pickle.dumps(bars))
            return bars

    on(partitions_today())  # made before the faults, as a user's first run would be
    return on


def wait_for_line(process: subprocess.Popen[str], fragment: str) -> list[str]:
    """Read the command's output until a line holds `fragment`; the lines read."""
    assert process.stdout is not None
    lines = []
    deadline = time.monotonic() + RUN_TIMEOUT_SECONDS
    for line in process.stdout:
        lines.append(line)
        if fragment in line or time.monotonic() > deadline:
            return lines
    _, stderr = process.communicate()
    raise AssertionError(f"the command ended before {fragment!r}: {''.join(lines)}{stderr}")


def finish(process: subprocess.Popen[str]) -> tuple[int, str]:
    _, stderr = process.communicate(timeout=RUN_TIMEOUT_SECONDS)
    return process.returncode, stderr


def assert_one_line(stderr: str, *fragments: str) -> None:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert "Traceback" not in stderr and len(lines) == 1, stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def assert_recovers(warehouse: Warehouse, clean_bars: CleanBars) -> str:
    """The next run finishes by itself and stores exactly a clean run's bars of its day; its
    output."""
    day = partitions_today()
    rerun = warehouse.run("run", "--no-demo")
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert warehouse.bars() == clean_bars(day)
    return rerun.stdout


@pytest.mark.parametrize(
    "strike_at",
    ["running load_securities_and_prices", "batch 2/", "running refresh_analytics"],
)
def test_the_server_killed_mid_run_ends_in_one_line_and_the_next_run_completes(
    warehouse: Warehouse, clean_bars: CleanBars, strike_at: str
) -> None:
    first = warehouse.start("run", "--no-demo")
    wait_for_line(first, strike_at)
    os.kill(warehouse.postmaster(), signal.SIGKILL)
    code, stderr = finish(first)
    assert code == 1
    assert "Traceback" not in stderr
    assert stderr.splitlines() == [
        stderr.splitlines()[0],
        "Check DATABASE_URL (or `rm-pipeline db status` for the embedded server); --verbose "
        "shows the traceback.",
    ]
    assert stderr.startswith("Error: cannot reach the database: ")  # refused, or closed
    assert warehouse.processes() == []
    assert_recovers(warehouse, clean_bars)


@pytest.mark.parametrize(
    ("victim", "said"),
    [("spawn_main", "a job failed"), ("api grpc", "could not start refresh_analytics")],
)
def test_a_killed_run_worker_or_code_server_ends_the_command_and_the_next_run_completes(
    warehouse: Warehouse, clean_bars: CleanBars, victim: str, said: str
) -> None:
    first = warehouse.start("run", "--no-demo")
    wait_for_line(first, "batch 1/")
    os.kill(warehouse.find(victim), signal.SIGKILL)  # the run worker, or the code server
    code, stderr = finish(first)
    assert code == 1
    assert_one_line(stderr, said)
    assert warehouse.processes() == []
    assert_recovers(warehouse, clean_bars)


def test_ctrl_c_stops_every_process_cancels_the_run_and_the_next_run_resumes(
    warehouse: Warehouse, clean_bars: CleanBars
) -> None:
    first = warehouse.start("run", "--no-demo")
    wait_for_line(first, "batch 1/")
    os.killpg(first.pid, signal.SIGINT)  # what a terminal's Ctrl-C sends
    code, stderr = finish(first)
    assert code == 130
    assert_one_line(stderr, "interrupted: run ", "of load_securities_and_prices canceled")
    assert warehouse.processes() == []
    assert_recovers(warehouse, clean_bars)


def test_sigterm_stops_the_command_as_ctrl_c_does(warehouse: Warehouse) -> None:
    first = warehouse.start("run", "--no-demo")
    wait_for_line(first, "batch 1/")
    first.terminate()  # `timeout` and service managers send SIGTERM to the command alone
    code, stderr = finish(first)
    assert code == 130
    assert_one_line(stderr, "interrupted: run ", "canceled")
    assert warehouse.processes() == []


def test_a_run_left_by_a_killed_command_is_ended_by_the_next_run(
    warehouse: Warehouse, clean_bars: CleanBars
) -> None:
    first = warehouse.start("run", "--no-demo")
    wait_for_line(first, "batch 1/")
    worker = warehouse.find("spawn_main")
    os.kill(worker, signal.SIGSTOP)  # a run worker that outlives its command, hung mid-load
    first.kill()  # the command itself dies: it cannot clean up
    first.wait()
    assert psutil.pid_exists(worker)
    scratch = f"{CODE_SERVER_SCRATCH}{first.pid}-*"
    assert list(Path(tempfile.gettempdir()).glob(scratch))  # its code server's socket and files
    output = assert_recovers(warehouse, clean_bars)
    assert "recovered: run " in output and "of load_securities_and_prices" in output
    assert not psutil.pid_exists(worker)
    assert warehouse.processes() == []
    assert not list(Path(tempfile.gettempdir()).glob(scratch))


def test_two_first_runs_at_once_both_succeed(warehouse: Warehouse, clean_bars: CleanBars) -> None:
    day = partitions_today()
    runs = [warehouse.start("run", "--no-demo") for _ in range(2)]
    results = [finish(run) for run in runs]
    assert [code for code, _ in results] == [0, 0], results
    assert warehouse.bars() == clean_bars(day)


@contextmanager
def instance_of(
    warehouse: Warehouse, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dg.DagsterInstance]:
    """The warehouse's Dagster instance, opened in this process as `rm-pipeline` opens it."""
    home = warehouse.root / "dagster"
    home.mkdir(parents=True, exist_ok=True)
    shutil.copy(INSTANCE_CONFIG, home / "dagster.yaml")
    dagster_url = warehouse.run("db", "url", "--dagster").stdout.strip().splitlines()[-1]
    monkeypatch.setenv("DAGSTER_PG_URL", with_driver(dagster_url, "postgresql+psycopg2"))
    monkeypatch.setenv("RM_DAGSTER_ARTIFACTS", str(home / "storage"))
    monkeypatch.setenv("RM_DAGSTER_COMPUTE_LOGS", str(home / "logs"))
    with dg.DagsterInstance.from_config(str(home)) as instance:
        yield instance


def test_a_run_waiting_for_a_slot_names_the_holder_and_gives_up_in_time(
    warehouse: Warehouse, monkeypatch: pytest.MonkeyPatch
) -> None:
    with instance_of(warehouse, monkeypatch) as instance:
        holder = dg.DagsterRun(job_name="ingest_price_history", status=dg.DagsterRunStatus.STARTED)
        instance.add_run(holder)  # a run of the UI's, say, loading prices
        instance.event_log_storage.set_concurrency_slots("price_loads", 1)
        instance.event_log_storage.claim_concurrency_slot("price_loads", holder.run_id, "load")
        warehouse.env["RM_SLOT_WAIT_MINUTES"] = "0.1"
        began = time.monotonic()
        waiting = warehouse.run("run", "--no-demo")
        assert time.monotonic() - began < 120
        assert waiting.returncode == 1
        assert "waiting for a slot of pool price_loads, held by run " in waiting.stdout
        assert_one_line(
            waiting.stderr,
            "gave up after 0.1 min",
            f"run {holder.run_id[:8]} of ingest_price_history (STARTED, launched by the Dagster UI",
        )
        assert warehouse.processes() == []
        instance.report_run_failed(holder)  # the holder ends: its slot is freed by the next run
    assert warehouse.run("run", "--no-demo").returncode == 0


@pytest.fixture
def yahoo_unreachable() -> Iterator[ClosingProxy]:
    """A proxy on this machine that closes every connection: Yahoo fails at the connection
    level and nothing leaves the machine."""
    proxy = ClosingProxy()
    yield proxy
    proxy.stop()


@pytest.mark.parametrize("universe_size", [500])
def test_a_yahoo_outage_fails_the_run_fast_with_one_alert(
    warehouse: Warehouse, yahoo_unreachable: ClosingProxy, universe_size: int
) -> None:
    universe = warehouse.root / "outage-universe.yaml"
    universe.write_text(
        "securities:\n" + "".join(f"  - 'T{n:03d}'\n" for n in range(universe_size))
    )
    with local_webhook() as webhook:
        warehouse.env |= {
            "RM_PROVIDER": "yfinance",
            "RM_UNIVERSE_FILE": str(universe),
            "RM_ALERT_WEBHOOK_URL": webhook.url,
            "XDG_CACHE_HOME": str(warehouse.root / "cache"),  # yfinance's cookie cache
        }
        for variable in ("no_proxy", "NO_PROXY"):
            warehouse.env.pop(variable, None)
        for variable in ("https_proxy", "HTTPS_PROXY"):  # Yahoo's https, not the webhook's http
            warehouse.env[variable] = yahoo_unreachable.url
        began = time.monotonic()
        outage = warehouse.run("run", "--no-demo")
        took = time.monotonic() - began
    print(f"{universe_size} tickers: the run failed in {took:.1f} s\n{outage.stdout}")
    assert outage.returncode == 1
    assert "load_securities_and_prices: FAILED" in outage.stdout
    assert "securities: FAILED: yfinance unreachable: Yahoo Finance" in outage.stdout
    assert "up to date" not in outage.stdout
    assert_one_line(outage.stderr, "a job failed")
    assert len(webhook.received) == 1 and "unreachable" in webhook.received[0]["text"]
    assert took < 60
    assert warehouse.processes() == []
