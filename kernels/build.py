#!/usr/bin/env python3
"""Builds and checks gpugate's PTX (kernels/*.cu -> kernels/ptx/<family>.<target>.ptx).

The kernel table (modules, entries, GEMM variants) comes from kernels/table.json, which gpugate
emits from src/kernels/table.rs (`UPDATE_KERNEL_TABLE=1 cargo test -p gpugate --lib kernels::`; a test
fails when it is stale); this script never parses Rust.

    python3 kernels/build.py           regenerate kernels/ptx/ from kernels/*.cu
    python3 kernels/build.py --check   fail if the committed PTX is stale; assemble every module
                                       with ptxas for its own architecture and sm_90, print
                                       registers / shared memory / spills per entry, and fail
                                       on any spill or on an
                                       entry the kernel table names but the PTX lacks; check
                                       every GEMM variant of the table against its PTX and
                                       ptxas report (name = tile, launch bounds, register cap,
                                       shared memory); prove that every module declares the lowest
                                       PTX ISA version it can (ptxas refuses a copy at the version
                                       just below)

Toolchain: NVRTC and ptxas of CUDA 12.0.140, from PyPI (nvidia-cuda-nvrtc-cu12,
nvidia-cuda-nvcc-cu12, pinned). They are installed into <repo>/.toolchain on first use, or taken
from $TOOLCHAIN_DIR (a `pip install --target` directory) when that is set. CUDA 12.0 emits PTX
ISA 8.0, which only drivers from R525 on accept; build.py rewrites each module's `.version` to the
lowest its `.target` and instructions allow (MIN_ISA_BY_TARGET, MIN_ISA_BY_INSTRUCTION), so that
older drivers load it. CUDA 13 cannot target sm_52, so never use it here.

Standard library only (ctypes for NVRTC).
"""

import argparse
import ctypes
import difflib
import json
import os
import re
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KERNELS = os.path.join(REPO, "kernels")
PTX_DIR = os.path.join(KERNELS, "ptx")
TABLE = os.path.join(REPO, "kernels", "table.json")

CUDA_VERSION = "12.0.140"
PACKAGES = [
    "nvidia-cuda-nvrtc-cu12==" + CUDA_VERSION,
    "nvidia-cuda-nvcc-cu12==" + CUDA_VERSION,
]
EXPECTED_NVRTC = (12, 0)
EXPECTED_PTX_ISA = "8.0"

# Virtual architectures each family is built for. Every family has compute_52 (Maxwell, the M40,
# and every later GPU through the driver's JIT); add newer targets here when a family grows a path
# behind `#if __CUDA_ARCH__ >= ...`, and list the module in src/kernels/modules.rs.
TARGETS = {
    # compute_70 adds HGEMM on the tensor cores (wmma); compute_80 adds the cp.async pipelines
    # and DGEMM on the tensor cores (DMMA). Each module holds every entry of the lower ones.
    "gemm": ["compute_52", "compute_70", "compute_80"],
    "stream": ["compute_52"],
    "video": ["compute_52"],
}
DEFAULT_TARGETS = ["compute_52"]

# Options passed to NVRTC for every module. No -lineinfo / -G (keeps the PTX free of paths and
# deterministic), no --use_fast_math (IEEE division and sqrt, denormals kept); FMA contraction is
# NVRTC's default (--fmad=true).
NVRTC_OPTIONS = ["-std=c++17", "--fmad=true"]

# ------------------------------------------------------------------- PTX ISA version of a module
#
# NVRTC 12.0 declares `.version 8.0` in every module, and a driver's JIT accepts only the PTX ISA
# versions it knows (8.0: R525+, 7.4: R470, 7.0: R450, 6.4: R418). A module needs only the
# highest of (a) the version its `.target` was introduced in and (b) the version each instruction
# family it uses was introduced in; build.py writes that version into the generated file. Both
# tables come from the PTX ISA reference: (a) from the `.target` directive's "PTX ISA Notes" and
# "Target ISA Notes", (b) from each instruction's "PTX ISA Notes" ("Introduced in PTX ISA version
# X"). ptxas checks the claim: --check assembles every module at the version it declares (ptxas
# refuses an instruction newer than the module's `.version`), and a copy declaring the version just
# below must be refused. An instruction family missing from (b) therefore fails the check instead
# of producing a module an old driver cannot load; add it here with the version the reference gives.

