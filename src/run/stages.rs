//! What every runner learns first ([`Probed`]: the profile, the host, the GPUs probed and
//! selected), then the stages of a run, each a method of [`Runner`], which holds the run's report (saved to
//! run.json after every workload), its progress callback and its position in the plan: start
//! (the run's directory and first run.json), [`Runner::plan`] (which workloads run where, with
//! the peers' jobs), [`Runner::open_gpu`] (open, floors, tune, telemetry), [`Runner::measure_gpu`]
//! (each workload followed by the peers' jobs placed after it), [`Runner::peers_at_end`],
//! [`Runner::host`], [`Runner::finish`] (gate, write every report, point `latest`). A runner
//! (the acceptance run, [`super::acceptance`]) is the order it calls them in; every stage stops
//! early when the run is asked to stop ([`crate::stop`]). Peers are [`crate::peer::Peer`]s: the
//! stages know none by name.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use crate::cuda::CudaDevice;
use crate::error::Error;
use crate::gate::{self, Profile};
use crate::host::HostBackend;
use crate::measure::tune::{self, TuneBudget, TuneJob, TuningCache, TuningKey, TuningTable};
use crate::measure::StoppingCriterion;
use crate::model::{
    exit, BackendKind, DeviceInfo, HostInfo, ProfileRef, Role, RunReport, ToolInfo, Verdict,
    WorkloadResult, SCHEMA_VERSION,
};
use crate::peer::{Context, Peer, PeerJob, PeerSite};
use crate::plan::plan_with;
use crate::probe;
use crate::probe::telemetry::{self as nvml, GpuTelemetry};
use crate::report::{self, layout::RunDir};
use crate::workload::backend::{Backend, DeviceBackend};
use crate::workload::device::DeviceProps;
use crate::workload::{WorkloadError, WorkloadSpec};

use super::one::{run_one, Slot};
use super::options::sampling_note;
use super::{
    fresh_seed, module_notes, now_rfc3339, small_stream_note, workload_seed, BackendChoice,
    Progress, RunOptions, RunOutcome,
};

/// This gpugate: its name, version and the git commit it was built from, as a run records it.
pub fn tool_info() -> ToolInfo {
    ToolInfo {
        name: "gpugate".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        git_commit: option_env!("GPUGATE_GIT_COMMIT").map(str::to_string),
    }
}

/// Creates the run's own directory under `root` (`root/runs/<id>/`, see
/// [`report::layout`]), once the arguments are known to be good and before anything is
/// measured.
pub fn create_run_dir(root: &Path, started_at: &str) -> Result<report::layout::RunDir, Error> {
    report::layout::create_run_dir(root, started_at).map_err(|err| Error::Output {
        path: root.to_path_buf(),
        err,
    })
}

/// What the planner and the tuner need to know of a GPU, from its inventory.
pub(crate) fn props_of(d: &DeviceInfo) -> DeviceProps {
    DeviceProps {
        name: d.name.clone(),
        sm_count: d.sm_count,
        l2_bytes: d.l2_cache_bytes,
        total_memory: d.total_memory_bytes,
        free_memory: d.free_memory_bytes,
        compute_capability: d.compute_capability,
    }
}

/// What every runner learns before it creates anything, in this order: the profile resolved
/// (a bad name or file is a usage error before the machine is probed), the host and its GPUs
/// probed (and shown), the GPUs `--gpus` selects, and the profile `auto` built from the GPUs
/// found where none was named. Each runner then narrows the profile to what it measures
/// ([`Probed::map_profile`]) and starts ([`Runner::start`]).
#[derive(Debug)]
pub struct Probed {
    pub host: HostInfo,
    pub inv: probe::GpuInventory,
    pub selected: Vec<u32>,
    pub profile: Profile,
    /// Where the profile came from ("auto", a built-in name or a file).
    pub origin: String,
}

