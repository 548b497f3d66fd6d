"""Find gunicorn's worker processes: the live children of its master process (Linux ``/proc``)."""

from __future__ import annotations

from pathlib import Path

from scripts.harness import wait_until


def _parent_and_state(stat: str) -> tuple[int, str]:
    """The parent pid and the state letter from a ``/proc/<pid>/stat`` line.

    The command name is in parentheses and may itself hold spaces or ')', hence the last ')'.

    >>> _parent_and_state("42 (gunicorn: worker [a) b]) S 7 42 42 0")
    (7, 'S')
    """
    state, parent = stat.rsplit(")", 1)[1].split()[:2]
    return int(parent), state


def worker_pids(master_pid: int) -> list[int]:
    """The pids of the master's live children, sorted; a killed worker not yet reaped (a zombie) is not one."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent, state = _parent_and_state(stat.read_text())
        except (OSError, ValueError):  # the process ended while we looked
            continue
        if parent == master_pid and state != "Z":
            found.append(int(stat.parent.name))
    return sorted(found)


def wait_for_workers(master_pid: int, count: int, timeout: float = 20.0, without: tuple[int, ...] = ()) -> list[int]:
    """Wait until the master has exactly ``count`` workers, none of them in ``without``; return their pids.

    Raises TimeoutError (naming what was awaited) after ``timeout`` seconds.
    """
    def ready() -> list[int] | None:
        pids = worker_pids(master_pid)
        return pids if len(pids) == count and not set(pids) & set(without) else None

    return wait_until(ready, timeout, f"{count} gunicorn workers of pid {master_pid}"
                      + (f" other than {list(without)}" if without else ""))
