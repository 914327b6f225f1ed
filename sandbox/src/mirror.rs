//! Which Debian mirror debootstrap uses: the one this host already trusts, if it has one.

use std::fs;
use std::path::PathBuf;

const DEFAULT_MIRROR: &str = "http://deb.debian.org/debian";
const MIRROR_ENV: &str = "WHETSTONE_DEBIAN_MIRROR";

/// `WHETSTONE_DEBIAN_MIRROR`, else the host's own Debian mirror, else deb.debian.org.
pub(crate) fn debian_mirror() -> String {
    if let Ok(mirror) = std::env::var(MIRROR_ENV)
        && !mirror.trim().is_empty()
    {
        return mirror.trim().to_owned();
    }
    let mut sources: Vec<PathBuf> = fs::read_dir("/etc/apt/sources.list.d")
        .map(|dir| dir.filter_map(Result::ok).map(|e| e.path()).filter(|p| p.extension().is_some_and(|ext| ext == "sources")).collect())
        .unwrap_or_default();
    sources.sort();
    let from_deb822 = sources.iter().filter_map(|p| fs::read_to_string(p).ok()).find_map(|text| mirror_from_deb822(&text));
    from_deb822
        .or_else(|| fs::read_to_string("/etc/apt/sources.list").ok().and_then(|text| mirror_from_sources_list(&text)))
        .unwrap_or_else(|| DEFAULT_MIRROR.to_owned())
}

/// The first `deb` URI of a deb822 `.sources` file that looks like a Debian archive.
fn mirror_from_deb822(text: &str) -> Option<String> {
    for stanza in text.split("\n\n") {
        let mut is_deb = false;
        let mut uris = Vec::new();
        for line in stanza.lines().map(str::trim).filter(|l| !l.starts_with('#')) {
            let Some((key, value)) = line.split_once(':') else {
                continue;
            };
            match key.trim().to_ascii_lowercase().as_str() {
                "types" => is_deb = value.split_whitespace().any(|t| t == "deb"),
                "uris" => uris.extend(value.split_whitespace().map(str::to_owned)),
                _ => {}
            }
        }
        if let Some(uri) = uris.into_iter().find(|u| is_debian_archive(u))
            && is_deb
        {
            return Some(uri);
        }
    }
    None
}

/// The first `deb` URI of a one-line-style `sources.list` that looks like a Debian archive.
fn mirror_from_sources_list(text: &str) -> Option<String> {
    text.lines()
        .map(str::trim)
        .filter(|line| line.starts_with("deb "))
        .filter_map(|line| {
            // The first word with a scheme, past `deb` and any `[arch=… signed-by=…]` block.
            line.split_whitespace().skip(1).find(|word| word.contains("://"))
        })
        .find(|uri| is_debian_archive(uri))
        .map(str::to_owned)
}

/// A Debian archive URI has a `debian` path segment (Ubuntu mirrors and the separate
/// security archive do not carry the bookworm main suite).
fn is_debian_archive(uri: &str) -> bool {
    let Some((scheme, rest)) = uri.split_once("://") else {
        return false;
    };
    matches!(scheme, "http" | "https") && rest.split('/').skip(1).any(|segment| segment == "debian")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_debian_mirror_in_deb822() {
        let text = "Types: deb\n# http://snapshot.debian.org/archive/debian/20250520T000000Z\n\
                    URIs: http://mirror.example/debian\nSuites: bookworm\nComponents: main\n\n\
                    Types: deb\nURIs: http://deb.debian.org/debian-security\nSuites: bookworm-security\n";
        assert_eq!(mirror_from_deb822(text).as_deref(), Some("http://mirror.example/debian"));
        let security_only = "Types: deb\nURIs: http://deb.debian.org/debian-security\n";
        assert_eq!(mirror_from_deb822(security_only), None);
        let sources_only = "Types: deb-src\nURIs: http://deb.debian.org/debian\n";
        assert_eq!(mirror_from_deb822(sources_only), None);
        let ubuntu = "Types: deb\nURIs: http://archive.ubuntu.com/ubuntu\n";
        assert_eq!(mirror_from_deb822(ubuntu), None);
    }

    #[test]
    fn finds_the_debian_mirror_in_sources_list() {
        let cases = [
            ("deb http://ftp.de.debian.org/debian bookworm main", Some("http://ftp.de.debian.org/debian")),
            ("deb [arch=amd64 signed-by=/k.gpg] https://m.example/debian/ bookworm main", Some("https://m.example/debian/")),
            ("# deb http://old.example/debian bookworm main", None),
            ("deb http://security.debian.org/debian-security bookworm-security main", None),
            ("deb-src http://deb.debian.org/debian bookworm main", None),
            (
                "deb http://snapshot.debian.org/archive/debian/20250520T000000Z bookworm main",
                Some("http://snapshot.debian.org/archive/debian/20250520T000000Z"),
            ),
        ];
        for (text, want) in cases {
            assert_eq!(mirror_from_sources_list(text).as_deref(), want, "{text}");
        }
    }
}
