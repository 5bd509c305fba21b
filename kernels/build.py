#!/usr/bin/env python3
"""Builds and checks gpugate's PTX (kernels/*.cu -> kernels/ptx/<family>.<target>.ptx).

    python3 kernels/build.py           regenerate kernels/ptx/ from kernels/*.cu
    python3 kernels/build.py --check   fail if the committed PTX is stale; assemble every module
                                       with ptxas for sm_52 and sm_90, print registers / shared
                                       memory / spills per entry, and fail on any spill or on an
                                       entry that src/kernels.rs names but the PTX lacks; check
                                       every GEMM variant of src/kernels.rs against its PTX and
                                       ptxas report (name = tile, launch bounds, register cap,
                                       shared memory)

Toolchain: NVRTC and ptxas of CUDA 12.0.140, from PyPI (nvidia-cuda-nvrtc-cu12,
nvidia-cuda-nvcc-cu12, pinned). They are installed into <repo>/.toolchain on first use, or taken
from $TOOLCHAIN_DIR (a `pip install --target` directory) when that is set. CUDA 12.0 emits PTX
ISA 8.0, which drivers from R525 on accept; CUDA 13 cannot target sm_52, so never use it here.

Standard library only (ctypes for NVRTC).
"""

import argparse
import ctypes
import difflib
import os
import re
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KERNELS = os.path.join(REPO, "kernels")
PTX_DIR = os.path.join(KERNELS, "ptx")
TABLE = os.path.join(REPO, "src", "kernels.rs")

CUDA_VERSION = "12.0.140"
PACKAGES = [
    "nvidia-cuda-nvrtc-cu12==" + CUDA_VERSION,
    "nvidia-cuda-nvcc-cu12==" + CUDA_VERSION,
]
EXPECTED_NVRTC = (12, 0)
EXPECTED_PTX_ISA = "8.0"

# Virtual architectures each family is built for. Every family has compute_52 (Maxwell, the M40,
# and every later GPU through the driver's JIT); add newer targets here when a family grows a path
# behind `#if __CUDA_ARCH__ >= ...`, and list the module in src/kernels.rs.
TARGETS = {
    "gemm": ["compute_52"],
    "stream": ["compute_52"],
}
DEFAULT_TARGETS = ["compute_52"]

# Options passed to NVRTC for every module. No -lineinfo / -G (keeps the PTX free of paths and
# deterministic), no --use_fast_math (IEEE division and sqrt, denormals kept); FMA contraction is
# NVRTC's default (--fmad=true).
NVRTC_OPTIONS = ["-std=c++17", "--fmad=true"]

# Real architectures ptxas assembles every module for in --check.
PTXAS_ARCHS = ["sm_52", "sm_90"]

# Per-SM limits of the smallest target, GM200 (Tesla M40, sm_52): 64 K 32-bit registers, 96 KB of
# shared memory (48 KB per block), 2048 threads.
SM_REGISTERS = 65536
SM_SHARED = 96 * 1024
BLOCK_SHARED = 48 * 1024
SM_THREADS = 2048
# Padding of the transposed A tile's rows in gemm.cu (GEMM_A_PAD in src/kernels.rs).
GEMM_A_PAD = 4


def fail(msg):
    print("error: " + msg, file=sys.stderr)
    sys.exit(1)


# ------------------------------------------------------------------------------------ toolchain


def toolchain_dir():
    env = os.environ.get("TOOLCHAIN_DIR")
    if env:
        return os.path.abspath(env)
    return os.path.join(REPO, ".toolchain")


def toolchain_paths(root):
    nvrtc_lib = os.path.join(root, "nvidia", "cuda_nvrtc", "lib")
    return {
        "nvrtc": os.path.join(nvrtc_lib, "libnvrtc.so.12"),
        "builtins": os.path.join(nvrtc_lib, "libnvrtc-builtins.so.12.0"),
        "ptxas": os.path.join(root, "nvidia", "cuda_nvcc", "bin", "ptxas"),
    }


def ensure_toolchain():
    root = toolchain_dir()
    paths = toolchain_paths(root)
    if all(os.path.exists(p) for p in paths.values()):
        return paths
    if os.environ.get("TOOLCHAIN_DIR"):
        fail("TOOLCHAIN_DIR=%s does not hold NVRTC and ptxas %s (expected %s)"
             % (root, CUDA_VERSION, ", ".join(paths.values())))
    print("installing CUDA %s NVRTC and ptxas from PyPI into %s ..." % (CUDA_VERSION, root),
          file=sys.stderr)
    cmd = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
           "--no-deps", "--target", root] + PACKAGES
    rc = subprocess.call(cmd)
    if rc != 0 or not all(os.path.exists(p) for p in paths.values()):
        fail("could not install the toolchain (%s); install it by hand with\n  %s"
             % ("pip exited with %d" % rc if rc else "files missing after install",
                " ".join(["pip", "install", "--target", root] + PACKAGES)))
    os.chmod(paths["ptxas"], 0o755)
    return paths


