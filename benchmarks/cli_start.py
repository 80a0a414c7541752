"""Start-up time of the catalog commands, against the bare interpreter (the reference: nothing can start faster).

The catalog commands (`--version`, `list`, `show`, `bib`, `graph`, `authors`) must not import torch: each should
answer in under half a second. The script runs each several times as a fresh process and reports the median,
the median of `python -c pass` beside it, and whether the command stays under the bar.
"""

import argparse
import statistics
import subprocess
import sys
import time

COMMANDS = [["--version"], ["list"], ["show", "lecun1989"], ["show", "hochreiter1997"], ["bib", "lecun1989"],
            ["graph"], ["authors"]]
BAR_S = 0.5


def timed(argv: list[str], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeats", type=int, default=5, help="runs per command (the median is reported)")
    a = ap.parse_args()
    bare = timed([sys.executable, "-c", "pass"], a.repeats)
    print(f"{'command':32s} {'median':>8s} {'over bare python':>17s}  under {BAR_S} s")
    print(f"{'python -c pass':32s} {bare:7.3f}s {'':>17s}")
    slow = 0
    for cmd in COMMANDS:
        t = timed([sys.executable, "-m", "dlcanon", *cmd], a.repeats)
        ok = t < BAR_S
        slow += not ok
        print(f"{'dlcanon ' + ' '.join(cmd):32s} {t:7.3f}s {t - bare:16.3f}s  {'yes' if ok else 'NO'}")
    torch_free = subprocess.run([sys.executable, "-c", "import sys; sys.argv=['dlcanon','list'];"
                                 "from dlcanon.cli import main; main(); assert 'torch' not in sys.modules"],
                                stdout=subprocess.DEVNULL)
    print(f"`dlcanon list` imports torch: {'no' if torch_free.returncode == 0 else 'YES'}")
    return 1 if slow or torch_free.returncode else 0


if __name__ == "__main__":
    sys.exit(main())
