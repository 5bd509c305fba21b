//! The one document model behind report.md and report.html.
//!
//! [`build`] turns a [`RunReport`] into a [`Document`]: a list of blocks (headings, banners,
//! paragraphs, tables, lists, charts) made once, section by section, in the order a reader
//! needs them: verdict, banners, why (every check that failed or was inconclusive, one line
//! each), run, checks, health, memory test, inventory, results, GEMM, video, burn, tuning,
//! telemetry,
//! mismatches, environment, warnings and notes. The Markdown and HTML renderers only lay the
//! blocks out (`markdown::render_document`, `html::render_document`), so the two reports
//! cannot drift: a section added here is in both. Text in the model is plain run text; each
//! renderer escapes it for its own format.

use super::charts::{self, Chart, ChartKind};
use super::{fmt_gb, fmt_opt, fmt_pct};
use crate::model::{BackendKind, Check, Role, RunReport, Verdict, VerifyStatus, WorkloadResult};

/// A report: its title (with the verdict) and its blocks in reading order.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    pub title: String,
    pub verdict: Verdict,
    pub blocks: Vec<Block>,
}

/// One piece of a report.
#[derive(Debug, Clone, PartialEq)]
pub enum Block {
    /// A section heading; level 2 for sections, 3 below them.
    Heading {
        level: u8,
        text: String,
    },
    /// A warning that must not be missed (simulated, incomplete, GPU unavailable).
    Banner(Vec<Span>),
    Paragraph(Vec<Span>),
    Table(Table),
    List(Vec<Vec<Span>>),
    /// A chart: inline SVG in HTML, a linked file beside report.md.
    Chart(Chart),
    /// The closing line: verdict, exit code and what exit codes mean.
    Footer(String),
}

/// Inline text.
#[derive(Debug, Clone, PartialEq)]
pub enum Span {
    Text(String),
    /// An identifier (check or result id, kernel entry point): code font.
    Code(String),
    Strong(String),
}

/// A table: column headings and rows of cells.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    pub header: Vec<String>,
    pub rows: Vec<Vec<Cell>>,
}

/// A table cell. `mark` colours it in HTML (and makes a failing verdict bold in Markdown).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Cell {
    pub spans: Vec<Span>,
    pub mark: Option<Verdict>,
}

impl Cell {
    pub fn text(s: impl Into<String>) -> Cell {
        Cell {
            spans: vec![Span::Text(s.into())],
            mark: None,
        }
    }
    pub fn code(s: impl Into<String>) -> Cell {
        Cell {
            spans: vec![Span::Code(s.into())],
            mark: None,
        }
    }
    pub fn marked(s: impl Into<String>, mark: Verdict) -> Cell {
        Cell {
            spans: vec![Span::Text(s.into())],
            mark: Some(mark),
        }
    }
    /// The cell's text without markup.
    pub fn plain(&self) -> String {
        self.spans.iter().map(Span::as_str).collect()
    }
}

impl Span {
    pub fn as_str(&self) -> &str {
        match self {
            Span::Text(s) | Span::Code(s) | Span::Strong(s) => s,
        }
    }
}

/// What each exit code means: the last line of every report.
pub const EXIT_CODES: &str = "Exit codes: 0 every check passed · 1 a check failed · 2 the tool \
    could not run · 3 nothing failed but something was inconclusive. Throughput units are \
    decimal (TFLOPS = 1e12 FLOP/s, GB/s = 1e9 B/s).";

