//! Kubernetes gating (deploy/k8s/, `gpugate k8s`): every manifest validated against the
//! Kubernetes API schema with kubernetes-validate and linted with yamllint (the real tools,
//! installed by `.ci/test` from PyPI into target/py), a broken manifest rejected by each, the
//! entrypoint script checked by shellcheck and run against a local HTTP server standing in for
//! the API server, and the two subcommands on real run.json files.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};

use super::*;

/// The Kubernetes version the manifests are validated against (README, "Gating a Kubernetes
/// node pool").
const KUBERNETES_VERSION: &str = "1.34.0";
const INSTALL: &str = "run `bash .ci/test` (it installs them), or: python3 -m venv target/py && \
     target/py/bin/pip install kubernetes-validate==1.37.0 yamllint==1.38.0";

fn repo(rel: &str) -> PathBuf {
    let here = PathBuf::from(rel);
    if here.exists() {
        here
    } else {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(rel)
    }
}

/// The virtual environment `.ci/test` installs the Python tools into: `$GPUGATE_PY_VENV`, else
/// `$CARGO_TARGET_DIR/py`, else target/py.
fn venv() -> PathBuf {
    if let Some(p) = std::env::var_os("GPUGATE_PY_VENV") {
        return p.into();
    }
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(t) => PathBuf::from(t).join("py"),
        None => repo("target").join("py"),
    }
}

/// A Python tool of the venv; a test that needs a missing one fails saying how to install it.
fn tool(name: &str) -> PathBuf {
    let p = venv().join("bin").join(name);
    assert!(p.exists(), "{} is missing: {INSTALL}", p.display());
    p
}