impl Probed {
    /// Resolves `opts.profile`, probes and selects `opts.gpus`; nothing is created.
    pub fn probe(opts: &RunOptions, progress: &mut dyn FnMut(Progress)) -> Result<Self, Error> {
        let resolved = super::resolve_profile(opts.profile.as_deref())?;
        let host = probe::host();
        let inv = probe::gpus();
        progress(Progress::Probed {
            host: &host,
            gpus: &inv.devices,
            unavailable: inv.unavailable.as_deref(),
        });
        let selected = select_gpus(opts.gpus.as_deref(), &inv)?;
        let (profile, origin) = match resolved {
            Some(p) => p,
            None => (gate::auto_profile(&inv.devices), "auto".to_string()),
        };
        Ok(Probed {
            host,
            inv,
            selected,
            profile,
            origin,
        })
    }

    /// The same, with the profile narrowed by `f` (a burn's or a memory test's targets).
    pub fn map_profile(self, f: impl FnOnce(Profile) -> Profile) -> Self {
        Probed {
            profile: f(self.profile),
            ..self
        }
    }
}

/// The GPUs `--gpus` names (all found when it is absent); a GPU that is not there is a usage
/// error that lists those that are.
pub fn select_gpus(wanted: Option<&[u32]>, inv: &probe::GpuInventory) -> Result<Vec<u32>, Error> {
    let Some(list) = wanted else {
        return Ok(inv.devices.iter().map(|d| d.index).collect());
    };
    for g in list {
        if !inv.devices.iter().any(|d| d.index == *g) {
            let have: Vec<String> = inv.devices.iter().map(|d| d.index.to_string()).collect();
            return Err(Error::Usage(format!(
                "--gpus names GPU {g}, but {}. Run `gpugate info` to list the GPUs.",
                if have.is_empty() {
                    format!(
                        "no GPU can be used here ({})",
                        inv.unavailable.as_deref().unwrap_or("none found")
                    )
                } else {
                    format!("this machine has GPU {}", have.join(", "))
                }
            )));
        }
    }
    Ok(list.to_vec())
}

/// How a workload is prepared on a backend: with the seed its result id derives from the run's.
fn prepare_on<'b, B: Backend + ?Sized>(
    backend: &'b B,
    spec: &'b WorkloadSpec,
    seed: u64,
) -> impl FnOnce(&str) -> Result<Box<dyn crate::workload::Trial + 'b>, WorkloadError> + 'b {
    move |id: &str| backend.prepare(spec, workload_seed(seed, id))
}

/// What the run will do, decided before anything is measured (so progress can say "n of
/// total").
pub struct Plan {
    /// Workloads per GPU (Some) and on the host (None), in run order.
    jobs: Vec<(Option<u32>, WorkloadSpec)>,
    /// The peers of the run (none without a GPU).
    peers: Vec<Box<dyn Peer>>,
    /// Their jobs: (GPU, index into `peers`, job), per GPU in run order.
    peer_jobs: Vec<(u32, usize, PeerJob)>,
}

impl Plan {
    fn specs_of(&self, device: Option<u32>) -> Vec<WorkloadSpec> {
        self.jobs
            .iter()
            .filter(|(d, _)| *d == device)
            .map(|(_, s)| *s)
            .collect()
    }

    fn total(&self) -> usize {
        self.jobs.len() + self.peer_jobs.len()
    }

    /// The peers' jobs on GPU `gpu` placed after `after` (None: at the end): (index into
    /// `peers`, job).
    fn peer_jobs_of(&self, gpu: u32, after: Option<WorkloadSpec>) -> Vec<(usize, PeerJob)> {
        self.peer_jobs
            .iter()
            .filter(|(g, _, j)| *g == gpu && j.after == after)
            .map(|(_, p, j)| (*p, *j))
            .collect()
    }
}

/// The run's peers, and their jobs: (GPU, index into the peers, job).
type PeerPlan = (Vec<Box<dyn Peer>>, Vec<(u32, usize, PeerJob)>);

/// A GPU opened for measuring ([`Runner::open_gpu`]): gpugate's context on it, the backend
/// that prepares its workloads (with the GEMM variants tuned for it) and its telemetry.
pub struct OpenGpu {
    pub dev: Arc<CudaDevice>,
    pub backend: DeviceBackend<CudaDevice>,
    pub telemetry: Option<Arc<GpuTelemetry>>,
}