/// The report of a run, every section in reading order.
pub fn build(r: &RunReport) -> Document {
    let charts = charts::all(r);
    let mut d = Doc::default();
    banners(&mut d, r);
    why_first(&mut d, r);
    run_summary(&mut d, r);
    checks(&mut d, r, &charts);
    health(&mut d, r);
    memtest(&mut d, r);
    inventory(&mut d, r);
    results(&mut d, r, &charts);
    gemm(&mut d, r, &charts);
    video(&mut d, r, &charts);
    burn(&mut d, r, &charts);
    p2p(&mut d, r);
    tuning(&mut d, r);
    telemetry(&mut d, r, &charts);
    mismatches(&mut d, r);
    environment(&mut d, r);
    warnings_and_notes(&mut d, r);
    d.0.push(Block::Footer(format!(
        "Verdict {} → exit {}. {EXIT_CODES}",
        r.verdict, r.exit_code
    )));
    Document {
        title: format!("gpugate: {} (exit {})", r.verdict, r.exit_code),
        verdict: r.verdict,
        blocks: d.0,
    }
}

/// The blocks being built.
#[derive(Default)]
struct Doc(Vec<Block>);

impl Doc {
    fn heading(&mut self, level: u8, text: impl Into<String>) {
        self.0.push(Block::Heading {
            level,
            text: text.into(),
        });
    }
    fn para(&mut self, text: impl Into<String>) {
        self.0.push(Block::Paragraph(vec![Span::Text(text.into())]));
    }
    fn table(&mut self, header: &[&str], rows: Vec<Vec<Cell>>) {
        self.0.push(Block::Table(Table {
            header: header.iter().map(|h| h.to_string()).collect(),
            rows,
        }));
    }
    /// The charts of `kind`, in the order they were drawn.
    fn charts(&mut self, all: &[Chart], kind: ChartKind) {
        for c in all.iter().filter(|c| c.kind == kind) {
            self.0.push(Block::Chart(c.clone()));
        }
    }
}

/// Right after the verdict (the title) and the run-wide banners (simulated, incomplete, no GPU):
/// one line per check that failed or was inconclusive, with what was observed against what was
/// required and why, before the run table and the full checks table.
fn why_first(d: &mut Doc, r: &RunReport) {
    let attention = super::attention(r);
    if attention.is_empty() {
        return;
    }
    d.heading(
        2,
        format!(
            "Why {}: {}",
            r.verdict,
            super::attention_summary(&attention)
        ),
    );
    d.0.push(Block::List(
        attention
            .iter()
            .map(|c| {
                vec![
                    Span::Code(c.id.clone()),
                    Span::Text(" ".into()),
                    Span::Strong(c.verdict.to_string()),
                    Span::Text(format!(" {}", super::attention_text(c))),
                ]
            })
            .collect(),
    ));
}

fn banners(d: &mut Doc, r: &RunReport) {
    for b in [super::incomplete_banner(r), super::simulated_banner(r)]
        .into_iter()
        .flatten()
    {
        d.0.push(Block::Banner(vec![Span::Strong(b)]));
    }
    if let Some(why) = &r.gpu_unavailable {
        d.0.push(Block::Banner(vec![
            Span::Strong("GPU unavailable:".into()),
            Span::Text(format!(" {why}")),
        ]));
    }
}

fn run_summary(d: &mut Doc, r: &RunReport) {
    let commit = r
        .tool
        .git_commit
        .as_deref()
        .map_or(String::new(), |c| format!(" (commit {c})"));
    let command = if r.command_line.is_empty() {
        Cell::text("")
    } else {
        Cell::code(r.command_line.join(" "))
    };
    let row = |k: &str, v: Cell| vec![Cell::text(k), v];
    d.table(
        &["Run", ""],
        vec![
            row(
                "Profile",
                Cell::text(format!(
                    "{} ({}): {}",
                    r.profile.name, r.profile.origin, r.profile.description
                )),
            ),
            row(
                "Tool",
                Cell::text(format!("{} {}{commit}", r.tool.name, r.tool.version)),
            ),
            row("Started", Cell::text(&r.started_at)),
            row(
                "Finished",
                Cell::text(r.finished_at.as_deref().unwrap_or("")),
            ),
            row("Seed", Cell::text(r.seed.to_string())),
            row("Level", Cell::text(r.level.to_string())),
            row("Backend requested", Cell::text(&r.backend_requested)),
            row("Command line", command),
        ],
    );
}

