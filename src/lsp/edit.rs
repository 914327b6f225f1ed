//! A unified diff into the `WorkspaceEdit` an editor applies: one text edit per hunk (its old
//! line range replaced by its new lines), new files created, deleted files deleted, renamed
//! files renamed. Positions are whole lines (character 0), so the position encoding the editor
//! chose does not matter.

use std::path::Path;
use std::str::FromStr;

use lsp_types::{
    CreateFile, CreateFileOptions, DeleteFile, DocumentChangeOperation, DocumentChanges, OneOf, OptionalVersionedTextDocumentIdentifier,
    Position, Range, RenameFile, ResourceOp, TextDocumentEdit, TextEdit, Uri, WorkspaceEdit,
};

use super::diff::{self, DiffError};

/// Why a diff could not become an edit.
#[derive(Debug, thiserror::Error)]
pub enum EditError {
    #[error("the agent's diff is not a unified diff the editor can apply")]
    Diff(#[from] DiffError),
    #[error("the agent's diff names {path:?}, which is no file path under {}", root.display())]
    Path { path: String, root: std::path::PathBuf },
    #[error("the agent's diff creates, deletes or renames files ({path}), which this editor cannot apply as an edit")]
    ResourceOperations { path: String },
}

/// `diff` (paths relative to `root`) as a workspace edit. With `document_changes` (the editor
/// said it supports them) files can be created, deleted and renamed; without, only changed.
#[expect(clippy::mutable_key_type, reason = "lsp_types::WorkspaceEdit::changes is keyed by Uri, whose cached parts are cells")]
pub fn workspace_edit(diff_text: &str, root: &Path, document_changes: bool) -> Result<WorkspaceEdit, EditError> {
    let mut operations = Vec::new();
    let mut changes = std::collections::HashMap::new();
    for file in diff::parse(diff_text)? {
        let edits: Vec<TextEdit> = file
            .hunks
            .iter()
            .map(|hunk| {
                let edit = hunk.line_edit();
                TextEdit { range: Range::new(line(edit.start), line(edit.end)), new_text: edit.text }
            })
            .collect();
        let target = match (&file.old_path, &file.new_path) {
            (Some(old), Some(new)) if old != new => {
                let (old_uri, new_uri) = (file_uri(root, old)?, file_uri(root, new)?);
                if !document_changes {
                    return Err(EditError::ResourceOperations { path: old.clone() });
                }
                operations.push(DocumentChangeOperation::Op(ResourceOp::Rename(RenameFile {
                    old_uri,
                    new_uri: new_uri.clone(),
                    options: None,
                    annotation_id: None,
                })));
                new_uri
            }
            (Some(path), Some(_)) => file_uri(root, path)?,
            (None, Some(path)) => {
                let uri = file_uri(root, path)?;
                if !document_changes {
                    return Err(EditError::ResourceOperations { path: path.clone() });
                }
                operations.push(DocumentChangeOperation::Op(ResourceOp::Create(CreateFile {
                    uri: uri.clone(),
                    options: Some(CreateFileOptions { overwrite: Some(false), ignore_if_exists: Some(true) }),
                    annotation_id: None,
                })));
                uri
            }
            (Some(path), None) => {
                let uri = file_uri(root, path)?;
                if !document_changes {
                    return Err(EditError::ResourceOperations { path: path.clone() });
                }
                operations.push(DocumentChangeOperation::Op(ResourceOp::Delete(DeleteFile { uri, options: None })));
                continue;
            }
            (None, None) => continue,
        };
        if edits.is_empty() {
            continue;
        }
        if document_changes {
            operations.push(DocumentChangeOperation::Edit(TextDocumentEdit {
                text_document: OptionalVersionedTextDocumentIdentifier { uri: target, version: None },
                edits: edits.into_iter().map(OneOf::Left).collect(),
            }));
        } else {
            changes.insert(target, edits);
        }
    }
    Ok(if document_changes {
        WorkspaceEdit { document_changes: Some(DocumentChanges::Operations(operations)), ..WorkspaceEdit::default() }
    } else {
        WorkspaceEdit { changes: Some(changes), ..WorkspaceEdit::default() }
    })
}

fn line(number: usize) -> Position {
    Position::new(u32::try_from(number).unwrap_or(u32::MAX), 0)
}

/// `root/relative` as a `file://` URI; refuses absolute paths and `..`.
pub(crate) fn file_uri(root: &Path, relative: &str) -> Result<Uri, EditError> {
    let bad = || EditError::Path { path: relative.to_owned(), root: root.to_owned() };
    let relative_path = Path::new(relative);
    if relative_path.is_absolute() || relative_path.components().any(|part| matches!(part, std::path::Component::ParentDir)) {
        return Err(bad());
    }
    path_uri(&root.join(relative_path)).ok_or_else(bad)
}

/// An absolute path as a `file://` URI.
pub(crate) fn path_uri(path: &Path) -> Option<Uri> {
    let url = url::Url::from_file_path(path).ok()?;
    Uri::from_str(url.as_str()).ok()
}

/// A `file://` URI as a path.
pub(crate) fn uri_path(uri: &Uri) -> Option<std::path::PathBuf> {
    url::Url::parse(uri.as_str()).ok()?.to_file_path().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hunks_become_line_edits_and_new_files_are_created() {
        let diff = "--- a/lib.py\n+++ b/lib.py\n@@ -2,1 +2,1 @@\n-    return a - b\n+    return a + b\n--- /dev/null\n+++ b/new.py\n@@ -0,0 +1 @@\n+x = 1\n";
        let edit = workspace_edit(diff, Path::new("/repo"), true).expect("valid diff");
        let Some(DocumentChanges::Operations(operations)) = edit.document_changes else { panic!("document changes expected") };
        assert_eq!(operations.len(), 3);
        let DocumentChangeOperation::Edit(first) = &operations[0] else { panic!("an edit first") };
        assert_eq!(first.text_document.uri.as_str(), "file:///repo/lib.py");
        assert_eq!(
            first.edits,
            vec![OneOf::Left(TextEdit {
                range: Range::new(Position::new(1, 0), Position::new(2, 0)),
                new_text: "    return a + b\n".into()
            })]
        );
        assert!(
            matches!(&operations[1], DocumentChangeOperation::Op(ResourceOp::Create(create)) if create.uri.as_str() == "file:///repo/new.py")
        );
        assert!(workspace_edit(diff, Path::new("/repo"), false).is_err(), "no file creation without document changes");
    }

    #[test]
    fn paths_that_leave_the_repository_are_refused() {
        let diff = "--- a/../etc/passwd\n+++ b/../etc/passwd\n@@ -1 +1 @@\n-a\n+b\n";
        assert!(matches!(workspace_edit(diff, Path::new("/repo"), true), Err(EditError::Path { .. })));
    }
}
