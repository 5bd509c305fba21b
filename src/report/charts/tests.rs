//! Tests of the charts: every kind drawn from one run with every kind of data, each SVG well
//! formed, and the marks at the pixels their values and the run's targets say.

use super::*;
use crate::model::telemetry::{TelemetryPoint, TelemetrySample};
use crate::model::Role;
use crate::workload::{GemmMath, Precision, WorkloadSpec};

/// The sample run with something of everything: a second SGEMM size with its peer (a GEMM
/// sweep), and an NVML trace on two results, throttled for a while.
pub(crate) fn rich_report() -> RunReport {
    let mut r = crate::report::tests::sample_report();
    for (id, role, v) in [
        ("gpu0.sgemm.2048x2048x2048", Role::Primary, 4.1),
        ("gpu0.cublas.sgemm.2048x2048x2048", Role::Peer, 4.6),
    ] {
        let mut w = r.results[0].clone();
        w.id = id.into();
        w.role = role;
        w.spec = WorkloadSpec::Gemm {
            precision: Precision::F32,
            m: 2048,
            n: 2048,
            k: 2048,
            math: GemmMath::CudaCores,
        };
        w.work = w.spec.work();
        w.measurement.as_mut().unwrap().throughput.median = v;
        w.measurement.as_mut().unwrap().summary.median = w.work.flops / v / 1e12;
        r.results.push(w);
    }
    for (k, w) in r
        .results
        .iter_mut()
        .filter(|w| w.device == Some(0))
        .take(2)
        .enumerate()
    {
        w.telemetry_trace = (0..40)
            .map(|i| {
                let at_s = k as f64 * 2.0 + i as f64 * 0.05;
                let hot = k == 1 && (10..20).contains(&i);
                TelemetryPoint {
                    at_s,
                    sample: TelemetrySample {
                        sm_clock_mhz: Some(if hot { 949 } else { 1114 }),
                        mem_clock_mhz: Some(3004),
                        temperature_c: Some(60 + (i / 4) as u32),
                        power_w: Some(180.0 + (i % 7) as f64),
                        throttle: if hot {
                            vec!["hw_slowdown".into()]
                        } else {
                            vec![]
                        },
                    },
                }
            })
            .collect();
    }
    r
}

type Line = (String, String, Vec<(f64, f64)>);

/// The texts, circles and lines of an SVG, with their pixels.
struct Svg {
    /// (x, y, text-anchor, dy, text)
    texts: Vec<(f64, f64, String, String, String)>,
    /// (stroke, stroke-width, points)
    lines: Vec<Line>,
    /// (fill, cx, cy)
    circles: Vec<(String, f64, f64)>,
}

fn parse(svg: &str) -> Svg {
    let doc = roxmltree::Document::parse(svg).expect("well-formed SVG");
    let num =
        |n: &roxmltree::Node, a: &str| n.attribute(a).unwrap_or("nan").parse::<f64>().unwrap();
    let attr = |n: &roxmltree::Node, a: &str| n.attribute(a).unwrap_or("").to_string();
    let mut s = Svg {
        texts: vec![],
        lines: vec![],
        circles: vec![],
    };
    for n in doc.descendants() {
        match n.tag_name().name() {
            "text" => s.texts.push((
                num(&n, "x"),
                num(&n, "y"),
                attr(&n, "text-anchor"),
                attr(&n, "dy"),
                n.text().unwrap_or("").trim().to_string(),
            )),
            "polyline" => {
                let pts = attr(&n, "points")
                    .split_whitespace()
                    .map(|p| {
                        let (x, y) = p.split_once(',').unwrap();
                        (x.parse().unwrap(), y.parse().unwrap())
                    })
                    .collect();
                s.lines
                    .push((attr(&n, "stroke"), attr(&n, "stroke-width"), pts));
            }
            "circle" => s
                .circles
                .push((attr(&n, "fill"), num(&n, "cx"), num(&n, "cy"))),
            _ => {}
        }
    }
    s
}

fn tick_value(t: &str) -> Option<f64> {
    match t.strip_suffix('k') {
        Some(k) => k.parse::<f64>().ok().map(|v| v * 1e3),
        None => t.parse().ok(),
    }
}

