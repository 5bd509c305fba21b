#!/usr/bin/env python3
"""The share of a burn during which each GPU has a kernel running, on gpugate-sim's timeline.

Reads the simulator's log (`gpugate-sim --log FILE`, one JSON object per line: launches, copies,
memsets, each with its `start` and `end` on the GPU's simulated timeline) and prints, per GPU:
the burn's span, from the first launch after the GPU's last copy to the device (the ring's
inputs and the kept first results are then in place: what comes before is opening the GPU,
its floors, tuning and preparation) to the end of its last launch; the time with a kernel
running in it (and how much of that the comparison's own kernels, `compare_*`, took); their
ratio; and what else the span holds (copies and memsets by kind, and the
time with nothing queued). Not part of the test suite: a measurement, run by hand.

    cargo build --release -p gpugate -p gpugate-sim
    target/release/gpugate-sim --log /tmp/burn.log --model M --model M -- \\
        target/release/gpugate burn --allow-simulated --duration 3s --interval 1s ...
    python3 sim/scripts/burn_busy_share.py /tmp/burn.log

Simulated runs are tests, never measurements of a GPU: the figure is the burn's own overhead
(copies and gaps it queues between kernels), not a GPU's speed.
"""

import argparse
import json
import sys
from collections import defaultdict


def read(path):
    by_gpu = defaultdict(list)
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            r = json.loads(line)
            if r.get("event") in ("launch", "copy", "memset") and "start" in r:
                if r.get("error"):
                    continue
                by_gpu[r["gpu"]].append(r)
    return by_gpu


def union(intervals):
    """Total length of the union of (start, end) intervals."""
    total, cur = 0.0, None
    for s, e in sorted(intervals):
        if cur is None or s > cur[1]:
            if cur is not None:
                total += cur[1] - cur[0]
            cur = [s, e]
        else:
            cur[1] = max(cur[1], e)
    if cur is not None:
        total += cur[1] - cur[0]
    return total


def share(records):
    records = sorted(records, key=lambda r: (r["start"], r["end"]))
    uploads = [r for r in records if r["event"] == "copy" and r.get("kind") == "htod"]
    after = uploads[-1]["end"] if uploads else float("-inf")
    launches = [r for r in records if r["event"] == "launch" and r["start"] >= after]
    if not launches:
        return None
    t0 = launches[0]["start"]
    t1 = max(r["end"] for r in launches)
    inside = [r for r in records if r["start"] >= t0 and r["end"] <= t1]
    busy = union([(r["start"], r["end"]) for r in inside if r["event"] == "launch"])
    checking = union(
        [
            (r["start"], r["end"])
            for r in inside
            if r["event"] == "launch" and r["kernel"].startswith("compare_")
        ]
    )
    queued = union([(r["start"], r["end"]) for r in inside])
    other = defaultdict(lambda: [0, 0.0])
    for r in inside:
        if r["event"] != "launch":
            key = r["event"] + ("" if r["event"] == "memset" else " " + r.get("kind", "?"))
            other[key][0] += 1
            other[key][1] += r["end"] - r["start"]
    return {
        "span_s": t1 - t0,
        "kernel_s": busy,
        "compare_s": checking,
        "share": busy / (t1 - t0) if t1 > t0 else 1.0,
        "launches": sum(1 for r in inside if r["event"] == "launch"),
        "idle_s": (t1 - t0) - queued,
        "other": dict(other),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("log", help="the simulator's log (gpugate-sim --log FILE)")
    args = ap.parse_args()
    by_gpu = read(args.log)
    if not by_gpu:
        sys.exit(f"{args.log}: no launch or copy records")
    for gpu in sorted(by_gpu):
        s = share(by_gpu[gpu])
        if s is None:
            print(f"gpu{gpu}: no launch after its last copy to the device")
            continue
        print(
            f"gpu{gpu}: kernels {100 * s['share']:.2f} % of the burn "
            f"({1e3 * s['kernel_s']:.2f} ms of a {1e3 * s['span_s']:.2f} ms span, "
            f"{s['launches']} launches; nothing queued {1e3 * s['idle_s']:.3f} ms)"
        )
        print(
            f"  of which the comparison's kernels (compare_*): {1e3 * s['compare_s']:.3f} ms "
            f"({100 * s['compare_s'] / s['span_s']:.2f} % of the span)"
        )
        for what, (n, secs) in sorted(s["other"].items()):
            print(f"  {what}: {n} x, {1e3 * secs:.3f} ms")


if __name__ == "__main__":
    main()
