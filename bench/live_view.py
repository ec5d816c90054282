"""Live view cost: a 1000-agent sim run drawing the live view to a pseudo-terminal vs --quiet.

    python -m bench.live_view [--agents 1000] [--latency 0.01] [--repeat 3] [--json]

Both variants run as whole ``jshost run`` processes, alternately, in a fresh data dir; the
figure is the run's own elapsed time as the store records it (start-up excluded), median
of the repeats, and the ratio live ÷ quiet. Target: ≤ 1.05.
"""

from __future__ import annotations

import argparse
import json
import os
import pty
import statistics
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

SCRIPT = """\
export const meta = {{
  name: 'bench-live', description: 'many sim agents',
  phases: [{{ title: 'Scan' }}, {{ title: 'Check' }}],
}}
phase('Scan')
const a = await parallel(Array.from({{ length: {half} }}, (_, i) => () =>
  agent('scan ' + i, {{ label: 'scan ' + i, model: 'haiku' }})))
log('scanned ' + a.length)
phase('Check')
const b = await parallel(a.map((r, i) => () => agent('check ' + i, {{ label: 'check ' + i }})))
return b.length
"""


def _drain(fd: int) -> None:
    try:
        while os.read(fd, 65536):
            pass
    except OSError:
        pass


def run_once(home: Path, script: Path, latency: float, live: bool) -> float:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "JSHOST_"))}
    env.update(JSHOST_HOME=str(home), COLUMNS="100", LINES="40", TERM="xterm-256color")
    cmd = [sys.executable, "-m", "jshost", "run", str(script), "--yes", "--sim-latency",
           str(latency)]  # fmt: skip
    if live:
        master, slave = pty.openpty()
        reader = threading.Thread(target=_drain, args=(master,), daemon=True)
        reader.start()
        proc = subprocess.run([*cmd, "--live"], env=env, stdout=subprocess.PIPE, stderr=slave)
        os.close(slave)
        reader.join(5)
        os.close(master)
    else:
        proc = subprocess.run([*cmd, "--quiet"], env=env, capture_output=True)
    if proc.returncode != 0:
        raise SystemExit(f"bench run failed ({proc.returncode})")
    out = subprocess.run(
        [sys.executable, "-m", "jshost", "runs", "--json", "-n", "1"],
        env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return float(json.loads(out.stdout)[0]["elapsed_s"])


def measure(agents: int = 1000, latency: float = 0.01, repeat: int = 3) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="jshost-bench-") as tmp:
        home = Path(tmp) / "home"
        script = Path(tmp) / "live.js"
        script.write_text(SCRIPT.format(half=agents // 2))
        quiet, live = [], []
        for _ in range(repeat):
            quiet.append(run_once(home, script, latency, live=False))
            live.append(run_once(home, script, latency, live=True))
    q, lv = statistics.median(quiet), statistics.median(live)
    return {"agents": agents, "latency_s": latency, "quiet_s": q, "live_s": lv, "ratio": lv / q}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=1000)
    parser.add_argument("--latency", type=float, default=0.01)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    figures = measure(args.agents, args.latency, args.repeat)
    if args.json:
        print(json.dumps(figures))
        return
    print(
        f"live view cost, {figures['agents']} sim agents at {figures['latency_s']:g} s: "
        f"quiet {figures['quiet_s']:.3f} s, live {figures['live_s']:.3f} s, "
        f"ratio {figures['ratio']:.3f} (target ≤ 1.05)"
    )


if __name__ == "__main__":
    main()