impl Svg {
    /// The axis as a reader reads it from its tick labels: value → pixel (x labels hang below
    /// the axis, y labels end left of it), linear or log.
    fn axis(&self, x_axis: bool, log: bool) -> impl Fn(f64) -> f64 {
        let mut ticks: Vec<(f64, f64)> = self
            .texts
            .iter()
            .filter(|t| {
                if x_axis {
                    t.2 == "middle" && t.3 == "0.76em"
                } else {
                    t.2 == "end" && t.3 == "0.5ex"
                }
            })
            .filter_map(|t| Some((tick_value(&t.4)?, if x_axis { t.0 } else { t.1 })))
            .collect();
        ticks.sort_by(|a, b| a.0.total_cmp(&b.0));
        assert!(ticks.len() >= 2, "axis ticks");
        let f = move |v: f64| if log { v.log10() } else { v };
        let ((v0, p0), (v1, p1)) = (ticks[0], ticks[ticks.len() - 1]);
        move |v: f64| p0 + (f(v) - f(v0)) / (f(v1) - f(v0)) * (p1 - p0)
    }
    fn text(&self, text: &str) -> (f64, f64) {
        let t = self
            .texts
            .iter()
            .find(|t| t.4 == text)
            .unwrap_or_else(|| panic!("{text}"));
        (t.0, t.1)
    }
    fn lines_of(&self, stroke: &str, width: &str) -> Vec<&Vec<(f64, f64)>> {
        self.lines
            .iter()
            .filter(|l| l.0 == stroke && l.1 == width)
            .map(|l| &l.2)
            .collect()
    }
}

fn chart(r: &RunReport, name: &str) -> Chart {
    all(r)
        .into_iter()
        .find(|c| c.file_name == name)
        .unwrap_or_else(|| panic!("no {name}"))
}

/// A run with every kind of data draws every kind of chart, each well-formed XML, the same
/// bytes every time; report.html inlines them and references nothing outside itself.
#[test]
fn every_kind_is_drawn_well_formed_and_deterministic() {
    let r = rich_report();
    let charts = all(&r);
    let kinds: Vec<ChartKind> = charts.iter().map(|c| c.kind).collect();
    use ChartKind::*;
    assert_eq!(
        kinds,
        [Checks, Gemm, Stream, Video, Roofline, Samples, Telemetry]
    );
    for c in &charts {
        assert!(c.file_name.ends_with("_gpu0.svg") || c.file_name == "gemm_gpu0_f32.svg");
        let s = parse(&c.svg);
        assert!(
            s.texts.iter().any(|t| t.4 == c.title),
            "{}: title",
            c.file_name
        );
        assert!(s.texts.len() > 8, "{}: axis labels and legend", c.file_name);
    }
    assert_eq!(charts, all(&r), "deterministic");
    let html = crate::report::Reporter::render(&crate::report::html::Html, &r);
    for c in &charts {
        assert!(html.contains(&c.svg), "{} inline", c.file_name);
    }
    let lower = html.to_lowercase();
    let ns = lower
        .matches("xmlns=\"http://www.w3.org/2000/svg\"")
        .count();
    assert_eq!(ns, charts.len());
    assert_eq!(lower.matches("http").count(), ns, "only the SVG namespace");
    for bad in ["src=", "href=", "@import", "url(", "//www.", "\"//", "'//"] {
        let n = lower.matches(bad).count();
        let ok = if bad == "//www." { ns } else { 0 };
        assert_eq!(n, ok, "{bad}");
    }
}

/// The checks chart's marks sit where the profile puts them: the FP32 GEMM pass line at the
/// target's pass fraction of the spec, the median at observed / spec.
#[test]
fn the_checks_chart_puts_the_pass_line_at_the_pass_fraction() {
    let r = rich_report();
    let (profile, _) = crate::gate::load_profile("g2.large").unwrap();
    let t = profile
        .targets
        .iter()
        .find(|t| t.metric == crate::gate::profile::Metric::Fp32Gemm)
        .unwrap();
    let s = parse(&chart(&r, "checks_gpu0.svg").svg);
    let x = s.axis(true, false);
    let (_, row) = s.text("fp32_gemm (4.87 TFLOPS)");
    let pass = s
        .lines_of("#FF7F0E", "3")
        .into_iter()
        .find(|l| l[0].1.min(l[1].1) < row && l[0].1.max(l[1].1) > row)
        .expect("a pass line on the row");
    assert!(
        (pass[0].0 - x(t.pass_fraction * 100.0)).abs() <= 1.5,
        "{pass:?}"
    );
    let dot = s
        .circles
        .iter()
        .find(|c| (c.2 - row).abs() < 1.0)
        .expect("a median on the row");
    assert!((dot.1 - x(4.87 / t.spec() * 100.0)).abs() <= 1.5);
    assert_eq!(dot.0, "#2CA02C", "a PASS");
}

