//! How model files are read: every file is checked against the sha256 its manifest names.
//! Nothing is handed to ONNX Runtime or the tokenizer before that: a truncated or swapped file
//! gives an ERROR, never a half-loaded model.

use std::path::Path;

use pgrx::PgSqlErrorCode;
use sha2::{Digest, Sha256};

use crate::errors::{Error, Result};

pub const SETUP_COMMAND: &str = "scripts/setup.sh";

/// A file of a model folder and the sha256 it must have.
#[derive(Clone, Debug, serde::Deserialize)]
pub struct ModelFile {
    pub name: String,
    pub sha256: String,
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Reads a model file and checks its sha256. Errors name the path and the set-up command.
pub fn read_verified(dir: &Path, file: &ModelFile) -> Result<Vec<u8>> {
    let path = dir.join(&file.name);
    let bytes = std::fs::read(&path).map_err(|e| missing_file_error(&path, &e))?;
    let actual = sha256_hex(&bytes);
    if actual != file.sha256 {
        return Err(Error::new(
            PgSqlErrorCode::ERRCODE_DATA_CORRUPTED,
            format!(
                "model file \"{}\" has sha256 {actual}, expected {}; nothing was loaded",
                path.display(),
                file.sha256
            ),
        )
        .hint(format!("Reinstall the model files with {SETUP_COMMAND}.")));
    }
    Ok(bytes)
}

pub fn missing_file_error(path: &Path, e: &std::io::Error) -> Error {
    let code = match e.kind() {
        std::io::ErrorKind::NotFound => PgSqlErrorCode::ERRCODE_UNDEFINED_FILE,
        std::io::ErrorKind::PermissionDenied => PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE,
        _ => PgSqlErrorCode::ERRCODE_IO_ERROR,
    };
    Error::new(code, format!("could not read model file \"{}\": {e}", path.display())).hint(format!(
        "Run {SETUP_COMMAND} from the custprofile source tree to install the model files, \
         or point custprofile.model_dir / custprofile.runtime_library at readable copies."
    ))
}