fn check_row(c: &Check) -> Vec<Cell> {
    vec![
        Cell {
            spans: vec![
                Span::Code(c.id.clone()),
                Span::Text(format!(" {}", c.title)),
            ],
            mark: None,
        },
        Cell::marked(c.verdict.to_string(), c.verdict),
        Cell::text(fmt_opt(c.observed, &c.unit)),
        Cell::text(fmt_opt(c.required, &c.unit)),
        Cell::text(fmt_pct(c.percent_of_spec)),
        Cell::text(&c.unit),
        Cell::text(&c.reason),
        Cell::text(c.source.as_deref().unwrap_or("")),
        Cell::text(&c.hint),
    ]
}

fn checks(d: &mut Doc, r: &RunReport, all: &[Chart]) {
    d.heading(2, "Checks");
    if r.checks.is_empty() {
        d.para("No checks were evaluated.");
        return;
    }
    d.table(
        &[
            "Check",
            "Verdict",
            "Observed",
            "Required",
            "% of spec",
            "Unit",
            "Reason",
            "Source",
            "Hint",
        ],
        r.checks.iter().map(check_row).collect(),
    );
    d.charts(all, ChartKind::Checks);
    d.charts(all, ChartKind::Samples);
}

/// The GPUs' health before and after the run (`super::health`), the failing health checks
/// first; nothing for a run that recorded none.
fn health(d: &mut Doc, r: &RunReport) {
    if r.health.is_empty() {
        return;
    }
    d.heading(2, "Health");
    let failing = super::health::failing(r);
    if !failing.is_empty() {
        d.0.push(Block::List(
            failing
                .iter()
                .map(|c| {
                    vec![
                        Span::Strong(c.verdict.to_string()),
                        Span::Text(" ".into()),
                        Span::Code(c.id.clone()),
                        Span::Text(format!(": {}", c.reason)),
                    ]
                })
                .collect(),
        ));
    }
    d.para(super::health::INTRO);
    d.table(
        &super::health::COLUMNS,
        super::health::health_rows(r)
            .into_iter()
            .map(|row| row.into_iter().map(Cell::text).collect())
            .collect(),
    );
}

/// The memory test (`super::memtest`): a line per GPU, the patterns run and every error
/// recorded (capped per GPU, the rest counted), the GPUs with errors first; nothing for a run
/// without one.
fn memtest(d: &mut Doc, r: &RunReport) {
    use super::memtest as m;
    if r.memtest.is_empty() {
        return;
    }
    d.heading(2, "Memory test");
    d.para(m::INTRO);
    let gpus = m::ordered(r);
    d.0.push(Block::List(
        gpus.iter()
            .map(|g| {
                let verdict = if m::failed(g) { "FAIL" } else { "pass" };
                vec![
                    Span::Strong(verdict.into()),
                    Span::Text(format!(" {}", m::gpu_summary(g))),
                ]
            })
            .collect(),
    ));
    let rows = gpus
        .iter()
        .flat_map(|g| g.patterns.iter().map(|p| m::pattern_row(g.device, p)))
        .map(|row| {
            let mark = if row[6] == "pass" {
                Verdict::Pass
            } else {
                Verdict::Fail
            };
            let mut cells: Vec<Cell> = row.into_iter().map(Cell::text).collect();
            cells[6].mark = Some(mark);
            cells
        })
        .collect::<Vec<_>>();
    if !rows.is_empty() {
        d.table(&m::PATTERN_COLUMNS, rows);
    }
    let (errors, rest): (Vec<_>, Vec<_>) = gpus.iter().map(|g| m::error_rows(g)).unzip();
    let errors: Vec<Vec<Cell>> = errors
        .into_iter()
        .flatten()
        .map(|row| row.into_iter().map(Cell::text).collect())
        .collect();
    if !errors.is_empty() {
        d.heading(3, "Memory errors");
        d.table(&m::ERROR_COLUMNS, errors);
    }
    for line in rest.into_iter().flatten() {
        d.para(line);
    }
}