/// The GEMM chart's points are at their sizes and TFLOPS, the peak at the recorded peak.
#[test]
fn the_gemm_chart_puts_each_result_at_its_size_and_tflops() {
    let mut r = rich_report();
    r.peaks[0].fp32_tflops = Some(6.5); // recorded, not looked up
    let s = parse(&chart(&r, "gemm_gpu0_f32.svg").svg);
    let y = s.axis(false, false);
    let (x2048, _) = s.text("2048");
    let kernel: Vec<_> = s.circles.iter().filter(|c| c.0 == "#1F77B4").collect();
    assert_eq!(kernel.len(), 2);
    let p = kernel.iter().find(|c| (c.1 - x2048).abs() <= 1.0).unwrap();
    assert!((p.2 - y(4.1)).abs() <= 1.5, "{p:?} vs {}", y(4.1));
    let peer = s.circles.iter().filter(|c| c.0 == "#D62728").count();
    assert_eq!(peer, 2);
    let peak = s.lines_of("#2CA02C", "2");
    assert!(peak
        .iter()
        .any(|l| l.iter().all(|p| (p.1 - y(6.5)).abs() <= 1.5)));
    assert!(s.texts.iter().any(|t| t.4 == "peak 6.5 TFLOPS"));
}

/// The roofline's bandwidth ceiling meets the FP32 ceiling at peak FLOP/s / peak bandwidth.
#[test]
fn the_roofline_knee_is_at_peak_flops_over_bandwidth() {
    let r = rich_report();
    let p = &r.peaks[0];
    let (fp32, bw) = (p.fp32_tflops.unwrap(), p.memory_gbps.unwrap());
    let s = parse(&chart(&r, "roofline_gpu0.svg").svg);
    let (x, y) = (s.axis(true, true), s.axis(false, true));
    // The ceiling in the plot (the legend's sample line is right of it).
    let plot_w = f64::from(WIDTH - LEGEND_W);
    let roof = s.lines_of("#D62728", "2");
    let end = *roof
        .iter()
        .find(|l| l[0].0 < plot_w)
        .unwrap()
        .last()
        .unwrap();
    let knee = fp32 * 1e12 / (bw * 1e9);
    assert!((end.0 - x(knee)).abs() <= 1.5, "{end:?} vs {}", x(knee));
    assert!((end.1 - y(fp32)).abs() <= 1.5);
    // The 4096³ SGEMM's point: intensity from its work, TFLOP/s from its median time.
    let w = &r.results[0];
    let ai = w.work.flops / w.work.bytes;
    let tf = w.work.flops / w.measurement.as_ref().unwrap().summary.median / 1e12;
    assert!(s
        .circles
        .iter()
        .any(|c| (c.1 - x(ai)).abs() <= 1.5 && (c.2 - y(tf)).abs() <= 1.5));
}

/// No NVML trace, no telemetry chart; a throttled stretch is one shaded span per panel.
#[test]
fn telemetry_only_where_sampled_with_throttled_spans() {
    let plain = crate::report::tests::sample_report();
    assert!(all(&plain).iter().all(|c| c.kind != ChartKind::Telemetry));
    let r = rich_report();
    let t: Vec<&TelemetryPoint> = r.results.iter().flat_map(|w| &w.telemetry_trace).collect();
    let spans = telemetry::throttled_spans(&t);
    assert_eq!(spans.len(), 1);
    assert!((spans[0].0 - 2.5).abs() < 1e-9 && (spans[0].1 - 3.0).abs() < 1e-9);
    let svg = chart(&r, "telemetry_gpu0.svg").svg;
    assert_eq!(
        svg.matches("opacity=\"0.15\" fill=\"#D62728\"").count(),
        3,
        "{svg}"
    );
    for label in [
        "SM clock, MHz",
        "temperature, °C",
        "board power, W",
        "throttled: hw_slowdown",
    ] {
        assert!(svg.contains(label), "{label}");
    }
}

