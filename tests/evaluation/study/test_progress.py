"""The study's progress line (issue 30): jobs done of planned, elapsed, time left, printed while
a study's commands run (our glue: the commands here are small Python scripts, not sweeps)."""

from __future__ import annotations

import logging
import sys
import textwrap
from pathlib import Path

from evaluation.study import plan
from evaluation.study.plan import Study, run_study
from evaluation.study.processes import run_command
from evaluation.study.progress import Progress, clock


def test_the_line_states_jobs_elapsed_and_the_time_left_at_this_calls_pace():
    done, t = [5], [100.0]
    p = Progress("null", Path("unused"), 20, count=lambda: done[0], now=lambda: t[0])
    assert p.line() == ("findings: study null: 5/20 jobs done (5 before this call), 0s "
                        "elapsed, time left unknown until a job ends")  # fmt: skip
    done[0], t[0] = 8, 160.0  # 3 jobs in 60 s: 20 s a job, 12 to go
    assert p.line().endswith("8/20 jobs done (5 before this call), 1m00s elapsed, about "
                             "4m00s left")  # fmt: skip
    done[0], t[0] = 25, 3900.0  # more complete runs than planned (an earlier, larger call)
    assert p.line().endswith("20/20 jobs done (5 before this call), 1h03m elapsed, none left")
    assert clock(59.6) == "1m00s" and clock(3599) == "59m59s" and clock(-3) == "0s"


def test_run_command_ticks_while_the_command_runs_and_returns_its_status():
    ticks = []
    code = run_command([sys.executable, "-c", "import time, sys; time.sleep(1.0); sys.exit(3)"],
                       tick=lambda: ticks.append(1), every_s=0.2)  # fmt: skip
    assert code == 3 and 2 <= len(ticks) <= 6


#: A stand-in for a sweep: writes a complete run every 0.3 s, then a failed one.
SWEEP = textwrap.dedent("""
    import json, sys, time
    from pathlib import Path
    out = Path(sys.argv[1])
    for i in range(3):
        time.sleep(0.3)
        (out / f"job{i}").mkdir(parents=True)
        (out / f"job{i}" / "metrics.json").write_text(json.dumps({"status": "complete"}))
    (out / "bad").mkdir()
    (out / "bad" / "metrics.json").write_text(json.dumps({"status": "failed"}))
""")


def test_run_study_logs_progress_from_the_complete_runs_on_disk(tmp_path, monkeypatch, caplog):
    script = tmp_path / "sweep.py"
    script.write_text(SWEEP)
    sweep_dir = tmp_path / "runs" / "w"
    monkeypatch.setattr(plan, "commands", lambda *a: [[sys.executable, str(script),
                                                       str(sweep_dir)]])  # fmt: skip
    monkeypatch.setattr(plan, "planned_jobs", lambda cmd: 4)
    monkeypatch.setattr(plan, "EVERY_S", 0.25)
    with caplog.at_level(logging.INFO, logger="ppl_compare.findings"):
        ran = run_study(Study("w", "W", "evidence"), sweep_dir)
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("findings:")]
    assert ran.return_codes == [0]
    assert lines[0].startswith("findings: study w: 0/4 jobs done, 0s elapsed")
    assert len(lines) >= 4  # the first, some while it ran, the last
    assert lines[-1].startswith("findings: study w: 3/4 jobs done")  # the failed run is not done
    assert lines[-1].endswith("left") and "about" in lines[-1]
