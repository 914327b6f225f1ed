use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
use std::path::Path;

use tar::{Archive, Builder, EntryType, Header};

use super::*;

fn mode_of(path: &Path) -> u32 {
    fs::symlink_metadata(path).expect("metadata").permissions().mode() & 0o777
}

fn sample_tree(root: &Path) {
    fs::create_dir_all(root.join(".git/refs")).expect("mkdir");
    fs::create_dir_all(root.join("pkg/sub")).expect("mkdir");
    fs::write(root.join(".git/HEAD"), "ref: refs/heads/main\n").expect("write");
    fs::write(root.join(".hidden"), "dot").expect("write");
    fs::write(root.join("pkg/mod.py"), "x = 1\n").expect("write");
    fs::write(root.join("pkg/sub/data.bin"), [0u8, 159, 255]).expect("write");
    fs::write(root.join("run.sh"), "#!/bin/sh\necho hi\n").expect("write");
    fs::set_permissions(root.join("run.sh"), fs::Permissions::from_mode(0o750)).expect("chmod");
    symlink("pkg/mod.py", root.join("link.py")).expect("symlink");
}

/// A tar with one raw entry, bypassing the tar crate's own path checks (which would refuse
/// to even write the hostile names we need).
fn raw_tar(entries: &[(&str, EntryType, &str, &[u8])]) -> Vec<u8> {
    let mut builder = Builder::new(Vec::new());
    for (name, kind, link, data) in entries {
        let mut header = Header::new_gnu();
        header.set_entry_type(*kind);
        header.set_mode(0o644);
        header.set_size(data.len() as u64);
        let gnu = header.as_gnu_mut().expect("gnu header");
        gnu.name[..name.len()].copy_from_slice(name.as_bytes());
        gnu.linkname[..link.len()].copy_from_slice(link.as_bytes());
        header.set_cksum();
        builder.append(&header, *data).expect("append");
    }
    builder.into_inner().expect("finish")
}

#[test]
fn pack_then_unpack_keeps_contents_modes_and_links() {
    let src = tempfile::tempdir().expect("tempdir");
    sample_tree(src.path());
    let tar = pack_dir(src.path(), "repo", (1000, 1000)).expect("pack");

    let dest = tempfile::tempdir().expect("tempdir");
    unpack_safe(&tar, dest.path(), true).expect("unpack");
    let d = dest.path();
    assert_eq!(fs::read_to_string(d.join(".git/HEAD")).expect("HEAD"), "ref: refs/heads/main\n");
    assert_eq!(fs::read_to_string(d.join(".hidden")).expect("dotfile"), "dot");
    assert_eq!(fs::read(d.join("pkg/sub/data.bin")).expect("binary"), [0u8, 159, 255]);
    assert_eq!(mode_of(&d.join("run.sh")), 0o755);
    assert_eq!(mode_of(&d.join("pkg/mod.py")), 0o644);
    assert_eq!(fs::read_link(d.join("link.py")).expect("link"), Path::new("pkg/mod.py"));
    assert_eq!(fs::read_to_string(d.join("link.py")).expect("through link"), "x = 1\n");
}

#[test]
fn pack_dir_is_deterministic_sorted_and_owned() {
    let src = tempfile::tempdir().expect("tempdir");
    sample_tree(src.path());
    let first = pack_dir(src.path(), "repo", (1000, 1000)).expect("pack");
    let second = pack_dir(src.path(), "repo", (1000, 1000)).expect("pack");
    assert_eq!(first, second);

    let mut names = Vec::new();
    for entry in Archive::new(first.as_slice()).entries().expect("entries") {
        let entry = entry.expect("entry");
        let header = entry.header();
        assert_eq!(header.mtime().expect("mtime"), 0);
        assert_eq!((header.uid().expect("uid"), header.gid().expect("gid")), (1000, 1000));
        names.push(entry.path().expect("path").display().to_string().trim_end_matches('/').to_owned());
    }
    assert_eq!(
        names,
        [
            "repo",
            "repo/.git",
            "repo/.git/HEAD",
            "repo/.git/refs",
            "repo/.hidden",
            "repo/link.py",
            "repo/pkg",
            "repo/pkg/mod.py",
            "repo/pkg/sub",
            "repo/pkg/sub/data.bin",
            "repo/run.sh",
        ]
    );
}

