//! The HTML reports: one self-contained page (inline CSS and SVG, no script, nothing
//! fetched) built from the Markdown report, with the charts placed in it: the Gantt of steps
//! after the summary, the recovery-time sparkline in a history.

use std::fmt::Write;

use super::analysis::Analysis;
use super::compare::{self, Comparison};
use super::gantt;
use super::history::{self, History};
use super::markdown;

const CSS: &str = "body{font:14px/1.45 system-ui,sans-serif;margin:24px 32px;color:#222;max-width:1400px}\
h1{font-size:22px}h2{font-size:18px;margin-top:28px;border-bottom:1px solid #ddd}h3{font-size:15px}\
table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ddd;padding:3px 8px;text-align:left;vertical-align:top}\
th{background:#f5f5f5}code{background:#f3f3f3;padding:0 3px;border-radius:3px}\
pre{background:#f7f7f7;padding:8px;overflow:auto}.chart{overflow-x:auto}\
.verdict{font-size:17px;padding:6px 10px;border-left:6px solid #2e7d32;background:#f1f8e9}\
.verdict.bad{border-color:#c62828;background:#ffebee}.bad{color:#c62828;font-weight:bold}";

pub fn render(a: &Analysis) -> String {
    let md = markdown::render(a);
    let chart = format!(
        "<h2>Timeline chart</h2><div class=\"chart\">{}</div><p>Bars are labelled by outcome; an outlined bar is on the critical path.</p>",
        gantt::gantt(a)
    );
    let title = a
        .incident
        .as_ref()
        .map_or("Postmortem", |i| i.title.as_str());
    let body = from_markdown(&md);
    // The verdict first, in red when the plan did not recover, wherever it is said.
    let class = if a.plan.recovered && !a.plan.verdict.starts_with("NOT RECOVERED") {
        "verdict"
    } else {
        "verdict bad"
    };
    let body = body
        .replacen(
            "<p><strong>Verdict:</strong>",
            &format!("<p class=\"{class}\"><strong>Verdict:</strong>"),
            1,
        )
        .replace("NOT RECOVERED", "<span class=\"bad\">NOT RECOVERED</span>");
    page(
        title,
        &insert_before(&body, "<p><strong>Log integrity:</strong>", &chart),
    )
}

pub fn render_comparison(c: &Comparison) -> String {
    page("Comparison", &from_markdown(&compare::render_markdown(c)))
}

pub fn render_history(h: &History) -> String {
    let values: Vec<u64> = history::totals(h).into_values().collect();
    let body = from_markdown(&history::render_markdown(h));
    let spark = format!("<div class=\"chart\">{}</div>", gantt::sparkline(&values));
    page(
        &format!("History of {}", h.plan),
        &insert_before(&body, "<table>\n<tr><th>Started</th>", &spark),
    )
}

fn insert_before(body: &str, marker: &str, what: &str) -> String {
    match body.find(marker) {
        Some(i) => format!("{}{what}\n{}", &body[..i], &body[i..]),
        None => format!("{body}{what}"),
    }
}

/// `s` safe as HTML text and inside an attribute of either quote: every writer of the HTML
/// report and its SVG charts escapes through this one function.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title><style>{CSS}</style></head>\n<body>\n{body}</body></html>\n",
        escape(title)
    )
}