/// A run in progress: its report, where it is written, and where it is in the plan.
pub struct Runner<'a> {
    opts: &'a RunOptions,
    progress: &'a mut dyn FnMut(Progress),
    report: RunReport,
    dir: RunDir,
    crit: StoppingCriterion,
    /// Workloads started so far, and how many the plan has.
    index: usize,
    total: usize,
    /// When the run started: the zero of the telemetry traces' times.
    started: Instant,
}

impl<'a> Runner<'a> {
    /// Creates the run's directory and its first run.json, for the GPUs and the profile of
    /// `probed`.
    pub fn start(
        opts: &'a RunOptions,
        progress: &'a mut dyn FnMut(Progress),
        probed: &Probed,
    ) -> Result<Self, Error> {
        let Probed {
            host,
            inv,
            selected,
            profile,
            origin,
        } = probed;
        let started = Instant::now();
        let started_at = now_rfc3339();
        let dir = create_run_dir(&opts.out, &started_at)?;
        let gpus: Vec<DeviceInfo> = inv
            .devices
            .iter()
            .filter(|d| selected.contains(&d.index))
            .cloned()
            .collect();
        let report = RunReport {
            schema_version: SCHEMA_VERSION,
            tool: tool_info(),
            started_at,
            finished_at: None,
            complete: false,
            interrupted: None,
            command_line: opts.command_line.clone(),
            seed: opts.seed.unwrap_or_else(fresh_seed),
            level: opts.level,
            backend_requested: opts.backend.as_str().into(),
            profile: ProfileRef::of(profile, origin.clone()),
            host: host.clone(),
            peaks: gpus.iter().map(gate::peaks_for_device).collect(),
            floors: Vec::new(),
            gpus,
            gpu_unavailable: inv.unavailable.clone(),
            module_loads: Vec::new(),
            module_notes: Vec::new(),
            tuning: Vec::new(),
            results: Vec::new(),
            checks: Vec::new(),
            notes: Vec::new(),
            verdict: Verdict::Inconclusive,
            exit_code: exit::INCONCLUSIVE,
            allow_simulated: opts.allow_simulated,
            memtest: Vec::new(),
            health: Vec::new(),
            burn: None,
            p2p: None,
        };
        let crit = StoppingCriterion::for_level_with(opts.level, opts.sampling);
        let mut report = report;
        report.notes.extend(sampling_note(opts, &crit));
        let runner = Runner {
            opts,
            progress,
            report,
            dir,
            crit,
            index: 0,
            total: 0,
            started,
        };
        runner.save()?;
        Ok(runner)
    }

    /// Writes run.json as it stands (after every workload: a crash keeps what finished).
    fn save(&self) -> Result<(), Error> {
        report::write_json_atomic(&self.report, &self.dir.dir)
            .map(|_| ())
            .map_err(|err| Error::Output {
                path: self.dir.dir.join("run.json"),
                err,
            })
    }

    /// When the run started: the zero of every time it records.
    pub fn started(&self) -> Instant {
        self.started
    }

    /// Records the GPUs' health over the run (`run::health::HealthWatch`) and saves run.json.
    pub fn record_health(
        &mut self,
        health: Vec<crate::model::health::GpuHealth>,
    ) -> Result<(), Error> {
        self.report.health = health;
        self.save()
    }

    /// A run note, shown as progress and kept in the report.
    pub fn note(&mut self, note: String) {
        (self.progress)(Progress::Note(&note));
        self.report.notes.push(note);
    }

