//! An encoder is a folder under `custprofile.model_dir` holding its files and a `manifest.json`
//! that says what it is (models/ENCODER/manifest.json in the source tree; the set-up installs
//! it beside the files). The manifest is the one description of an encoder: its files and their
//! sha256, the input prefix, the token limit, the layers the graph exposes, the built-in heads
//! trained for it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use pgrx::PgSqlErrorCode;
use serde::Deserialize;

use super::files::{self, ModelFile, SETUP_COMMAND};
use crate::errors::{Error, Result};

pub const MANIFEST_FILE: &str = "manifest.json";

#[derive(Clone, Debug, Deserialize)]
pub struct Files {
    pub model: ModelFile,
    pub tokenizer: ModelFile,
}

/// How zero-shot classification reads this encoder's similarities (src/heads/zero_shot.rs):
/// encoders differ in how they phrase a label best
/// and in how close unrelated texts sit (all-MiniLM-L6-v2's cosines spread over 0..1,
/// multilingual-e5-small's crowd above 0.7). The defaults are all-MiniLM-L6-v2's.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ZeroShot {
    /// Hypotheses of a label, "{label}" standing for its name (or "name: description"); the
    /// label's vector is the normalised mean of their embeddings.
    pub templates: Vec<String>,
    /// A label-free sentence: a share (`calibration`) of a label's cosine to it is taken off the
    /// label's score, so that labels that pull every text do not win by default.
    pub null_text: String,
    pub calibration: f32,
    /// Softmax temperature over the calibrated cosines.
    pub temperature: f32,
    /// How `classify_multi` turns one label's similarity into the probability that the label
    /// applies, whatever the other labels: fitted by scripts/calibrate-multilabel.sh on training
    /// reviews only. None: the encoder has no multi-label calibration.
    pub multi_label: Option<MultiLabel>,
}

/// p(label applies) = sigmoid(bias + over_mean × (s − mean of the labels' s) + below_best ×
/// (s − the best label's s)), s being a label's calibrated similarity to the text: how far a
/// label stands out from the others asked, fitted on label sets of four and of ten labels.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MultiLabel {
    pub bias: f32,
    pub over_mean: f32,
    pub below_best: f32,
}

impl Default for ZeroShot {
    fn default() -> ZeroShot {
        ZeroShot {
            templates: vec!["This review is about {label}.".to_string()],
            null_text: "This is a review.".to_string(),
            calibration: 0.75,
            temperature: 0.05,
            multi_label: None,
        }
    }
}

/// How this encoder's cosines map onto the one similarity scale that the SQL layer's thresholds
/// and weights are set on (recommend, suggest_replies, customer_similarity, aspect matching): all-MiniLM-L6-v2's
/// cosines, so its map is the identity. relatedness = offset + slope × cosine, clamped to
/// [-1, 1]; scripts/calibrate-similarity.sh derives an encoder's pair from training texts.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Relatedness {
    pub offset: f32,
    pub slope: f32,
}

impl Default for Relatedness {
    fn default() -> Relatedness {
        Relatedness {
            offset: 0.0,
            slope: 1.0,
        }
    }
}

impl Relatedness {
    pub fn of(&self, cosine: f32) -> f32 {
        (self.offset + self.slope * cosine).clamp(-1.0, 1.0)
    }
}

#[derive(Clone, Debug, Deserialize)]
pub struct Manifest {
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub dimensions: usize,
    #[serde(default)]
    pub languages: Vec<String>,
    /// Put before every text, as the model was trained (e5: "query: ").
    #[serde(default)]
    pub input_prefix: String,
    /// "mean": the sentence embedding is the mean of the last layer's tokens.
    pub pooling: String,
    /// The most tokens the model reads (its position embeddings).
    pub max_tokens: usize,
    /// Whether the graph takes a token_type_ids input.
    #[serde(default)]
    pub token_type_ids: bool,
    /// Encoder layers the graph exposes as hidden_layer_K beside last_hidden_state, nearest the
    /// top first: classifier heads with option "encoder_layers" read their means too.
    #[serde(default)]
    pub exposed_layers: Vec<usize>,
    pub files: Files,
    /// Built-in heads trained for this encoder, by task ("sentiment" -> head name).
    #[serde(default)]
    pub heads: BTreeMap<String, String>,
    #[serde(default)]
    pub zero_shot: ZeroShot,
    #[serde(default)]
    pub relatedness: Relatedness,
    /// `identity()`, computed once when the manifest is read.
    #[serde(skip)]
    identity: String,
    /// `settings_identity()`: the manifest file by content.
    #[serde(skip)]
    settings_identity: String,
}

impl Manifest {
    pub fn dir(&self, model_dir: &Path) -> PathBuf {
        model_dir.join(&self.name)
    }