/// A run without a GPU draws nothing; a simulated GPU's charts say so first.
#[test]
fn no_data_no_chart_and_simulated_charts_say_so() {
    let p = crate::repo_path("tests/fixtures/no-gpu-host-quick.run.json");
    let host = crate::report::load_run(&p).unwrap();
    assert!(all(&host).is_empty());
    let mut r = rich_report();
    r.gpus[0].simulated = true;
    for c in all(&r) {
        assert!(c.title.starts_with(SIM_MARK), "{}", c.title);
        let s = parse(&c.svg);
        assert!(s.texts.iter().any(|t| t.4 == SIM_MARK), "{}", c.file_name);
    }
}

/// Tensor-core GEMMs get a chart of their own, against the tensor peak (none recorded: it
/// says so); a single size makes no chart.
#[test]
fn tensor_core_gemms_have_their_own_chart_and_one_size_none() {
    let mut r = rich_report();
    let tc: Vec<_> = r
        .results
        .iter()
        .filter(|w| w.role == Role::Primary && w.id.contains("sgemm"))
        .cloned()
        .map(|mut w| {
            if let WorkloadSpec::Gemm { ref mut math, .. } = w.spec {
                *math = GemmMath::TensorCores;
            }
            w.id = crate::run::result_id(w.device, w.role, &w.spec);
            w
        })
        .collect();
    r.results.extend(tc);
    let names: Vec<String> = all(&r)
        .into_iter()
        .filter(|c| c.kind == ChartKind::Gemm)
        .map(|c| c.file_name)
        .collect();
    assert_eq!(names, ["gemm_gpu0_f32.svg", "gemm_gpu0_f32_tc.svg"]);
    let tc = chart(&r, "gemm_gpu0_f32_tc.svg");
    assert!(tc.title.contains("tensor cores") && tc.svg.contains("tensor peak: unknown"));
    let one = crate::report::tests::sample_report();
    assert!(all(&one).iter().all(|c| c.kind != ChartKind::Gemm));
}

/// The checks and samples charts draw the noise interval the check records (the one the gate
/// compared with the pass line), never one computed again from the results: a recorded
/// interval far from what a recomputation gives is drawn where it was recorded. A check that
/// records no interval (nothing was judged, or an older run.json's checks as stored) is not
/// drawn on the checks chart, nor its samples.
#[test]
fn the_check_charts_draw_the_interval_the_check_records() {
    let mut r = rich_report();
    let c = r
        .checks
        .iter_mut()
        .find(|c| c.id == "gpu0.fp32_gemm")
        .unwrap();
    let (observed, spec) = (c.observed.unwrap(), c.spec.unwrap());
    let recorded = crate::model::Interval {
        lo: observed * 0.8,
        hi: observed * 1.1,
    };
    c.noise_interval = Some(recorded);
    let w = r
        .results
        .iter()
        .find(|w| w.id == c.decided_from[0])
        .unwrap();
    let (lo, hi) = crate::gate::noise_interval(w.measurement.as_ref().unwrap());
    assert!(
        lo > recorded.lo * 1.1 && hi < recorded.hi / 1.05,
        "{lo} {hi}"
    );
    let grey_span_near = |s: &Svg, y: f64| {
        s.lines_of("#6E6E6E", "2")
            .into_iter()
            .filter(|l| l.len() == 2 && (l[0].1 - l[1].1).abs() < 0.5)
            .min_by(|a, b| (a[0].1 - y).abs().total_cmp(&(b[0].1 - y).abs()))
            .map(|l| (l[0].0.min(l[1].0), l[0].0.max(l[1].0)))
            .expect("a noise interval")
    };

    let s = parse(&chart(&r, "checks_gpu0.svg").svg);
    let x = s.axis(true, false);
    let (_, row) = s.text("fp32_gemm (4.87 TFLOPS)");
    let (x0, x1) = grey_span_near(&s, row);
    let pct = |v: f64| v / spec * 100.0;
    assert!(
        (x0 - x(pct(recorded.lo))).abs() <= 1.5,
        "{x0} vs {}",
        x(pct(recorded.lo))
    );
    assert!(
        (x1 - x(pct(recorded.hi))).abs() <= 1.5,
        "{x1} vs {}",
        x(pct(recorded.hi))
    );

    let s = parse(&chart(&r, "samples_gpu0.svg").svg);
    let x = s.axis(true, false);
    let (_, row) = s
        .texts
        .iter()
        .find(|t| t.4.starts_with("fp32_gemm: median"))
        .map(|t| (t.0, t.1))
        .expect("the fp32_gemm row");
    let (x0, x1) = grey_span_near(&s, row);
    assert!((x0 - x(80.0)).abs() <= 1.5, "{x0} vs {}", x(80.0));
    assert!((x1 - x(110.0)).abs() <= 1.5, "{x1} vs {}", x(110.0));

    // No recorded interval: not drawn, whatever the results would give.
    for c in r.checks.iter_mut().filter(|c| c.id == "gpu0.fp32_gemm") {
        c.noise_interval = None;
    }
    for name in ["checks_gpu0.svg", "samples_gpu0.svg"] {
        let s = parse(&chart(&r, name).svg);
        assert!(
            !s.texts.iter().any(|t| t.4.starts_with("fp32_gemm")),
            "{name}"
        );
    }
}

