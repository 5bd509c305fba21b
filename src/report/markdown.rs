//! report.md: the run's [`Document`](super::document::Document) laid out as Markdown, for
//! people and for publishing. Charts are SVG files beside it, linked as images.

use std::fmt::Write;

use super::document::{self, Block, Cell, Document, Span, Table};
use super::Reporter;
use crate::model::{RunReport, Verdict};

/// The Markdown reporter (report.md).
#[derive(Debug, Clone, Copy, Default)]
pub struct Markdown;

impl Reporter for Markdown {
    fn file_name(&self) -> &'static str {
        "report.md"
    }

    fn render(&self, r: &RunReport) -> String {
        render_document(&document::build(r))
    }
}

/// Text in a table cell or a single line: pipes escaped, line breaks flattened.
fn inline(s: &str) -> String {
    s.replace('|', "\\|").replace(['\n', '\r'], " ")
}

fn spans(spans: &[Span]) -> String {
    spans
        .iter()
        .map(|s| match s {
            Span::Text(t) => inline(t),
            // A backtick inside a code span would end it.
            Span::Code(t) => format!("`{}`", inline(t).replace('`', "'")),
            Span::Strong(t) => format!("**{}**", inline(t).trim()),
        })
        .collect()
}

/// A cell: empty as "—"; a verdict that is not PASS or SKIPPED in bold.
fn cell(c: &Cell) -> String {
    let text = spans(&c.spans);
    let text = text.trim();
    if text.is_empty() {
        return "—".into();
    }
    match c.mark {
        // A verdict cell (its text is its mark).
        Some(m @ (Verdict::Fail | Verdict::Inconclusive)) if c.plain() == m.to_string() => {
            format!("**{text}**")
        }
        _ => text.to_string(),
    }
}

fn table(o: &mut String, t: &Table) {
    let _ = writeln!(o, "| {} |", t.header.join(" | "));
    let _ = writeln!(
        o,
        "|{}|",
        t.header.iter().map(|_| "---").collect::<Vec<_>>().join("|")
    );
    for r in &t.rows {
        let cells: Vec<String> = r.iter().map(cell).collect();
        let _ = writeln!(o, "| {} |", cells.join(" | "));
    }
    o.push('\n');
}

/// The document as Markdown. Run text (profile and device names, reasons, notes) is data, never
/// markup: no raw HTML reaches a Markdown viewer (`<` is the only character that opens it;
/// report.md itself writes none).
pub fn render_document(d: &Document) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "# {}\n", inline(&d.title));
    for b in &d.blocks {
        match b {
            Block::Heading { level, text } => {
                let _ = writeln!(o, "{} {}\n", "#".repeat(usize::from(*level)), inline(text));
            }
            Block::Banner(s) => {
                let _ = writeln!(o, "> {}\n", spans(s));
            }
            Block::Paragraph(s) => {
                let _ = writeln!(o, "{}\n", spans(s));
            }
            Block::Table(t) => table(&mut o, t),
            Block::List(items) => {
                for i in items {
                    let _ = writeln!(o, "- {}", spans(i));
                }
                o.push('\n');
            }
            Block::Chart(c) => {
                let _ = writeln!(o, "![{}]({})\n", inline(&c.title), c.file_name);
            }
            Block::Footer(text) => {
                let _ = writeln!(o, "---\n\n{}", inline(text));
            }
        }
    }
    o.replace('<', "&lt;")
}