fn manifests() -> Vec<PathBuf> {
    let mut m: Vec<PathBuf> = std::fs::read_dir(repo("deploy/k8s"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    m.sort();
    m
}

fn kubernetes_validate(files: &[PathBuf]) -> Output {
    Command::new(tool("kubernetes-validate"))
        .args([
            "--kubernetes-version",
            KUBERNETES_VERSION,
            "--strict",
            "--quiet",
        ])
        .args(files)
        .output()
        .expect("kubernetes-validate runs")
}

fn yamllint(files: &[PathBuf]) -> Output {
    Command::new(tool("yamllint"))
        .arg("-c")
        .arg(repo(".yamllint"))
        .args(["-s", "-f", "parsable"])
        .args(files)
        .output()
        .expect("yamllint runs")
}

/// Every document of a YAML file, as JSON (through the venv's PyYAML, which yamllint uses).
fn yaml_docs(path: &Path) -> Vec<Value> {
    let o = Command::new(tool("python"))
        .args([
            "-c",
            "import json, sys, yaml; print(json.dumps(list(yaml.safe_load_all(open(sys.argv[1])))))",
        ])
        .arg(path)
        .output()
        .expect("python runs");
    assert!(o.status.success(), "{}", stderr(&o));
    serde_json::from_slice(&o.stdout).unwrap()
}

fn doc(file: &str, kind: &str, name: &str) -> Value {
    yaml_docs(&repo(&format!("deploy/k8s/{file}")))
        .into_iter()
        .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name} in {file}"))
}

#[test]
fn every_manifest_is_valid_kubernetes_and_lint_clean() {
    let m = manifests();
    assert!(m.len() >= 5, "{m:?}");
    let o = kubernetes_validate(&m);
    assert!(
        o.status.success(),
        "kubernetes-validate {KUBERNETES_VERSION} --strict:\n{}{}",
        stdout(&o),
        stderr(&o)
    );
    let o = yamllint(&m);
    assert!(
        o.status.success(),
        "yamllint:\n{}{}",
        stdout(&o),
        stderr(&o)
    );
}

#[test]
fn a_broken_manifest_is_rejected_by_each_tool() {
    let tmp = tempfile::tempdir().unwrap();
    let ds = std::fs::read_to_string(repo("deploy/k8s/30-daemonset.yaml")).unwrap();
    // A misspelt field: valid YAML, unknown to the API.
    let typo = tmp.path().join("typo.yaml");
    std::fs::write(&typo, ds.replacen("nodeSelector:", "nodeSelecter:", 1)).unwrap();
    let o = kubernetes_validate(std::slice::from_ref(&typo));
    assert!(!o.status.success(), "{}", stdout(&o));
    assert!(stdout(&o).contains("nodeSelecter"), "{}", stdout(&o));
    // A wrong type: a port as text.
    let wrong = tmp.path().join("wrong.yaml");
    std::fs::write(&wrong, ds.replacen("cpu: \"1\"", "cpu: [1]", 1)).unwrap();
    assert!(!kubernetes_validate(&[wrong]).status.success());
    // A key given twice and a trailing space: yamllint's errors.
    let lint = tmp.path().join("lint.yaml");
    let twice = ds.replacen(
        "  name: gpugate\n",
        "  name: gpugate\n  name: gpugate \n",
        1,
    );
    std::fs::write(&lint, twice).unwrap();
    let o = yamllint(&[lint]);
    assert!(!o.status.success());
    let out = stdout(&o);
    assert!(
        out.contains("key-duplicates") && out.contains("trailing-spaces"),
        "{out}"
    );
}

#[test]
fn the_entrypoint_is_shellcheck_clean() {
    let o = Command::new("shellcheck")
        .arg(repo("deploy/k8s/gpugate-node.sh"))
        .output()
        .unwrap_or_else(|e| {
            panic!("shellcheck: {e}: run `bash .ci/test` (it installs it), or apt-get install shellcheck")
        });
    assert!(o.status.success(), "shellcheck:\n{}", stdout(&o));
}

/// The DaemonSet, its RBAC and the NPD wiring agree with what gpugate and its script expect.
#[test]
fn the_daemonset_rbac_and_npd_wiring_fit_together() {
    let role = doc("10-rbac.yaml", "ClusterRole", "gpugate-node-verdict");
    assert_eq!(
        role["rules"],
        json!([{"apiGroups": [""], "resources": ["nodes"], "verbs": ["get", "patch"]}])
    );
    let ds = doc("30-daemonset.yaml", "DaemonSet", "gpugate");
    let spec = &ds["spec"]["template"]["spec"];
    assert_eq!(spec["serviceAccountName"], "gpugate");
    assert_eq!(spec["runtimeClassName"], "nvidia");
    let tolerates_own_taint = spec["tolerations"].as_array().unwrap().iter().any(|t| {
        t["key"] == gpugate::k8s::TAINT_KEY
            && t["effect"] == gpugate::k8s::TAINT_EFFECT
            && t["operator"] == "Exists"
    });
    assert!(tolerates_own_taint, "{}", spec["tolerations"]);
    let c = &spec["containers"][0];
    let env = |name: &str| {
        c["env"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("no {name}"))
    };
    assert_eq!(
        env("NODE_NAME")["valueFrom"]["fieldRef"]["fieldPath"],
        "spec.nodeName"
    );
    assert_eq!(
        env("NVIDIA_DRIVER_CAPABILITIES")["value"],
        "compute,utility,video"
    );
    let results = env("GPUGATE_RESULTS")["value"].clone();
    assert_eq!(c["volumeMounts"][0]["mountPath"], results);

    // NPD: its rule runs the binary the init container copies, on the run the DaemonSet
    // writes, cut to the length NPD is configured with; gpugate accepts those arguments.
    let cm = doc("40-npd.yaml", "ConfigMap", "gpugate-npd-monitor");
    let monitor: Value =
        serde_json::from_str(cm["data"]["gpugate-monitor.json"].as_str().unwrap()).unwrap();
    assert_eq!(monitor["plugin"], "custom");
    let rule = &monitor["rules"][0];
    assert_eq!(rule["type"], "permanent");
    assert_eq!(rule["condition"], monitor["conditions"][0]["type"]);
    // NPD refuses a rule whose timeout is above the global one.
    let secs = |v: &Value| {
        v.as_str()
            .unwrap()
            .trim_end_matches('s')
            .parse::<u32>()
            .unwrap()
    };
    assert!(secs(&rule["timeout"]) <= secs(&monitor["pluginConfig"]["timeout"]));
    let npd = doc("40-npd.yaml", "DaemonSet", "gpugate-npd");
    let init = &npd["spec"]["template"]["spec"]["initContainers"][0]["command"];
    assert_eq!(init[2], rule["path"]);
    let args: Vec<String> = serde_json::from_value(rule["args"].clone()).unwrap();
    let run_at = args.iter().position(|a| a == "--run").unwrap() + 1;
    assert_eq!(
        Path::new(&args[run_at]),
        Path::new(results.as_str().unwrap()).join("latest/run.json")
    );
    let max = args
        .iter()
        .position(|a| a == "--max-output-length")
        .unwrap()
        + 1;
    assert_eq!(
        args[max],
        monitor["pluginConfig"]["max_output_length"].to_string()
    );
    let fail = fixture("no-gpu-g2.large-quick.schema3.run.json");
    let mut a: Vec<&str> = args.iter().map(String::as_str).collect();
    a[run_at] = fail.to_str().unwrap();
    let o = gpugate(&a);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stdout(&o).trim_end().len() <= 80);
}

