//! The environment of an imported Python project: its dependencies (read from the files the
//! project declares them in), the Dockerfile that installs them on Whetstone's base image, and
//! its licence.
//!
//! Builds can reach PyPI and the Debian mirror and nothing else, so a dependency given as a
//! URL (a git checkout, a tarball on some host) is reported instead of being tried.

use crate::digest::TreeFile;

/// What the project needs installed, and what could not be.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Requirements {
    /// pip requirement strings, in the order found, without duplicates.
    pub packages: Vec<String>,
    /// Requirements only a host other than PyPI could satisfy (`git+https://…`, URLs).
    pub unreachable: Vec<String>,
    /// The files they were read from.
    pub sources: Vec<String>,
}

/// Test extras whose dependencies the tests need too.
const TEST_EXTRAS: &[&str] = &["test", "tests", "testing"];
/// Requirements files read when present.
const REQUIREMENT_FILES: &[&str] = &[
    "requirements.txt",
    "requirements-test.txt",
    "requirements_test.txt",
    "test-requirements.txt",
    "requirements/test.txt",
    "requirements/tests.txt",
];

/// Reads the dependencies `files` (a project's source tree) declare: `pyproject.toml`
/// (`[project] dependencies` and the test extras), `setup.cfg` (`install_requires`, test
/// extras), `setup.py` (literal `install_requires` / `tests_require` lists) and the usual
/// requirements files.
pub fn python_requirements(files: &[TreeFile]) -> Requirements {
    let text = |path: &str| files.iter().find(|f| f.path == path).and_then(|f| std::str::from_utf8(&f.bytes).ok().map(str::to_owned));
    let mut found = Requirements::default();
    let mut add = |source: &str, requirements: Vec<String>| {
        if !requirements.is_empty() && !found.sources.iter().any(|s| s == source) {
            found.sources.push(source.to_owned());
        }
        for requirement in requirements {
            let requirement = requirement.trim().to_owned();
            if requirement.is_empty() {
                continue;
            }
            let list = if needs_other_host(&requirement) { &mut found.unreachable } else { &mut found.packages };
            if !list.contains(&requirement) {
                list.push(requirement);
            }
        }
    };
    if let Some(text) = text("pyproject.toml") {
        add("pyproject.toml", from_pyproject(&text));
    }
    if let Some(text) = text("setup.cfg") {
        add("setup.cfg", from_setup_cfg(&text));
    }
    if let Some(text) = text("setup.py") {
        add("setup.py", from_setup_py(&text));
    }
    for path in REQUIREMENT_FILES {
        if let Some(text) = text(path) {
            add(path, from_requirements_file(&text));
        }
    }
    found
}

fn needs_other_host(requirement: &str) -> bool {
    let lower = requirement.to_ascii_lowercase();
    ["git+", "hg+", "svn+", "bzr+", "http://", "https://", "file:"].iter().any(|scheme| lower.contains(scheme))
}

fn from_pyproject(text: &str) -> Vec<String> {
    let Ok(doc) = text.parse::<toml::Table>() else { return Vec::new() };
    let Some(project) = doc.get("project").and_then(toml::Value::as_table) else { return Vec::new() };
    let strings = |value: Option<&toml::Value>| -> Vec<String> {
        value
            .and_then(toml::Value::as_array)
            .map(|items| items.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
            .unwrap_or_default()
    };
    let mut requirements = strings(project.get("dependencies"));
    if let Some(extras) = project.get("optional-dependencies").and_then(toml::Value::as_table) {
        for extra in TEST_EXTRAS {
            requirements.extend(strings(extras.get(*extra)));
        }
    }
    // A project's own extras (`pkg[test]`) name itself; installing it from PyPI would shadow
    // the checkout under test.
    let name = project.get("name").and_then(toml::Value::as_str).unwrap_or_default().to_ascii_lowercase();
    requirements.retain(|r| name.is_empty() || requirement_name(r) != name);
    requirements
}

/// `name` of `name[extra]>=1; marker`, lowercased.
fn requirement_name(requirement: &str) -> String {
    requirement
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.'))
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase()
}

/// `install_requires` under `[options]` and the test extras under `[options.extras_require]`,
/// as INI values continued on indented lines.
fn from_setup_cfg(text: &str) -> Vec<String> {
    let mut requirements = Vec::new();
    let mut section = String::new();
    let mut collecting = false;
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('#') || trimmed.starts_with(';') {
            continue;
        }
        if trimmed.starts_with('[') && trimmed.ends_with(']') {
            section = trimmed[1..trimmed.len() - 1].trim().to_owned();
            collecting = false;
            continue;
        }
        let continued = line.starts_with(|c: char| c.is_whitespace()) && !trimmed.is_empty();
        if collecting && continued {
            requirements.push(trimmed.to_owned());
            continue;
        }
        collecting = false;
        let Some((key, value)) = trimmed.split_once(['=', ':']) else { continue };
        let key = key.trim();
        let wanted =
            (section == "options" && key == "install_requires") || (section == "options.extras_require" && TEST_EXTRAS.contains(&key));
        if wanted {
            collecting = true;
            requirements.extend(value.split(';').next().map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned));
        }
    }
    requirements
}