/// The subset of Markdown the reports write: headings, tables, lists, fenced code and
/// paragraphs, with `code` and **bold** inline.
pub fn from_markdown(md: &str) -> String {
    // Emoji need a colour font headless browsers and many desktops lack; these marks do not.
    let md = md.replace("✅", "✔").replace("⚠️", "⚠").replace("❌", "✘");
    let mut o = String::new();
    let mut lines = md.lines().peekable();
    while let Some(line) = lines.next() {
        if let Some(rest) = line.strip_prefix("```") {
            let _ = write!(o, "<pre class=\"{}\">", escape(rest));
            for l in lines.by_ref() {
                if l.starts_with("```") {
                    break;
                }
                let _ = writeln!(o, "{}", escape(l));
            }
            o.push_str("</pre>\n");
        } else if line.starts_with('#') {
            let level = line.chars().take_while(|c| *c == '#').count().min(6);
            let _ = writeln!(o, "<h{level}>{}</h{level}>", inline(line[level..].trim()));
        } else if line.starts_with('|') {
            o.push_str("<table>\n");
            let mut first = true;
            let mut row = Some(line);
            while let Some(r) = row {
                let cells = split_row(r);
                let separator = cells
                    .iter()
                    .all(|c| c.contains('-') && c.chars().all(|ch| ch == '-' || ch == ':'));
                if separator {
                    // the separator row
                } else if first && cells.iter().all(String::is_empty) {
                    // A table without headings (the summary's key-value rows).
                    first = false;
                } else {
                    let tag = if first { "th" } else { "td" };
                    o.push_str("<tr>");
                    for c in cells {
                        let _ = write!(o, "<{tag}>{}</{tag}>", inline(&c));
                    }
                    o.push_str("</tr>\n");
                    first = false;
                }
                row = lines.next_if(|l| l.starts_with('|'));
            }
            o.push_str("</table>\n");
        } else if line.starts_with("- ") || starts_numbered(line) {
            let ordered = !line.starts_with("- ");
            let tag = if ordered { "ol" } else { "ul" };
            let _ = writeln!(o, "<{tag}>");
            let mut item = Some(line);
            while let Some(i) = item {
                let text = i.split_once(' ').map_or("", |(_, t)| t);
                let _ = writeln!(o, "<li>{}</li>", inline(text));
                item = lines.next_if(|l| l.starts_with("- ") || starts_numbered(l));
            }
            let _ = writeln!(o, "</{tag}>");
        } else if !line.trim().is_empty() {
            let _ = writeln!(o, "<p>{}</p>", inline(line));
        }
    }
    o
}

fn starts_numbered(l: &str) -> bool {
    let digits = l.chars().take_while(char::is_ascii_digit).count();
    digits > 0 && l[digits..].starts_with(". ")
}

/// The cells of a table row, honouring `\|` escapes.
fn split_row(r: &str) -> Vec<String> {
    let inner = r.trim().trim_start_matches('|');
    let inner = inner.strip_suffix('|').unwrap_or(inner);
    let mut cells = vec![String::new()];
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'|') => {
                chars.next();
                if let Some(last) = cells.last_mut() {
                    last.push('|');
                }
            }
            '|' => cells.push(String::new()),
            c => {
                if let Some(last) = cells.last_mut() {
                    last.push(c);
                }
            }
        }
    }
    cells.into_iter().map(|c| c.trim().to_string()).collect()
}

/// `code` and **bold**, after escaping.
fn inline(s: &str) -> String {
    let s = escape(s);
    let mut out = String::new();
    for (i, part) in s.split('`').enumerate() {
        if i % 2 == 1 {
            let _ = write!(out, "<code>{part}</code>");
        } else {
            for (j, p) in part.split("**").enumerate() {
                if j % 2 == 1 {
                    let _ = write!(out, "<strong>{p}</strong>");
                } else {
                    out.push_str(p);
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_tables_lists_and_code_become_html() {
        let h = from_markdown(
            "# T\n\n| a | b \\| c |\n|---|---|\n| `x` | **y** |\n\n- one\n- two\n\n1. first\n",
        );
        assert!(h.contains("<h1>T</h1>"), "{h}");
        assert!(h.contains("<th>b | c</th>"), "{h}");
        let empty_header = from_markdown("| | |\n|---|---|\n| k | v |\n");
        assert!(empty_header.contains("<td>k</td>"), "{empty_header}");
        assert!(!empty_header.contains("<th>"), "{empty_header}");
        assert!(
            h.contains("<td><code>x</code></td><td><strong>y</strong></td>"),
            "{h}"
        );
        assert!(h.contains("<ul>\n<li>one</li>\n<li>two</li>\n</ul>"), "{h}");
        assert!(h.contains("<ol>\n<li>first</li>"), "{h}");
    }

    #[test]
    fn text_is_escaped() {
        assert!(from_markdown("<script>").contains("&lt;script&gt;"));
        assert_eq!(
            escape(r#"a & <b> "c" 'd'"#),
            "a &amp; &lt;b&gt; &quot;c&quot; &#39;d&#39;"
        );
    }
}
