"""What every benchmark needs: databases, seeded users and rooms, pinned server processes, the Node load
generator, process statistics and the results folder."""

from __future__ import annotations

import json
import os
import platform
import resource
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.helpers.servers import ROOT, SECRETS, Server, base_env, free_port, migrate, procfile_line, serve_process
from tests.helpers.support import postgres_database

BENCH = ROOT / "bench"
NODE = BENCH / "node"
RESULTS = BENCH / "results"
PG_URL = os.environ.get("ARMADA_BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("ARMADA_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
# The server gets core 0 and the load generator core 1, so neither steals the other's CPU; PostgreSQL and
# Redis float (the machine has two cores).
SERVER_CPUS = os.environ.get("ARMADA_BENCH_SERVER_CPUS", "0")
LOAD_CPUS = os.environ.get("ARMADA_BENCH_LOAD_CPUS", "1")
FILE_LIMIT = 1_048_576
PASSWORD = "bench password 1"


def raise_file_limit() -> int:
    """Lift this process's (and so its children's) open-file limit as far as the kernel allows."""
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    for target in (FILE_LIMIT, hard):
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, max(target, hard) if target == FILE_LIMIT else hard))
            break
        except (ValueError, OSError):  # not root: the hard limit is as high as we may go
            continue
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def pinned(command: list[str], cpus: str | None) -> list[str]:
    return ["taskset", "-c", cpus, *command] if cpus else command


# ---- databases and seed data --------------------------------------------------------------------------------


@contextmanager
def database(kind: str, scratch: Path, name: str) -> Iterator[str]:
    """A new, migrated database: PostgreSQL (`postgres`) or a SQLite file (`sqlite`); dropped afterwards."""
    holder = (
        postgres_database(PG_URL, f"armada_bench_{name}_{uuid.uuid4().hex[:8]}")
        if kind == "postgres"
        else nullcontext(f"sqlite:///{scratch / f'{name}.db'}")
    )
    with holder as url:
        migrate(url)
        yield url


@dataclass(frozen=True)
class SeedUser:
    id: str
    token: str


class Seeder:
    """Users, rooms and tokens made through Armada's own services, in this process, against a database that
    servers started by `armada_servers` share (same secrets, so the tokens work there)."""

    def __init__(self, database_url: str) -> None:
        os.environ.update(SECRETS)
        from armada import create_app
        from config import ProductionConfig

        self.app = create_app(ProductionConfig({**SECRETS, "DATABASE_URL": database_url}))

    def users(self, count: int, prefix: str = "u") -> list[SeedUser]:
        """`count` users with access tokens; one password hash is shared, since hashing is not what we measure."""
        from werkzeug.security import generate_password_hash

        from armada.auth.tokens import issue_tokens
        from armada.extensions import db
        from armada.models import User

        with self.app.app_context():
            hashed = generate_password_hash(PASSWORD, method=self.app.config["PASSWORD_HASH_METHOD"])
            tag = uuid.uuid4().hex[:6]
            made = [
                User(email=f"{prefix}{i}-{tag}@bench.example", password_hash=hashed, display_name=f"{prefix}{i}")
                for i in range(count)
            ]
            db.session.add_all(made)
            db.session.commit()
            # Access tokens that outlive any run (the default 15 minutes could expire mid-soak).
            with self._long_tokens():
                return [SeedUser(str(u.id), issue_tokens(u)["access_token"]) for u in made]

    @contextmanager
    def _long_tokens(self) -> Iterator[None]:
        from datetime import timedelta

        saved = self.app.config["JWT_ACCESS_TOKEN_EXPIRES"]
        self.app.config["JWT_ACCESS_TOKEN_EXPIRES"] = timedelta(hours=6)
        try:
            yield
        finally:
            self.app.config["JWT_ACCESS_TOKEN_EXPIRES"] = saved

    def group(self, owner: SeedUser, members: list[SeedUser], name: str = "bench") -> str:
        """A group room of `owner` and `members` (through the create_room service); its id."""
        from armada.chat.rooms import create_room
        from armada.extensions import db
        from armada.models import RoomType, User

        with self.app.app_context():
            user = db.session.get(User, uuid.UUID(owner.id))
            ids = [uuid.UUID(m.id) for m in members]
            room, _ = create_room(user, RoomType.GROUP, ids, name=name)
            return str(room.id)