    /// The graph outputs of the exposed layers, nearest the top first.
    pub fn earlier_layer_outputs(&self) -> Vec<String> {
        self.exposed_layers
            .iter()
            .map(|k| format!("hidden_layer_{k}"))
            .collect()
    }

    /// What the vectors of this encoder are, by content: its name and the sha256 of its graph
    /// and tokenizer. Two installations with the same identity produce the same vectors; a
    /// changed file is another vector space even under the same name.
    pub fn identity(&self) -> &str {
        &self.identity
    }

    /// The manifest itself by content (name@hash of the file): its scoring settings (zero-shot
    /// templates, the relatedness scale, the heads it names) change topics and scores without
    /// changing the vectors, so they are part of what built a profile but not of its vector space.
    pub fn settings_identity(&self) -> &str {
        &self.settings_identity
    }

    fn content_identity(&self) -> String {
        let digest = files::sha256_hex(
            format!(
                "{}|{}|{}",
                self.files.model.sha256, self.files.tokenizer.sha256, self.input_prefix
            )
            .as_bytes(),
        );
        format!("{}@{}", self.name, &digest[..16])
    }

    /// The manifest of the encoder `name` under `model_dir`; an ERROR listing the installed
    /// encoders when there is none.
    pub fn read(model_dir: &Path, name: &str) -> Result<Manifest> {
        let plain = |c: char| c.is_ascii_alphanumeric() || "._-".contains(c);
        if name.is_empty() || name.starts_with('.') || !name.chars().all(plain) {
            return Err(Error::invalid_parameter(format!(
                "custprofile.encoder must be the name of an encoder folder (letters, digits, '.', '_', '-'), not \"{name}\""
            )));
        }
        let path = model_dir.join(name).join(MANIFEST_FILE);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let installed: Vec<String> =
                    installed(model_dir).into_iter().map(|m| m.name).collect();
                if installed.is_empty() {
                    return Err(files::missing_file_error(&path, &e));
                }
                return Err(Error::new(
                    PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
                    format!(
                        "custprofile.encoder is \"{name}\", which is not installed in \"{}\"; installed: {}",
                        model_dir.display(),
                        installed.join(", ")
                    ),
                )
                .hint(format!("SET custprofile.encoder to one of the installed encoders, or run {SETUP_COMMAND}.")));
            }
            Err(e) => return Err(files::missing_file_error(&path, &e)),
        };
        let mut manifest: Manifest = serde_json::from_slice(&bytes).map_err(|e| {
            Error::new(
                PgSqlErrorCode::ERRCODE_DATA_CORRUPTED,
                format!("encoder manifest \"{}\" is malformed: {e}", path.display()),
            )
            .hint(format!("Reinstall the model files with {SETUP_COMMAND}."))
        })?;
        if manifest.name != name {
            return Err(Error::new(
                PgSqlErrorCode::ERRCODE_DATA_CORRUPTED,
                format!(
                    "encoder manifest \"{}\" names encoder \"{}\", not \"{name}\"",
                    path.display(),
                    manifest.name
                ),
            ));
        }
        let z = &manifest.zero_shot;
        if z.templates.is_empty()
            || !z.templates.iter().all(|t| t.contains("{label}"))
            || !(z.temperature > 0.0)
        {
            return Err(Error::new(
                PgSqlErrorCode::ERRCODE_DATA_CORRUPTED,
                format!("encoder manifest \"{}\": zero_shot needs templates that each contain {{label}} and a positive temperature", path.display()),
            ));
        }
        let r = manifest.relatedness;
        if !(r.slope > 0.0 && r.slope.is_finite() && r.offset.is_finite()) {
            return Err(Error::new(
                PgSqlErrorCode::ERRCODE_DATA_CORRUPTED,
                format!("encoder manifest \"{}\": relatedness needs a finite offset and a positive slope", path.display()),
            ));
        }
        if manifest.pooling != "mean" || manifest.dimensions == 0 || manifest.max_tokens < 8 {
            return Err(Error::new(
                PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
                format!("encoder \"{name}\": only mean pooling with at least 8 tokens and 1 dimension is supported"),
            ));
        }
        manifest.identity = manifest.content_identity();
        manifest.settings_identity = format!("{}@{}", manifest.name, &files::sha256_hex(&bytes)[..16]);
        Ok(manifest)
    }
}

/// Every encoder installed under `model_dir` (a folder with a readable manifest), by name.
pub fn installed(model_dir: &Path) -> Vec<Manifest> {
    let mut found: Vec<Manifest> = std::fs::read_dir(model_dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let name = entry.file_name().into_string().ok()?;
            entry.path().join(MANIFEST_FILE).is_file().then_some(())?;
            Manifest::read(model_dir, &name).ok()
        })
        .collect();
    found.sort_by(|a, b| a.name.cmp(&b.name));
    found
}