class Nvrtc:
    def __init__(self, paths):
        # NVRTC dlopens its builtins library by soname; load it first, globally, from beside it.
        ctypes.CDLL(paths["builtins"], mode=ctypes.RTLD_GLOBAL)
        lib = ctypes.CDLL(paths["nvrtc"])
        self.lib = lib
        lib.nvrtcGetErrorString.restype = ctypes.c_char_p
        lib.nvrtcGetErrorString.argtypes = [ctypes.c_int]
        major, minor = ctypes.c_int(), ctypes.c_int()
        self._ok(lib.nvrtcVersion(ctypes.byref(major), ctypes.byref(minor)), "nvrtcVersion")
        self.version = (major.value, minor.value)
        if self.version != EXPECTED_NVRTC:
            fail("NVRTC %d.%d found at %s, the pinned toolchain is CUDA %s"
                 % (major.value, minor.value, paths["nvrtc"], CUDA_VERSION))

    def _ok(self, rc, what):
        if rc != 0:
            fail("%s failed: %s" % (what, self.lib.nvrtcGetErrorString(rc).decode()))

    def compile(self, source, name, options):
        lib = self.lib
        prog = ctypes.c_void_p()
        self._ok(lib.nvrtcCreateProgram(ctypes.byref(prog), source.encode(), name.encode(), 0,
                                        None, None), "nvrtcCreateProgram")
        try:
            opts = (ctypes.c_char_p * len(options))(*[o.encode() for o in options])
            rc = lib.nvrtcCompileProgram(prog, len(options), opts)
            log_size = ctypes.c_size_t()
            lib.nvrtcGetProgramLogSize(prog, ctypes.byref(log_size))
            log = ctypes.create_string_buffer(log_size.value)
            lib.nvrtcGetProgramLog(prog, log)
            log = log.value.decode(errors="replace").strip()
            if rc != 0:
                fail("NVRTC could not compile %s (%s):\n%s"
                     % (name, lib.nvrtcGetErrorString(rc).decode(), log))
            if log:
                print("%s: NVRTC says:\n%s" % (name, log), file=sys.stderr)
            size = ctypes.c_size_t()
            self._ok(lib.nvrtcGetPTXSize(prog, ctypes.byref(size)), "nvrtcGetPTXSize")
            buf = ctypes.create_string_buffer(size.value)
            self._ok(lib.nvrtcGetPTX(prog, buf), "nvrtcGetPTX")
            return buf.value.decode()
        finally:
            lib.nvrtcDestroyProgram(ctypes.byref(prog))


# ---------------------------------------------------------------------------------------- build


def families():
    names = sorted(f[:-3] for f in os.listdir(KERNELS) if f.endswith(".cu"))
    if not names:
        fail("no kernels/*.cu found")
    return names


def build_all(nvrtc, out_dir):
    """Compiles every family for each of its targets into out_dir; returns {file name: ptx}."""
    outputs = {}
    for fam in families():
        with open(os.path.join(KERNELS, fam + ".cu"), encoding="utf-8") as f:
            source = f.read()
        for target in TARGETS.get(fam, DEFAULT_TARGETS):
            options = ["--gpu-architecture=" + target] + NVRTC_OPTIONS
            ptx = nvrtc.compile(source, fam + ".cu", options)
            if (".version " + EXPECTED_PTX_ISA) not in ptx:
                fail("%s: NVRTC did not emit PTX ISA %s" % (fam, EXPECTED_PTX_ISA))
            name = "%s.%s.ptx" % (fam, target)
            with open(os.path.join(out_dir, name), "w", encoding="utf-8", newline="\n") as f:
                f.write(ptx)
            outputs[name] = ptx
    return outputs


# ---------------------------------------------------------------------------------------- check


ENTRY_RE = re.compile(r"^\.(?:visible\s+)?\.entry\s+(\w+)\(", re.M)


def ptx_entries(ptx):
    return ENTRY_RE.findall(ptx)