# ---- processes ----------------------------------------------------------------------------------------------


def children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except FileNotFoundError:
        return []


def rss_bytes(pid: int) -> int:
    """Resident memory of one process."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Running:
    """A server under test: its URL and the pid that does the work (gunicorn's worker, or node)."""

    server: Server
    worker_pid: int

    @property
    def url(self) -> str:
        return self.server.url


def _worker_of(server: Server, gunicorn: bool) -> int:
    if not gunicorn:
        return server.process.pid
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if kids := children(server.process.pid):
            return kids[0]
        time.sleep(0.05)
    raise RuntimeError("gunicorn started no worker")


@contextmanager
def armada_servers(
    database_url: str, log_dir: Path, count: int = 1, redis: bool = False, cpus: str | None = SERVER_CPUS, **env: str
) -> Iterator[list[Running]]:
    """`count` processes of the Procfile's web line (gevent, one worker each) on one database; with `redis`,
    sharing a fresh Redis channel, as a multi-instance deployment does."""
    # Rate limits off unless a scenario asks: the benchmarks measure capacity, far above one user's limits.
    extra = {**SECRETS, "DATABASE_URL": database_url, "RATE_LIMIT_ENABLED": "false", **env}
    if redis:
        extra |= {"REDIS_URL": REDIS_URL, "REDIS_CHANNEL": f"armada-bench-{uuid.uuid4().hex[:8]}"}
    with ExitStack() as stack:
        running = []
        for i in range(count):
            port = free_port()
            command = pinned(["sh", "-c", procfile_line("web")], cpus)
            # The production line as is, request log included; its output goes to the log file.
            server = stack.enter_context(
                serve_process(command, base_env(PORT=str(port), **extra), port, log_dir / f"armada-{i}.log")
            )
            running.append(Running(server, _worker_of(server, gunicorn=True)))
        yield running


@contextmanager
def node_servers(
    log_dir: Path, count: int = 1, redis: bool = False, cpus: str | None = SERVER_CPUS
) -> Iterator[list[Running]]:
    """`count` processes of the Node socket.io peer (bench/node/peer.js), with the Redis adapter if `redis`."""
    with ExitStack() as stack:
        running = []
        channel = f"peer-bench-{uuid.uuid4().hex[:8]}"
        for i in range(count):
            port = free_port()
            env = base_env(PORT=str(port))
            if redis:
                env |= {"REDIS_URL": REDIS_URL, "REDIS_CHANNEL": channel}
            command = pinned(["node", str(NODE / "peer.js")], cpus)
            server = stack.enter_context(serve_process(command, env, port, log_dir / f"peer-{i}.log"))
            running.append(Running(server, _worker_of(server, gunicorn=False)))
        yield running


# ---- the load generator ---------------------------------------------------------------------------------------


class LoadGen:
    """bench/node/loadgen.js on the load cores; config in, JSON lines out (`step` lines, then the result)."""

    def __init__(self, config: dict[str, Any], cpus: str | None = LOAD_CPUS) -> None:
        self.process = subprocess.Popen(
            pinned(["node", "--max-old-space-size=8192", str(NODE / "loadgen.js")], cpus),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=sys.stderr,
            text=True,
            bufsize=1,
        )
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(config) + "\n")
        self.process.stdin.flush()

    def lines(self) -> Iterator[dict[str, Any]]:
        """Every JSON line the generator prints, until it exits."""
        assert self.process.stdout is not None
        for line in self.process.stdout:
            if line.strip():
                yield json.loads(line)
        if self.process.wait() != 0:
            raise RuntimeError(f"loadgen exited with {self.process.returncode}")

    def proceed(self) -> None:
        """Let a generator waiting after a `step` line go on."""
        assert self.process.stdin is not None
        self.process.stdin.write("go\n")
        self.process.stdin.flush()

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def run_load(config: dict[str, Any]) -> dict[str, Any]:
    """Run the generator to the end; its last line is the result."""
    gen = LoadGen(config)
    try:
        for line in gen.lines():
            if "error" in line:
                raise RuntimeError(f"loadgen: {line['error']}")
            if "result" in line:
                return dict(line["result"])
        raise RuntimeError("loadgen printed no result")
    finally:
        gen.close()