# PTX ISA versions in NVIDIA's order (PTX ISA reference, "Release Notes"). The version "just
# below" a module's is the previous entry.
ISA_SEQUENCE = [
    "1.0", "1.1", "1.2", "1.3", "1.4", "2.0", "2.1", "2.2", "2.3", "3.0", "3.1", "3.2",
    "4.0", "4.1", "4.2", "4.3", "5.0",
    "6.0", "6.1", "6.2", "6.3", "6.4", "6.5",
    "7.0", "7.1", "7.2", "7.3", "7.4", "7.5", "7.6", "7.7", "7.8",
    "8.0", "8.1", "8.2", "8.3", "8.4", "8.5", "8.6", "8.7", "8.8",
    "9.0", "9.1",
]

# (a) The PTX ISA version that introduced each `.target`.
MIN_ISA_BY_TARGET = {
    "sm_50": "4.0", "sm_52": "4.1", "sm_53": "4.2",
    "sm_60": "5.0", "sm_61": "5.0", "sm_62": "5.0",
    "sm_70": "6.0", "sm_72": "6.1", "sm_75": "6.3",
    "sm_80": "7.0", "sm_86": "7.1", "sm_87": "7.4", "sm_89": "7.8", "sm_90": "7.8",
}

# (b) The PTX ISA version that introduced each instruction family (or qualifier) that needs more
# than PTX ISA 4.1: (what, regular expression matched against each instruction line with its
# comment removed, version). Everything else NVRTC emits for gpugate's kernels (arithmetic,
# ld/st including ld.global.nc, bar.sync, cvta, bfe/bfi, .pragma "nounroll", ...) is from PTX ISA
# 3.2 or older.
MIN_ISA_BY_INSTRUCTION = [
    # Warp-synchronous forms (CUDA 9, Volta's independent thread scheduling).
    ("shfl.sync", r"\bshfl\.sync\b", "6.0"),
    ("vote.sync", r"\bvote\.sync\b", "6.0"),
    ("match.sync", r"\bmatch\.(?:any|all)\.sync\b", "6.0"),
    ("bar.warp.sync", r"\bbar\.warp\.sync\b", "6.0"),
    ("barrier / barrier.sync", r"(?:^|\s)barrier\b", "6.0"),
    ("fence", r"\bfence\.", "6.0"),
    ("memory-model qualifiers (.relaxed/.acquire/.release/.acq_rel)",
     r"\.(?:relaxed|acquire|release|acq_rel)\b", "6.0"),
    ("activemask", r"\bactivemask\b", "6.2"),
    ("nanosleep", r"\bnanosleep\b", "6.3"),
    # Warp-level matrix instructions.
    ("wmma (f16)", r"\bwmma\.(?:load|store|mma)\b", "6.0"),
    ("wmma .aligned", r"\bwmma\.[\w.]*\.aligned\b", "6.3"),
    ("mma.sync m8n8k4 (f16)", r"\bmma\.sync\.aligned\.m8n8k4\b", "6.4"),
    ("mma.sync m16n8k8", r"\bmma\.sync\.aligned\.m16n8k8\b", "6.5"),
    ("ldmatrix", r"\bldmatrix\b", "6.5"),
    ("mma.sync m8n8k4 .f64", r"\bmma\.sync\.aligned\.m8n8k4\.\w+\.\w+\.f64\b", "7.0"),
    ("mma.sync m16n8k16 / m16n8k4 / m16n8k32", r"\bmma\.sync\.aligned\.m16n8k(?:4|16|32)\b",
     "7.0"),
    ("bf16 / tf32 types", r"\.(?:bf16|bf16x2|tf32)\b", "7.0"),
    # Asynchronous copies and reductions (Ampere).
    ("cp.async", r"\bcp\.async\.(?:ca|cg|commit_group|wait_group|wait_all)\b", "7.0"),
    ("redux.sync", r"\bredux\.sync\b", "7.0"),
    ("mbarrier", r"\bmbarrier\.", "7.0"),
    ("L2 cache hints (.L2::)", r"\.L2::", "7.4"),
    # Hopper.
    ("stmatrix", r"\bstmatrix\b", "7.8"),
    ("::cta / ::cluster state spaces", r"::(?:cta|cluster)\b", "7.8"),
    ("cp.async.bulk", r"\bcp\.async\.bulk\b", "8.0"),
    ("wgmma", r"\bwgmma\.", "8.0"),
    ("elect.sync", r"\belect\.sync\b", "8.0"),
]
_MIN_ISA_RES = [(what, re.compile(rx), isa) for what, rx, isa in MIN_ISA_BY_INSTRUCTION]