def table_entries():
    """{module: [entries]} as listed in src/kernels.rs, plus every entry referenced by name."""
    with open(TABLE, encoding="utf-8") as f:
        text = f.read()
    modules = {}
    for m in re.finditer(r'name:\s*"(\w+)".*?entries:\s*&\[(.*?)\]', text, re.S):
        modules.setdefault(m.group(1), []).extend(re.findall(r'"(\w+)"', m.group(2)))
    referenced = set(re.findall(r'entry(?::|\s*=>)?\s*"(\w+)"', text))
    referenced |= set(re.findall(r'=>\s*"(\w+)"', text))
    return modules, referenced


GEMM_VARIANT_RE = re.compile(
    r'variant\(\s*"(\w+)"\s*,\s*Precision::(F32|F64|F16)\s*,\s*(\d+)\s*,\s*(\d+)\s*,\s*(\d+)\s*,'
    r'\s*(\d+)\s*,\s*(\d+)\s*,\s*(\d+)\s*,?\s*\)')
GEMM_NAME_RE = re.compile(r"^([sdh])gemm_(f32|f64|f16)_(\d+)x(\d+)x(\d+)_t(\d+)x(\d+)$")
# Per precision of a variant(...) row: its name prefix and the bytes of one element of the
# shared-memory tiles (HGEMM converts its binary16 inputs to float as it stores the tiles).
GEMM_PRECISIONS = {"F32": (("s", "f32"), 4), "F64": (("d", "f64"), 8), "F16": (("h", "f16"), 4)}