/// The Dockerfile (which cannot be built here: no container engine) builds gpugate alone and
/// puts the binary and the entrypoint where the manifests expect them.
#[test]
fn the_dockerfile_builds_gpugate_alone_where_the_manifests_look() {
    let d = std::fs::read_to_string(repo("deploy/k8s/Dockerfile")).unwrap();
    let runs: Vec<&str> = d.lines().filter(|l| l.starts_with("RUN cargo")).collect();
    assert_eq!(runs, ["RUN cargo build --release --locked -p gpugate"]);
    let code: Vec<&str> = d.lines().filter(|l| !l.starts_with('#')).collect();
    assert!(
        !code.iter().any(|l| l.contains("gpugate-sim")),
        "the simulator never goes into the image"
    );
    assert!(d.contains("COPY --from=build /src/target/release/gpugate /usr/local/bin/gpugate\n"));
    assert!(d.contains("COPY deploy/k8s/gpugate-node.sh /usr/local/bin/gpugate-node\n"));
    assert!(d.contains("ENTRYPOINT [\"/usr/local/bin/gpugate-node\"]"));
    assert!(d.contains("NVIDIA_DRIVER_CAPABILITIES=compute,utility,video"));
    let install = d.lines().find(|l| l.contains("apt-get install")).unwrap();
    assert!(
        install.contains("curl") && install.contains("ffmpeg"),
        "{install}"
    );
    let npd = doc("40-npd.yaml", "DaemonSet", "gpugate-npd");
    let init = &npd["spec"]["template"]["spec"]["initContainers"][0]["command"];
    assert_eq!(init[1], "/usr/local/bin/gpugate");
    let ignore = std::fs::read_to_string(repo(".dockerignore")).unwrap();
    assert!(
        ignore.lines().any(|l| l == "target"),
        "the build context leaves target/ out"
    );
}

const PASS_RUN: &str = "fleet/sim-m40x2-g2.2xlarge-quick.schema3.run.json";
const FAIL_RUN: &str = "no-gpu-g2.large-quick.schema3.run.json";

fn node_json(labels: Value, taints: Value) -> Value {
    json!({
        "kind": "Node", "apiVersion": "v1",
        "metadata": {"name": "gpu-7", "resourceVersion": "100", "labels": labels},
        "spec": {"taints": taints},
        "status": {"conditions": []}
    })
}

fn k8s_patch(node: &Value, run: &Path) -> Output {
    let mut c = Command::new(bin())
        .args(["k8s", "patch", "--node-json", "-", "--run"])
        .arg(run)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    c.stdin
        .take()
        .unwrap()
        .write_all(node.to_string().as_bytes())
        .unwrap();
    c.wait_with_output().unwrap()
}

#[test]
fn k8s_patch_prints_the_patch_for_the_runs_verdict() {
    let person = json!({"key": "team/maint", "effect": "NoSchedule"});
    let ours = json!({"key": "gpugate.io/unhealthy", "effect": "NoSchedule"});
    let n = node_json(json!({"gpugate.io/verdict": "pass"}), json!([person]));
    let o = k8s_patch(&n, &fixture(FAIL_RUN));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        r#"[{"op":"test","path":"/spec/taints","value":[{"effect":"NoSchedule","key":"team/maint"}]},{"op":"add","path":"/metadata/labels/gpugate.io~1verdict","value":"fail"},{"op":"add","path":"/spec/taints/-","value":{"effect":"NoSchedule","key":"gpugate.io/unhealthy"}}]"#
            .to_string()
            + "\n"
    );
    assert!(
        stderr(&o).contains("node gpu-7: verdict fail"),
        "{}",
        stderr(&o)
    );

    let n = node_json(json!({"gpugate.io/verdict": "fail"}), json!([ours, person]));
    let o = k8s_patch(&n, &fixture(PASS_RUN));
    assert_eq!(
        stdout(&o),
        r#"[{"op":"test","path":"/spec/taints","value":[{"effect":"NoSchedule","key":"gpugate.io/unhealthy"},{"effect":"NoSchedule","key":"team/maint"}]},{"op":"add","path":"/metadata/labels/gpugate.io~1verdict","value":"pass"},{"op":"remove","path":"/spec/taints/0"}]"#
            .to_string()
            + "\n"
    );
    // Already right: nothing on stdout, nothing to send.
    let n = node_json(json!({"gpugate.io/verdict": "pass"}), json!([person]));
    let o = k8s_patch(&n, &fixture(PASS_RUN));
    assert_eq!((o.status.code(), stdout(&o).as_str()), (Some(0), ""));
    assert!(stderr(&o).contains("nothing to change"), "{}", stderr(&o));
}