fn inventory(d: &mut Doc, r: &RunReport) {
    d.heading(2, "Host");
    let h = &r.host;
    d.table(
        &[
            "Hostname",
            "OS",
            "Kernel",
            "CPU",
            "Logical CPUs",
            "Memory (GB)",
            "Local disk (GB)",
        ],
        vec![vec![
            Cell::text(&h.hostname),
            Cell::text(&h.os),
            Cell::text(&h.kernel),
            Cell::text(&h.cpu_model),
            Cell::text(h.logical_cpus.to_string()),
            Cell::text(fmt_gb(h.memory_bytes)),
            Cell::text(fmt_gb(h.local_disk_bytes)),
        ]],
    );
    d.heading(2, "GPUs");
    if r.gpus.is_empty() {
        let why = r.gpu_unavailable.as_deref().map_or(String::new(), |w| {
            format!(": {}", w.trim_end().trim_end_matches('.'))
        });
        d.para(format!("No GPU could be used{why}."));
        return;
    }
    d.table(
        &[
            "#",
            "Name",
            "PCI bus",
            "CC",
            "SMs",
            "SM clock (MHz)",
            "Memory (GB)",
            "Bus (bits)",
            "Memory clock (MHz)",
            "PCIe",
            "Driver CUDA",
            "Max PTX ISA",
            "NVENC engines",
        ],
        r.gpus.iter().map(gpu_row).collect(),
    );
}

fn gpu_row(g: &crate::model::DeviceInfo) -> Vec<Cell> {
    let pcie = match (g.pcie_link_gen, g.pcie_link_width) {
        (Some(gen), Some(w)) => format!("gen {gen} x{w}"),
        (Some(gen), None) => format!("gen {gen}"),
        (None, Some(w)) => format!("x{w}"),
        (None, None) => String::new(),
    };
    [
        g.index.to_string(),
        g.name.clone(),
        g.pci_bus_id.clone(),
        format!("{}.{}", g.compute_capability.0, g.compute_capability.1),
        g.sm_count.to_string(),
        format!("{}", g.sm_clock_khz / 1000),
        fmt_gb(g.total_memory_bytes),
        g.memory_bus_width_bits.to_string(),
        format!("{}", g.memory_clock_khz / 1000),
        pcie,
        format!(
            "{}.{}",
            g.driver_cuda_version / 1000,
            (g.driver_cuda_version % 1000) / 10
        ),
        g.max_ptx_isa.clone(),
        g.nvenc.engines_cell(),
    ]
    .into_iter()
    .map(Cell::text)
    .collect()
}

fn device_label(w: &WorkloadResult) -> String {
    match (w.backend, w.device) {
        (BackendKind::Cuda, Some(d)) => format!("gpu{d} {} / cuda", w.device_name),
        (b, _) if w.device_name.is_empty() => format!("{b}"),
        (b, _) => format!("{} / {b}", w.device_name),
    }
}

/// The verification of a result, marked PASS or FAIL where it was checked.
fn verification_cell(w: &WorkloadResult) -> Cell {
    let v = &w.verification;
    if let Some(e) = &w.error {
        return Cell::marked(format!("error: {e}"), Verdict::Fail);
    }
    match v.status {
        VerifyStatus::Passed => Cell::marked(
            format!("passed ({:.1e} ≤ {:.1e})", v.max_error, v.tolerance),
            Verdict::Pass,
        ),
        VerifyStatus::Failed => Cell {
            spans: vec![
                Span::Strong("FAILED".into()),
                Span::Text(format!(
                    " ({:.1e} > {:.1e}, {} mismatch(es) shown below)",
                    v.max_error,
                    v.tolerance,
                    v.mismatches.len()
                )),
            ],
            mark: Some(Verdict::Fail),
        },
        VerifyStatus::NotChecked => Cell::text("not checked"),
    }
}

