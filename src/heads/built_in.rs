//! The heads compiled into the extension: per encoder, a sentiment head and an intent head,
//! trained by `custprofile.train_classifier` (scripts/train-sentiment.sh, scripts/train-intent.sh)
//! and read from models/ENCODER/TASK-head.json at build time, so that a result depends only on
//! the text and the model. The encoder's manifest names its heads ("heads": {"sentiment": ...,
//! "intent": ...}); a task whose head the manifest does not name has no built-in head there.

use std::rc::Rc;
use std::sync::OnceLock;

use crate::cache::{self, Kind};
use crate::errors::{Error, Result};
use crate::heads::{intent, sentiment, Head};
use crate::runtime::{files::sha256_hex, Manifest};

pub struct BuiltIn {
    /// "sentiment" or "intent", as manifests name the task
    pub task: &'static str,
    pub name: &'static str,
    pub encoder: &'static str,
    /// the task's classes, in the order its code indexes them
    pub classes: &'static [&'static str],
    pub json: &'static str,
}

pub const HEADS: &[BuiltIn] = &[
    BuiltIn {
        task: "sentiment",
        name: "sentiment-minilm-v1",
        classes: &sentiment::LABELS,
        encoder: "all-MiniLM-L6-v2",
        json: include_str!("../../models/all-MiniLM-L6-v2/sentiment-head.json"),
    },
    BuiltIn {
        task: "sentiment",
        name: "sentiment-e5-v1",
        classes: &sentiment::LABELS,
        encoder: "multilingual-e5-small",
        json: include_str!("../../models/multilingual-e5-small/sentiment-head.json"),
    },
    BuiltIn {
        task: "intent",
        name: "intent-minilm-v1",
        classes: &intent::LABELS,
        encoder: "all-MiniLM-L6-v2",
        json: include_str!("../../models/all-MiniLM-L6-v2/intent-head.json"),
    },
    BuiltIn {
        task: "intent",
        name: "intent-e5-v2",
        classes: &intent::LABELS,
        encoder: "multilingual-e5-small",
        json: include_str!("../../models/multilingual-e5-small/intent-head.json"),
    },
];

/// The tasks with built-in heads, in the order the models view lists them.
pub const TASKS: &[&str] = &["sentiment", "intent"];

impl BuiltIn {
    /// The sha256 of the head's file, hashed once per backend: model_version() and every
    /// profile_agg result name the head by it, and a sentiment head is 5 MB of JSON.
    pub fn sha256(&self) -> &'static str {
        static HASHES: OnceLock<Vec<(&'static str, String)>> = OnceLock::new();
        let hashes = HASHES.get_or_init(|| HEADS.iter().map(|h| (h.name, sha256_hex(h.json.as_bytes()))).collect());
        hashes
            .iter()
            .find(|(name, _)| *name == self.name)
            .map(|(_, hash)| hash.as_str())
            .expect("every built-in head is in HEADS")
    }
    /// The head by content: its name and the start of its file's sha256, so that a head retrained
    /// under the same name is another model (model_version(), the profiles' fingerprints).
    pub fn identity(&self) -> String {
        format!("{}@{}", self.name, &self.sha256()[..16])
    }
    pub fn file(&self) -> String {
        format!("models/{}/{}-head.json", self.encoder, self.task)
    }
    pub fn loaded(&self) -> bool {
        cache::holds(Kind::BuiltInHead, self.name)
    }

    /// The parsed head, cached per backend (compiled in: one version per library); `check`
    /// rejects a head that does not fit its task's code.
    pub fn load(&self, check: impl FnOnce(&Head) -> Result<()>) -> Result<Rc<Head>> {
        cache::get_or_try_insert(Kind::BuiltInHead, self.name, env!("CARGO_PKG_VERSION"), Head::approx_bytes, || {
            let head = Head::from_json(self.json)?;
            check(&head)?;
            Ok::<Head, Error>(head)
        })
    }
}

/// The built-in head of `task` that the encoder's manifest names, if this library carries it.
pub fn for_encoder(encoder: &Manifest, task: &str) -> Option<&'static BuiltIn> {
    let wanted = encoder.heads.get(task)?;
    HEADS.iter().find(|h| h.task == task && h.name == wanted)
}
