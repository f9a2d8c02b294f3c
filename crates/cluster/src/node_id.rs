//! The node id when `cluster.node_id` is empty: generated on first start and kept in
//! `{data_dir}/node-id`, so a restarted node is the same node (its parked sessions, its
//! claims) rather than a new one.

use std::io::Write;
use std::path::{Path, PathBuf};

/// The file in the data directory that holds the generated node id.
pub const NODE_ID_FILE: &str = "node-id";

#[derive(Debug, thiserror::Error)]
pub enum NodeIdError {
    #[error("cannot {action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} holds {id:?}, which is not a node id: it {problem}")]
    Invalid {
        path: PathBuf,
        id: String,
        problem: &'static str,
    },
}

/// `configured` when set; else the id kept in `data_dir`, created there (with the directory)
/// on first use.
pub fn load_or_create_node_id(configured: &str, data_dir: &Path) -> Result<String, NodeIdError> {
    if !configured.is_empty() {
        return Ok(configured.to_owned());
    }
    let path = data_dir.join(NODE_ID_FILE);
    let io = |action, source| NodeIdError::Io {
        action,
        path: path.clone(),
        source,
    };
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let id = text.trim().to_owned();
            match ferrite_config::node_id_problem(&id) {
                None => Ok(id),
                Some(problem) => Err(NodeIdError::Invalid {
                    path: path.clone(),
                    id,
                    problem: problem
                        .strip_prefix("must")
                        .map_or(problem, |_| "must be 1 to 64 letters, digits, '-' or '_'"),
                }),
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(data_dir).map_err(|e| io("create", e))?;
            let id = format!("node-{}", uuid::Uuid::new_v4().simple());
            // Written to a temporary file and renamed, so a crash never leaves half an id.
            let tmp = data_dir.join(format!("{NODE_ID_FILE}.tmp"));
            let mut f = std::fs::File::create(&tmp).map_err(|e| io("write", e))?;
            writeln!(f, "{id}")
                .and_then(|()| f.sync_all())
                .map_err(|e| io("write", e))?;
            std::fs::rename(&tmp, &path).map_err(|e| io("write", e))?;
            Ok(id)
        }
        Err(e) => Err(io("read", e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_id_is_kept_and_a_configured_one_wins() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let first = load_or_create_node_id("", &data).unwrap();
        assert!(ferrite_config::node_id_problem(&first).is_none(), "{first}");
        assert_eq!(load_or_create_node_id("", &data).unwrap(), first);
        assert_eq!(load_or_create_node_id("n1", &data).unwrap(), "n1");
        let other = tempfile::tempdir().unwrap();
        assert_ne!(load_or_create_node_id("", other.path()).unwrap(), first);
    }

    #[test]
    fn a_damaged_id_file_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(NODE_ID_FILE), "not a.node id\n").unwrap();
        let err = load_or_create_node_id("", dir.path()).unwrap_err();
        assert!(err.to_string().contains("node-id"), "{err}");
    }
}