#[test]
fn k8s_bad_input_is_exit_2_with_what_to_do() {
    let o = k8s_patch(&json!({"kind": "Pod"}), &fixture(PASS_RUN));
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("not a Kubernetes Node object: its kind is \"Pod\""),
        "{}",
        stderr(&o)
    );
    let n = node_json(json!({}), json!([]));
    let o = k8s_patch(&n, Path::new("/nonexistent/run.json"));
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("Pass the run.json of the node's last finished run"),
        "{}",
        stderr(&o)
    );
    assert!(stdout(&o).is_empty());
    let o = gpugate(&[
        "k8s",
        "patch",
        "--node-json",
        "/nonexistent.json",
        "--run",
        "x",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("cannot read the node object /nonexistent.json"),
        "{}",
        stderr(&o)
    );
    let o = gpugate(&["k8s", "npd", "--run", "/nonexistent/run.json"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stdout(&o).starts_with("gpugate: no run: cannot read /nonexistent/run.json"));
    assert!(stdout(&o).trim_end().len() <= 80);
}

#[test]
fn k8s_npd_answers_with_the_runs_verdict() {
    let pass = fixture(PASS_RUN);
    let o = gpugate(&["k8s", "npd", "--run", pass.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(stdout(&o), "gpugate PASS, run of 2026-12-07T18:01:05Z\n");
    let fail = fixture(FAIL_RUN);
    let o = gpugate(&[
        "k8s",
        "npd",
        "--run",
        fail.to_str().unwrap(),
        "--max-output-length",
        "40",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(stdout(&o), "gpugate FAIL (+18 more): machine.gpu_…\n");
}

/// One request the stand-in API server received.
#[derive(Debug, Clone)]
struct Request {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: String,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A local HTTP server standing in for the API server: GET answers the node; each PATCH
/// answers the next status of `patch_answers` (200 once they run out), and a 422 first makes
/// `concurrent` change the node, as someone else's write in between would have.
struct ApiServer {
    url: String,
    requests: Arc<Mutex<Vec<Request>>>,
    stop: Arc<AtomicBool>,
}

impl Drop for ApiServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

type Change = Box<dyn Fn(&mut Value) + Send>;

fn api_server(node: Value, patch_answers: Vec<u16>, concurrent: Change) -> ApiServer {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let requests = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let (reqs, halt) = (requests.clone(), stop.clone());
    std::thread::spawn(move || {
        let mut node = node;
        let mut answers = patch_answers.into_iter();
        while !halt.load(Ordering::Relaxed) {
            let Ok((s, _)) = listener.accept() else {
                std::thread::sleep(std::time::Duration::from_millis(5));
                continue;
            };
            let r = read_request(&s);
            let (status, body) = match r.method.as_str() {
                "GET" => (200, node.to_string()),
                "PATCH" => match answers.next().unwrap_or(200) {
                    422 => {
                        concurrent(&mut node);
                        (422, r#"{"kind":"Status","code":422}"#.to_string())
                    }
                    s => (s, node.to_string()),
                },
                _ => (405, String::new()),
            };
            reqs.lock().unwrap().push(r);
            respond(s, status, &body);
        }
    });
    ApiServer {
        url,
        requests,
        stop,
    }
}

fn read_request(s: &TcpStream) -> Request {
    s.set_nonblocking(false).unwrap();
    let mut r = BufReader::new(s);
    let mut line = String::new();
    r.read_line(&mut line).unwrap();
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("").to_string();
    let path = parts.next().unwrap_or("").to_string();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        r.read_line(&mut h).unwrap();
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    let len = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .map_or(0, |(_, v)| v.parse().unwrap());
    let mut body = vec![0; len];
    r.read_exact(&mut body).unwrap();
    Request {
        method,
        path,
        headers,
        body: String::from_utf8(body).unwrap(),
    }
}

fn respond(mut s: TcpStream, status: u16, body: &str) {
    let head = format!(
        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = s.write_all(head.as_bytes());
    let _ = s.write_all(body.as_bytes());
}

/// Runs the entrypoint once (GPUGATE_ONCE=1) against `api`, with the node's results in
/// `results`; `args` are GPUGATE_ARGS for a run it has to make.
fn entrypoint(api: &ApiServer, results: &Path, args: &str) -> Output {
    let tmp = tempfile::tempdir().unwrap();
    let token = tmp.path().join("token");
    std::fs::write(&token, "sa-token-1\n").unwrap();
    Command::new("bash")
        .arg(repo("deploy/k8s/gpugate-node.sh"))
        .env("NODE_NAME", "gpu-7")
        .env("GPUGATE", bin())
        .env("GPUGATE_RESULTS", results)
        .env("GPUGATE_ARGS", args)
        .env("GPUGATE_ONCE", "1")
        .env("GPUGATE_K8S_API", &api.url)
        .env("GPUGATE_K8S_TOKEN_FILE", &token)
        .env("GPUGATE_K8S_CA_FILE", &token)
        .output()
        .expect("bash runs")
}

/// A node's results directory whose latest run is a copy of `run` (fresh: no run is made).
fn results_with(run: &str) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    let run_dir = d.path().join("runs/r1");
    std::fs::create_dir_all(&run_dir).unwrap();
    std::fs::copy(fixture(run), run_dir.join("run.json")).unwrap();
    std::os::unix::fs::symlink("runs/r1", d.path().join("latest")).unwrap();
    d
}

fn requests(api: &ApiServer) -> Vec<Request> {
    api.requests.lock().unwrap().clone()
}

#[test]
fn entrypoint_sends_gpugates_patch_and_rereads_after_a_conflict() {
    // A failed run: the node is read, the patch gpugate computes is sent as a JSON Patch with
    // the service account's token; the script exits with the verdict (1).
    let person = json!({"key": "team/maint", "effect": "NoSchedule"});
    let node = node_json(json!({"gpugate.io/verdict": "pass"}), json!([person]));
    let api = api_server(node.clone(), vec![], Box::new(|_| {}));
    let res = results_with(FAIL_RUN);
    let o = entrypoint(&api, res.path(), "");
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let r = requests(&api);
    assert_eq!(r.len(), 2, "{r:?}");
    assert_eq!(
        (r[0].method.as_str(), r[0].path.as_str()),
        ("GET", "/api/v1/nodes/gpu-7")
    );
    assert_eq!(
        (r[1].method.as_str(), r[1].path.as_str()),
        ("PATCH", "/api/v1/nodes/gpu-7")
    );
    assert_eq!(
        r[1].header("content-type"),
        Some("application/json-patch+json")
    );
    assert_eq!(r[1].header("authorization"), Some("Bearer sa-token-1"));
    let expected = stdout(&k8s_patch(&node, &fixture(FAIL_RUN)));
    assert_eq!(r[1].body, expected.trim_end());
    assert!(r[1].body.contains(r#""path":"/spec/taints/-""#));

    // A pass after the failure; someone adds a taint between the read and the patch: the API
    // refuses the patch (422), the script reads the node again and sends a patch that tests
    // the new list and removes gpugate's taint at its new index, keeping both others.
    let ours = json!({"key": "gpugate.io/unhealthy", "effect": "NoSchedule"});
    let node = node_json(json!({"gpugate.io/verdict": "fail"}), json!([person, ours]));
    let late = json!({"key": "late/arrival", "effect": "NoExecute"});
    let l = late.clone();
    let api = api_server(
        node,
        vec![422],
        Box::new(move |n| {
            n["spec"]["taints"]
                .as_array_mut()
                .unwrap()
                .insert(0, l.clone());
            n["metadata"]["resourceVersion"] = "101".into();
        }),
    );
    let res = results_with(PASS_RUN);
    let o = entrypoint(&api, res.path(), "");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stderr(&o).contains("the node changed since it was read (HTTP 422)"));
    let r = requests(&api);
    let methods: Vec<&str> = r.iter().map(|q| q.method.as_str()).collect();
    assert_eq!(methods, ["GET", "PATCH", "GET", "PATCH"]);
    assert!(
        r[1].body
            .contains(r#"{"op":"remove","path":"/spec/taints/1"}"#),
        "{}",
        r[1].body
    );
    let second: Value = serde_json::from_str(&r[3].body).unwrap();
    assert_eq!(second[0]["value"], json!([late, person, ours]));
    assert_eq!(second[2], json!({"op": "remove", "path": "/spec/taints/2"}));
}

#[test]
fn entrypoint_runs_gpugate_when_there_is_no_run_and_sends_nothing_when_nothing_changes() {
    // No run yet: the script runs `gpugate run` (here on the host: no GPU, so it FAILS) into
    // the results directory and records that verdict.
    let node = node_json(json!({"kubernetes.io/hostname": "gpu-7"}), Value::Null);
    let api = api_server(node, vec![], Box::new(|_| {}));
    let res = tempfile::tempdir().unwrap();
    let args = "--backend host --level quick --gemm-sizes 32 --stream-mib 1 \
                --video-sizes 64x64 --encode-frames 1 --seed 5 --min-time 0.01 --timeout 0.1";
    let o = entrypoint(&api, res.path(), args);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(res.path().join("latest/run.json").exists());
    let r = requests(&api);
    assert_eq!(r.len(), 2, "{r:?}");
    assert_eq!(
        r[1].body,
        r#"[{"op":"test","path":"/metadata/resourceVersion","value":"100"},{"op":"add","path":"/metadata/labels/gpugate.io~1verdict","value":"fail"},{"op":"add","path":"/spec/taints","value":[{"effect":"NoSchedule","key":"gpugate.io/unhealthy"}]}]"#
    );

    // The verdict is already on the node: read, and nothing sent.
    let person = json!({"key": "team/maint", "effect": "NoSchedule"});
    let node = node_json(json!({"gpugate.io/verdict": "pass"}), json!([person]));
    let api = api_server(node, vec![], Box::new(|_| {}));
    let res = results_with(PASS_RUN);
    let o = entrypoint(&api, res.path(), "");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let methods: Vec<String> = requests(&api).into_iter().map(|q| q.method).collect();
    assert_eq!(methods, ["GET"]);
}

#[test]
fn entrypoint_stopped_mid_run_runs_again_at_its_next_start() {
    // SIGTERM while gpugate runs (the pod deleted): gpugate is stopped, the run is marked
    // interrupted, nothing is patched, and the script exits 143.
    let node = node_json(json!({"gpugate.io/verdict": "pass"}), json!([]));
    let api = api_server(node, vec![], Box::new(|_| {}));
    let res = tempfile::tempdir().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let token = tmp.path().join("token");
    std::fs::write(&token, "t").unwrap();
    let args = "--backend host --level quick --gemm-sizes 32 --stream-mib 1 \
                --video-sizes 64x64 --encode-frames 1 --seed 5 --min-time 0.01 --timeout 0.1";
    let script = Command::new("bash")
        .arg(repo("deploy/k8s/gpugate-node.sh"))
        .env("NODE_NAME", "gpu-7")
        .env("GPUGATE", bin())
        .env("GPUGATE_RESULTS", res.path())
        .env("GPUGATE_ARGS", args)
        .env("GPUGATE_ONCE", "1")
        .env("GPUGATE_K8S_API", &api.url)
        .env("GPUGATE_K8S_TOKEN_FILE", &token)
        .env("GPUGATE_K8S_CA_FILE", &token)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while !res.path().join("runs").exists() {
        assert!(
            started.elapsed().as_secs() < 60,
            "gpugate never started its run"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    // SAFETY: kill(2) on the child we spawned.
    unsafe { libc::kill(script.id() as i32, libc::SIGTERM) };
    let o = script.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(143), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("gpugate run interrupted"),
        "{}",
        stderr(&o)
    );
    assert!(res.path().join(".interrupted").exists());
    assert!(requests(&api).is_empty(), "{:?}", requests(&api));

    // The next start: the last run is young but interrupted, so it runs again, then records.
    let o = entrypoint(&api, res.path(), args);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("gpugate run --backend host"),
        "{}",
        stderr(&o)
    );
    assert!(!res.path().join(".interrupted").exists());
    let methods: Vec<String> = requests(&api).into_iter().map(|q| q.method).collect();
    assert_eq!(methods, ["GET", "PATCH"]);
}
