//! A unified diff as coloured, readable HTML: file headers, hunk headers, added and removed
//! lines each get a class; the text itself is escaped like everything else.

use super::html::Html;

/// Beyond this many bytes a patch is cut (the rest is named, not shown): a page must stay
/// light enough for a browser whatever an agent wrote.
const MAX_SHOWN_BYTES: usize = 256 * 1024;

/// What kind of diff line this is.
fn class_of(line: &str) -> &'static str {
    if line.starts_with("diff --git") {
        "file"
    } else if line.starts_with("+++") || line.starts_with("---") || line.starts_with("index ") {
        "meta"
    } else if line.starts_with("@@") {
        "hunk"
    } else if line.starts_with('+') {
        "add"
    } else if line.starts_with('-') {
        "del"
    } else {
        "ctx"
    }
}

/// The patch as `<pre class="diff">`, with a count of files and changed lines above it.
pub(crate) fn render(patch: &[u8]) -> Html {
    let text = String::from_utf8_lossy(&patch[..patch.len().min(MAX_SHOWN_BYTES)]);
    let (mut files, mut added, mut removed) = (0, 0, 0);
    let mut body = Html::new();
    for line in text.lines() {
        let class = class_of(line);
        match class {
            "file" => files += 1,
            "add" => added += 1,
            "del" => removed += 1,
            _ => {}
        }
        // The newline inside the block span: copied text keeps its lines, and no blank line shows.
        body.raw("<span class=\"").raw(class).raw("\">").text(line).raw("\n</span>");
    }
    let mut html = Html::new();
    html.raw("<p class=\"diff-stat\">")
        .fmt(format_args!("{files} file{}, ", if files == 1 { "" } else { "s" }))
        .raw("<span class=\"add-count\">")
        .fmt(format_args!("+{added}"))
        .raw("</span> <span class=\"del-count\">")
        .fmt(format_args!("−{removed}"))
        .raw("</span></p><pre class=\"diff\">")
        .append(body)
        .raw("</pre>");
    if patch.len() > MAX_SHOWN_BYTES {
        html.raw("<p class=\"note\">")
            .fmt(format_args!("The patch is {} bytes; the first {MAX_SHOWN_BYTES} are shown.", patch.len()))
            .raw("</p>");
    }
    html
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_line_gets_its_class_and_is_escaped() {
        let patch = b"diff --git a/x.py b/x.py\n--- a/x.py\n+++ b/x.py\n@@ -1 +1 @@\n-old <b>\n+new </pre><script>\n same\n";
        let html = render(patch).into_string();
        assert!(html.contains("1 file, <span class=\"add-count\">+1</span> <span class=\"del-count\">−1</span>"), "{html}");
        assert!(html.contains("<span class=\"del\">-old &lt;b&gt;\n</span>"));
        assert!(html.contains("<span class=\"add\">+new &lt;/pre&gt;&lt;script&gt;\n</span>"));
        assert!(html.contains("<span class=\"hunk\">@@ -1 +1 @@\n</span>"));
        assert!(html.contains("<span class=\"ctx\"> same\n</span>"));
        assert!(!html.contains("<script>"));
    }
}
