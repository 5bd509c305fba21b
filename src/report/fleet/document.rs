//! The fleet report's [`Document`], the same document model as a run's (laid out by
//! `markdown::render_document` and `html::render_document`), built once from a
//! [`FleetReport`], in the order a reader needs it: verdict, banners, why (failing and missing
//! nodes, unreadable inputs, slow outliers), the fleet, the nodes that need a look (never a
//! table of every node), per profile the distributions (a table and a chart per GPU model and
//! metric) and the homogeneity, the fast outliers, notes.

use crate::fleet::model::{Distribution, FleetReport, Group, Node, Side, Spread};
use crate::fleet::{some_names, MIN_GPUS_FOR_OUTLIERS, MIN_RELATIVE_DEVIATION};
use crate::model::Verdict;
use crate::report::charts::Chart;
use crate::report::document::{Block, Cell, Document, Span, Table};

/// A fleet's number: four significant digits (a fleet's spread is often below the run
/// reports' two decimals), whole above 10,000.
pub fn sig(v: f64) -> String {
    if !v.is_finite() || v == 0.0 {
        return format!("{v}");
    }
    let digits = (3 - v.abs().log10().floor() as i32).clamp(0, 6) as usize;
    format!("{v:.digits$}")
}

/// "1 GPU", "2 GPUs".
pub fn plural(n: usize, what: &str) -> String {
    format!("{n} {what}{}", if n == 1 { "" } else { "s" })
}

/// Nodes listed one by one in the "why" list and the nodes table; the rest are counted (every
/// node is in fleet.json).
pub const NODE_ROWS: usize = 50;
/// Outliers listed in the outlier tables; every one is in fleet.json.
pub const OUTLIER_ROWS: usize = 100;

/// What the fleet's exit codes mean: the last line of every fleet report.
pub const FLEET_EXIT_CODES: &str = "Exit codes: 0 every node passed and none is a slow outlier · \
    1 a node failed or an expected node sent no result · 2 nothing could be merged · 3 nothing \
    failed, but a node was inconclusive, a GPU is a slow outlier or an input could not be read. \
    Throughput units are decimal (TFLOPS = 1e12 FLOP/s, GB/s = 1e9 B/s).";

/// The fleet report, every section in reading order; `charts` are [`super::charts`]'s.
pub fn build(f: &FleetReport, charts: &[Chart]) -> Document {
    let mut b: Vec<Block> = Vec::new();
    banners(&mut b, f);
    why(&mut b, f);
    summary(&mut b, f);
    nodes(&mut b, f);
    // The charts come one per distribution, group by group, in the order of `groups`.
    let mut first = 0;
    for g in &f.groups {
        let end = (first + g.metrics.len()).min(charts.len());
        group(&mut b, g, &charts[first.min(end)..end]);
        first = end;
    }
    fast_outliers(&mut b, f);
    if !f.notes.is_empty() {
        b.push(heading(2, "Notes"));
        b.push(Block::List(f.notes.iter().map(text).collect()));
    }
    b.push(Block::Footer(format!(
        "Fleet verdict {} → exit {}. {FLEET_EXIT_CODES}",
        f.verdict, f.exit_code
    )));
    Document {
        title: format!(
            "gpugate fleet: {} (exit {}), {} nodes",
            f.verdict,
            f.exit_code,
            f.nodes.len()
        ),
        verdict: f.verdict,
        blocks: b,
    }
}

fn heading(level: u8, t: impl Into<String>) -> Block {
    Block::Heading {
        level,
        text: t.into(),
    }
}

fn text(t: impl Into<String>) -> Vec<Span> {
    vec![Span::Text(t.into())]
}

fn banners(b: &mut Vec<Block>, f: &FleetReport) {
    let sim = f.simulated_nodes();
    if sim > 0 {
        b.push(Block::Banner(vec![Span::Strong(format!(
            "SIMULATED: {sim} of {} nodes ran on gpugate-sim; their numbers are not GPU \
             measurements, and neither are the distributions they are part of.",
            f.nodes.len()
        ))]));
    }
    if !f.unreadable.is_empty() {
        b.push(Block::Banner(vec![
            Span::Strong(format!(
                "{} could not be merged",
                plural(f.unreadable.len(), "input")
            )),
            Span::Text(
                " (listed below): a node whose run.json is among them is not judged.".into(),
            ),
        ]));
    }
}