def isa_key(isa):
    major, minor = isa.split(".")
    return int(major), int(minor)


def isa_below(isa):
    """The PTX ISA version just before `isa` in NVIDIA's sequence (None before the first)."""
    i = ISA_SEQUENCE.index(isa)
    return ISA_SEQUENCE[i - 1] if i > 0 else None


def ptx_code_lines(ptx):
    """The PTX's lines with // and /* */ comments removed (string literals hold no comments in
    what NVRTC emits)."""
    text = re.sub(r"/\*.*?\*/", " ", ptx, flags=re.S)
    return [line.split("//", 1)[0] for line in text.splitlines()]


def ptx_target(ptx):
    m = re.search(r"^\s*\.target\s+(\w+)", "\n".join(ptx_code_lines(ptx)), re.M)
    return m.group(1) if m else None


def min_isa(ptx):
    """(lowest PTX ISA version the module allows, [what needs it]): the maximum over its
    `.target` and every instruction family of MIN_ISA_BY_INSTRUCTION it uses."""
    target = ptx_target(ptx)
    if target not in MIN_ISA_BY_TARGET:
        fail("PTX .target %s is not in MIN_ISA_BY_TARGET (kernels/build.py): add the PTX ISA "
             "version that introduced it" % target)
    needs = {".target " + target: MIN_ISA_BY_TARGET[target]}
    for line in ptx_code_lines(ptx):
        if not line.strip() or line.lstrip().startswith("."):
            continue   # directives (.reg, .shared, .pragma, ...): none needs more than 4.1
        for what, rx, isa in _MIN_ISA_RES:
            if what not in needs and rx.search(line):
                needs[what] = isa
    best = max(needs.values(), key=isa_key)
    return best, sorted(w for w, v in needs.items() if v == best)


VERSION_RE = re.compile(r"^\.version\s+(\d+\.\d+)[^\n]*$", re.M)


def ptx_version(ptx):
    m = VERSION_RE.search(ptx)
    return m.group(1) if m else None


def with_version(ptx, isa, note=""):
    """The PTX with its `.version` directive (and any comment on its line) replaced by `isa`,
    followed by `note` on the same line: every other line, and so every line number that ptxas
    and the simulator report, stays as NVRTC wrote it."""
    line = ".version " + isa + (" // " + note if note else "")
    new, n = VERSION_RE.subn(lambda _: line, ptx, count=1)
    if n != 1:
        fail("no .version directive in the PTX")
    return new


def lower_version(ptx):
    """NVRTC's PTX with `.version` lowered to the lowest the module allows, saying on that line
    what sets it."""
    isa, why = min_isa(ptx)
    if isa_key(isa) > isa_key(EXPECTED_PTX_ISA):
        fail("the PTX needs ISA %s (%s), above the %s NVRTC wrote" % (isa, ", ".join(why),
                                                                      EXPECTED_PTX_ISA))
    return with_version(ptx, isa, "lowest for %s (NVRTC wrote %s; set by kernels/build.py)"
                        % (", ".join(why), EXPECTED_PTX_ISA))


# Real architectures ptxas assembles every module for in --check: the module's own target and
# sm_90 (the newest GPU gpugate knows; sm_90a-only features are never used).
PTXAS_NEWEST = "sm_90"


def ptxas_archs(target):
    """Real architectures a module built for `target` (compute_XY) is assembled for."""
    own = "sm_" + target.split("_")[1]
    return [own] if own == PTXAS_NEWEST else [own, PTXAS_NEWEST]