    /// The plan: which workloads run where, the peers, the encodes, and the total.
    pub fn plan(&mut self, profile: &Profile, any_gpu: bool) -> Plan {
        let (opts, level) = (self.opts, self.opts.level);
        let use_cuda = opts.backend != BackendChoice::Host && any_gpu;
        let use_host = opts.backend == BackendChoice::Host
            || (opts.backend == BackendChoice::Auto && !any_gpu);
        if use_host && opts.backend == BackendChoice::Auto {
            self.note(
                "no GPU can be used (see gpu_unavailable): running the workloads on the host \
                 CPU instead; host results never count as GPU results"
                    .to_string(),
            );
        }
        let mut jobs = Vec::new();
        for d in self.report.gpus.clone().iter().filter(|_| use_cuda) {
            let specs = plan_with(level, BackendKind::Cuda, Some(&props_of(d)), &opts.sizes);
            jobs.extend(specs.into_iter().map(|s| (Some(d.index), s)));
            if let Some(note) = small_stream_note(&opts.sizes, d) {
                self.note(note);
            }
        }
        if use_host {
            let specs = plan_with(level, BackendKind::Host, None, &opts.sizes);
            jobs.extend(specs.into_iter().map(|s| (None, s)));
        }
        let (peers, peer_jobs) = if use_cuda {
            self.plan_peers(profile, &jobs)
        } else {
            (Vec::new(), Vec::new())
        };
        let plan = Plan {
            jobs,
            peers,
            peer_jobs,
        };
        self.total = plan.total();
        plan
    }

    /// A plan of these workloads alone, without peers: for a runner that chooses its own
    /// workloads (the burn-in), so that [`Runner::open_gpu`] tunes for them.
    pub fn plan_of(&mut self, jobs: Vec<(Option<u32>, WorkloadSpec)>) -> Plan {
        let plan = Plan {
            jobs,
            peers: Vec::new(),
            peer_jobs: Vec::new(),
        };
        self.total = plan.total();
        plan
    }

    /// A change of a runner's own to the report (the burn-in's section), saved at once so
    /// that a crash keeps it.
    pub fn record(&mut self, change: impl FnOnce(&mut RunReport)) -> Result<(), Error> {
        change(&mut self.report);
        self.save()
    }

    /// A runner's own progress event.
    pub fn announce(&mut self, p: Progress) {
        (self.progress)(p);
    }

    /// The run's peers and their jobs on each GPU, from each GPU's own workloads.
    fn plan_peers(&mut self, profile: &Profile, jobs: &[(Option<u32>, WorkloadSpec)]) -> PeerPlan {
        let (peers, notes) = crate::peer::peers_for(
            profile,
            &self.report.gpus,
            self.opts.level,
            self.opts.sizes.encode_frames,
        );
        for n in notes {
            self.note(n);
        }
        let mut peer_jobs = Vec::new();
        for gpu in &self.report.gpus {
            let own: Vec<WorkloadSpec> = jobs
                .iter()
                .filter(|(d, _)| *d == Some(gpu.index))
                .map(|(_, s)| *s)
                .collect();
            for (p, peer) in peers.iter().enumerate() {
                peer_jobs.extend(peer.plan(gpu, &own).into_iter().map(|j| (gpu.index, p, j)));
            }
        }
        (peers, peer_jobs)
    }

    /// The run's seed (recorded in run.json), from which every workload's derives.
    pub fn criterion(&self) -> &StoppingCriterion {
        &self.crit
    }

    pub fn seed(&self) -> u64 {
        self.report.seed
    }

    /// The GPUs of the run, in order.
    pub fn gpus(&self) -> Vec<DeviceInfo> {
        self.report.gpus.clone()
    }

