"""A throw-away MariaDB on 127.0.0.1: a temporary data dir, a free port, stopped with its process group.

Debian's ``mariadb-server`` provides ``mariadb-install-db`` and ``mariadbd``
(``sudo apt-get install -y mariadb-server``; override with ``MARIADB_BIN`` /
``MARIADB_INSTALL_DB_BIN``). The server runs as the current user; as root, ``--user=root``
is passed because mariadbd refuses to run as root otherwise. Nothing listens beyond
127.0.0.1, and the data dir is deleted by :meth:`MariaDBServer.stop` unless ``keep_data``.

>>> server = MariaDBServer(Path("/tmp/x"))   # doctest: +SKIP
>>> server.start().create_database("tickets")  # doctest: +SKIP
'mysql+pymysql://vigilante:...@127.0.0.1:PORT/tickets'
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from pathlib import Path

from scripts.harness.binaries import Binary, find_binary
from scripts.harness.process import ManagedProcess, free_port, refuse_second_start

MARIADBD = Binary("MARIADB_BIN", ("mariadbd", "mysqld"), "mariadb-server")
MARIADB_INSTALL_DB = Binary("MARIADB_INSTALL_DB_BIN", ("mariadb-install-db", "mysql_install_db"), "mariadb-server")

# mariadbd lives in /usr/sbin, which a non-login PATH may lack.
_SBIN_PATH = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/usr/local/sbin"])


def _find(binary: Binary) -> str:
    return find_binary(binary, env={**os.environ, "PATH": _SBIN_PATH})


class MariaDBServer:
    """Run MariaDB with a fresh data dir under ``workdir`` until :meth:`stop`.

    :meth:`create_database` makes a database and a password user allowed on it from
    127.0.0.1, and returns the SQLAlchemy URL (``mysql+pymysql://``) to reach it.
    """

    def __init__(self, workdir: Path, port: int | None = None, keep_data: bool = False):
        self.workdir = Path(workdir)
        self.datadir = self.workdir / "data"
        self.socket = self.workdir / "mariadb.sock"
        self.port = port or free_port()
        self.keep_data = keep_data
        self.process: ManagedProcess | None = None
        self.user = "vigilante"
        self.password = secrets.token_hex(12)

    def start(self, timeout: float = 60.0) -> "MariaDBServer":
        refuse_second_start(self.process, "mariadbd")
        self.workdir.mkdir(parents=True, exist_ok=True)
        as_root = ["--user=root"] if os.geteuid() == 0 else []
        if not (self.datadir / "mysql").is_dir():
            result = subprocess.run(
                [_find(MARIADB_INSTALL_DB), "--no-defaults", f"--datadir={self.datadir}",
                 "--auth-root-authentication-method=normal", "--skip-test-db", *as_root],
                capture_output=True, text=True, timeout=timeout,
            )
            if result.returncode != 0:
                raise RuntimeError(f"mariadb-install-db failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
        argv = [
            _find(MARIADBD), "--no-defaults", f"--datadir={self.datadir}", f"--socket={self.socket}",
            f"--port={self.port}", "--bind-address=127.0.0.1", f"--pid-file={self.workdir / 'mariadb.pid'}",
            "--skip-name-resolve", "--skip-log-bin", "--innodb-buffer-pool-size=64M",
            # Throw-away data: durability on every commit would only slow the tests down.
            "--innodb-flush-log-at-trx-commit=2", "--max-connections=200", *as_root,
        ]
        self.process = ManagedProcess("mariadbd", argv, self.workdir / "mariadb.log").start()
        self.process.wait_ready(self._answers, timeout, f"to accept connections on {self.socket}")
        return self

    def _answers(self) -> bool:
        connection = self.admin_connection()
        connection.close()
        return True

    def admin_connection(self):
        """A PyMySQL connection as root over the unix socket."""
        import pymysql

        return pymysql.connect(unix_socket=str(self.socket), user="root", password="", connect_timeout=2)

    def create_database(self, name: str) -> str:
        """Create database ``name`` (dropping an old one) and return its SQLAlchemy URL."""
        connection = self.admin_connection()
        try:
            with connection.cursor() as cursor:
                cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")
                cursor.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
                cursor.execute(f"CREATE USER IF NOT EXISTS '{self.user}'@'127.0.0.1' IDENTIFIED BY '{self.password}'")
                cursor.execute(f"GRANT ALL PRIVILEGES ON `{name}`.* TO '{self.user}'@'127.0.0.1'")
            connection.commit()
        finally:
            connection.close()
        return self.url(name)

    def url(self, database: str) -> str:
        return f"mysql+pymysql://{self.user}:{self.password}@127.0.0.1:{self.port}/{database}"

    def stop(self) -> None:
        if self.process:
            self.process.stop(timeout=20)
            self.process = None
        if not self.keep_data:
            shutil.rmtree(self.datadir, ignore_errors=True)