fn result_row(w: &WorkloadResult, unit: &str) -> Vec<Cell> {
    let m = w.measurement.as_ref();
    let implementation = if w.role == Role::Peer {
        format!("{} (peer, not gated)", w.implementation)
    } else {
        w.implementation.clone()
    };
    let samples = m.map_or(String::new(), |m| {
        if m.iters_per_sample > 1 {
            format!("{} × {}", m.summary.n, m.iters_per_sample)
        } else {
            m.summary.n.to_string()
        }
    });
    vec![
        Cell::code(&w.id),
        Cell::text(device_label(w)),
        Cell::text(implementation),
        Cell::text(w.math_mode.as_deref().unwrap_or("")),
        Cell::text(fmt_opt(m.map(|m| m.throughput.median), unit)),
        Cell::text(fmt_opt(m.map(|m| m.throughput.best), unit)),
        Cell::text(samples),
        Cell::text(m.map_or(String::new(), |m| {
            format!("{:.2}%", m.summary.rel_stddev * 100.0)
        })),
        verification_cell(w),
    ]
}

/// Every result, one table per throughput unit.
fn results(d: &mut Doc, r: &RunReport, all: &[Chart]) {
    d.heading(2, "Results");
    if r.results.is_empty() {
        d.para("No workload results.");
    }
    for (unit, title) in [
        ("TFLOPS", "Compute (TFLOPS)"),
        ("GB/s", "Bandwidth (GB/s)"),
        ("fps", "Video (frames/s)"),
    ] {
        let rows: Vec<Vec<Cell>> = r
            .results
            .iter()
            .filter(|w| w.spec.throughput_unit() == unit)
            .map(|w| result_row(w, unit))
            .collect();
        if rows.is_empty() {
            continue;
        }
        let median = format!("Median {unit}");
        let best = format!("Best {unit}");
        d.heading(3, title);
        d.table(
            &[
                "ID",
                "Device / backend",
                "Implementation",
                "Math mode",
                &median,
                &best,
                "Samples",
                "Rel. stddev",
                "Verification",
            ],
            rows,
        );
    }
    d.charts(all, ChartKind::Stream);
    d.charts(all, ChartKind::Roofline);
}

fn gemm(d: &mut Doc, r: &RunReport, all: &[Chart]) {
    let gemm = super::gemm::gemm_rows(r);
    if gemm.is_empty() {
        return;
    }
    d.heading(2, "GEMM: gpugate kernel vs peak and cuBLAS");
    let pct = |p: Option<f64>| Cell::text(fmt_pct(p));
    let rows = gemm
        .iter()
        .map(|g| {
            vec![
                Cell::code(&g.id),
                Cell::text(g.precision_label()),
                Cell::text(format!("{}×{}×{}", g.shape.0, g.shape.1, g.shape.2)),
                Cell::text(g.kernel_label()),
                Cell::text(fmt_opt(g.tflops, "TFLOPS")),
                pct(g.percent_of_peak()),
                pct(g.percent_of_peak_at_held_clock()),
                Cell::text(fmt_opt(g.peak, "TFLOPS")),
                Cell::text(g.peer_label()),
                Cell::text(g.peer_tflops_cell(|t| fmt_opt(t, "TFLOPS"))),
                pct(g.ratio_to_peer().map(|x| x * 100.0)),
            ]
        })
        .collect();
    d.table(
        &[
            "ID",
            "GEMM",
            "M×N×K",
            "Kernel (math mode)",
            "TFLOPS",
            "% of peak",
            "% of peak at held clock",
            "Peak TFLOPS (this math)",
            "Peer",
            "Peer TFLOPS",
            "Kernel / peer",
        ],
        rows,
    );
    d.charts(all, ChartKind::Gemm);
}