    /// One GPU made ready to measure: opened (its modules loaded), its launch and copy floors
    /// timed, its GEMM variants tuned, its telemetry opened. None when the plan has nothing for
    /// it, or when it could not be opened: then each of its workloads has failed with the
    /// reason.
    pub fn open_gpu(
        &mut self,
        gpu: &DeviceInfo,
        plan: &mut Plan,
    ) -> Result<Option<OpenGpu>, Error> {
        let specs = plan.specs_of(Some(gpu.index));
        if specs.is_empty() {
            return Ok(None);
        }
        let dev = match CudaDevice::open(gpu.index) {
            Ok((dev, loads)) => {
                (self.progress)(Progress::ModulesLoaded {
                    device: gpu.index,
                    loads: &loads,
                });
                self.report.module_loads.extend(loads);
                Arc::new(dev)
            }
            Err(why) => return self.unusable_gpu(gpu, plan, specs, why).map(|()| None),
        };
        // A family on a lower build than the GPU's best, or on none, because of the driver: say
        // so (the workloads that need what is missing fail with the same reason).
        for (note, record) in module_notes(gpu.index, dev.kernel_set()) {
            self.note(note);
            self.report.module_notes.push(record);
        }
        // What a launch and a small copy cost here whatever their size, before anything else
        // runs: the gate tells a size too small to measure this GPU from a slow GPU by them.
        let floor = crate::measure::floor::measure_floors(dev.as_ref(), gpu.index);
        if let Some(why) = &floor.note {
            self.note(format!("GPU {}: {why}", gpu.index));
        }
        self.report.floors.push(floor);
        let mut backend = DeviceBackend::new(dev.clone(), Some(gpu.index), BackendKind::Cuda);
        let table = self.tune(gpu, &dev, &specs);
        self.report.tuning.push(table.clone());
        backend.tuning = Some(table);
        self.save()?;
        let telemetry = self.telemetry(gpu);
        Ok(Some(OpenGpu {
            dev,
            backend,
            telemetry,
        }))
    }

    /// A GPU that could not be opened: each of its workloads, and each peer job placed after
    /// one, fails with the reason.
    fn unusable_gpu(
        &mut self,
        gpu: &DeviceInfo,
        plan: &mut Plan,
        specs: Vec<WorkloadSpec>,
        why: crate::cuda::CudaError,
    ) -> Result<(), Error> {
        self.note(format!(
            "GPU {} ({}) could not be used: {why}",
            gpu.index, gpu.name
        ));
        let at = Slot {
            backend: BackendKind::Cuda,
            device: Some(gpu.index),
            device_name: gpu.name.clone(),
            role: Role::Primary,
        };
        for spec in specs {
            if crate::stop::requested() {
                break;
            }
            let position = self.next_position();
            let r = run_one(
                &spec,
                &at,
                position,
                |_| Err(WorkloadError::from(why.clone())),
                &self.crit,
                None,
                self.progress,
            );
            self.report.results.push(r);
            for (p, job) in plan.peer_jobs_of(gpu.index, Some(spec)) {
                self.measure_peer(plan, p, &job, gpu, Context::Failed(&why), None)?;
            }
        }
        self.save()
    }

    /// GEMM variants: from the tuning cache, or timed now for the size classes this run needs
    /// ([`tune::tuning_needed`]; stored in the cache for the next runs).
    fn tune(
        &mut self,
        gpu: &DeviceInfo,
        dev: &Arc<CudaDevice>,
        specs: &[WorkloadSpec],
    ) -> TuningTable {
        let cache_file = tune::cache_path();
        let cache = cache_file
            .as_deref()
            .map(TuningCache::load)
            .unwrap_or_default();
        let key = TuningKey::for_device(gpu);
        let mut table = tune::cached_or_empty(&cache, gpu.index, &key, self.opts.retune);
        let needed = tune::tuning_needed(
            &table,
            specs,
            &props_of(gpu),
            self.opts.sizes.gemm.is_some(),
            |p, math| !dev.kernel_set().gemm_variants(p, math).is_empty(),
        );
        let mut tuned_now = false;
        for job in needed {
            if crate::stop::requested() {
                break;
            }
            let TuneJob {
                precision,
                math,
                class,
                size,
            } = job;
            (self.progress)(Progress::Tuning {
                device: gpu.index,
                precision,
                math,
                class,
            });
            let seed = workload_seed(self.report.seed, &format!("gpu{}.tune", gpu.index));
            let budget = TuneBudget::default();
            let cc = gpu.compute_capability;
            match tune::tune_class_at(dev, precision, math, cc, class, size, budget, seed) {
                Ok(entry) => {
                    table.replace(entry);
                    tuned_now = true;
                }
                Err(why) => self.note(format!(
                    "GPU {}: tuning {} GEMM on the {} ({class:?} sizes) failed, using the \
                     default variant: {why}",
                    gpu.index,
                    precision.as_str(),
                    math.label(),
                )),
            }
        }
        if tuned_now {
            self.store_tuning(cache, cache_file, &table);
        }
        table
    }