#[test]
fn pack_files_adds_owned_parent_directories() {
    let files = vec![
        ("a/b/c.txt".to_owned(), b"c".to_vec(), 0o644),
        ("a/run".to_owned(), b"#!/bin/sh\n".to_vec(), 0o755),
        ("top.txt".to_owned(), b"t".to_vec(), 0o600),
    ];
    let tar = pack_files(&files, (1000, 1000)).expect("pack");
    let mut seen = Vec::new();
    for entry in Archive::new(tar.as_slice()).entries().expect("entries") {
        let entry = entry.expect("entry");
        assert_eq!(entry.header().uid().expect("uid"), 1000);
        seen.push(entry.path().expect("path").display().to_string().trim_end_matches('/').to_owned());
    }
    assert_eq!(seen, ["a", "a/b", "a/b/c.txt", "a/run", "top.txt"]);

    let dest = tempfile::tempdir().expect("tempdir");
    unpack_safe(&tar, dest.path(), false).expect("unpack");
    assert_eq!(mode_of(&dest.path().join("a/run")), 0o755);
    assert_eq!(mode_of(&dest.path().join("top.txt")), 0o600);
    assert!(pack_files(&[("../x".to_owned(), vec![], 0o644)], (0, 0)).is_err());
    assert!(pack_files(&[("/etc/x".to_owned(), vec![], 0o644)], (0, 0)).is_err());
}

#[test]
fn unpack_refuses_hostile_archives() {
    let outside = tempfile::tempdir().expect("tempdir");
    let outside_dir = outside.path().display().to_string();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("parent dir", raw_tar(&[("../x", EntryType::Regular, "", b"boom")])),
        ("nested parent dir", raw_tar(&[("a/../../x", EntryType::Regular, "", b"boom")])),
        ("absolute", raw_tar(&[("/etc/x", EntryType::Regular, "", b"boom")])),
        ("symlink up", raw_tar(&[("evil", EntryType::Symlink, "../../outside", b"")])),
        ("symlink absolute", raw_tar(&[("evil", EntryType::Symlink, &outside_dir, b"")])),
        (
            // Lexically `sh/sh/..` is `sh`, but `sh` is a link to `.`, so it is really `..`.
            "symlink through a link",
            raw_tar(&[("sh", EntryType::Symlink, ".", b""), ("e", EntryType::Symlink, "sh/sh/..", b"")]),
        ),
        (
            // Inside while `sh` does not exist; a later entry makes `sh` a link to `.`.
            "link made to escape later",
            raw_tar(&[("e", EntryType::Symlink, "sh/sh/..", b""), ("sh", EntryType::Symlink, ".", b"")]),
        ),
        (
            "write through a symlink",
            raw_tar(&[
                ("sub", EntryType::Directory, "", b""),
                ("inner", EntryType::Symlink, "sub", b""),
                ("inner/x", EntryType::Regular, "", b"boom"),
            ]),
        ),
        ("hard link out", raw_tar(&[("h", EntryType::Link, "../../etc/passwd", b"")])),
    ];
    for (name, tar) in cases {
        let dest = tempfile::tempdir().expect("tempdir");
        let target = dest.path().join("in");
        let result = unpack_safe(&tar, &target, false);
        assert!(
            matches!(result, Err(ArchiveError::UnsafePath { .. } | ArchiveError::LinkEscapes { .. } | ArchiveError::ThroughLink { .. })),
            "{name}: {result:?}"
        );
        assert!(!dest.path().join("x").exists(), "{name}: wrote outside");
    }
}

#[test]
fn unpack_accepts_links_that_stay_inside() {
    let tar = raw_tar(&[
        ("lib", EntryType::Directory, "", b""),
        ("lib/real.py", EntryType::Regular, "", b"real"),
        ("bin", EntryType::Directory, "", b""),
        ("bin/alias.py", EntryType::Symlink, "../lib/real.py", b""),
        ("hard.py", EntryType::Link, "lib/real.py", b""),
        ("dangling", EntryType::Symlink, "not/yet/there", b""),
    ]);
    let dest = tempfile::tempdir().expect("tempdir");
    unpack_safe(&tar, dest.path(), false).expect("unpack");
    assert_eq!(fs::read(dest.path().join("bin/alias.py")).expect("symlink"), b"real");
    let hard = fs::metadata(dest.path().join("hard.py")).expect("hard link");
    assert_eq!(hard.nlink(), 2);
}

#[test]
fn unpack_skips_devices_and_fifos_and_strips_the_top() {
    let tar = raw_tar(&[
        ("out", EntryType::Directory, "", b""),
        ("out/fifo", EntryType::Fifo, "", b""),
        ("out/null", EntryType::Char, "", b""),
        ("out/report.xml", EntryType::Regular, "", b"<xml/>"),
    ]);
    let dest = tempfile::tempdir().expect("tempdir");
    unpack_safe(&tar, dest.path(), true).expect("unpack");
    let mut names: Vec<_> = fs::read_dir(dest.path()).expect("read_dir").map(|e| e.expect("entry").file_name()).collect();
    names.sort();
    assert_eq!(names, ["report.xml"]);
}

#[test]
fn file_contents_reads_a_single_file_download() {
    let tar = raw_tar(&[("report.xml", EntryType::Regular, "", b"<xml/>")]);
    assert_eq!(file_contents(&tar).expect("file"), b"<xml/>");
    let dir = raw_tar(&[("d", EntryType::Directory, "", b""), ("d/l", EntryType::Symlink, "x", b"")]);
    assert!(matches!(file_contents(&dir), Err(ArchiveError::NotAFile)));
}
