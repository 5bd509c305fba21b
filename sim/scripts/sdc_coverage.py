#!/usr/bin/env python3
"""SDC coverage of gpugate's verification, measured on gpugate-sim.

For FP32 and FP64 GEMM and for the f32 and f64 stream triad, flips each bit position of one
stored result in turn (the simulator's `sdc=KERNEL@BIT` fault: in every launch of those kernels,
bit BIT of the first element block (0,0,0) stores) and records whether gpugate's verification of
that workload caught it, with its largest error over the tolerance (the number in brackets:
above 1 fails). Not part of the test suite: run it
once, by hand, and copy the table into the README.

    cargo build --release -p gpugate -p gpugate-sim
    python3 sim/scripts/sdc_coverage.py [--target-dir target/release] [--out table.md]

One gpugate run per bit position (64 runs of `--level quick --gemm-sizes 256 --stream-mib 1` on a
simulated M40; the sdc faults of all four kernels at once, where the bit exists in the type).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

WORKLOADS = [
    # (column, kernel-name substring for the fault, workload id in run.json, bits of the type)
    ("SGEMM (f32)", "sgemm_f32", "gpu0.sgemm.256x256x256", 32),
    ("DGEMM (f64)", "dgemm_f64", "gpu0.dgemm.256x256x256", 64),
    ("triad f32", "stream_triad_f32", "gpu0.stream.triad.f32", 32),
    ("triad f64", "stream_triad_f64", "gpu0.stream.triad.f64", 64),
]


def field(bits, b):
    """Which field of an IEEE float bit b is in."""
    mant = 23 if bits == 32 else 52
    if b < mant:
        return "mantissa"
    if b < bits - 1:
        return "exponent"
    return "sign"


def run(sim, gpugate, faults, out, cache):
    cmd = [sim, "--model", "m40"]
    for f in faults:
        cmd += ["--fault", f]
    cmd += ["--", gpugate, "run", "--backend", "cuda", "--level", "quick", "--gemm-sizes", "256",
            "--stream-mib", "1", "--seed", "1", "--allow-simulated", "--out", out]
    env = dict(os.environ, GPUGATE_CACHE_DIR=cache)
    p = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        with open(os.path.join(out, "run.json")) as f:
            return json.load(f)
    except OSError:
        sys.exit(f"no run.json from {' '.join(cmd)} (exit {p.returncode}):\n{p.stderr}")


def outcome(report, wid):
    for w in report["results"]:
        if w["id"] == wid:
            v = w["verification"]
            caught = v["status"] == "failed" or w.get("error") is not None
            return caught, v.get("max_error")
    return None, None


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--target-dir", default="target/release")
    ap.add_argument("--out", help="also write the Markdown table to this file")
    args = ap.parse_args()
    sim = os.path.join(args.target_dir, "gpugate-sim")
    gpugate = os.path.join(args.target_dir, "gpugate")
    for p in (sim, gpugate):
        if not os.access(p, os.X_OK):
            sys.exit(f"{p} not found: cargo build --release -p gpugate -p gpugate-sim")

    with tempfile.TemporaryDirectory() as tmp:
        cache = os.path.join(tmp, "cache")
        # A healthy run first: it tunes the GEMM variants (cached for every faulty run, so each
        # faulty run measures and verifies the variant a healthy machine would use) and shows
        # that every workload verifies without a fault.
        base = run(sim, gpugate, [], os.path.join(tmp, "healthy"), cache)
        for _, _, wid, _ in WORKLOADS:
            caught, _ = outcome(base, wid)
            if caught is not False:
                sys.exit(f"{wid} does not verify on a healthy simulated M40: fix that first")

        rows = []
        for b in range(64):
            faults = [f"sdc={k}@{b}" for _, k, _, bits in WORKLOADS if b < bits]
            rep = run(sim, gpugate, faults, os.path.join(tmp, f"bit{b}"), cache)
            row = [str(b)]
            for _, _, wid, bits in WORKLOADS:
                if b >= bits:
                    row.append("")
                    continue
                caught, err = outcome(rep, wid)
                mark = "caught" if caught else "**missed**"
                if err is None:
                    ratio = ""
                elif caught and err <= 1.0:
                    # Caught although no finite error passed its tolerance: the flip made the
                    # value infinite or NaN, which always fails.
                    ratio = " (Inf/NaN)"
                else:
                    ratio = f" ({err:.3g})"
                row.append(f"{field(bits, b)}: {mark}{ratio}")
            rows.append(row)
            print(" | ".join(row), file=sys.stderr, flush=True)

    head = ["bit"] + [c for c, _, _, _ in WORKLOADS]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    summary = []
    for i, (col, _, _, bits) in enumerate(WORKLOADS):
        missed = [r[0] for r in rows if int(r[0]) < bits and "missed" in r[i + 1]]
        summary.append(f"- {col}: {bits - len(missed)} of {bits} bit positions caught"
                       + (f"; missed: bits {', '.join(missed)}" if missed else ""))
    text = "\n".join(lines + [""] + summary) + "\n"
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