/// One line per failing or inconclusive node (its failing checks), missing node and
/// unreadable input, then the slow outliers.
fn why(b: &mut Vec<Block>, f: &FleetReport) {
    let bad: Vec<&Node> = f
        .nodes
        .iter()
        .filter(|n| matches!(n.verdict, Verdict::Fail | Verdict::Inconclusive))
        .collect();
    let slow = f.slow_outliers();
    if bad.is_empty() && f.missing.is_empty() && f.unreadable.is_empty() && slow.is_empty() {
        return;
    }
    b.push(heading(2, format!("Why {}", f.verdict)));
    let mut items: Vec<Vec<Span>> = Vec::new();
    for h in f.missing.iter().take(NODE_ROWS) {
        items.push(vec![
            Span::Code(h.clone()),
            Span::Text(" ".into()),
            Span::Strong("FAIL".into()),
            Span::Text(" no result: listed in --expect-nodes, no run.json found".into()),
        ]);
    }
    for n in bad.iter().take(NODE_ROWS) {
        items.push(node_line(n));
    }
    for u in &f.unreadable {
        items.push(vec![
            Span::Code(u.path.clone()),
            Span::Text(" ".into()),
            Span::Strong("not merged".into()),
            Span::Text(format!(": {}", u.reason)),
        ]);
    }
    let more = f.missing.len().saturating_sub(NODE_ROWS) + bad.len().saturating_sub(NODE_ROWS);
    if more > 0 {
        items.push(text(format!(
            "… and {more} more nodes (fleet.json lists every one)"
        )));
    }
    b.push(Block::List(items));
    if !slow.is_empty() {
        b.push(heading(
            3,
            format!("Slow outliers: {}", plural(slow.len(), "GPU")),
        ));
        b.push(Block::Paragraph(text(format!(
            "Slower than the rest of their fleet (modified z-score below −{}, and at least {:.0} % \
             from the median), whether or not they pass their profile.",
            f.threshold,
            MIN_RELATIVE_DEVIATION * 100.0
        ))));
        b.push(outlier_table(f, Side::Slow));
    }
}

fn node_line(n: &Node) -> Vec<Span> {
    let mut s = vec![
        Span::Code(n.hostname.clone()),
        Span::Text(" ".into()),
        Span::Strong(n.verdict.to_string()),
    ];
    let checks: Vec<String> = n
        .failing
        .iter()
        .map(|c| format!("{} {}: {}", c.id, c.verdict, c.text))
        .collect();
    s.push(Span::Text(match checks.as_slice() {
        [] => " (no failing check recorded)".to_string(),
        [one] => format!(" {one}"),
        [first, rest @ ..] => format!(" {first}; and {} more checks", rest.len()),
    }));
    s
}

/// The outliers on `side`, furthest first: node, GPU, metric, value, median, how far.
fn outlier_table(f: &FleetReport, side: Side) -> Block {
    let mut all = f.outliers(side);
    all.sort_by(|a, b| b.2.z.abs().total_cmp(&a.2.z.abs()));
    let mut rows: Vec<Vec<Cell>> = all
        .iter()
        .take(OUTLIER_ROWS)
        .map(|(g, d, o)| {
            let mark = if side == Side::Slow {
                Some(Verdict::Inconclusive)
            } else {
                None
            };
            vec![
                Cell::code(&o.hostname),
                Cell::text(format!("gpu{}", o.gpu)),
                Cell::code(&d.metric),
                Cell::text(format!("{} ({})", d.gpu_model, g.profile)),
                Cell {
                    spans: text(format!("{} {}", sig(o.value), d.unit)),
                    mark,
                },
                Cell::text(format!("{} {}", sig(o.median), d.unit)),
                Cell::text(format!("{:+.1} %", o.percent_from_median)),
                Cell::text(format!("{:+.1}", o.z)),
            ]
        })
        .collect();
    if all.len() > OUTLIER_ROWS {
        let mut more = vec![Cell::text(format!(
            "… and {} more (fleet.json lists every one)",
            all.len() - OUTLIER_ROWS
        ))];
        more.resize(8, Cell::text(""));
        rows.push(more);
    }
    Block::Table(Table {
        header: [
            "Node",
            "GPU",
            "Metric",
            "GPU model (profile)",
            "Value",
            "Fleet median",
            "From median",
            "z",
        ]
        .map(String::from)
        .to_vec(),
        rows,
    })
}