# Per-SM limits of the smallest target, GM200 (Tesla M40, sm_52): 64 K 32-bit registers, 96 KB of
# shared memory (48 KB per block), 2048 threads.
SM_REGISTERS = 65536
SM_SHARED = 96 * 1024
BLOCK_SHARED = 48 * 1024
SM_THREADS = 2048


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
            if ptx_version(ptx) != EXPECTED_PTX_ISA:
                fail("%s: NVRTC did not emit PTX ISA %s" % (fam, EXPECTED_PTX_ISA))
            ptx = lower_version(ptx)
            name = "%s.%s.ptx" % (fam, target)
            with open(os.path.join(out_dir, name), "w", encoding="utf-8", newline="\n") as f:
                f.write(ptx)
            outputs[name] = ptx
    return outputs


# ---------------------------------------------------------------------------------------- check


ENTRY_RE = re.compile(r"^\.(?:visible\s+)?\.entry\s+(\w+)\(", re.M)


def ptx_entries(ptx):
    return ENTRY_RE.findall(ptx)


def load_table():
    """kernels/table.json: the kernel table as gpugate emits it (src/kernels/table.rs `table()`, kept
    equal by the test `kernels::tests::the_committed_kernel_table_is_what_gpugate_emits`)."""
    try:
        with open(TABLE, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        fail("%s: %s. Regenerate it: UPDATE_KERNEL_TABLE=1 cargo test -p gpugate --lib kernels::"
             % (os.path.relpath(TABLE, REPO), e))


def table_entries():
    """{(module, target): [entries]} of every module, and the set of every entry gpugate
    references, from the emitted table."""
    t = load_table()
    modules = {(m["name"], m["target"]): list(m["entries"]) for m in t["modules"]}
    referenced = {r["entry"] for r in t["referenced"]}
    return modules, referenced


def table_ptx_isas():
    """{(module, target): ptx_isa} as the table gives them."""
    return {(m["name"], m["target"]): m["ptx_isa"] for m in load_table()["modules"]}


# The three kinds of GEMM variants in the table (src/kernels/gemm.rs):
#   variant        CUDA cores, register double buffering, sm_52
#   async_variant  CUDA cores, cp.async pipeline, sm_80
#   tc_variant     tensor cores (F16: sm_70, F64: sm_80)
GEMM_NAME_RE = re.compile(
    r"^([sdh])gemm_(f32|f64|f16)_(tc_)?(\d+)x(\d+)x(\d+)_([tw])(\d+)x(\d+)(?:_s(\d+))?$")
# Per precision of a row: its name prefix and the bytes of one element of the CUDA-core kernels'
# shared-memory tiles (HGEMM converts its binary16 inputs to float as it stores the tiles).
GEMM_PRECISIONS = {"F32": (("s", "f32"), 4), "F64": (("d", "f64"), 8), "F16": (("h", "f16"), 4)}

# Per-SM limits of the real architectures, for the blocks-per-SM columns and checks:
# (registers, shared memory bytes, threads). 48 KB of static shared memory per block on all.
SM_LIMITS = {
    "sm_52": (65536, 96 * 1024, 2048),
    "sm_70": (65536, 96 * 1024, 2048),
    "sm_80": (65536, 164 * 1024, 2048),
    "sm_90": (65536, 228 * 1024, 2048),
}


def gemm_variants():
    """The GEMM variants of the table: {entry: dict(kind, precision, bm, bn, bk, tm, tn, minb,
    stages, threads, shared, target)}; threads and static shared memory as gpugate computes
    them (the checks hold them to what ptxas reports)."""
    keys = ("kind", "precision", "bm", "bn", "bk", "tm", "tn", "minb", "stages", "threads",
            "shared", "target")
    return {v["entry"]: {k: v[k] for k in keys} for v in load_table()["gemm_variants"]}


def register_cap(threads, min_blocks):
    """Registers per thread that let min_blocks blocks of `threads` share an SM (64 K registers
    on every architecture from sm_52 to sm_90)."""
    warps = (threads + 31) // 32
    return min(255, SM_REGISTERS // (warps * 32 * min_blocks) // 8 * 8)


def regs_allocated(regs):
    """Registers per thread as allocated (per warp in units of 256, i.e. 8 per thread)."""
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


def target_key(target):
    return int(target.split("_")[1])


def check_gemm_variants(ptx_by_target, stats, problems):
    """Checks every GEMM variant of src/kernels/gemm.rs against the gemm PTX of every target and the
    ptxas reports; returns table rows. stats: {(target, arch): {entry: ptxas stats}}."""
    variants = gemm_variants()
    if not variants:
        problems.append("kernels/table.json: no GEMM variants")
    for target, ptx in ptx_by_target.items():
        for e in ptx_entries(ptx):
            if GEMM_NAME_RE.match(e) and e not in variants:
                problems.append("GEMM entry %s (%s) has no row in src/kernels/gemm.rs" % (e, target))
    rows = []
    for e, v in sorted(variants.items()):
        m = GEMM_NAME_RE.match(e)
        tc = v["kind"] == "tc_variant"
        want = GEMM_PRECISIONS[v["precision"]][0] + (
            "tc_" if tc else None, str(v["bm"]), str(v["bn"]), str(v["bk"]), "w" if tc else "t",
            str(v["tm"]), str(v["tn"]), None if v["kind"] == "variant" else str(v["stages"]))
        if not m or m.groups() != want:
            problems.append("GEMM variant %s: the name does not match its row %s" % (e, want))
        if v["bm"] % v["tm"] or v["bn"] % v["tn"]:
            problems.append("GEMM variant %s: tile is not a multiple of the thread/warp tile" % e)
        # Present in the module of its target and every higher one, absent below.
        for target, ptx in ptx_by_target.items():
            here = e in ptx_entries(ptx)
            if here != (target_key(target) >= target_key(v["target"])):
                problems.append("GEMM variant %s (needs %s) is %s the %s PTX"
                                % (e, v["target"], "in" if here else "missing from", target))
        own = ptx_by_target.get(v["target"])
        if own is None or e not in ptx_entries(own):
            continue
        nt, mb = ptx_launch_bounds(own, e)
        if nt != v["threads"]:
            problems.append("GEMM variant %s: PTX .maxntid %s, the table says %d threads"
                            % (e, nt, v["threads"]))
        if (mb or 1) != v["minb"]:
            problems.append("GEMM variant %s: PTX .minnctapersm %s, the table says %d blocks/SM"
                            % (e, mb, v["minb"]))
        shared, cap = v["shared"], register_cap(v["threads"], v["minb"])
        own_arch = "sm_" + v["target"].split("_")[1]
        sm_regs, sm_shared, sm_threads = SM_LIMITS[own_arch]
        if shared > BLOCK_SHARED:
            problems.append("GEMM variant %s: %d B of shared memory > 48 KB" % (e, shared))
        if v["minb"] * shared > sm_shared or v["minb"] * v["threads"] > sm_threads:
            problems.append("GEMM variant %s: %d blocks per SM do not fit an %s SM"
                            % (e, v["minb"], own_arch))
        regs = {}
        for (target, arch), st in stats.items():
            s = st.get(e)
            if s is None or s["regs"] is None:
                continue
            if target == v["target"]:
                regs[arch] = s["regs"]
            if s["smem"] != shared:
                problems.append("GEMM variant %s (%s on %s): ptxas reports %d B of shared "
                                "memory, src/kernels/gemm.rs computes %d B"
                                % (e, target, arch, s["smem"], shared))
            if s["regs"] > cap:
                problems.append("GEMM variant %s (%s on %s): %d registers > %d, the cap for %d "
                                "blocks of %d threads per SM" % (e, target, arch, s["regs"], cap,
                                                                 v["minb"], v["threads"]))
        r = regs.get(own_arch)
        by_regs = (sm_regs // (regs_allocated(r) * v["threads"])) if r else 0
        rows.append((e, own_arch, str(v["threads"]), str(v["minb"]), str(cap),
                     "/".join(str(regs.get(a, "?")) for a in ptxas_archs(v["target"])),
                     str(shared), str(min(by_regs, 32)), str(sm_shared // shared),
                     str(sm_threads // v["threads"])))
    return rows


def print_table(header, rows, left=2):
    table = [header] + rows
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    for i, r in enumerate(table):
        print("  ".join(c.ljust(widths[j]) if j < left else c.rjust(widths[j])
                        for j, c in enumerate(r)).rstrip())
        if i == 0:
            print("  ".join("-" * w for w in widths))


def run_ptxas(ptxas, ptx_path, arch, tmp):
    out = os.path.join(tmp, os.path.basename(ptx_path) + "." + arch + ".cubin")
    proc = subprocess.run([ptxas, "-arch=" + arch, "-v", "--warn-on-spills", "-O3", "-o", out,
                           ptx_path], capture_output=True, text=True)
    if proc.returncode != 0:
        out = proc.stdout + proc.stderr
        hint = ("\nThe module declares a .version below what one of its instructions needs: add "
                "that instruction to MIN_ISA_BY_INSTRUCTION in kernels/build.py with the PTX ISA "
                "version that introduced it (PTX ISA reference, \"PTX ISA Notes\")."
                if VERSION_REFUSAL_RE.search(out) else "")
        fail("ptxas -arch=%s %s failed:\n%s%s" % (arch, ptx_path, out, hint))
    return parse_ptxas(proc.stdout + proc.stderr)


def ptxas_refusal(ptxas, ptx, arch, tmp, name):
    """Assembles `ptx` (a copy of module `name` at another `.version`) for `arch`; returns None
    when ptxas accepts it, else its first error line."""
    path = os.path.join(tmp, name)
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write(ptx)
    proc = subprocess.run([ptxas, "-arch=" + arch, "-O0", "-o", path + ".cubin", path],
                          capture_output=True, text=True)
    if proc.returncode == 0:
        return None
    lines = [l for l in (proc.stdout + proc.stderr).splitlines() if "error" in l]
    return (lines[0] if lines else (proc.stdout + proc.stderr).strip() or "exit %d"
            % proc.returncode)


VERSION_REFUSAL_RE = re.compile(r"requires PTX ISA \.version|does not support \.target")


def check_min_versions(ptxas, fresh, tmp, problems):
    """Each module declares the lowest PTX ISA version it can: the version build.py computed, and
    ptxas refuses a copy declaring the version just below (for the module's own architecture)
    because of the version. Returns table rows."""
    rows = []
    for name in sorted(fresh):
        ptx = fresh[name]
        declared = ptx_version(ptx)
        want, why = min_isa(ptx)
        if declared != want:
            problems.append("%s declares .version %s, the tables give %s (%s)"
                            % (name, declared, want, ", ".join(why)))
            continue
        below = isa_below(declared)
        arch = "sm_" + name.split(".")[1].split("_")[1]
        said = ptxas_refusal(ptxas, with_version(ptx, below), arch, tmp,
                             name + ".below.ptx") if below else "(no earlier version)"
        if said is None:
            problems.append("%s: ptxas -arch=%s accepts a copy declaring .version %s, below the "
                            "%s build.py gives it (%s): MIN_ISA_BY_TARGET / MIN_ISA_BY_INSTRUCTION "
                            "claim too much" % (name, arch, below, declared, ", ".join(why)))
            said = "accepted"
        elif below and not VERSION_REFUSAL_RE.search(said):
            problems.append("%s: ptxas -arch=%s refuses the copy at .version %s for another reason "
                            "than the version: %s" % (name, arch, below, said))
        said = re.sub(r"^ptxas \S+, line (\d+); error\s*:\s*", r"line \1: ", said)
        rows.append((name, declared, ", ".join(why), below or "-", said))
    return rows


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
        all_entries = set()
        for name, ptx in fresh.items():
            fam, target = name.split(".")[:2]
            all_entries.update(ptx_entries(ptx))
            listed = modules.get((fam, target))
            if listed is None:
                problems.append("kernels/ptx/%s has no KernelModule in src/kernels/modules.rs" % name)
                continue
            for e in listed:
                if e not in ptx_entries(ptx):
                    problems.append("%s: entry %s listed in src/kernels/modules.rs is missing" % (name, e))
            for e in ptx_entries(ptx):
                if e not in listed:
                    problems.append("%s: entry %s is not listed in src/kernels/modules.rs" % (name, e))
        for (fam, target) in modules:
            if "%s.%s.ptx" % (fam, target) not in fresh:
                problems.append("src/kernels/modules.rs names module %s for %s, which kernels/build.py "
                                "does not build" % (fam, target))
        for e in sorted(referenced):
            if e not in all_entries:
                problems.append("src/kernels/modules.rs refers to entry %s, which no PTX defines" % e)

        # 3. ptxas: every entry assembles for its module's architecture and sm_90, no spills.
        rows = []
        gemm_ptx, gemm_stats = {}, {}
        for name in sorted(fresh, key=lambda n: (n.split(".")[0], target_key(n.split(".")[1]))):
            fam, target = name.split(".")[:2]
            path = os.path.join(tmp, name)
            entries = ptx_entries(fresh[name])
            for arch in ptxas_archs(target):
                stats = run_ptxas(ptxas, path, arch, tmp)
                if fam == "gemm":
                    gemm_stats[(target, arch)] = stats
                for e in entries:
                    s = stats.get(e)
                    if s is None or s["regs"] is None:
                        problems.append("ptxas %s: no report for entry %s of %s" % (arch, e, name))
                        continue
                    rows.append((e, target, arch, s))
                    if s["spill_st"] or s["spill_ld"]:
                        problems.append("%s (%s) on %s spills (%d B stores, %d B loads)"
                                        % (e, target, arch, s["spill_st"], s["spill_ld"]))
            if fam == "gemm":
                gemm_ptx[target] = fresh[name]

        # 4. GEMM variants: name = tile, modules, launch bounds, register cap, shared memory.
        gemm_rows = check_gemm_variants(gemm_ptx, gemm_stats, problems) if gemm_ptx else []

        # 5. PTX ISA versions: each module assembled above at the version it declares (ptxas
        # refuses an instruction newer than that); a copy at the version just below is refused;
        # src/kernels/modules.rs says the same version.
        isa_rows = check_min_versions(ptxas, fresh, tmp, problems)
        table_isa = table_ptx_isas()
        for name, ptx in sorted(fresh.items()):
            fam, target = name.split(".")[:2]
            said = table_isa.get((fam, target))
            if said is not None and said != ptx_version(ptx):
                problems.append("src/kernels/modules.rs gives %s %s ptx_isa \"%s\"; its PTX declares "
                                ".version %s" % (fam, target, said, ptx_version(ptx)))

    print_table(("entry", "module", "arch", "registers", "shared B", "stack B", "spill st B",
                 "spill ld B"),
                [(e, t, a, str(s["regs"]), str(s["smem"]), str(s["stack"]), str(s["spill_st"]),
                  str(s["spill_ld"])) for e, t, a, s in rows], left=3)
    if gemm_rows:
        print()
        print("GEMM variants (src/kernels/gemm.rs), on the lowest architecture that runs each (sm_52 "
              "GM200: 64 K registers, 96 KB shared, 2048 threads per SM): registers on it / "
              "sm_90, blocks per SM by registers / shared memory / threads:")
        print_table(("variant", "arch", "threads", "min blocks", "reg cap", "regs",
                     "shared B", "by regs", "by shared", "by threads"), gemm_rows, left=2)
    print()
    print("PTX ISA version of each module (the lowest its .target and instructions allow; "
          "assembled at it above) and what ptxas says of a copy at the version just below:")
    print_table(("module", ".version", "set by", "below", "ptxas at the version below"),
                isa_rows, left=5)
    if problems:
        for p in problems:
            print("error: " + p, file=sys.stderr)
        sys.exit(1)
    print("ok: kernels/ptx is fresh; every module declares the lowest PTX ISA it allows; %d module builds assemble for their own architecture and "
          "%s without spills (%d entry reports); %d GEMM variants within their register caps "
          "and shared memory" % (len(fresh), PTXAS_NEWEST, len(rows), len(gemm_rows)))


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
