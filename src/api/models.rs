//! What is installed and loaded: backs the `custprofile.models` view and `warmup()`.

use pgrx::prelude::*;

use crate::errors::OrRaise;
use crate::heads::{built_in, sentiment};
use crate::runtime::{self, manifest};
use crate::settings;

type ModelRow = (String, String, String, i32, Vec<String>, String, Vec<String>, Vec<String>, bool, bool, bool, Option<i64>);

/// Every installed encoder (a folder with a manifest under custprofile.model_dir) and the
/// built-in sentiment and intent heads of each that has them. Trained classifiers are added by the view from
/// `custprofile.classifiers`.
#[pg_extern(schema = "custprofile_internal", stable, parallel_safe)]
fn builtin_models() -> TableIterator<
    'static,
    (
        name!(name, String),
        name!(task, String),
        name!(encoder, String),
        name!(dimensions, i32),
        name!(languages, Vec<String>),
        name!(description, String),
        name!(files, Vec<String>),
        name!(sha256, Vec<String>),
        name!(installed, bool),
        name!(active, bool),
        name!(loaded, bool),
        name!(memory_bytes, Option<i64>),
    ),
> {
    let model_dir = settings::model_dir();
    let active = settings::encoder();
    let loaded = runtime::loaded_encoder();
    let mut rows: Vec<ModelRow> = Vec::new();
    for m in manifest::installed(&model_dir) {
        let dir = m.dir(&model_dir);
        let files = [&m.files.model, &m.files.tokenizer];
        let installed = files.iter().all(|f| dir.join(&f.name).is_file());
        let memory = loaded.as_ref().filter(|(identity, _)| *identity == m.identity()).map(|(_, bytes)| *bytes as i64);
        let is_active = m.name == active;
        rows.push((
            m.name.clone(),
            "embedding".to_string(),
            m.name.clone(),
            m.dimensions as i32,
            m.languages.clone(),
            m.description.clone(),
            files.iter().map(|f| dir.join(&f.name).display().to_string()).collect(),
            files.iter().map(|f| f.sha256.clone()).collect(),
            installed,
            is_active,
            memory.is_some(),
            memory,
        ));
        for built_in in built_in::TASKS.iter().filter_map(|task| built_in::for_encoder(&m, task)) {
            let classes = built_in.classes.join(", ");
            rows.push((
                built_in.name.to_string(),
                built_in.task.to_string(),
                m.name.clone(),
                built_in.classes.len() as i32,
                m.languages.clone(),
                format!("built-in {} head ({classes}) for {}", built_in.task, m.name),
                vec![format!("built-in: {}", built_in.file())],
                vec![built_in.sha256().to_string()],
                installed,
                is_active,
                memory.is_some() && built_in.loaded(),
                None,
            ));
        }
    }
    TableIterator::new(rows)
}

/// Loads the encoder and its sentiment and intent heads (where it has them) now, so that the first real call
/// does not pay for it; returns the milliseconds it took (0 when already loaded).
#[pg_extern(volatile, parallel_safe)]
fn warmup() -> f64 {
    let started = std::time::Instant::now();
    sentiment::warm_up().or_raise();
    started.elapsed().as_secs_f64() * 1000.0
}

/// What produced a profile: the extension's version, the encoder (by name and by content) and
/// its sentiment and intent heads. Stored profiles built by another model are rebuilt by the next refresh;
/// stable, since it follows custprofile.encoder.
#[pg_extern(stable, parallel_safe)]
fn model_version() -> pgrx::JsonB {
    let mut v = sentiment::provenance().or_raise();
    v["extension"] = serde_json::json!(env!("CARGO_PKG_VERSION"));
    pgrx::JsonB(v)
}

/// The vector space of the chosen encoder (`Manifest::identity`): stored interest vectors carry
/// it, and only vectors of the same space are compared.
#[pg_extern(stable, parallel_safe)]
fn vector_space() -> String {
    runtime::current().or_raise().identity().to_string()
}