fn video(d: &mut Doc, r: &RunReport, all: &[Chart]) {
    let video = super::video::video_rows(r);
    if video.is_empty() {
        return;
    }
    d.heading(2, "Video stages");
    d.para(super::video::INTRO);
    let rows = video
        .iter()
        .map(|v| {
            let mut cells: Vec<Cell> = v.cells().into_iter().map(Cell::text).collect();
            cells[0] = Cell::code(&v.id);
            if let Some(last) = cells.last_mut() {
                last.mark = Some(if v.ok { Verdict::Pass } else { Verdict::Fail });
            }
            cells
        })
        .collect();
    d.table(&super::video::COLUMNS, rows);
    d.charts(all, ChartKind::Video);
}

/// The burn-in (`gpugate burn`): per GPU its ring and intervals, the charts over time, then
/// the first SDC records.
fn burn(d: &mut Doc, r: &RunReport, all: &[Chart]) {
    let Some(b) = &r.burn else {
        return;
    };
    d.heading(2, "Burn-in");
    d.para(super::burn::load_line(b));
    d.para(super::burn::limits_line(b));
    machine_as_one(d, r);
    for g in &b.gpus {
        let mut summary = super::burn::gpu_summary(g);
        if let Some(limit) = super::health::temperature_limit(r, g.device) {
            summary.push_str(&format!("; temperature limit {limit}"));
        }
        d.para(summary);
        let rows = g
            .intervals
            .iter()
            .map(|i| {
                let mut cells: Vec<Cell> = super::burn::interval_cells(i)
                    .into_iter()
                    .map(Cell::text)
                    .collect();
                let ok = if i.errors == 0 {
                    Verdict::Pass
                } else {
                    Verdict::Fail
                };
                cells[7].mark = Some(ok);
                cells
            })
            .collect();
        d.table(&super::burn::COLUMNS, rows);
    }
    d.charts(all, ChartKind::Burn);
    let sdc = super::burn::sdc_lines(r);
    if !sdc.is_empty() {
        d.heading(3, "Silent data corruption (first records)");
        d.0.push(Block::List(
            sdc.into_iter().map(|l| vec![Span::Text(l)]).collect(),
        ));
    }
}

/// Peer to peer (a burn-in's P2P stage): the matrix, every test, and why a pair was staged.
fn p2p(d: &mut Doc, r: &RunReport) {
    let Some(s) = &r.p2p else {
        return;
    };
    use super::p2p as p;
    d.heading(2, "Peer to peer (P2P)");
    d.para(format!("{} Copies of {} bytes.", p::INTRO, s.bytes));
    for n in p::pair_notes(s) {
        d.para(n);
    }
    if s.gpus.len() < 2 {
        return;
    }
    d.heading(3, "P2P matrix");
    d.para(p::MATRIX_NOTE);
    let header = p::matrix_header(s);
    let header: Vec<&str> = header.iter().map(String::as_str).collect();
    let rows = p::matrix_rows(s, &r.checks)
        .into_iter()
        .map(|row| {
            row.into_iter()
                .map(|(text, mark)| match mark {
                    Some(v) => Cell::marked(text, v),
                    None => Cell::text(text),
                })
                .collect()
        })
        .collect();
    d.table(&header, rows);
    d.heading(3, "P2P copy tests");
    let rows = p::test_rows(s)
        .into_iter()
        .map(|(cells, ok)| {
            let mut cells: Vec<Cell> = cells.into_iter().map(Cell::text).collect();
            let v = if ok { Verdict::Pass } else { Verdict::Fail };
            cells[6].mark = Some(v);
            cells
        })
        .collect();
    d.table(&p::COLUMNS, rows);
}

