//! A tiny HTML builder that makes escaping the default: markup can only be added from
//! `&'static str` literals written in this crate, and every other string (agent names, logs,
//! patches, reasons: hostile input) goes through [`Html::text`], which escapes it. There is no
//! way to append a runtime string unescaped.

use std::fmt::Write as _;

/// Markup under construction.
#[derive(Debug, Default)]
pub(crate) struct Html(String);

impl Html {
    pub(crate) fn new() -> Self {
        Self(String::with_capacity(4096))
    }

    /// Trusted markup: a literal from this crate's source.
    pub(crate) fn raw(&mut self, markup: &'static str) -> &mut Self {
        self.0.push_str(markup);
        self
    }

    /// Any text, escaped for element content and quoted attribute values alike.
    pub(crate) fn text(&mut self, text: &str) -> &mut Self {
        for c in text.chars() {
            match c {
                '&' => self.0.push_str("&amp;"),
                '<' => self.0.push_str("&lt;"),
                '>' => self.0.push_str("&gt;"),
                '"' => self.0.push_str("&quot;"),
                '\'' => self.0.push_str("&#39;"),
                c => self.0.push(c),
            }
        }
        self
    }

    /// A formatted value (numbers, dates), escaped like [`Self::text`].
    pub(crate) fn fmt(&mut self, args: std::fmt::Arguments<'_>) -> &mut Self {
        let mut formatted = String::new();
        let _ = formatted.write_fmt(args);
        self.text(&formatted)
    }

    /// `<a href="{prefix}{segment}">{label}</a>`, the segment percent-encoded so an id can
    /// neither leave the path nor the attribute.
    pub(crate) fn link(&mut self, prefix: &'static str, segment: &str, label: &str) -> &mut Self {
        self.raw("<a href=\"").raw(prefix).path_segment(segment).raw("\">").text(label).raw("</a>")
    }

    /// A path segment, percent-encoded except for unreserved characters and `:`.
    pub(crate) fn path_segment(&mut self, segment: &str) -> &mut Self {
        for byte in segment.bytes() {
            if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~' | b':') {
                self.0.push(char::from(byte));
            } else {
                let _ = write!(self.0, "%{byte:02X}");
            }
        }
        self
    }

    /// Appends markup built elsewhere (already escaped by construction).
    pub(crate) fn append(&mut self, other: Html) -> &mut Self {
        self.0.push_str(&other.0);
        self
    }

    pub(crate) fn into_string(self) -> String {
        self.0
    }
}

/// The first `keep` characters of `text` and an ellipsis, for hashes and hotkeys in tables
/// (the full value goes in a `title`).
pub(crate) fn short(text: &str, keep: usize) -> String {
    match text.char_indices().nth(keep) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

/// `sha256:abcdef…` as its first twelve hex digits.
pub(crate) fn short_digest(digest: &str) -> String {
    short(digest.strip_prefix("sha256:").unwrap_or(digest), 12)
}

/// Micro-dollars as dollars: `$0.000412`, `$1.25`.
pub(crate) fn usd(micro: u64) -> String {
    let dollars = micro as f64 / 1_000_000.0;
    if micro == 0 {
        "$0".to_owned()
    } else if micro >= 10_000 {
        format!("${dollars:.2}")
    } else {
        format!("${dollars:.6}")
    }
}

/// A share in 0..=1 as a percentage with one decimal.
pub(crate) fn percent(share: f64) -> String {
    format!("{:.1}%", share * 100.0)
}

/// Milliseconds as seconds or minutes, for durations.
pub(crate) fn duration_ms(ms: u64) -> String {
    if ms < 60_000 { format!("{:.1} s", ms as f64 / 1000.0) } else { format!("{}m {:02}s", ms / 60_000, (ms % 60_000) / 1000) }
}

/// Unix milliseconds as `YYYY-MM-DD HH:MM:SS UTC`.
pub(crate) fn utc(ms: u64) -> String {
    let secs = ms / 1000;
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = civil_from_days(i64::try_from(days).unwrap_or(0));
    format!("{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC", rest / 3600, (rest % 3600) / 60, rest % 60)
}

/// Days since 1970-01-01 as a proleptic Gregorian date (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = u32::try_from(doy - (153 * mp + 2) / 5 + 1).unwrap_or(1);
    let month = u32::try_from(if mp < 10 { mp + 3 } else { mp - 9 }).unwrap_or(1);
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_text_cannot_become_markup() {
        let mut html = Html::new();
        html.raw("<p title=\"").text("\" onmouseover=\"x").raw("\">").text("<script>alert('x')</script> & co").raw("</p>");
        assert_eq!(
            html.into_string(),
            "<p title=\"&quot; onmouseover=&quot;x\">&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; co</p>"
        );
    }

    #[test]
    fn link_segments_stay_in_the_path() {
        let mut html = Html::new();
        html.link("/runs/", "r-1/../\"x y", "run");
        assert_eq!(html.into_string(), "<a href=\"/runs/r-1%2F..%2F%22x%20y\">run</a>");
        let mut html = Html::new();
        html.link("/agents/", "sha256:ab", "a");
        assert_eq!(html.into_string(), "<a href=\"/agents/sha256:ab\">a</a>");
    }

    #[test]
    fn figures_read_as_people_expect() {
        assert_eq!(usd(412), "$0.000412");
        assert_eq!(usd(0), "$0");
        assert_eq!(usd(1_250_000), "$1.25");
        assert_eq!(percent(0.5), "50.0%");
        assert_eq!(duration_ms(1500), "1.5 s");
        assert_eq!(duration_ms(125_000), "2m 05s");
        assert_eq!(utc(1_700_000_000_000), "2023-11-14 22:13:20 UTC");
        assert_eq!(short_digest("sha256:0123456789abcdef"), "0123456789ab…");
        assert_eq!(short("äöü", 2), "äö…");
    }
}