fn summary(b: &mut Vec<Block>, f: &FleetReport) {
    let count = |v: Verdict| f.nodes.iter().filter(|n| n.verdict == v).count();
    let gpus: usize = f.nodes.iter().map(|n| n.gpus.len()).sum();
    let row = |k: &str, v: String| vec![Cell::text(k), Cell::text(v)];
    let profiles: Vec<String> = f
        .groups
        .iter()
        .map(|g| format!("{} ({} nodes)", g.profile, g.nodes))
        .collect();
    let commit = f
        .tool
        .git_commit
        .as_deref()
        .map_or(String::new(), |c| format!(" (commit {c})"));
    b.push(Block::Table(Table {
        header: vec!["Fleet".into(), String::new()],
        rows: vec![
            row(
                "Nodes",
                format!(
                    "{} merged ({gpus} GPUs): {} PASS, {} FAIL, {} INCONCLUSIVE; {} with slow \
                     outliers; {} missing; {} not merged",
                    f.nodes.len(),
                    count(Verdict::Pass),
                    count(Verdict::Fail),
                    count(Verdict::Inconclusive),
                    f.nodes.iter().filter(|n| n.slow_outliers > 0).count(),
                    f.missing.len(),
                    plural(f.unreadable.len(), "input")
                ),
            ),
            row("Profiles", profiles.join(", ")),
            row(
                "Outliers",
                format!(
                    "modified z-score beyond {} (0.6745 · (x − median) / MAD, per profile, GPU \
                     model and metric), at least {:.0} % from the median, in a distribution of \
                     at least {MIN_GPUS_FOR_OUTLIERS} GPUs",
                    f.threshold,
                    MIN_RELATIVE_DEVIATION * 100.0
                ),
            ),
            row("Merged", f.merged_at.clone()),
            row(
                "Tool",
                format!("{} {}{commit}", f.tool.name, f.tool.version),
            ),
        ],
    }));
}

/// The nodes that need a look (not PASS, or with a slow outlier), at most [`NODE_ROWS`]; a
/// fleet of at most that many nodes lists them all.
fn nodes(b: &mut Vec<Block>, f: &FleetReport) {
    let all = f.nodes.len() <= NODE_ROWS;
    let shown: Vec<&Node> = f
        .nodes
        .iter()
        .filter(|n| all || n.verdict != Verdict::Pass || n.slow_outliers > 0)
        .collect();
    b.push(heading(2, "Nodes"));
    let rest = f.nodes.len() - shown.len().min(NODE_ROWS);
    if !all {
        b.push(Block::Paragraph(text(format!(
            "The nodes that failed, were inconclusive or have a slow outlier, at most \
             {NODE_ROWS}; {rest} others are not listed here (fleet.json lists every node)."
        ))));
    }
    let rows = shown
        .iter()
        .take(NODE_ROWS)
        .map(|n| {
            let failing: Vec<&str> = n.failing.iter().map(|c| c.id.as_str()).collect();
            vec![
                Cell::code(&n.hostname),
                Cell::marked(n.verdict.to_string(), n.verdict),
                Cell::text(some_names(&failing)),
                Cell::text(n.slow_outliers.to_string()),
                Cell::text(n.gpus.len().to_string()),
                Cell::text(&n.profile),
                Cell::text(&n.started_at),
            ]
        })
        .collect();
    b.push(Block::Table(Table {
        header: [
            "Node",
            "Verdict",
            "Failing checks",
            "Slow outliers",
            "GPUs",
            "Profile",
            "Started",
        ]
        .map(String::from)
        .to_vec(),
        rows,
    }));
}