/// The burn's machine table (two GPUs or more): each GPU alone, summed, beside all at once.
fn machine_as_one(d: &mut Doc, r: &RunReport) {
    let rows = super::burn::machine_rows(r);
    if rows.is_empty() {
        return;
    }
    d.para(super::burn::MACHINE_INTRO);
    let rows = rows
        .into_iter()
        .map(|(cells, verdict)| {
            let mut cells: Vec<Cell> = cells.into_iter().map(Cell::text).collect();
            cells[4].mark = verdict;
            cells
        })
        .collect();
    d.table(&super::burn::MACHINE_COLUMNS, rows);
}

/// Which variant each size class uses, and how the candidates did.
fn tuning(d: &mut Doc, r: &RunReport) {
    for t in r.tuning.iter().filter(|t| !t.entries.is_empty()) {
        d.heading(
            2,
            format!(
                "GEMM tuning, gpu{} ({}, driver {}, PTX {})",
                t.device, t.key.gpu_name, t.key.driver_cuda_version, t.key.ptx_hash
            ),
        );
        let rows = t
            .entries
            .iter()
            .map(|e| {
                let candidates = e
                    .candidates
                    .iter()
                    .map(|c| match (c.tflops, c.verified) {
                        (Some(x), true) => format!("{} {x:.2}", c.variant),
                        (Some(x), false) => format!("{} {x:.2} (wrong result)", c.variant),
                        (None, _) => format!(
                            "{} failed: {}",
                            c.variant,
                            c.error.as_deref().unwrap_or("?")
                        ),
                    })
                    .collect::<Vec<_>>()
                    .join("; ");
                vec![
                    Cell::text(e.precision.as_str()),
                    Cell::text(e.math.label()),
                    Cell::text(format!("{:?}", e.size_class).to_lowercase()),
                    Cell::text(format!("{}³", e.size)),
                    Cell::code(&e.variant),
                    Cell::text(if e.from_cache {
                        "cache"
                    } else {
                        "timed in this run"
                    }),
                    Cell::text(candidates),
                ]
            })
            .collect();
        d.table(
            &[
                "Precision",
                "Math",
                "Size class",
                "Timed at",
                "Chosen variant",
                "From",
                "Candidates (TFLOPS)",
            ],
            rows,
        );
    }
}

/// What NVML saw while each GPU result was measured.
fn telemetry(d: &mut Doc, r: &RunReport, all: &[Chart]) {
    let sampled: Vec<&WorkloadResult> = r
        .results
        .iter()
        .filter(|w| w.telemetry.as_ref().is_some_and(|t| t.samples > 0))
        .collect();
    if sampled.is_empty() {
        return;
    }
    d.heading(2, "Telemetry");
    d.para(
        "What NVML reported while each result was measured: the SM clock held against the \
         GPU's maximum, the memory clock, the hottest reading, board power against the enforced \
         limit, and how much of the time the GPU was throttled, and why.",
    );
    let mhz = |v: Option<f64>| v.map_or(String::new(), |v| format!("{v:.0}"));
    let int = |v: Option<u32>| v.map_or(String::new(), |v| v.to_string());
    let rows = sampled
        .iter()
        .filter_map(|w| Some((w, w.telemetry.as_ref()?)))
        .map(|(w, t)| {
            let throttled = if t.throttled_fraction > 0.0 {
                Cell::marked(
                    format!(
                        "{:.0}% ({})",
                        t.throttled_fraction * 100.0,
                        t.throttle_reasons.join(", ")
                    ),
                    Verdict::Inconclusive,
                )
            } else {
                Cell::text("never")
            };
            vec![
                Cell::code(&w.id),
                Cell::text(t.samples.to_string()),
                Cell::text(format!(
                    "{} (min {}, max {})",
                    mhz(t.sm_clock_mhz_median),
                    int(t.sm_clock_mhz_min),
                    int(t.max_sm_clock_mhz)
                )),
                Cell::text(mhz(t.mem_clock_mhz_median)),
                Cell::text(int(t.temperature_c_max)),
                Cell::text(format!(
                    "{} of {}",
                    fmt_opt(t.power_w_median, "W"),
                    fmt_opt(t.power_limit_w, "W")
                )),
                throttled,
            ]
        })
        .collect();
    d.table(
        &[
            "ID",
            "Samples",
            "SM clock median (MHz)",
            "Memory clock (MHz)",
            "Max temperature (°C)",
            "Power median (W)",
            "Throttled",
        ],
        rows,
    );
    d.charts(all, ChartKind::Telemetry);
}

