//! A bounded buffer for process output: keeps the head and the tail, counts what it drops.
//!
//! Test runners print the interesting parts at both ends (the command echo and the summary),
//! so a cut in the middle loses the least.

use std::collections::VecDeque;

/// Accumulates bytes, holding at most `head_cap + tail_cap` of them.
#[derive(Debug)]
pub(crate) struct CappedOutput {
    head: Vec<u8>,
    tail: VecDeque<u8>,
    head_cap: usize,
    tail_cap: usize,
    total: u64,
}

impl CappedOutput {
    /// Keeps `cap / 2` bytes of head and the rest as tail.
    pub(crate) fn new(cap: usize) -> Self {
        Self::with_caps(cap / 2, cap - cap / 2)
    }

    /// Keeps only the last `cap` bytes (a log tail for error messages).
    pub(crate) fn tail_only(cap: usize) -> Self {
        Self::with_caps(0, cap)
    }

    fn with_caps(head_cap: usize, tail_cap: usize) -> Self {
        Self { head: Vec::new(), tail: VecDeque::new(), head_cap, tail_cap, total: 0 }
    }

    pub(crate) fn push(&mut self, mut bytes: &[u8]) {
        self.total += bytes.len() as u64;
        let head_room = self.head_cap - self.head.len();
        if head_room > 0 {
            let take = head_room.min(bytes.len());
            self.head.extend_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
        }
        if self.tail_cap == 0 {
            return;
        }
        if bytes.len() >= self.tail_cap {
            self.tail.clear();
            self.tail.extend(&bytes[bytes.len() - self.tail_cap..]);
            return;
        }
        let overflow = (self.tail.len() + bytes.len()).saturating_sub(self.tail_cap);
        self.tail.drain(..overflow);
        self.tail.extend(bytes);
    }

    /// Bytes dropped from the middle so far.
    fn cut(&self) -> u64 {
        self.total - (self.head.len() + self.tail.len()) as u64
    }

    /// The text (invalid UTF-8 replaced) and whether anything was cut.
    pub(crate) fn finish(self) -> (String, bool) {
        let cut = self.cut();
        let mut text = String::from_utf8_lossy(&self.head).into_owned();
        if cut > 0 {
            text.push_str(&format!("\n[… {cut} bytes cut …]\n"));
        }
        let (front, back) = self.tail.as_slices();
        text.push_str(&String::from_utf8_lossy(&[front, back].concat()));
        (text, cut > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_head_and_tail_and_marks_the_cut() {
        let cases: &[(&str, usize, &[&str], &str, bool)] = &[
            ("fits", 10, &["abc", "def"], "abcdef", false),
            ("exact", 6, &["abcdef"], "abcdef", false),
            ("one chunk", 4, &["abcdefgh"], "ab\n[… 4 bytes cut …]\ngh", true),
            ("many chunks", 4, &["ab", "cd", "ef", "gh"], "ab\n[… 4 bytes cut …]\ngh", true),
            ("odd cap", 5, &["0123456789"], "01\n[… 5 bytes cut …]\n789", true),
            ("zero cap", 0, &["abc"], "\n[… 3 bytes cut …]\n", true),
        ];
        for (name, cap, chunks, want, want_cut) in cases {
            let mut out = CappedOutput::new(*cap);
            for chunk in *chunks {
                out.push(chunk.as_bytes());
            }
            assert_eq!(out.finish(), (want.to_string(), *want_cut), "{name}");
        }
    }

    #[test]
    fn tail_only_keeps_the_end() {
        let mut out = CappedOutput::tail_only(3);
        out.push(b"hello ");
        out.push(b"world");
        assert_eq!(out.finish(), ("\n[… 8 bytes cut …]\nrld".to_string(), true));
    }
}
