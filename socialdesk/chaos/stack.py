"""The processes of a fault run, each one the harness may kill: its own PostgreSQL (the embedded
server's binaries, a private data directory and port), its own redis-server, the simulator,
two prefork Celery workers and beat.

Nothing here touches a server it did not start: PostgreSQL and Redis are found by their data
directory and pid file under the run's root, everything else by the process group it was
started in. `Stack.stop()` ends all of them, and is safe to call twice.
"""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent.parent
DATABASE = "chaos"
WORKERS = ("a", "b")

CHAOS_CREDENTIALS_KEY = "Y2hhb3Mtb25seS1jcmVkZW50aWFscy1rZXktMDAwMDA="


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise RuntimeError(f"timed out waiting for {what}")


@dataclass
class Stack:
    root: Path
    pg_port: int = field(default_factory=free_port)
    redis_port: int = field(default_factory=free_port)
    sim_port: int = field(default_factory=free_port)
    concurrency: int = 2
    task_time_limit: int = 40
    recovery_margin: int = 60  # a reply left sending is taken over this long after the limit
    # The simulator's listing lag is 10 s: a settle window to 45 s outlasts it, as the default
    # window (to 300 s) outlasts a real network's, and the run ends sooner.
    settle_schedule: str = "0,5,15,45"
    http_timeout: float = 4.0
    fault_sleep: float = 8.0
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    restarts: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.root = self.root.resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self.pgdata = self.root / "pgdata"
        self.logs = self.root / "logs"
        self.logs.mkdir(exist_ok=True)
        for old in self.logs.glob("*.log"):
            old.unlink()
        self._system_user: str | None = None
        self._log_seen: dict[str, int] = {}

    # ---- addresses ------------------------------------------------------------------------

    @property
    def sim_url(self) -> str:
        return f"http://127.0.0.1:{self.sim_port}"

    @property
    def redis_url(self) -> str:
        return f"redis://127.0.0.1:{self.redis_port}/0"

    def database_url(self, name: str) -> str:
        """The URL a process uses; `name` becomes its application_name in pg_stat_activity."""
        return f"postgres://postgres@127.0.0.1:{self.pg_port}/{DATABASE}?application_name={name}"

    def env(self, name: str) -> dict[str, str]:
        """The environment of a desk process talking to this stack."""
        return {
            **os.environ,
            "DATABASE_URL": self.database_url(name),
            "REDIS_URL": self.redis_url,
            "SIMULATOR_URL": self.sim_url,
            "X_API_BASE_URL": self.sim_url,
            "FACEBOOK_GRAPH_URL": self.sim_url,
            "POLL_TICK_SECONDS": "1",
            "SOCIAL_HTTP_TIMEOUT": str(self.http_timeout),
            "CELERY_TASK_TIME_LIMIT": str(self.task_time_limit),
            "REPLY_RECOVERY_MARGIN_SECONDS": str(self.recovery_margin),
            "REPLY_SETTLE_SCHEDULE": self.settle_schedule,
            "SOCIALDESK_VAR_DIR": str(self.root / "var"),
            "DEBUG": "false",
            "SECRET_KEY": os.environ.get("SECRET_KEY") or "chaos-only-secret",
            # Production settings require a key for the channels' credentials; the harness's
            # channels are throw-away, and so is this key (a Fernet key: 32 bytes, base64).
            "CREDENTIALS_KEY": os.environ.get("CREDENTIALS_KEY") or CHAOS_CREDENTIALS_KEY,
            "SECURE_SSL_REDIRECT": "false",
            "LOG_LEVEL": "WARNING",
            # What each polled page held: a missing item is traced through the workers' logs.
            "LOG_LEVELS": "listening.polling=DEBUG",
            "PYTHONUNBUFFERED": "1",
        }

    # ---- PostgreSQL -----------------------------------------------------------------------

    def _pg(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        from pgserver._commands import POSTGRES_BIN_PATH

        done = subprocess.run(
            [str(POSTGRES_BIN_PATH / args[0]), *args[1:]],
            user=self._system_user,
            capture_output=True,
            text=True,
            timeout=90,
        )
        if check and done.returncode != 0:
            raise RuntimeError(f"{args[0]} failed: {done.stderr.strip() or done.stdout.strip()}")
        return done

    def start_postgres(self) -> None:
        """Initialise the data directory once (through pgserver), then serve it on pg_port."""
        warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
        import pgserver

        if not (self.pgdata / "PG_VERSION").exists():
            pgserver.get_server(self.pgdata, cleanup_mode=None)  # initdb, as the demo does
        if os.geteuid() == 0:
            self._system_user = "pgserver"  # postgres refuses to run as root
        self._pg("pg_ctl", "-D", str(self.pgdata), "-m", "immediate", "stop", check=False)
        self._pg_start()
        probe = self._pg(
            "psql", "-h", "127.0.0.1", "-p", str(self.pg_port), "-U", "postgres", "-Atc",
            f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE}'",
        )  # fmt: skip
        if probe.stdout.strip() != "1":
            self.psql(f"CREATE DATABASE {DATABASE}", database="postgres")

    def _pg_start(self) -> None:
        options = (
            # fsync off loses nothing when only processes crash (the kernel keeps the WAL);
            # commits stay synchronous, so an immediate stop loses no committed transaction.
            f"-h 127.0.0.1 -p {self.pg_port} -k {self.pgdata} -c fsync=off -c max_connections=80"
        )
        self._pg(
            "pg_ctl", "-D", str(self.pgdata), "-w", "-t", "60", "-o", options,
            "-l", str(self.pgdata / "server.log"), "start",
        )  # fmt: skip

    def restart_postgres(self) -> None:
        """An immediate stop (a crash: no checkpoint, every backend cut) and a start."""
        self._pg("pg_ctl", "-D", str(self.pgdata), "-m", "immediate", "stop", check=False)
        self._pg_start()

    def stop_postgres(self) -> None:
        if not self.pgdata.exists():
            return
        done = self._pg("pg_ctl", "-D", str(self.pgdata), "-m", "fast", "stop", check=False)
        if done.returncode != 0:  # pg_ctl could not do it: end our postmaster by its pid
            with contextlib.suppress(OSError, ValueError, psutil.Error):
                pid = int((self.pgdata / "postmaster.pid").read_text().split()[0])
                postmaster = psutil.Process(pid)
                if postmaster.name() == "postgres":
                    postmaster.send_signal(signal.SIGQUIT)
                    postmaster.wait(20)

    def psql(self, sql: str, database: str = DATABASE) -> str:
        done = self._pg(
            "psql", "-h", "127.0.0.1", "-p", str(self.pg_port), "-U", "postgres",
            "-d", database, "-Atc", sql,
        )  # fmt: skip
        return done.stdout

    def reset_database(self) -> None:
        self.psql(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)", database="postgres")
        self.psql(f"CREATE DATABASE {DATABASE}", database="postgres")

    # ---- Redis ----------------------------------------------------------------------------

    @property
    def _redis_pidfile(self) -> Path:
        return self.root / "redis.pid"

    def start_redis(self) -> None:
        self.kill_redis()  # one left by a run that was itself killed
        subprocess.run(
            ["redis-server", "--port", str(self.redis_port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no", "--daemonize", "yes",
             "--pidfile", str(self._redis_pidfile), "--dir", str(self.root),
             "--logfile", str(self.logs / "redis.log")],
            check=True,
        )  # fmt: skip
        _wait(self._redis_up, 10, "redis-server")

    def _redis_up(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.redis_port), timeout=0.5):
                return True
        except OSError:
            return False

    def kill_redis(self) -> None:
        """kill -9 of the private redis-server (found by its own pid file, never by name)."""
        try:
            pid = int(self._redis_pidfile.read_text())
        except (OSError, ValueError):
            return
        proc = psutil.Process(pid) if psutil.pid_exists(pid) else None
        # Ours runs in the run's root (--dir): a reused pid is never another Redis.
        if proc is not None and "redis-server" in proc.name() and proc.cwd() == str(self.root):
            proc.kill()
            proc.wait(10)
        self._redis_pidfile.unlink(missing_ok=True)

    # ---- the simulator, the workers and beat ----------------------------------------------

    def _spawn(self, name: str, args: list[str], env: dict[str, str]) -> subprocess.Popen:
        log = (self.logs / f"{name}.log").open("a")
        process = subprocess.Popen(
            args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        log.close()
        self.processes[name] = process
        return process

    def start_simulator(self, seed: int) -> None:
        self._spawn(
            "simulator",
            [sys.executable, "-m", "listening.simulator", "--port", str(self.sim_port),
             "--rate", "0", "--seed", str(seed), "--fault-sleep", str(self.fault_sleep)],
            {**os.environ, "PYTHONUNBUFFERED": "1"},
        )  # fmt: skip
        _wait(lambda: self._port_open(self.sim_port), 20, "the simulator")

    @staticmethod
    def _port_open(port: int) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            return False

    def start_worker(self, name: str) -> None:
        self.restarts[name] = self.restarts.get(name, -1) + 1
        self._spawn(
            f"worker-{name}",
            [sys.executable, "-m", "celery", "-A", "socialdesk", "worker",
             "--concurrency", str(self.concurrency), "--loglevel", "WARNING",
             "--hostname", f"chaos-{name}@%h", "--without-gossip", "--without-mingle"],
            self.env(f"chaos-worker-{name}"),
        )  # fmt: skip

    def start_beat(self) -> None:
        self._spawn(
            "beat",
            [sys.executable, "-m", "celery", "-A", "socialdesk", "beat", "--loglevel", "WARNING",
             "--schedule", str(self.root / "beat-schedule")],
            self.env("chaos-beat"),
        )  # fmt: skip

    def supervise(self) -> list[str]:
        """Start again any worker or beat that exited (as systemd would), or that logged an
        unrecoverable error and hangs (as a liveness probe would); their names."""
        again = []
        for name, process in list(self.processes.items()):
            if name == "simulator":
                continue
            if process.poll() is None:
                if not self._unrecoverable(name):
                    continue
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(10)
                self._log_seen[name] = (self.logs / f"{name}.log").stat().st_size
            if name.startswith("worker-"):
                self.start_worker(name.removeprefix("worker-"))
            else:
                self.restarts[name] = self.restarts.get(name, 0) + 1
                self.start_beat()
            again.append(name)
        return again

    def _unrecoverable(self, name: str) -> bool:
        log = self.logs / f"{name}.log"
        seen = self._log_seen.get(name, 0)
        with log.open("rb") as handle:
            handle.seek(seen)
            tail = handle.read()
        self._log_seen[name] = seen + len(tail)
        return b"Unrecoverable error" in tail

    def worker_child_on_port(self, port: int) -> tuple[str, psutil.Process] | None:
        """The worker child holding the TCP connection whose local port is `port`."""
        for name in WORKERS:
            for child in self.worker_children(name):
                try:
                    if any(c.laddr and c.laddr.port == port for c in child.net_connections("tcp")):
                        return name, child
                except psutil.Error:
                    continue
        return None

    def worker_children(self, name: str) -> list[psutil.Process]:
        process = self.processes.get(f"worker-{name}")
        if process is None or process.poll() is not None:
            return []
        try:
            return psutil.Process(process.pid).children()
        except psutil.NoSuchProcess:
            return []

    def signal_worker(self, name: str, signum: int) -> None:
        """A signal to the whole worker (main process and pool children): its process group."""
        process = self.processes[f"worker-{name}"]
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signum)

    def resume_worker(self, name: str, head_start: float = 2.0) -> None:
        """SIGCONT a stopped worker: its pool children first, the main process `head_start`
        seconds later. The main process enforces the task time limits with a timer; after a
        pause that timer can be late, and this makes it late on purpose, every time."""
        for child in self.worker_children(name):
            with contextlib.suppress(psutil.Error):
                child.resume()
        time.sleep(head_start)
        self.signal_worker(name, signal.SIGCONT)

    def stop(self) -> None:
        for process in self.processes.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGCONT)
                os.killpg(process.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(10)
        self.processes.clear()
        self.kill_redis()
        self.stop_postgres()
