//! Gating a Slurm cluster (deploy/slurm/) against a real Slurm: Debian's slurmctld, slurmd and
//! munge, started by this test in a temporary directory of its own (its own munge key and
//! socket, ports, spool, state and logs; nothing of a system Slurm is touched), with three
//! slurmd on this host (Debian's build runs several with `slurmd -N NAME` and a port per node).
//! Each node's two GPUs are simulated by gpugate-sim with faults of its own:
//!
//! - n1: healthy (GPU 1 at 0.98 of the model's speed);
//! - n2: GPU 1 at 0.3 of its speed: its FP32 GEMM FAILS;
//! - n3: GPU 1 at 0.8 of its speed: passes its profile, a slow outlier of the fleet.
//!
//! Every health check is run by slurmd itself (HealthCheckProgram, every 3 s) through
//! `deploy/slurm/gpugate-health-check`; the fleet by `sbatch deploy/slurm/gpugate-fleet.sbatch`.
//! Each node's run sets its own hostname (a UTS namespace, `unshare --uts`): on one host all
//! three would otherwise report the same one to the fleet.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::sim::release_binaries;

/// The Debian packages the test drives, and a program of each.
const TOOLS: [(&str, &str); 7] = [
    ("munged", "munge"),
    ("slurmctld", "slurmctld"),
    ("slurmd", "slurmd"),
    ("scontrol", "slurm-client"),
    ("sbatch", "slurm-client"),
    ("squeue", "slurm-client"),
    ("unshare", "util-linux"),
];

/// Generous: the machine running the tests is shared and loaded.
const DEADLINE: Duration = Duration::from_secs(300);

/// A node's faults: (name, gpugate-sim --fault specs).
/// Healthy GPUs differ by a percent or two, as real ones do (identical ones would leave the
/// fleet no spread to judge by but the slow GPUs' own).
const NODES: [(&str, &[&str]); 3] = [
    ("n1", &["gpu=1:slow=0.98"]),
    ("n2", &["gpu=0:slow=0.99", "gpu=1:slow=0.3"]),
    ("n3", &["gpu=0:slow=0.97", "gpu=1:slow=0.8"]),
];

/// A profile for two simulated M40s gated on FP32 GEMM alone at the tiny size the runs use
/// (256³ is launch-bound: 4.29 TFLOPS healthy; 3.53 at slow=0.8, 1.42 at slow=0.3, against a
/// pass line of 2.0), so a run takes seconds.
const PROFILE: &str = r#"name = "slurm-test-m40x2"
description = "gpugate's Slurm test: two simulated M40s, FP32 GEMM at 256 only"
[machine]
gpu_model = "Tesla M40"
gpu_count = 2
[[target]]
metric = "fp32_gemm"
scope = "gpu"
spec_tflops = 4.0
pass_fraction = 0.5
source = "the Slurm test's own line, for the simulated M40 at 256³"
"#;

fn require_tools() {
    // SAFETY: geteuid(2) cannot fail.
    assert_eq!(
        unsafe { libc::geteuid() },
        0,
        "the Slurm test starts slurmctld and slurmd, which run jobs and drain nodes as root \
         (SlurmUser=root): run it as root (bash .ci/test in a root shell or a container)"
    );
    let missing: Vec<String> = TOOLS
        .iter()
        .filter(|(prog, _)| !on_path(prog))
        .map(|(prog, pkg)| format!("{prog} (Debian package {pkg})"))
        .collect();
    assert!(
        missing.is_empty(),
        "the Slurm test drives a real Slurm and munge, and these are missing: {}. Install them \
         with `apt-get install slurmctld slurmd slurm-client munge` (bash .ci/test does)",
        missing.join(", ")
    );
}

fn on_path(prog: &str) -> bool {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/sbin".into()])
        .any(|d| d.join(prog).is_file())
}

/// `n` ports free now on 127.0.0.1 (held together while chosen, so they differ).
fn free_ports(n: usize) -> Vec<u16> {
    let held: Vec<TcpListener> = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("a free port"))
        .collect();
    held.iter()
        .map(|l| l.local_addr().unwrap().port())
        .collect()
}