    /// Keeps what was tuned now in the cache for the next runs; says so when it cannot.
    fn store_tuning(
        &mut self,
        mut cache: TuningCache,
        cache_file: Option<std::path::PathBuf>,
        table: &TuningTable,
    ) {
        cache.put(table);
        let stored = match &cache_file {
            Some(path) => cache
                .store(path)
                .map_err(|e| format!("{}: {e}", path.display())),
            None => Err("no cache directory (set GPUGATE_CACHE_DIR or HOME)".to_string()),
        };
        if let Err(why) = stored {
            self.note(format!(
                "tuning cache not saved ({why}); the next run tunes again"
            ));
        }
    }

    /// Telemetry (NVML) alongside every measurement on this GPU, where the library is found.
    fn telemetry(&mut self, gpu: &DeviceInfo) -> Option<Arc<GpuTelemetry>> {
        match nvml::open(&gpu.uuid, &gpu.pci_bus_id) {
            Ok(t) => {
                if !t.unavailable_readings().is_empty() {
                    self.note(format!(
                        "GPU {}: telemetry without {}: not available on this driver's NVML \
                         (its entry points came with later drivers); the other readings are \
                         sampled",
                        gpu.index,
                        t.unavailable_readings().join(", ")
                    ));
                }
                Some(Arc::new(t))
            }
            Err(why) => {
                self.note(format!(
                    "GPU {}: no telemetry (clocks, power, throttling) sampled: {why}",
                    gpu.index
                ));
                None
            }
        }
    }

    /// A GPU's workloads, each followed by the peers' jobs placed after it (cuBLAS beside the
    /// first GEMM of each precision and shape), on the GPU [`Runner::open_gpu`] opened.
    pub fn measure_gpu(
        &mut self,
        gpu: &DeviceInfo,
        open: &OpenGpu,
        plan: &mut Plan,
    ) -> Result<(), Error> {
        let primary = Slot {
            backend: BackendKind::Cuda,
            device: Some(gpu.index),
            device_name: gpu.name.clone(),
            role: Role::Primary,
        };
        let (seed, telemetry) = (self.report.seed, open.telemetry.as_ref());
        for spec in plan.specs_of(Some(gpu.index)) {
            if crate::stop::requested() {
                break;
            }
            let prepare = prepare_on(&open.backend, &spec, seed);
            self.measure(&spec, &primary, prepare, telemetry)?;
            for (p, job) in plan.peer_jobs_of(gpu.index, Some(spec)) {
                if crate::stop::requested() {
                    break;
                }
                let dev = Context::Open(&open.dev);
                self.measure_peer(plan, p, &job, gpu, dev, telemetry)?;
            }
        }
        Ok(())
    }

    /// One peer job: measured by its peer, kept (with a note where the peer wants one for a
    /// failure), saved.
    fn measure_peer(
        &mut self,
        plan: &mut Plan,
        p: usize,
        job: &PeerJob,
        gpu: &DeviceInfo,
        dev: Context<'_>,
        telemetry: Option<&Arc<GpuTelemetry>>,
    ) -> Result<(), Error> {
        let position = self.next_position();
        let peer = &mut plan.peers[p];
        let site = PeerSite {
            gpu,
            dev,
            seed: self.report.seed,
            position,
            crit: &self.crit,
            telemetry,
            epoch: self.started,
            progress: &mut *self.progress,
        };
        let r = peer.measure(job, site);
        if let Some(note) = r.error.as_deref().and_then(|e| peer.failure_note(gpu, e)) {
            if !self.report.notes.contains(&note) {
                self.note(note);
            }
        }
        self.keep(r)
    }