/// String literals in `install_requires=[…]` and `tests_require=[…]`; anything computed is
/// out of reach of a reader that does not run the file.
fn from_setup_py(text: &str) -> Vec<String> {
    let mut requirements = Vec::new();
    for key in ["install_requires", "tests_require"] {
        let mut rest = text;
        while let Some(at) = rest.find(key) {
            rest = &rest[at + key.len()..];
            let after = rest.trim_start();
            let Some(after) = after.strip_prefix('=') else { continue };
            let Some(list) = after.trim_start().strip_prefix('[') else { continue };
            let Some(end) = list.find(']') else { continue };
            requirements.extend(string_literals(&list[..end]));
        }
    }
    requirements
}

fn string_literals(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '#' {
            // A comment runs to the end of its line.
            for c in chars.by_ref() {
                if c == '\n' {
                    break;
                }
            }
        } else if c == '"' || c == '\'' {
            let literal: String = chars.by_ref().take_while(|&d| d != c).collect();
            out.push(literal);
        }
    }
    out
}

fn from_requirements_file(text: &str) -> Vec<String> {
    text.lines()
        .map(|line| line.split(" #").next().unwrap_or_default().trim())
        // Options (`-r other.txt`, `-e .`, `--index-url`) and the project itself are not
        // packages to fetch.
        .filter(|line| !line.is_empty() && !line.starts_with('#') && !line.starts_with('-') && *line != ".")
        .map(str::to_owned)
        .collect()
}

/// Shell single-quoting.
pub(crate) fn shell_quote(word: &str) -> String {
    if !word.is_empty() && word.chars().all(|c| c.is_ascii_alphanumeric() || "-_./=:@+,".contains(c)) {
        return word.to_owned();
    }
    format!("'{}'", word.replace('\'', r"'\''"))
}

/// An environment Dockerfile on Whetstone's base image (FORMAT.md): the fixed test settings,
/// Debian packages, then pip packages (with pip itself from Debian when there are any).
pub fn python_dockerfile(apt: &[String], pip: &[String]) -> String {
    let mut text =
        String::from("ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nENV PYTHONDONTWRITEBYTECODE=1 PYTHONHASHSEED=0 TZ=UTC LC_ALL=C.UTF-8\n");
    let mut debian: Vec<String> = apt.to_vec();
    if !pip.is_empty() && !debian.iter().any(|p| p == "python3-pip") {
        debian.insert(0, "python3-pip".into());
    }
    if !debian.is_empty() {
        let list: Vec<String> = debian.iter().map(|p| shell_quote(p)).collect();
        text.push_str(&format!(
            "RUN apt-get update \\\n && apt-get install -y --no-install-recommends {} \\\n && rm -rf /var/lib/apt/lists/*\n",
            list.join(" ")
        ));
    }
    if !pip.is_empty() {
        let list: Vec<String> = pip.iter().map(|p| shell_quote(p)).collect();
        // The base image's Python is Debian's; pip may add to it only when told to.
        text.push_str(&format!("RUN python3 -m pip install --no-cache-dir --break-system-packages {}\n", list.join(" ")));
    }
    text
}

/// Where a locked environment's Dockerfile puts the lock and the wheels (removed after the
/// install).
const LOCKED_DIR: &str = "/opt/whetstone-env";

