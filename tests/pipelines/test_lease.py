"""One writer per output (pipelines/lease.py): the local flock, and the gs:// lease against a
Cloud Storage server on 127.0.0.1 that honours generation preconditions (tests/support/gcs.py)."""

import json
import os
import subprocess
import sys
import threading
import time

import pytest

from pipelines import lease
from tests.support.cli import read_table
from tests.support.gcs import FakeGcs
from tests.support.paths import REPO

# ---------------------------------------------------------------- one writer at a time

HOLD = """
import sys, time
from pipelines import lease
with lease.hold_lease(sys.argv[1], "holder-run"):
    print("held", flush=True)
    time.sleep(60)
"""


def start_holder(root):
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(root)], cwd=REPO, stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    return holder


def test_a_second_writer_is_refused_then_takes_over_when_the_holder_dies(tmp_path):
    holder = start_holder(tmp_path)
    try:
        with pytest.raises(lease.LeaseHeld, match=r"run holder-run \(pid \d+ on .*\)"):
            with lease.hold_lease(str(tmp_path), "second"):
                pass
    finally:
        holder.kill()  # kill -9: the operating system releases the lock
        holder.wait()
    with lease.hold_lease(str(tmp_path), "second", wait_s=5):
        assert "second" in (tmp_path / "_state" / "lease").read_text()


def test_a_waiting_writer_starts_when_the_holder_finishes(tmp_path):
    holder = start_holder(tmp_path)
    threading.Timer(1.0, holder.kill).start()
    started = time.monotonic()
    with lease.hold_lease(str(tmp_path), "patient", wait_s=30, poll_s=0.1):
        assert time.monotonic() - started >= 0.9
    holder.wait()


def test_two_cli_runs_at_once_write_each_row_once(tmp_path):
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    cli = [sys.executable, "-m", "pipelines.cli", "--output", str(out)]
    first = subprocess.Popen([*cli, "--sample"], cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lease = out / "_state" / "lease"
    deadline = time.monotonic() + 60
    while not (lease.exists() and lease.read_text()) and time.monotonic() < deadline:
        time.sleep(0.05)
    refused = subprocess.run([*cli, "--sample"], cwd=REPO, env=env, capture_output=True, text=True)
    # one site of the sample (3 of its pages): the same rows again if the run did not wait its turn
    some = REPO / "pipelines" / "sample" / "pages" / "metrowire.example"
    waited = subprocess.run([*cli, "--input", str(some), "--wait"], cwd=REPO, env=env, capture_output=True, text=True)
    assert first.wait() == 0
    assert refused.returncode == 2 and "is being written by run" in refused.stderr and "--wait" in refused.stderr
    assert waited.returncode == 0 and "articles 0, stories 0" in waited.stdout
    articles = read_table(out, "articles").column("article_id").to_pylist()
    assert len(articles) == len(set(articles)) == 35


# ---------------------------------------------------------------- gs:// outputs


@pytest.fixture
def gcs(monkeypatch):
    server = FakeGcs()
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", server.host)
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "newsbeam-test")
    yield server
    server.close()


ROOT = "gs://news-bucket/out"
FAST = {"heartbeat_s": 0.2, "stale_s": 1.0, "poll_s": 0.05}


def holder_of(gcs) -> str:
    return json.loads(gcs.objects[("news-bucket", "out/_state/lease")][2])["run_id"]


def test_gcs_lease_is_exclusive_renewed_and_released(gcs):
    with lease.hold_lease(ROOT, "first", **FAST) as held:
        generation = gcs.objects[("news-bucket", "out/_state/lease")][0]
        with pytest.raises(lease.LeaseHeld, match=r"run first \(pid \d+ on .*\): wait for it"):
            with lease.hold_lease(ROOT, "second", **FAST):
                pass
        time.sleep(0.7)
        assert gcs.objects[("news-bucket", "out/_state/lease")][0] > generation  # heartbeats rewrote it
        held.check()
        assert holder_of(gcs) == "first"
    assert gcs.objects == {}  # released


def test_gcs_lease_of_a_dead_run_is_taken_over_by_one_waiter(gcs):
    dead = lease.GcsLease(ROOT, "dead", heartbeat_s=3600, stale_s=1.0)  # never beats: as if killed
    dead.acquire(wait_s=0, poll_s=0.05)
    winners, errors = [], []

    def wait_for_it(run_id):
        try:
            with lease.hold_lease(ROOT, run_id, wait_s=0.5, **{**FAST, "stale_s": 1.0}):
                winners.append(run_id)
                time.sleep(1.5)
        except lease.LeaseHeld as exc:
            errors.append(str(exc))

    wait_for_it("early")  # within the heartbeat window: the holder may be alive
    assert winners == [] and "run dead" in errors.pop()
    time.sleep(1.1)  # the dead run's lease is now stale
    waiters = [threading.Thread(target=wait_for_it, args=(f"waiter{i}",)) for i in range(2)]
    for thread in waiters:
        thread.start()
    for thread in waiters:
        thread.join()
    assert len(winners) == 1 and len(errors) == 1 and "waiter" in errors[0]
    with pytest.raises(lease.LeaseLost, match="run dead's"):
        dead.check()  # the dead run, had it come back, could not commit
    dead.release()


def test_a_holder_that_lost_its_lease_cannot_commit(gcs):
    with lease.hold_lease(ROOT, "slow", **FAST) as held:
        key = ("news-bucket", "out/_state/lease")
        generation, updated, _ = gcs.objects[key]
        gcs.objects[key] = (generation + 10**6, updated, json.dumps({"run_id": "thief"}).encode())  # taken over
        time.sleep(0.5)
        with pytest.raises(lease.LeaseLost, match="taken over by another run"):
            held.check()
    assert holder_of(gcs) == "thief"  # its release leaves the new holder's lease alone
