"""Two graph workers (processes) on one PostgreSQL database, a worker killed mid-turn and the database restarted
mid-run: every turn lands exactly once, in order, never interleaved, counted from the database. A small run
of evals/bench_workers.py (its full run: 200 turns, 5 kills; see the README); fake backend, as it is about
races and failures."""

from __future__ import annotations

from evals import bench_workers


def test_two_workers_with_a_kill_and_a_database_restart_lose_and_duplicate_nothing(postgres):
    url = postgres.create_database()
    result = bench_workers.run(url, workers=2, threads=4, turns=4, kills=1, restarts=1, concurrency=3,
                               restart=postgres.restart, deadline=400)
    assert result["kills"] == 1 and result["restarts"] == 1
    assert result["completed"] == 16
    assert (result["lost"], result["duplicated"], result["interleaved"]) == (0, 0, 0), result
    assert set(result["per_worker"]) >= {"w0", "w1"}  # both workers took turns
