//! The task repository as the agent sees it: one fresh commit with a fixed author and date,
//! so there is no history to mine and the same source always gives the same commit id; and
//! the agent's work as `git diff --binary` against that commit.

use std::path::Path;

use git2::{DiffFormat, DiffOptions, IndexAddOption, Oid, Repository, Signature, Time};

use crate::bundle::Bundle;

/// 2020-01-01T00:00:00Z: every task commit carries this date.
const COMMIT_TIME: i64 = 1_577_836_800;
const COMMIT_AUTHOR: &str = "Whetstone";
const COMMIT_EMAIL: &str = "tasks@whetstone.invalid";
const COMMIT_MESSAGE: &str = "Task repository\n";

#[derive(Debug, thiserror::Error)]
pub enum RepoError {
    #[error("git operation failed: {context}")]
    Git {
        context: &'static str,
        #[source]
        source: git2::Error,
    },
    #[error(transparent)]
    Write(#[from] crate::bundle::BundleError),
}

fn git(context: &'static str) -> impl FnOnce(git2::Error) -> RepoError {
    move |source| RepoError::Git { context, source }
}

/// Writes `source` into `dest` (which must be empty or absent) and commits every file as the
/// single commit of a new repository. Returns the commit id.
pub fn materialize(source: &Bundle, dest: &Path) -> Result<Oid, RepoError> {
    source.write_to(dest)?;
    let repo = Repository::init(dest).map_err(git("init repository"))?;
    let mut index = repo.index().map_err(git("open index"))?;
    // FORCE: a shipped .gitignore must not keep shipped files out of the commit.
    index.add_all(["*"], IndexAddOption::FORCE, None).map_err(git("add files"))?;
    index.write().map_err(git("write index"))?;
    let tree_id = index.write_tree().map_err(git("write tree"))?;
    let tree = repo.find_tree(tree_id).map_err(git("find tree"))?;
    let signature = Signature::new(COMMIT_AUTHOR, COMMIT_EMAIL, &Time::new(COMMIT_TIME, 0)).map_err(git("make signature"))?;
    repo.commit(Some("HEAD"), &signature, &signature, COMMIT_MESSAGE, &tree, &[]).map_err(git("commit"))
}

/// `git diff --binary` of the work tree at `workdir` against HEAD of the repository at
/// `git_dir_repo`, including untracked files and excluding ignored ones.
///
/// The repository and the work tree are separate on purpose: the work tree comes back from an
/// untrusted sandbox, so its own `.git` is never opened; the pristine repository is.
pub fn diff_against_head(pristine_repo: &Path, workdir: &Path) -> Result<Vec<u8>, RepoError> {
    let repo = Repository::open(pristine_repo).map_err(git("open repository"))?;
    repo.set_workdir(workdir, false).map_err(git("set work tree"))?;
    let head = repo.head().and_then(|h| h.peel_to_tree()).map_err(git("read HEAD"))?;
    let mut options = DiffOptions::new();
    options
        .include_untracked(true)
        .recurse_untracked_dirs(true)
        .show_untracked_content(true)
        .show_binary(true)
        // A file turned into a symlink diffs as a deletion plus an addition, which `git apply`
        // accepts; libgit2's typechange form has no content and does not apply.
        .include_typechange(false);
    let diff = repo.diff_tree_to_workdir(Some(&head), Some(&mut options)).map_err(git("diff work tree"))?;
    let mut patch = Vec::new();
    diff.print(DiffFormat::Patch, |_delta, _hunk, line| {
        if matches!(line.origin(), '+' | '-' | ' ') {
            patch.push(line.origin() as u8);
        }
        patch.extend_from_slice(line.content());
        true
    })
    .map_err(git("print diff"))?;
    Ok(patch)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digest::{TreeFile, digest_files};

    fn bundle(files: &[(&str, &[u8])]) -> Bundle {
        let files: Vec<_> = files.iter().map(|(p, b)| TreeFile { path: (*p).into(), executable: false, bytes: b.to_vec() }).collect();
        Bundle { digest: digest_files(&files), files }
    }

    #[test]
    fn same_source_gives_same_single_commit() {
        let source = bundle(&[("a.py", b"x = 1\n"), (".gitignore", b"*.py\n")]);
        let one = tempfile::tempdir().expect("tempdir");
        let two = tempfile::tempdir().expect("tempdir");
        let first = materialize(&source, one.path()).expect("materialize");
        assert_eq!(first, materialize(&source, two.path()).expect("materialize"));
        let repo = Repository::open(one.path()).expect("open");
        let commit = repo.find_commit(first).expect("commit");
        assert_eq!(commit.parent_count(), 0);
        // The ignored file was committed anyway.
        assert!(commit.tree().expect("tree").get_name("a.py").is_some());
    }

    #[test]
    fn diff_covers_edits_new_files_deletions_and_binary() {
        let source = bundle(&[("a.py", b"x = 1\n"), ("gone.txt", b"bye\n"), (".gitignore", b"build/\n")]);
        let pristine = tempfile::tempdir().expect("tempdir");
        materialize(&source, pristine.path()).expect("materialize");

        let work = tempfile::tempdir().expect("tempdir");
        std::fs::write(work.path().join("a.py"), b"x = 2\n").expect("write");
        std::fs::write(work.path().join(".gitignore"), b"build/\n").expect("write");
        std::fs::write(work.path().join("new.txt"), b"hi\n").expect("write");
        std::fs::write(work.path().join("blob.bin"), [0u8, 159, 146, 150]).expect("write");
        std::fs::create_dir(work.path().join("build")).expect("mkdir");
        std::fs::write(work.path().join("build/out.o"), b"junk").expect("write");

        let patch = String::from_utf8_lossy(&diff_against_head(pristine.path(), work.path()).expect("diff")).into_owned();
        assert!(patch.contains("-x = 1\n+x = 2\n"), "{patch}");
        assert!(patch.contains("+++ b/new.txt"), "{patch}");
        assert!(patch.contains("deleted file mode"), "{patch}");
        assert!(patch.contains("GIT binary patch"), "{patch}");
        assert!(!patch.contains("out.o"), "ignored build output must not be in the patch: {patch}");
    }

    #[test]
    fn unchanged_work_tree_gives_empty_patch() {
        let source = bundle(&[("a.py", b"x = 1\n")]);
        let pristine = tempfile::tempdir().expect("tempdir");
        materialize(&source, pristine.path()).expect("materialize");
        let work = tempfile::tempdir().expect("tempdir");
        source.write_to(work.path()).expect("write");
        assert!(diff_against_head(pristine.path(), work.path()).expect("diff").is_empty());
    }

    #[cfg(unix)]
    #[test]
    fn a_file_turned_into_a_symlink_diffs_as_delete_and_add() {
        let source = bundle(&[("a.py", b"x = 1\n"), ("b.py", b"y = 1\n")]);
        let pristine = tempfile::tempdir().expect("tempdir");
        materialize(&source, pristine.path()).expect("materialize");
        let work = tempfile::tempdir().expect("tempdir");
        source.write_to(work.path()).expect("write");
        std::fs::remove_file(work.path().join("a.py")).expect("rm");
        std::os::unix::fs::symlink("b.py", work.path().join("a.py")).expect("symlink");
        let patch = String::from_utf8_lossy(&diff_against_head(pristine.path(), work.path()).expect("diff")).into_owned();
        assert!(patch.contains("deleted file mode 100644"), "{patch}");
        assert!(patch.contains("new file mode 120000"), "{patch}");
        assert!(crate::protect::split_patch(patch.as_bytes()).is_ok(), "the grader must accept it: {patch}");
    }
}