# ---- results ------------------------------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""

    def version(command: list[str]) -> str:
        try:
            return subprocess.run(command, capture_output=True, text=True, timeout=10).stdout.strip().splitlines()[0]
        except (OSError, IndexError):
            return "unknown"

    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if "model name" in line
        ),
        platform.processor(),
    )
    from importlib.metadata import version as pkg

    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "node": version(["node", "--version"]),
        "postgresql": version(["psql", "--version"]),
        "redis": version(["redis-server", "--version"]),
        "packages": {
            name: pkg(name)
            for name in (
                "Flask",
                "Flask-SocketIO",
                "python-socketio",
                "python-engineio",
                "gevent",
                "gunicorn",
                "SQLAlchemy",
                "psycopg",
                "redis",
                "simple-websocket",
            )
        },
        "node_packages": {
            name: node_package(name) for name in ("socket.io", "socket.io-client", "@socket.io/redis-adapter")
        },
    }


def node_package(name: str) -> str:
    """The installed version of a package of bench/node ("not installed": a scenario that runs no Node needs none)."""
    manifest = NODE / "node_modules" / name / "package.json"
    return json.loads(manifest.read_text())["version"] if manifest.exists() else "not installed"


def save(name: str, data: dict[str, Any]) -> Path:
    """Write bench/results/<name>.json."""
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps({"measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **data}, indent=1))
    return path


# ---- topologies and the deliver workload ----------------------------------------------------------------------

Room = tuple[str, list[SeedUser]]  # a room id and its members


@contextmanager
def topology(
    name: str, database_url: str, log_dir: Path, cpus: str | None = SERVER_CPUS, **env: str
) -> Iterator[list[Running]]:
    """`armada-1`, `armada-2` (Redis), `node-1`, `node-2` (Redis adapter): the servers one scenario runs on."""
    kind, _, count = name.partition("-")
    n = int(count or 1)
    if kind == "armada":
        with armada_servers(database_url, log_dir, count=n, redis=n > 1, cpus=cpus, **env) as running:
            yield running
    else:
        with node_servers(log_dir, count=n, redis=n > 1, cpus=cpus) as running:
            yield running


def rooms_of(seeder: Seeder, users: list[SeedUser], size: int, count: int) -> list[Room]:
    """`count` group rooms of `size` members each, taken from `users` in turn (wrapping around)."""
    rooms = []
    for r in range(count):
        members = [users[(r * size + i) % len(users)] for i in range(size)]
        rooms.append((seeder.group(members[0], members[1:], name=f"bench {size}/{r}"), members))
    return rooms


def deliver_config(
    servers: list[Running], rooms: list[Room], rate: float, duration: float, receivers: bool = True, **extra: Any
) -> dict[str, Any]:
    """A `deliver` run: every member of every room listens on its own socket (spread over the servers), and
    a few members of each room take turns sending (spread over the servers too)."""
    urls = [s.url for s in servers]
    listeners = [
        {"url": urls[(r + i) % len(urls)], "token": m.token, "room_id": room}
        for r, (room, members) in enumerate(rooms)
        for i, m in enumerate(members)
    ]
    pairs = [(room, m.token) for i in range(3) for room, members in rooms for m in members[i : i + 1]]
    return {
        "mode": "deliver",
        "rate": rate,
        "duration": duration,
        "receivers": listeners if receivers else [],
        "senders": {"urls": urls, "rooms": [p[0] for p in pairs], "tokens": [p[1] for p in pairs]},
        **extra,
    }