def gemm_variants():
    """The GEMM variants of src/kernels.rs: {entry: dict(precision, bm, bn, bk, tm, tn, minb)}."""
    with open(TABLE, encoding="utf-8") as f:
        text = f.read()
    out = {}
    for m in GEMM_VARIANT_RE.finditer(text):
        bm, bn, bk, tm, tn, minb = (int(g) for g in m.groups()[2:])
        out[m.group(1)] = {"precision": m.group(2), "bm": bm, "bn": bn, "bk": bk, "tm": tm,
                           "tn": tn, "minb": minb, "threads": (bm // tm) * (bn // tn),
                           "elem": GEMM_PRECISIONS[m.group(2)][1]}
    return out


def register_cap(threads, min_blocks):
    """Registers per thread that let min_blocks blocks of `threads` share an SM (sm_52)."""
    warps = (threads + 31) // 32
    return min(255, SM_REGISTERS // (warps * 32 * min_blocks) // 8 * 8)


def regs_allocated(regs):
    """Registers per thread as allocated (sm_52: per warp in units of 256, i.e. 8 per thread)."""
    return (regs + 7) // 8 * 8


def ptx_launch_bounds(ptx, entry):
    """(.maxntid x, .minnctapersm) declared for an entry (None where absent)."""
    m = re.search(r"\.entry\s+" + re.escape(entry) + r"\((.*?)\{", ptx, re.S)
    if not m:
        return None, None
    head = m.group(1)
    nt = re.search(r"\.maxntid\s+(\d+)", head)
    mb = re.search(r"\.minnctapersm\s+(\d+)", head)
    return (int(nt.group(1)) if nt else None), (int(mb.group(1)) if mb else None)


def check_gemm_variants(ptx, stats_by_arch, problems):
    """Checks every GEMM variant of src/kernels.rs against the PTX and ptxas; returns table rows."""
    variants = gemm_variants()
    if not variants:
        problems.append("src/kernels.rs: no GEMM variant(...) rows found")
    for e in ptx_entries(ptx):
        if GEMM_NAME_RE.match(e) and e not in variants:
            problems.append("GEMM entry %s has no variant(...) row in src/kernels.rs" % e)
    rows = []
    for e, v in sorted(variants.items()):
        m = GEMM_NAME_RE.match(e)
        want = GEMM_PRECISIONS[v["precision"]][0] + tuple(
            str(v[k]) for k in ("bm", "bn", "bk", "tm", "tn"))
        if not m or m.groups() != want:
            problems.append("GEMM variant %s: the name does not match its row %s" % (e, want))
        if v["bm"] % v["tm"] or v["bn"] % v["tn"]:
            problems.append("GEMM variant %s: tile is not a multiple of the thread tile" % e)
        if e not in ptx_entries(ptx):
            problems.append("GEMM variant %s is not in the PTX" % e)
            continue
        nt, mb = ptx_launch_bounds(ptx, e)
        if nt != v["threads"]:
            problems.append("GEMM variant %s: PTX .maxntid %s, the table says %d threads"
                            % (e, nt, v["threads"]))
        if (mb or 1) != v["minb"]:
            problems.append("GEMM variant %s: PTX .minnctapersm %s, the table says %d blocks/SM"
                            % (e, mb, v["minb"]))
        shared = 2 * v["bk"] * (v["bm"] + GEMM_A_PAD + v["bn"]) * v["elem"]
        cap = register_cap(v["threads"], v["minb"])
        if shared > BLOCK_SHARED:
            problems.append("GEMM variant %s: %d B of shared memory > 48 KB" % (e, shared))
        if v["minb"] * shared > SM_SHARED or v["minb"] * v["threads"] > SM_THREADS:
            problems.append("GEMM variant %s: %d blocks per SM do not fit an sm_52 SM"
                            % (e, v["minb"]))
        regs = {}
        for arch, stats in stats_by_arch.items():
            s = stats.get(e)
            if s is None or s["regs"] is None:
                continue
            regs[arch] = s["regs"]
            if s["smem"] != shared:
                problems.append("GEMM variant %s on %s: ptxas reports %d B of shared memory, "
                                "src/kernels.rs computes %d B" % (e, arch, s["smem"], shared))
            if s["regs"] > cap:
                problems.append("GEMM variant %s on %s: %d registers > %d, the cap for %d blocks "
                                "of %d threads per SM" % (e, arch, s["regs"], cap, v["minb"],
                                                          v["threads"]))
        r52 = regs.get("sm_52")
        by_regs = (SM_REGISTERS // (regs_allocated(r52) * v["threads"])) if r52 else 0
        by_smem = SM_SHARED // shared
        by_threads = SM_THREADS // v["threads"]
        rows.append((e, str(v["threads"]), str(v["minb"]), str(cap),
                     "/".join(str(regs.get(a, "?")) for a in PTXAS_ARCHS), str(shared),
                     str(min(by_regs, 32)), str(by_smem), str(by_threads)))
    return rows


def print_table(header, rows, left=2):
    table = [header] + rows
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    for i, r in enumerate(table):
        print("  ".join(c.ljust(widths[j]) if j < left else c.rjust(widths[j])
                        for j, c in enumerate(r)))
        if i == 0:
            print("  ".join("-" * w for w in widths))


def run_ptxas(ptxas, ptx_path, arch, tmp):
    out = os.path.join(tmp, os.path.basename(ptx_path) + "." + arch + ".cubin")
    proc = subprocess.run([ptxas, "-arch=" + arch, "-v", "--warn-on-spills", "-O3", "-o", out,
                           ptx_path], capture_output=True, text=True)
    if proc.returncode != 0:
        fail("ptxas -arch=%s %s failed:\n%s%s" % (arch, ptx_path, proc.stdout, proc.stderr))
    return parse_ptxas(proc.stdout + proc.stderr)


def parse_ptxas(text):
    stats = {}
    current = None
    for line in text.splitlines():
        m = re.search(r"Compiling entry function '(\w+)'", line)
        if m:
            current = m.group(1)
            stats[current] = {"regs": None, "smem": 0, "stack": 0, "spill_st": 0, "spill_ld": 0}
            continue
        if current is None:
            continue
        m = re.search(r"(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads",
                      line)
        if m:
            s = stats[current]
            s["stack"], s["spill_st"], s["spill_ld"] = (int(g) for g in m.groups())
            continue
        m = re.search(r"Used (\d+) registers", line)
        if m:
            stats[current]["regs"] = int(m.group(1))
            m2 = re.search(r"(\d+) bytes smem", line)
            if m2:
                stats[current]["smem"] = int(m2.group(1))
    return stats


def check(nvrtc, ptxas):
    problems = []
    with tempfile.TemporaryDirectory(prefix="gpugate-ptx-") as tmp:
        fresh = build_all(nvrtc, tmp)

        # 1. Freshness: the committed PTX is exactly what the sources produce.
        committed = sorted(f for f in os.listdir(PTX_DIR) if f.endswith(".ptx"))
        for name in sorted(set(committed) | set(fresh)):
            path = os.path.join(PTX_DIR, name)
            if name not in fresh:
                problems.append("kernels/ptx/%s has no source (stale file)" % name)
                continue
            if not os.path.exists(path):
                problems.append("kernels/ptx/%s is missing" % name)
                continue
            with open(path, encoding="utf-8") as f:
                old = f.read()
            if old != fresh[name]:
                diff = list(difflib.unified_diff(old.splitlines(), fresh[name].splitlines(),
                                                 "committed/" + name, "fresh/" + name, lineterm="",
                                                 n=1))
                preview = "\n".join(diff[:20]) + ("\n..." if len(diff) > 20 else "")
                problems.append("kernels/ptx/%s is stale:\n%s" % (name, preview))
        if problems:
            for p in problems:
                print("error: " + p, file=sys.stderr)
            fail("the committed PTX does not match kernels/*.cu: "
                 "run python3 kernels/build.py and commit")

        # 2. Every entry the table names exists in its module's PTX, and vice versa.
        modules, referenced = table_entries()
        by_family = {}
        for name, ptx in fresh.items():
            fam = name.split(".")[0]
            by_family.setdefault(fam, set()).update(ptx_entries(ptx))
            for listed in modules.get(fam, []):
                if listed not in ptx_entries(ptx):
                    problems.append("%s: entry %s listed in src/kernels.rs is missing" % (name, listed))
            for e in ptx_entries(ptx):
                if e not in modules.get(fam, []):
                    problems.append("%s: entry %s is not listed in src/kernels.rs" % (name, e))
        for fam in modules:
            if fam not in by_family:
                problems.append("src/kernels.rs names module %s but kernels/%s.cu does not exist"
                                % (fam, fam))
        all_entries = set().union(*by_family.values()) if by_family else set()
        for e in sorted(referenced):
            if e not in all_entries:
                problems.append("src/kernels.rs refers to entry %s, which no PTX defines" % e)

        # 3. ptxas: every entry assembles for every real architecture, without spills.
        rows = []
        gemm_rows = []
        for name in sorted(fresh):
            path = os.path.join(tmp, name)
            entries = ptx_entries(fresh[name])
            stats_by_arch = {}
            for arch in PTXAS_ARCHS:
                stats = run_ptxas(ptxas, path, arch, tmp)
                stats_by_arch[arch] = stats
                for e in entries:
                    s = stats.get(e)
                    if s is None or s["regs"] is None:
                        problems.append("ptxas %s: no report for entry %s of %s" % (arch, e, name))
                        continue
                    rows.append((e, arch, s))
                    if s["spill_st"] or s["spill_ld"]:
                        problems.append("%s on %s spills (%d B stores, %d B loads)"
                                        % (e, arch, s["spill_st"], s["spill_ld"]))

            # 4. GEMM variants: name = tile, launch bounds, register cap, shared memory.
            if name.split(".")[0] == "gemm":
                gemm_rows += check_gemm_variants(fresh[name], stats_by_arch, problems)

    print_table(("entry", "arch", "registers", "shared B", "stack B", "spill st B", "spill ld B"),
                [(e, a, str(s["regs"]), str(s["smem"]), str(s["stack"]), str(s["spill_st"]),
                  str(s["spill_ld"])) for e, a, s in rows])
    if gemm_rows:
        print()
        print("GEMM variants (src/kernels.rs); blocks/SM on sm_52 (GM200: 64 K registers, 96 KB "
              "shared, 2048 threads) by registers / shared memory / threads:")
        print_table(("variant", "threads", "min blocks", "reg cap", "regs sm_52/sm_90",
                     "shared B", "by regs", "by shared", "by threads"), gemm_rows, left=1)
    if problems:
        for p in problems:
            print("error: " + p, file=sys.stderr)
        sys.exit(1)
    print("ok: kernels/ptx is fresh; %d entries assemble for %s without spills; %d GEMM variants "
          "within their register caps and shared memory"
          % (len(rows) // len(PTXAS_ARCHS), " and ".join(PTXAS_ARCHS), len(gemm_rows)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--check", action="store_true",
                    help="verify the committed PTX and assemble it with ptxas (CI)")
    args = ap.parse_args()
    paths = ensure_toolchain()
    nvrtc = Nvrtc(paths)
    if args.check:
        check(nvrtc, paths["ptxas"])
        return
    os.makedirs(PTX_DIR, exist_ok=True)
    wanted = set()
    with tempfile.TemporaryDirectory(prefix="gpugate-ptx-") as tmp:
        for name, ptx in build_all(nvrtc, tmp).items():
            wanted.add(name)
            path = os.path.join(PTX_DIR, name)
            old = None
            if os.path.exists(path):
                with open(path, encoding="utf-8") as f:
                    old = f.read()
            if old != ptx:
                with open(path, "w", newline="\n", encoding="utf-8") as f:
                    f.write(ptx)
                print("wrote kernels/ptx/%s (%d entries)" % (name, len(ptx_entries(ptx))))
            else:
                print("unchanged kernels/ptx/%s" % name)
    for f in sorted(os.listdir(PTX_DIR)):
        if f.endswith(".ptx") and f not in wanted:
            os.remove(os.path.join(PTX_DIR, f))
            print("removed stale kernels/ptx/%s" % f)


if __name__ == "__main__":
    main()
