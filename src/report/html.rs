//! report.html: the run's [`Document`](super::document::Document) as one self-contained page
//! (inline CSS and SVG charts, nothing fetched).

use std::fmt::Write;

use super::document::{self, Block, Cell, Document, Span, Table};
use super::Reporter;
use crate::model::{RunReport, Verdict};
use crate::util::xml_escape as esc;

/// The HTML reporter (report.html).
#[derive(Debug, Clone, Copy, Default)]
pub struct Html;

const STYLE: &str = "body{font-family:sans-serif;margin:2em;max-width:1500px;color:#222}\
table{border-collapse:collapse;margin:1em 0;font-size:13px}\
td,th{border:1px solid #ccc;padding:3px 6px;text-align:left;vertical-align:top}\
th{background:#f2f2f2}.PASS{background:#d9f2d9}.FAIL{background:#f8d0d0}\
.INCONCLUSIVE{background:#fbeec2}.SKIPPED{background:#e8e8e8}\
.banner{padding:.6em 1em;border:1px solid #c00;background:#fdecec}\
.wide{overflow-x:auto}td.long{min-width:12em}\
figure{margin:1em 0}figure svg{max-width:100%;height:auto}\
footer{margin-top:2em;border-top:1px solid #ccc;padding-top:.5em;font-size:13px;color:#555}";

impl Reporter for Html {
    fn file_name(&self) -> &'static str {
        "report.html"
    }

    fn render(&self, r: &RunReport) -> String {
        render_document(&document::build(r))
    }
}

fn verdict_class(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass => "PASS",
        Verdict::Fail => "FAIL",
        Verdict::Inconclusive => "INCONCLUSIVE",
        Verdict::Skipped => "SKIPPED",
    }
}

fn spans(spans: &[Span]) -> String {
    spans
        .iter()
        .map(|s| match s {
            Span::Text(t) => esc(t),
            Span::Code(t) => format!("<code>{}</code>", esc(t)),
            Span::Strong(t) => format!("<b>{}</b>", esc(t)),
        })
        .collect()
}

/// Cells with more characters than this are given a minimum width.
const LONG_CELL: usize = 60;

fn cell(c: &Cell) -> String {
    let text = if c.plain().trim().is_empty() {
        "—".to_string()
    } else {
        spans(&c.spans)
    };
    // A long text gets room to read instead of a column a word wide.
    let long = c.plain().chars().count() > LONG_CELL;
    let class = match (c.mark, long) {
        (Some(m), true) => format!(r#" class="{} long""#, verdict_class(m)),
        (Some(m), false) => format!(r#" class="{}""#, verdict_class(m)),
        (None, true) => r#" class="long""#.to_string(),
        (None, false) => String::new(),
    };
    format!("<td{class}>{text}</td>")
}

fn table(o: &mut String, t: &Table) {
    let _ = write!(o, "<div class=\"wide\"><table><tr>");
    for h in &t.header {
        let _ = write!(o, "<th>{}</th>", esc(h));
    }
    let _ = writeln!(o, "</tr>");
    for r in &t.rows {
        let cells: String = r.iter().map(cell).collect();
        let _ = writeln!(o, "<tr>{cells}</tr>");
    }
    let _ = writeln!(o, "</table></div>");
}

/// The document as one HTML page.
pub fn render_document(d: &Document) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title><style>{STYLE}</style></head><body>",
        esc(&d.title)
    );
    let _ = writeln!(
        o,
        r#"<h1 class="{}">{}</h1>"#,
        verdict_class(d.verdict),
        esc(&d.title)
    );
    for b in &d.blocks {
        match b {
            Block::Heading { level, text } => {
                let _ = writeln!(o, "<h{level}>{}</h{level}>", esc(text));
            }
            Block::Banner(s) => {
                let _ = writeln!(o, r#"<p class="banner">{}</p>"#, spans(s));
            }
            Block::Paragraph(s) => {
                let _ = writeln!(o, "<p>{}</p>", spans(s));
            }
            Block::Table(t) => table(&mut o, t),
            Block::List(items) => {
                let _ = writeln!(o, "<ul>");
                for i in items {
                    let _ = writeln!(o, "<li>{}</li>", spans(i));
                }
                let _ = writeln!(o, "</ul>");
            }
            // The SVG is drawn by the charts module from run data escaped there.
            Block::Chart(c) => {
                let _ = writeln!(o, "<figure>{}</figure>", c.svg);
            }
            Block::Footer(text) => {
                let _ = writeln!(o, "<footer>{}</footer>", esc(text));
            }
        }
    }
    let _ = writeln!(o, "</body></html>");
    o
}