/// The samples chart's ticks sit at 100 ± small steps: each gets its own label (whole numbers
/// above 100 once labelled 99.75, 100, 100.25 and 100.5 as "99.75 100 100 100").
#[test]
fn tick_labels_near_100_keep_their_decimals() {
    let labels: Vec<String> = [98.75, 99.0, 99.75, 100.0, 100.25, 100.5, 101.25]
        .iter()
        .map(|v| super::fmt_tick(*v))
        .collect();
    assert_eq!(
        labels,
        ["98.75", "99", "99.75", "100", "100.25", "100.5", "101.25"]
    );
    assert_eq!(super::fmt_tick(250.0), "250");
    assert_eq!(super::fmt_tick(12_500.0), "12.5k");
}

/// A burn of two GPUs: six 11 s intervals each (66 s: the time axis's last tick, 80 s, is
/// past the last interval); GPU 0 throttled in intervals 2 and 3 (one
/// span) and corrupted in interval 4, its FP32 falling from 5 to 4 TFLOPS at interval 3.
fn burn_report() -> RunReport {
    use crate::model::burn::{BurnInterval, BurnSection, GpuBurn};
    let mut r = crate::report::tests::sample_report();
    let gpu = |device: u32| GpuBurn {
        device,
        intervals: (0..6)
            .map(|i| BurnInterval {
                index: i,
                t_start_s: i as f64 * 11.0,
                t_end_s: (i + 1) as f64 * 11.0,
                fp32_tflops: if device == 0 && i >= 3 { 4.0 } else { 5.0 },
                fp64_tflops: 0.2,
                triad_gbps: 200.0,
                launches: 30,
                errors: if device == 0 && i == 4 { 3 } else { 0 },
                sm_clock_mhz: Some(1114.0),
                temperature_c: Some(60 + i as u32),
                power_w: Some(200.0),
                throttle_reasons: if device == 0 && (2..4).contains(&i) {
                    vec!["hw_slowdown".into()]
                } else {
                    vec![]
                },
                ..BurnInterval::default()
            })
            .collect(),
        sdc_count: if device == 0 { 3 } else { 0 },
        ..GpuBurn::default()
    };
    r.burn = Some(BurnSection {
        duration_s: 60.0,
        interval_s: 10.0,
        gemm_size: 384,
        triad_elements: 1 << 20,
        memory_share: 0.1,
        within_machine_share: 0.1,
        within_machine_source: "test".into(),
        max_drift: None,
        drift_source: None,
        duration_source: None,
        gpus: vec![gpu(0), gpu(1)],
        solo: Vec::new(),
    });
    r.profile
        .health
        .as_mut()
        .expect("the sample profile's [health]")
        .power_target_w = Some(249.0);
    r
}

