"""A PostgreSQL server or a redis-server of a test's own, which the test may stop and start: the shared ones are
never stopped."""

from __future__ import annotations

import glob
import os
import pwd
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg
import redis

from tests.helpers.servers import free_port

START_SECONDS = 30
REDIS_SECONDS = 10  # a redis-server starts, and stops, well within this


def postgres_bindir() -> Path:
    """The newest installed PostgreSQL's bin directory (Debian's layout, else whatever `pg_config` names)."""
    candidates = glob.glob("/usr/lib/postgresql/*/bin/initdb")
    if candidates:
        newest = max(candidates, key=lambda path: [int(n) for n in re.findall(r"\d+", path)])
        return Path(newest).parent
    pg_config = shutil.which("pg_config")
    assert pg_config, "PostgreSQL's server binaries (initdb, pg_ctl) are not installed"
    bindir = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=True).stdout.strip()
    assert (Path(bindir) / "initdb").exists(), f"no initdb in {bindir}"
    return Path(bindir)


class PostgresCluster:
    """initdb + pg_ctl in a temporary directory, on a free port, trust auth for `postgres` on `host` only (and its
    unix socket), optionally run inside a network namespace (`netns`) that `host` lives in.

    PostgreSQL refuses to run as root, so as root every command runs as the `postgres` OS user, in a directory
    it owns outside pytest's tmp_path (whose parents are private to root).
    """

    def __init__(self, host: str = "127.0.0.1", netns: str | None = None) -> None:
        self.host = host
        self._in_netns = ["ip", "netns", "exec", netns] if netns else []
        self.bindir = postgres_bindir()
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="armada-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "postgres.log"
        self._as: list[str] = []
        if os.geteuid() == 0:
            owner = pwd.getpwnam("postgres")
            os.chown(self.root, owner.pw_uid, owner.pw_gid)
            self._as = ["runuser", "-u", "postgres", "--"]
        self.running = False

    def _run(self, *args: str, timeout: float = START_SECONDS) -> None:
        command = [*self._in_netns, *self._as, *args]
        done = subprocess.run(command, check=False, capture_output=True, text=True, timeout=timeout)
        output = f"{done.stdout[-2000:]}{done.stderr[-2000:]}\n{self.output()}"
        assert done.returncode == 0, f"{Path(args[0]).name} {args[-1]} failed:\n{output}"

    def output(self) -> str:
        """Its log, for a failure's message."""
        return self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""

    def init(self) -> None:
        """Create the cluster (a second or two)."""
        self._run(
            str(self.bindir / "initdb"),
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth=trust",
            "--encoding=UTF8",
            "--no-sync",
            "--no-instructions",
        )
        if self.host != "127.0.0.1":
            with (self.data / "pg_hba.conf").open("a") as hba:
                hba.write(f"host all all {self.host}/24 trust\n")

    def start(self) -> None:
        """Start it and wait until it accepts connections."""
        # fsync off: a test never survives an OS crash anyway, and a stop of any kind loses nothing committed.
        options = f"-p {self.port} -k {self.root} -c listen_addresses={self.host} -c fsync=off"
        self._run(
            str(self.bindir / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.log),
            "-o",
            options,
            "-w",
            "-t",
            str(START_SECONDS),
            "start",
        )
        self.running = True

    def stop(self, mode: str = "fast") -> None:
        """Stop it: `fast` ends every session (rolling back open transactions), `immediate` is a crash."""
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")
        self.running = False

    def url(self, database: str = "postgres") -> str:
        """The SQLAlchemy URL of one of its databases."""
        return f"postgresql+psycopg://postgres@{self.host}:{self.port}/{database}"

    def connect(self, database: str = "postgres") -> psycopg.Connection:
        """A direct connection (autocommit), for checking what the server really holds."""
        return psycopg.connect(f"postgresql://postgres@{self.host}:{self.port}/{database}", autocommit=True)

    def connect_local(self, database: str = "postgres") -> psycopg.Connection:
        """A direct connection over the unix socket (autocommit), which no network fault reaches."""
        return psycopg.connect(host=str(self.root), port=self.port, user="postgres", dbname=database, autocommit=True)

    def create_database(self, name: str) -> str:
        """A new empty database; its SQLAlchemy URL."""
        with self.connect() as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def close(self) -> None:
        """Stop it (if running) and delete everything it wrote."""
        try:
            if self.running:
                self.stop("immediate")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


class RedisProcess:
    """A redis-server of this test's own, on its own port: the shared one is never stopped."""

    def __init__(self, log: Path) -> None:
        self.port = free_port()
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Its URL, as REDIS_URL takes it."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start it (again, on the same port) and wait until it answers."""
        binary = shutil.which("redis-server")
        assert binary, "redis-server is not installed"
        args = ["--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        with self.log.open("ab") as sink:
            self.process = subprocess.Popen([binary, *args], stdout=sink, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + REDIS_SECONDS
        with redis.Redis.from_url(self.url, socket_connect_timeout=1) as client:
            while True:
                try:
                    client.ping()
                    return
                except redis.ConnectionError:
                    assert self.process.poll() is None, self.log.read_text(errors="replace")[-2000:]
                    assert time.monotonic() < deadline, "redis-server did not answer"
                    time.sleep(0.05)

    def stop(self) -> None:
        """Stop it, if it runs: refused connections from then on."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=REDIS_SECONDS)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=REDIS_SECONDS)