/// The cluster: its daemons are killed, and the nodes' background runs with them, when it is
/// dropped (a failing assertion included).
struct Cluster {
    dir: tempfile::TempDir,
    daemons: Vec<(String, Child)>,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for (_, c) in self.daemons.iter_mut().rev() {
            let _ = c.kill();
            let _ = c.wait();
        }
        // The background runs: each in its own process group, its pid in checks.log.
        for (node, _) in NODES {
            let log = std::fs::read_to_string(self.state(node).join("checks.log"));
            for pid in log.unwrap_or_default().split("(pid ").skip(1) {
                if let Ok(pid) = pid.split(')').next().unwrap_or("").parse::<i32>() {
                    // SAFETY: kill(2) on a process group this test's cluster started.
                    unsafe { libc::kill(-pid, libc::SIGKILL) };
                }
            }
        }
    }
}

impl Cluster {
    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn state(&self, node: &str) -> PathBuf {
        self.path("state").join(node)
    }

    fn conf(&self) -> PathBuf {
        self.path("slurm.conf")
    }

    fn env_file(&self) -> PathBuf {
        self.path("gpugate-slurm.env")
    }

    fn spawn(&mut self, name: &str, mut cmd: Command) {
        let log = std::fs::File::create(self.path(&format!("log/{name}.out"))).unwrap();
        let child = cmd
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("{name} does not start: {e}"));
        self.daemons.push((name.to_string(), child));
    }

    /// A Slurm client command against this cluster; its stdout.
    fn slurm(&self, prog: &str, args: &[&str]) -> String {
        let o = Command::new(prog)
            .args(args)
            .env("SLURM_CONF", self.conf())
            .env("GPUGATE_SLURM_ENV", self.env_file())
            .output()
            .unwrap_or_else(|e| panic!("{prog} does not run: {e}"));
        assert!(
            o.status.success(),
            "{prog} {args:?}: {}\n{}",
            String::from_utf8_lossy(&o.stderr),
            self.logs()
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    fn node(&self, name: &str) -> gpugate::slurm::NodeState {
        gpugate::slurm::parse_show_node(&self.slurm("scontrol", &["show", "node", "-o", name]))
            .unwrap_or_else(|| panic!("scontrol does not describe {name}"))
    }

    fn checks(&self, node: &str) -> String {
        std::fs::read_to_string(self.state(node).join("checks.log")).unwrap_or_default()
    }

    /// The end of every log, for a failure message.
    fn logs(&self) -> String {
        let mut s = String::new();
        let mut files: Vec<PathBuf> = std::fs::read_dir(self.path("log"))
            .map(|d| d.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        for (node, _) in NODES {
            files.push(self.state(node).join("checks.log"));
            files.push(self.state(node).join("run.log"));
        }
        files.push(self.path("fleet-job.out"));
        for f in files {
            let text = std::fs::read_to_string(&f).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            let tail = lines[lines.len().saturating_sub(12)..].join("\n");
            s.push_str(&format!("--- {}\n{tail}\n", f.display()));
        }
        s
    }

    /// Polls `what` until it gives a value or the deadline passes.
    fn wait_for<T>(&self, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
        let t0 = Instant::now();
        loop {
            if let Some(v) = f() {
                return v;
            }
            assert!(
                t0.elapsed() < DEADLINE,
                "{what}: not within {DEADLINE:?}\n{}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(500));
        }
    }
}

/// Writes the cluster's files: munge key, slurm.conf, the health check's shim and gpugate's
/// configuration file (deploy/slurm/slurm.env.example's variables).
fn write_files(c: &Cluster, gpugate: &Path, sim: &Path) {
    let d = c.dir.path();
    for sub in [
        "log", "spool", "ctld", "munge", "state", "shared", "faults", "interval",
    ] {
        std::fs::create_dir_all(d.join(sub)).unwrap();
    }
    let key: Vec<u8> = (0..1024u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    let key_path = d.join("munge/munge.key");
    std::fs::write(&key_path, key).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&key_path, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::write(d.join("m40x2.toml"), PROFILE).unwrap();
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    // slurmctld runs where SlurmctldHost names: this host, by its short name. Every daemon
    // listens on 127.0.0.1 only (CommunicationParameters: slurmctld on SlurmctldHost's address,
    // slurmd and its steps on their NodeAddr), never on the machine's network.
    let host = host.trim().split('.').next().unwrap_or("localhost");
    let ports = free_ports(NODES.len() + 1);
    let mut conf = format!(
        "ClusterName=gpugatetest\nSlurmctldHost={host}(127.0.0.1)\nSlurmctldPort={ctld}\n\
         SlurmUser=root\nSlurmdUser=root\nAuthType=auth/munge\nCredType=cred/munge\n\
         AuthInfo=socket={d}/munge/socket\nStateSaveLocation={d}/ctld\n\
         SlurmdSpoolDir={d}/spool/%n\nSlurmctldPidFile={d}/slurmctld.pid\n\
         SlurmdPidFile={d}/slurmd.%n.pid\nSlurmctldLogFile={d}/log/slurmctld.log\n\
         SlurmdLogFile={d}/log/slurmd.%n.log\nProctrackType=proctrack/linuxproc\n\
         TaskPlugin=task/none\nSelectType=select/cons_tres\nMpiDefault=none\n\
         JobAcctGatherType=jobacct_gather/none\nAccountingStorageType=accounting_storage/none\n\
         ReturnToService=2\nHealthCheckProgram={d}/health-check\nHealthCheckInterval=3\n\
         HealthCheckNodeState=ANY\nCommunicationParameters=NoCtldInAddrAny,NoInAddrAny\n",
        ctld = ports[0],
        d = d.display()
    );
    for (i, (node, faults)) in NODES.iter().enumerate() {
        conf.push_str(&format!(
            "NodeName={node} NodeHostname=localhost NodeAddr=127.0.0.1 Port={} CPUs=1 State=UNKNOWN\n",
            ports[i + 1]
        ));
        std::fs::create_dir_all(d.join("spool").join(node)).unwrap();
        std::fs::write(d.join("faults").join(node), faults.join("\n")).unwrap();
        // One run is enough until the test asks for another.
        std::fs::write(d.join("interval").join(node), "1h").unwrap();
    }
    conf.push_str("PartitionName=gpu Nodes=n1,n2,n3 Default=YES MaxTime=INFINITE State=UP\n");
    std::fs::write(c.conf(), conf).unwrap();
    write_gpugate_env(c, gpugate, sim);
}

/// The health check's shim and gpugate's configuration file for the nodes (the variables of
/// deploy/slurm/slurm.env.example): each node's two simulated GPUs with its faults, the tiny
/// run, its own state directory and interval.
fn write_gpugate_env(c: &Cluster, gpugate: &Path, sim: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let d = c.dir.path();
    let deploy = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/slurm");
    // HealthCheckProgram takes no arguments or environment: a site's script sits at
    // /etc/gpugate/slurm.env; this cluster's is named by a shim.
    let shim = d.join("health-check");
    std::fs::write(
        &shim,
        format!(
            "#!/bin/sh\nGPUGATE_SLURM_ENV={} exec {}\n",
            c.env_file().display(),
            deploy.join("gpugate-health-check").display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&shim, std::fs::Permissions::from_mode(0o755)).unwrap();
    let env = format!(
        r#"export SLURM_CONF={d}/slurm.conf
export GPUGATE_CACHE_DIR={d}/cache
GPUGATE={gpugate}
GPUGATE_STATE_DIR={d}/state/$NODE
sim=({sim} --no-racecheck --model m40 --model m40)
faults=()
if [ -e {d}/faults/$NODE ]; then mapfile -t faults < {d}/faults/$NODE; fi
for f in "${{faults[@]}}"; do sim+=(--fault "$f"); done
run=(unshare --uts -- sh -c 'hostname "$0" && exec "$@"' "$NODE" "${{sim[@]}}" -- "$GPUGATE" run
     --allow-simulated --backend cuda --level quick --profile {d}/m40x2.toml --min-time 0.01
     --timeout 0.1 --gemm-sizes 256 --stream-mib 1 --video-sizes 32x32,me=16x16
     --encode-frames 1 --seed 7)
GPUGATE_RUN=("${{run[@]}}")
GPUGATE_FLEET_RUN=("${{run[@]}}")
GPUGATE_INTERVAL=$(cat {d}/interval/$NODE 2>/dev/null || true)
"#,
        d = d.display(),
        gpugate = gpugate.display(),
        sim = sim.display(),
    );
    std::fs::write(c.env_file(), env).unwrap();
}

fn start() -> Cluster {
    require_tools();
    let (gpugate, sim) = release_binaries();
    let mut c = Cluster {
        dir: tempfile::tempdir().unwrap(),
        daemons: Vec::new(),
    };
    write_files(&c, gpugate, sim);
    let d = c.dir.path().to_path_buf();
    let mut munged = Command::new("munged");
    munged.args(["-F", "-f"]).args([
        format!("--socket={}/munge/socket", d.display()),
        format!("--key-file={}/munge/munge.key", d.display()),
        format!("--log-file={}/log/munged.log", d.display()),
        format!("--pid-file={}/munge/munged.pid", d.display()),
        format!("--seed-file={}/munge/munged.seed", d.display()),
    ]);
    c.spawn("munged", munged);
    c.wait_for("munged's socket", || {
        d.join("munge/socket").exists().then_some(())
    });
    let mut ctld = Command::new("slurmctld");
    ctld.args(["-D", "-i", "-f"]).arg(c.conf());
    c.spawn("slurmctld", ctld);
    c.wait_for("slurmctld answering", || {
        Command::new("scontrol")
            .arg("ping")
            .env("SLURM_CONF", c.conf())
            .output()
            .ok()
            .filter(|o| String::from_utf8_lossy(&o.stdout).contains("is UP"))
            .map(drop)
    });
    c
}

fn start_nodes(c: &mut Cluster) {
    for (node, _) in NODES {
        let mut d = Command::new("slurmd");
        d.args(["-D", "-N", node, "-f"]).arg(c.conf());
        c.spawn(&format!("slurmd-{node}"), d);
    }
}

fn fleet_json(c: &Cluster) -> Value {
    let path = c.path("shared/fleet/latest/fleet.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}\n{}", path.display(), c.logs()));
    serde_json::from_str(&text).unwrap()
}

#[test]
fn a_slurm_cluster_is_gated_by_node_health_checks_and_a_fleet_job() {
    let mut c = start();
    let t0 = Instant::now();
    let job = submit_fleet_job(&c);
    start_nodes(&mut c);
    c.wait_for("the fleet job to end", || {
        c.slurm("squeue", &["-h", "-j", &job])
            .trim()
            .is_empty()
            .then_some(())
    });
    assert_fleet_names_the_outlier(&c);
    assert_daemons_listen_on_loopback_only(&c);
    eprintln!(
        "slurm: fleet job done at {:.0} s",
        t0.elapsed().as_secs_f64()
    );
    assert_failing_node_drained(&c);
    eprintln!("slurm: n2 drained at {:.0} s", t0.elapsed().as_secs_f64());
    assert_person_drain_kept(&c);
    assert_fixed_node_resumed(&c);
    assert_interval_and_prolog(&c);
    eprintln!("slurm: n2 resumed at {:.0} s", t0.elapsed().as_secs_f64());
}

/// Every TCP socket slurmctld and the slurmd listen on is bound to 127.0.0.1: the test's
/// cluster is reachable from this machine only (from `/proc/PID/fd` and `/proc/net/tcp{,6}`).
fn assert_daemons_listen_on_loopback_only(c: &Cluster) {
    for (name, child) in c.daemons.iter().filter(|(n, _)| n.starts_with("slurm")) {
        let listening = listening_addresses(child.id());
        assert!(
            !listening.is_empty(),
            "{name} listens on no TCP port\n{}",
            c.logs()
        );
        for addr in &listening {
            assert!(
                addr.starts_with("127.0.0.1:"),
                "{name} listens on {addr}, not on loopback only: {listening:?}"
            );
        }
    }
}

/// The local addresses of the TCP sockets process `pid` listens on, as `IP:PORT`.
fn listening_addresses(pid: u32) -> Vec<String> {
    let inodes: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| {
            d.filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
                .filter_map(|l| {
                    let l = l.to_string_lossy().into_owned();
                    Some(l.strip_prefix("socket:[")?.strip_suffix(']')?.to_string())
                })
                .collect()
        })
        .unwrap_or_default();
    let mut out = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let text = std::fs::read_to_string(table).unwrap_or_default();
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
            if f.len() > 9 && f[3] == "0A" && inodes.iter().any(|i| i == f[9]) {
                out.push(proc_net_address(f[1]));
            }
        }
    }
    out
}

/// `/proc/net/tcp`'s `0100007F:1A0B` as `127.0.0.1:6667` (IPv4, in host byte order); an IPv6
/// address in its hex form.
fn proc_net_address(field: &str) -> String {
    let (ip, port) = field.split_once(':').unwrap_or((field, "0"));
    let port = u16::from_str_radix(port, 16).unwrap_or(0);
    match u32::from_str_radix(ip, 16) {
        Ok(v) if ip.len() == 8 => {
            format!("{}:{port}", std::net::Ipv4Addr::from(v.to_ne_bytes()))
        }
        _ => format!("[{ip}]:{port}"),
    }
}

#[test]
fn proc_net_addresses_read_as_ip_and_port() {
    assert_eq!(proc_net_address("0100007F:1A0B"), "127.0.0.1:6667");
    assert_eq!(proc_net_address("00000000:0016"), "0.0.0.0:22");
    assert_eq!(
        proc_net_address("00000000000000000000000000000000:1A0B"),
        "[00000000000000000000000000000000]:6667"
    );
}

/// The fleet job, submitted before the nodes start: no node has a result to be drained for
/// yet; it waits for them to register and runs on all three. Its job id.
fn submit_fleet_job(c: &Cluster) -> String {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/slurm/gpugate-fleet.sbatch");
    let out = c.path("fleet-job.out");
    let shared = c.path("shared");
    let job = c.slurm(
        "sbatch",
        &[
            "--parsable",
            "--partition=gpu",
            "--nodes=3",
            &format!("--output={}", out.display()),
            script.to_str().unwrap(),
            shared.to_str().unwrap(),
        ],
    );
    job.trim().to_string()
}

/// The fleet: n2 failed, n3 passed and is named a slow outlier, n1 passed.
fn assert_fleet_names_the_outlier(c: &Cluster) {
    let f = fleet_json(c);
    let node = |h: &str| {
        f["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["hostname"] == h)
            .unwrap_or_else(|| panic!("{h} not in fleet.json: {f:#}"))
            .clone()
    };
    assert_eq!(node("n1")["verdict"], "pass", "{f:#}");
    assert_eq!(node("n2")["verdict"], "fail", "{f:#}");
    assert_eq!(node("n3")["verdict"], "pass", "{f:#}");
    assert!(node("n3")["slow_outliers"].as_u64() >= Some(1), "{f:#}");
    let sgemm_outliers: Vec<(String, u64)> = f["groups"][0]["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["metric"] == "sgemm.256x256x256")
        .flat_map(|m| m["outliers"].as_array().cloned().unwrap_or_default())
        .map(|o| {
            (
                o["hostname"].as_str().unwrap().to_string(),
                o["gpu"].as_u64().unwrap(),
            )
        })
        .collect();
    assert!(
        sgemm_outliers.contains(&("n3".to_string(), 1)),
        "n3's GPU 1 is not named an FP32 GEMM outlier: {sgemm_outliers:?}\n{f:#}"
    );
    assert_eq!(f["exit_code"], 1, "a node failed: {f:#}");
}

/// slurmd's health checks: n2 drained with gpugate's reason, n1 and n3 stay idle.
fn assert_failing_node_drained(c: &Cluster) {
    let n2 = c.wait_for("n2 drained by gpugate", || {
        let n = c.node("n2");
        n.drained().then_some(n)
    });
    let reason = n2.reason.clone().unwrap_or_default();
    assert!(
        reason.starts_with("gpugate: gpu1.fp32_gemm observed 1.42 TFLOPS vs required 2.00 TFLOPS"),
        "{reason:?}"
    );
    for quiet in ["n1", "n3"] {
        c.wait_for(&format!("{quiet} judged PASS"), || {
            c.checks(quiet)
                .contains(": PASS → left alone")
                .then_some(())
        });
        let n = c.node(quiet);
        assert_eq!(
            (n.state.clone(), n.reason.clone()),
            (vec!["IDLE".to_string()], None),
            "{quiet}"
        );
    }
}

/// A person drains n3 (which passes): gpugate never resumes it, nor rewrites the reason.
fn assert_person_drain_kept(c: &Cluster) {
    let before = c.checks("n3").lines().count();
    c.slurm(
        "scontrol",
        &[
            "update",
            "NodeName=n3",
            "State=DRAIN",
            "Reason=maintenance: fan",
        ],
    );
    c.wait_for("a check of n3 after the person's drain", || {
        let log = c.checks("n3");
        let after: Vec<&str> = log.lines().skip(before).collect();
        after
            .iter()
            .any(|l| {
                l.contains("PASS → left alone: its reason is not gpugate's (\"maintenance: fan\")")
            })
            .then_some(())
    });
}

/// n2 fixed: its next run passes, and the check resumes it; n3 stays as the person left it.
fn assert_fixed_node_resumed(c: &Cluster) {
    std::fs::write(c.path("faults/n2"), "gpu=0:slow=0.99").unwrap();
    std::fs::write(c.path("interval/n2"), "").unwrap();
    c.wait_for("n2 resumed", || {
        let n = c.node("n2");
        (!n.drained() && n.reason.is_none()).then_some(())
    });
    assert!(
        c.checks("n2").contains("PASS → resumed"),
        "{}",
        c.checks("n2")
    );
    let n3 = c.node("n3");
    assert!(n3.drained(), "{n3:?}");
    assert_eq!(n3.reason.as_deref(), Some("maintenance: fan"));
}

/// n1's one run is enough (GPUGATE_INTERVAL=1h), and the health check run as a Prolog acts on
/// the last result and starts no run.
fn assert_interval_and_prolog(c: &Cluster) {
    // n1's one run is enough: with GPUGATE_INTERVAL=1h its checks start no other.
    assert!(
        c.checks("n1").contains("s old: none started"),
        "{}",
        c.checks("n1")
    );
    // As a Prolog: slurmd's environment, no run started, the last result acted on.
    let deploy = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/slurm");
    let o = Command::new(deploy.join("gpugate-health-check"))
        .env_clear()
        .env("SLURMD_NODENAME", "n1")
        .env("SLURM_SCRIPT_CONTEXT", "prolog_slurmd")
        .env("SLURM_JOB_ID", "7")
        .env("GPUGATE_SLURM_ENV", c.env_file())
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&o.stdout);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{said}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        said.starts_with("gpugate: node n1 (IDLE): PASS → left alone")
            && said.trim_end().ends_with("| no run started (--no-start)"),
        "{said}"
    );
}

/// Bad input to `gpugate slurm`: exit 2, saying what was wrong and what to do; nothing run.
#[test]
fn slurm_commands_refuse_bad_input_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let state = state.to_str().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, "").unwrap();
    let under_file = file.join("state");
    #[rustfmt::skip]
    let cases: Vec<(&str, Vec<&str>, &str)> = vec![
        ("no scontrol",
         vec!["slurm", "check", "--node", "n1", "--state-dir", state, "--scontrol", "/nonexistent/scontrol", "--", "true"],
         "Install Slurm's client commands (Debian: apt-get install slurm-client) or give --scontrol"),
        ("a state directory that cannot be created",
         vec!["slurm", "check", "--node", "n1", "--state-dir", under_file.to_str().unwrap(), "--", "true"],
         "cannot use the state directory"),
        ("no state directory",
         vec!["slurm", "check", "--node", "n1", "--", "true"],
         "--state-dir <DIR>"),
        ("a bad interval",
         vec!["slurm", "check", "--state-dir", state, "--interval", "soon", "--", "true"],
         "--interval"),
        ("a background run with no command",
         vec!["slurm", "run", "--state-dir", state],
         "COMMAND"),
    ];
    for (what, args, says) in cases {
        let o = crate::gpugate(&args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{what}: {err}");
        assert!(err.contains(says), "{what}: {err}");
        assert!(!err.contains("panicked"), "{what}: {err}");
    }
    assert!(
        !dir.path().join("state/run.lock").exists(),
        "a refused check started a run"
    );
}