/// The first wrong elements of each result that failed its check.
fn mismatches(d: &mut Doc, r: &RunReport) {
    let failed: Vec<&WorkloadResult> = r
        .results
        .iter()
        .filter(|w| w.verification.status == VerifyStatus::Failed)
        .collect();
    if failed.is_empty() {
        return;
    }
    d.heading(2, "First mismatches");
    for w in failed {
        let v = &w.verification;
        d.heading(3, format!("{} ({})", w.id, device_label(w)));
        d.para(format!(
            "{}: max error {:.3e} against tolerance {:.3e}, {} checked.",
            v.method, v.max_error, v.tolerance, v.checked
        ));
        if v.mismatches.is_empty() {
            d.para("(no element-level mismatch recorded)");
        } else {
            let rows = v
                .mismatches
                .iter()
                .map(|m| {
                    vec![
                        Cell::text(&m.at),
                        Cell::text(format!("{}", m.expected)),
                        Cell::text(format!("{}", m.got)),
                    ]
                })
                .collect();
            d.table(&["At", "Expected", "Got"], rows);
        }
    }
}

/// How the kernels got onto the GPUs: module load (JIT) times and the builds a driver refused.
fn environment(d: &mut Doc, r: &RunReport) {
    if !r.module_loads.is_empty() {
        d.heading(2, "Module load (JIT) times");
        let rows = r
            .module_loads
            .iter()
            .map(|m| {
                vec![
                    Cell::text(format!("gpu{}", m.device)),
                    Cell::text(&m.module),
                    Cell::text(&m.target),
                    Cell::text(format!("{:.1}", m.seconds * 1e3)),
                ]
            })
            .collect();
        d.table(&["GPU", "Module", "Target", "Load time (ms)"], rows);
        let total: f64 = r.module_loads.iter().map(|m| m.seconds).sum();
        d.para(format!(
            "Total {:.1} ms, never inside a timed sample.",
            total * 1e3
        ));
    }
    if !r.module_notes.is_empty() {
        d.heading(2, "Kernel modules not at their best build");
        let rows = r
            .module_notes
            .iter()
            .map(|m| {
                vec![
                    Cell::text(format!("gpu{}", m.device)),
                    Cell::text(&m.module),
                    Cell::text(m.target.as_deref().unwrap_or("none")),
                    Cell::text(m.refused.as_deref().unwrap_or("")),
                    Cell::text(m.refused_min_driver.as_deref().unwrap_or("")),
                    Cell::text(m.reason.as_deref().unwrap_or("")),
                ]
            })
            .collect();
        d.table(
            &[
                "GPU",
                "Module",
                "Loaded",
                "Best for the GPU",
                "It needs",
                "Why",
            ],
            rows,
        );
    }
}

fn warnings_and_notes(d: &mut Doc, r: &RunReport) {
    let warnings: Vec<Vec<Span>> = super::warnings(r)
        .into_iter()
        .map(|w| vec![Span::Code(w.subject), Span::Text(format!(": {}", w.text))])
        .collect();
    if !warnings.is_empty() {
        d.heading(2, "Warnings");
        d.0.push(Block::List(warnings));
    }
    if !r.notes.is_empty() {
        d.heading(2, "Notes");
        d.0.push(Block::List(
            r.notes
                .iter()
                .map(|n| vec![Span::Text(n.clone())])
                .collect(),
        ));
    }
}