/// The Dockerfile of a locked environment: the packages of `environment/debian.lock` when
/// `debian` (from the build context's `debs/`), then `environment/requirements.lock`
/// installed from the wheels the sandbox puts next to it in the build context (`wheels/`), by
/// the base image's pip with no index. It builds with the network disabled.
pub fn python_locked_dockerfile(debian: bool) -> String {
    let mut text = debian_locked_dockerfile(debian);
    text.push_str(&format!(
        "COPY requirements.lock wheels/ {LOCKED_DIR}/\n\
         RUN python3 -m pip install --no-index --find-links {LOCKED_DIR} --require-hashes --no-deps --no-cache-dir \\\n \
         --break-system-packages -r {LOCKED_DIR}/requirements.lock \\\n && rm -rf {LOCKED_DIR}\n"
    ));
    text
}

/// The base image with the fixed test settings and, when `debian`, the packages of
/// `environment/debian.lock` installed with no network.
pub fn debian_locked_dockerfile(debian: bool) -> String {
    let mut text =
        String::from("ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nENV PYTHONDONTWRITEBYTECODE=1 PYTHONHASHSEED=0 TZ=UTC LC_ALL=C.UTF-8\n");
    if debian {
        text.push_str(whetstone_sandbox::debs::DEBIAN_LOCKED_INSTALL);
    }
    text
}

/// The SPDX identifier of the licence in a project's tree: from its licence file's text, or
/// failing that from an SPDX expression in `pyproject.toml`. `None` when neither says.
pub fn detect_license(files: &[TreeFile]) -> Option<String> {
    let mut candidates: Vec<&TreeFile> = files
        .iter()
        .filter(|f| {
            !f.path.contains('/') && {
                let upper = f.path.to_ascii_uppercase();
                upper.starts_with("LICENSE") || upper.starts_with("LICENCE") || upper.starts_with("COPYING")
            }
        })
        .collect();
    candidates.sort_by(|a, b| a.path.cmp(&b.path));
    for file in candidates {
        if let Some(spdx) = std::str::from_utf8(&file.bytes).ok().and_then(license_from_text) {
            return Some(spdx.to_owned());
        }
    }
    let pyproject = files.iter().find(|f| f.path == "pyproject.toml")?;
    let doc: toml::Table = std::str::from_utf8(&pyproject.bytes).ok()?.parse().ok()?;
    let license = doc.get("project")?.get("license")?;
    let expression = license.as_str().or_else(|| license.get("text").and_then(toml::Value::as_str))?;
    is_spdx_like(expression).then(|| expression.trim().to_owned())
}

fn is_spdx_like(text: &str) -> bool {
    let text = text.trim();
    !text.is_empty()
        && text.len() < 64
        && text
            .split_whitespace()
            .all(|word| matches!(word, "AND" | "OR" | "WITH") || word.chars().all(|c| c.is_ascii_alphanumeric() || "-.+()".contains(c)))
        && text.chars().any(|c| c.is_ascii_digit() || c == '-')
}