/// The burn's chart: one per GPU, six panels whose lines have a point per interval at its
/// midpoint, the throttled intervals one amber span per panel, the corrupted one a red span,
/// and the FP32 line where its values are.
#[test]
fn burn_charts_show_every_interval_with_throttled_and_corrupted_spans() {
    let r = burn_report();
    let names: Vec<String> = all(&r)
        .into_iter()
        .filter(|c| c.kind == ChartKind::Burn)
        .map(|c| c.file_name)
        .collect();
    assert_eq!(names, ["burn_gpu0.svg", "burn_gpu1.svg"]);
    let c = chart(&r, "burn_gpu0.svg");
    assert!(c.title.contains("Burn-in over time, gpu0"), "{}", c.title);
    let s = parse(&c.svg);
    for label in [
        "FP32 GEMM, TFLOPS",
        "FP64 GEMM, TFLOPS",
        "triad, GB/s",
        "SM clock, MHz",
        "temperature, °C",
        "board power, W",
        "throttled: hw_slowdown",
        "SDC: 3 element(s) differed",
        "time since the load started, s",
    ] {
        assert!(s.texts.iter().any(|t| t.4 == label), "{label}");
    }
    let amber = c.svg.matches("opacity=\"0.2\" fill=\"#C89600\"").count();
    let red = c.svg.matches("opacity=\"0.2\" fill=\"#D62728\"").count();
    assert_eq!((amber, red), (6, 6), "one span of each per panel");
    // The plot's line (the legend's is a two-point stroke).
    let fp32: Vec<_> = s
        .lines_of("#1F77B4", "2")
        .into_iter()
        .filter(|l| l.len() > 2)
        .collect();
    assert_eq!(fp32.len(), 1);
    assert_eq!(fp32[0].len(), 6, "a point per interval");
    // The FP32 line falls at interval 3 (4 TFLOPS from 5): lower on the page, by the same
    // pixels at every later point.
    let ys: Vec<f64> = fp32[0].iter().map(|p| p.1).collect();
    assert!(ys[3] > ys[2] && (ys[3] - ys[5]).abs() < 1e-9 && (ys[0] - ys[2]).abs() < 1e-9);
    // Midpoints 5.5, 16.5, …, 60.5 s: equally spaced.
    let xs: Vec<f64> = fp32[0].iter().map(|p| p.0).collect();
    let step = xs[1] - xs[0];
    assert!(step > 0.0 && xs.windows(2).all(|w| (w[1] - w[0] - step).abs() <= 1.0));
    // Every grid line stays inside the plot, left of the legend column.
    let plot_right = (WIDTH - LEGEND_W) as f64;
    let xs_of_lines: Vec<f64> = c
        .svg
        .split("<line ")
        .skip(1)
        .filter_map(|l| l.split("x1=\"").nth(1)?.split('"').next()?.parse().ok())
        .collect();
    assert!(!xs_of_lines.is_empty());
    assert!(
        xs_of_lines.iter().all(|x| *x <= plot_right),
        "{xs_of_lines:?}"
    );
    // The limits, dashed across their panels: GPU 0's temperature check was judged against
    // 92 °C (the sample's `gpu0.health.temperature`), the profile's power target is 249 W.
    for label in ["temperature limit, 92 °C", "power target, 249 W"] {
        assert!(s.texts.iter().any(|t| t.4 == label), "{label}");
    }
    // 50 dashes of one pixel each in the panel's colour (the legend's are two pixels wide).
    let dashes = |svg: &str, color: &str| {
        parse(svg)
            .lines_of(color, "1")
            .into_iter()
            .filter(|l| l.len() == 2 && (l[0].1 - l[1].1).abs() < 1e-9)
            .count()
    };
    assert_eq!(dashes(&c.svg, "#D62728"), 50, "the temperature limit");
    assert_eq!(dashes(&c.svg, "#2CA02C"), 50, "the power target");
    // GPU 1 was neither throttled nor corrupted: no span, no such legend; no temperature
    // check was judged for it, so no temperature limit is drawn.
    let quiet = chart(&r, "burn_gpu1.svg").svg;
    assert!(!quiet.contains("fill=\"#C89600\"") && !quiet.contains("SDC:"));
    assert!(!quiet.contains("temperature limit") && quiet.contains("power target, 249 W"));
    assert_eq!(dashes(&quiet, "#D62728"), 0);
    // report.html embeds both; report.md links them.
    let html = crate::report::Reporter::render(&crate::report::html::Html, &r);
    assert!(html.contains(&c.svg));
    let md = crate::report::Reporter::render(&crate::report::markdown::Markdown, &r);
    assert!(md.contains("burn_gpu1.svg"), "{md}");
    // The section says what the burn was judged by, and where each limit came from.
    assert!(
        md.contains(
            "Drift: a fall of at most 10 % from the first minute to the last (gpugate default"
        ),
        "{md}"
    );
    assert!(
        md.contains("every GPU at least 90 % of the best (test)"),
        "{md}"
    );
}