fn spread_text(d: &Distribution) -> String {
    match d.spread {
        Spread::Mad => format!("MAD {}", sig(d.spread_value)),
        Spread::MeanAbsoluteDeviation => format!("MAD 0; mean abs. dev. {}", sig(d.spread_value)),
        Spread::None => "none: every value equal".into(),
        Spread::TooFew => format!("not judged: fewer than {MIN_GPUS_FOR_OUTLIERS} GPUs"),
    }
}

/// A profile's section: its distributions (table and charts) and its homogeneity.
fn group(b: &mut Vec<Block>, g: &Group, charts: &[Chart]) {
    b.push(heading(
        2,
        format!("Profile {}: {} nodes", g.profile, g.nodes),
    ));
    b.push(heading(3, "Distributions per GPU model and metric"));
    let rows = g.metrics.iter().map(distribution_row).collect();
    b.push(Block::Table(Table {
        header: [
            "GPU model",
            "Metric",
            "GPUs",
            "Min",
            "Q1",
            "Median",
            "Q3",
            "Max",
            "Unit",
            "Spread",
            "Outliers (slow / fast)",
        ]
        .map(String::from)
        .to_vec(),
        rows,
    }));
    // The charts of distributions with outliers first, then the others.
    let with_outliers = |i: &usize| !g.metrics[*i].outliers.is_empty();
    let (first, rest): (Vec<usize>, Vec<usize>) = (0..charts.len()).partition(with_outliers);
    for i in first.into_iter().chain(rest) {
        b.push(Block::Chart(charts[i].clone()));
    }
    homogeneity(b, g);
}

fn distribution_row(d: &Distribution) -> Vec<Cell> {
    let v = |x: f64| Cell::text(sig(x));
    let slow = d.outliers.iter().filter(|o| o.side == Side::Slow).count();
    let fast = d.outliers.len() - slow;
    let mark = (slow > 0).then_some(Verdict::Inconclusive);
    vec![
        Cell::text(&d.gpu_model),
        Cell::code(&d.metric),
        Cell::text(d.n.to_string()),
        v(d.min),
        v(d.q1),
        v(d.median),
        v(d.q3),
        v(d.max),
        Cell::text(&d.unit),
        Cell::text(spread_text(d)),
        Cell {
            spans: text(format!("{slow} / {fast}")),
            mark,
        },
    ]
}

fn homogeneity(b: &mut Vec<Block>, g: &Group) {
    b.push(heading(3, "Homogeneity"));
    b.push(Block::Paragraph(text(
        "What every node of this profile should share; the odd ones are named. The VBIOS \
         version is not compared: run.json does not record it.",
    )));
    let rows = g
        .homogeneity
        .iter()
        .map(|a| {
            let odd: Vec<String> = a
                .odd
                .iter()
                .map(|o| {
                    let hosts: Vec<&str> = o.hostnames.iter().map(String::as_str).collect();
                    format!("{}: {}", o.value, some_names(&hosts))
                })
                .collect();
            let mark = (!a.odd.is_empty()).then_some(Verdict::Inconclusive);
            vec![
                Cell::text(&a.name),
                Cell::text(format!("{} ({} nodes)", a.common, a.common_nodes)),
                Cell {
                    spans: text(if odd.is_empty() {
                        "none".into()
                    } else {
                        odd.join("; ")
                    }),
                    mark,
                },
            ]
        })
        .collect();
    b.push(Block::Table(Table {
        header: ["Attribute", "Common value", "Odd ones"]
            .map(String::from)
            .to_vec(),
        rows,
    }));
}

fn fast_outliers(b: &mut Vec<Block>, f: &FleetReport) {
    if f.outliers(Side::Fast).is_empty() {
        return;
    }
    b.push(heading(2, "Fast outliers (information)"));
    b.push(Block::Paragraph(text(
        "Faster than the rest of their fleet: no problem in itself, but worth a look (a \
         different GPU, clock or driver setting, or a fleet whose others are slow).",
    )));
    b.push(outlier_table(f, Side::Fast));
}