    /// One workload: measured, verified, kept, saved.
    fn measure<'d>(
        &mut self,
        spec: &WorkloadSpec,
        at: &Slot,
        prepare: impl FnOnce(&str) -> Result<Box<dyn crate::workload::Trial + 'd>, WorkloadError>,
        telemetry: Option<&Arc<GpuTelemetry>>,
    ) -> Result<(), Error> {
        let position = self.next_position();
        let r = run_one(
            spec,
            at,
            position,
            prepare,
            &self.crit,
            telemetry.map(|t| (t, self.started)),
            self.progress,
        );
        self.keep(r)
    }

    /// The next workload's place in the plan: (its number, the plan's total), for progress.
    pub fn next_position(&mut self) -> (usize, usize) {
        self.index += 1;
        (self.index, self.total)
    }

    /// A finished result kept in the report, and run.json saved (a crash keeps it). Every
    /// measured workload and peer job ends with it; a runner that measures on threads of its own
    /// hands each result to it on the thread that holds the `Runner`.
    pub fn keep(&mut self, r: WorkloadResult) -> Result<(), Error> {
        self.report.results.push(r);
        self.save()
    }

    /// A GPU's memory test kept in the report, and run.json saved (`run::memtest`).
    pub fn keep_memtest(&mut self, m: crate::model::memtest::MemtestReport) -> Result<(), Error> {
        self.report.memtest.push(m);
        // The GPUs' tests end in any order (they run at once): kept in GPU order.
        self.report.memtest.sort_by_key(|m| m.device);
        self.save()
    }

    /// The peers' jobs placed after every GPU's own workloads (the hardware encoder), GPU by
    /// GPU. gpugate holds no context on the GPU by then.
    pub fn peers_at_end(&mut self, plan: &mut Plan) -> Result<(), Error> {
        for gpu in self.report.gpus.clone() {
            for (p, job) in plan.peer_jobs_of(gpu.index, None) {
                if crate::stop::requested() {
                    return Ok(());
                }
                self.measure_peer(plan, p, &job, &gpu, Context::Closed, None)?;
            }
        }
        Ok(())
    }

    /// The host CPU's workloads (host results never count as GPU results).
    pub fn host(&mut self, plan: &Plan) -> Result<(), Error> {
        let specs = plan.specs_of(None);
        if specs.is_empty() {
            return Ok(());
        }
        let backend = HostBackend::new(self.report.host.cpu_model.clone());
        let at = Slot {
            backend: BackendKind::Host,
            device: None,
            device_name: backend.device_name(),
            role: Role::Primary,
        };
        let seed = self.report.seed;
        for spec in specs {
            if crate::stop::requested() {
                break;
            }
            self.measure(&spec, &at, prepare_on(&backend, &spec, seed), None)?;
        }
        Ok(())
    }

    /// The end: complete, or interrupted with what was measured; gated; every report written;
    /// `latest` pointed at this run.
    pub fn finish(mut self, profile: &Profile) -> Result<RunOutcome, Error> {
        self.report.finished_at = Some(now_rfc3339());
        match crate::stop::signal_name() {
            Some(signal) => {
                let (done, total) = (self.report.results.len(), self.total);
                self.report.interrupted = Some(crate::model::Interruption {
                    signal: signal.to_string(),
                    at: now_rfc3339(),
                    finished_workloads: done,
                    planned_workloads: total,
                });
                let what = crate::model::memtest::done_so_far(&self.report.memtest, done, total);
                self.note(format!(
                    "interrupted by {signal} after {what}: the rest was not measured"
                ));
            }
            None => self.report.complete = true,
        }
        let decision = gate::decide(profile, &self.report);
        self.report.checks = decision.checks;
        self.report.verdict = decision.verdict;
        self.report.exit_code = decision.exit_code;
        let dir: PathBuf = self.dir.dir.clone();
        report::write_all(&self.report, &dir).map_err(|err| Error::Output { path: dir, err })?;
        let latest = report::layout::point_latest(&self.dir);
        Ok(RunOutcome {
            report: self.report,
            dir: self.dir,
            latest,
        })
    }
}