/// The licence a licence file's text is, by the sentences that set each one apart.
fn license_from_text(text: &str) -> Option<&'static str> {
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let has = |needle: &str| flat.to_ascii_lowercase().contains(&needle.to_ascii_lowercase());
    let later = has("any later version");
    Some(if has("Apache License") && has("Version 2.0") {
        "Apache-2.0"
    } else if has("GNU LESSER GENERAL PUBLIC LICENSE") {
        match (has("Version 3"), later) {
            (true, true) => "LGPL-3.0-or-later",
            (true, false) => "LGPL-3.0-only",
            (false, true) => "LGPL-2.1-or-later",
            (false, false) => "LGPL-2.1-only",
        }
    } else if has("GNU AFFERO GENERAL PUBLIC LICENSE") {
        if later { "AGPL-3.0-or-later" } else { "AGPL-3.0-only" }
    } else if has("GNU GENERAL PUBLIC LICENSE") {
        match (has("Version 3"), later) {
            (true, true) => "GPL-3.0-or-later",
            (true, false) => "GPL-3.0-only",
            (false, true) => "GPL-2.0-or-later",
            (false, false) => "GPL-2.0-only",
        }
    } else if has("Mozilla Public License") && has("2.0") {
        "MPL-2.0"
    } else if has("Redistribution and use in source and binary forms") {
        if has("Neither the name") || has("names of its contributors") { "BSD-3-Clause" } else { "BSD-2-Clause" }
    } else if has("Permission is hereby granted, free of charge") {
        "MIT"
    } else if has("Permission to use, copy, modify, and/or distribute this software") {
        "ISC"
    } else if has("This is free and unencumbered software released into the public domain") {
        "Unlicense"
    } else if has("PYTHON SOFTWARE FOUNDATION LICENSE") {
        "PSF-2.0"
    } else {
        return None;
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str, text: &str) -> TreeFile {
        TreeFile { path: path.into(), executable: false, bytes: text.as_bytes().to_vec() }
    }

    #[test]
    fn requirements_come_from_every_declaring_file() {
        let files = [
            file(
                "pyproject.toml",
                "[project]\nname = \"demo\"\ndependencies = [\"attrs>=22\", \"toolz\"]\n\
                 [project.optional-dependencies]\ntest = [\"hypothesis\", \"demo[extra]\"]\ndocs = [\"sphinx\"]\n",
            ),
            file(
                "setup.cfg",
                "[metadata]\nname = demo\n[options]\ninstall_requires =\n    six\n    toolz\n\
                 python_requires = >=3.8\n[options.extras_require]\ntesting =\n    pytest-mock\n",
            ),
            file("setup.py", "setup(install_requires=['click>=8', \"rich\"],  # cli\n tests_require = [\n 'freezegun',  # time\n])"),
            file("requirements.txt", "# pinned\n-r base.txt\n-e .\nnumpy==1.26  # math\ngit+https://github.com/x/y.git#egg=y\n"),
        ];
        let found = python_requirements(&files);
        assert_eq!(
            found.packages,
            ["attrs>=22", "toolz", "hypothesis", "six", "pytest-mock", "click>=8", "rich", "freezegun", "numpy==1.26"]
        );
        assert_eq!(found.unreachable, ["git+https://github.com/x/y.git#egg=y"]);
        assert_eq!(found.sources, ["pyproject.toml", "setup.cfg", "setup.py", "requirements.txt"]);
        assert_eq!(python_requirements(&[file("README", "x")]), Requirements::default());
    }

    #[test]
    fn dockerfile_installs_pip_only_when_needed() {
        let bare = python_dockerfile(&[], &[]);
        assert!(bare.starts_with("ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\n"), "{bare}");
        assert!(!bare.contains("RUN"), "{bare}");
        let full = python_dockerfile(&["libxml2-dev".into()], &["attrs>=22".into(), "it's".into()]);
        assert!(full.contains("install -y --no-install-recommends python3-pip libxml2-dev"), "{full}");
        assert!(full.contains("--break-system-packages 'attrs>=22' 'it'\\''s'\n"), "{full}");
    }

    #[test]
    fn licences_are_recognised_by_their_text() {
        let toolz = "Copyright (c) 2013 Matthew Rocklin\n\nAll rights reserved.\n\nRedistribution and use in source and binary\nforms, with or without modification, are permitted\n  c. Neither the name of toolz nor the names of its contributors\n";
        for (text, spdx) in [
            (toolz, Some("BSD-3-Clause")),
            ("MIT License\n\nPermission is hereby granted, free of charge, to any person", Some("MIT")),
            ("Apache License\nVersion 2.0, January 2004", Some("Apache-2.0")),
            ("GNU GENERAL PUBLIC LICENSE\nVersion 3, 29 June 2007\n... or (at your option) any later version.", Some("GPL-3.0-or-later")),
            ("All rights reserved. Do not copy.", None),
        ] {
            assert_eq!(detect_license(&[file("LICENSE.txt", text)]).as_deref(), spdx, "{text}");
        }
        let pyproject = file("pyproject.toml", "[project]\nlicense = \"MIT OR Apache-2.0\"\n");
        assert_eq!(detect_license(&[pyproject]).as_deref(), Some("MIT OR Apache-2.0"));
        let vague = file("pyproject.toml", "[project]\nlicense = {text = \"BSD\"}\n");
        assert_eq!(detect_license(&[vague]), None);
    }
}
