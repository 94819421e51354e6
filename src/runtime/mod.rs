//! The model runtime of one backend: ONNX Runtime and the sentence encoder that
//! `custprofile.encoder` names (an installed folder with its manifest, see `manifest`), loaded
//! lazily on first use and kept in the backend's cache (src/cache.rs), or inherited from the
//! postmaster, which loaded it into its own cache before forking (src/preload.rs: with one
//! intra-op thread ONNX Runtime starts no threads, so nothing is lost in the fork). One encoder is loaded at a time: a
//! changed setting drops the old one before the new one loads. A failed load leaves nothing
//! behind, so the next call retries and the backend stays usable.

pub mod files;
mod inference;
pub mod manifest;

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use ort::environment::Environment;
use ort::session::builder::GraphOptimizationLevel;
use ort::session::Session;
use pgrx::PgSqlErrorCode;
use tokenizers::Tokenizer;

use crate::cache::{self, Kind};
use crate::errors::{Error, Result};
use crate::settings;
pub use inference::{Features, Hidden};
pub use manifest::Manifest;

/// A loaded encoder: ONNX session and tokenizer.
pub struct Encoder {
    pub manifest: Rc<Manifest>,
    session: Session,
    tokenizer: Tokenizer,
    /// The graph outputs of the exposed layers, nearest the top first.
    earlier_layers: Vec<String>,
    /// Resident memory the backend grew by while loading it (graph, weights, tokenizer).
    pub resident_bytes: usize,
}

struct Runtime {
    library: PathBuf,
    environment: Environment,
}

thread_local! {
    /// ONNX Runtime itself: loaded once per backend and never unloaded, so not a cache entry.
    static RUNTIME: RefCell<Option<Runtime>> = const { RefCell::new(None) };
}

/// The cache slot of the backend's encoder: one at a time.
const ENCODER_SLOT: &str = "encoder";

fn ensure_runtime() -> Result<Environment> {
    let wanted = settings::runtime_library();
    RUNTIME.with(|cell| {
        if let Some(rt) = cell.borrow().as_ref() {
            if rt.library != wanted {
                return Err(Error::new(
                    PgSqlErrorCode::ERRCODE_CANT_CHANGE_RUNTIME_PARAM,
                    format!(
                        "this backend already loaded ONNX Runtime from \"{}\"",
                        rt.library.display()
                    ),
                )
                .hint("A changed custprofile.runtime_library takes effect in a new connection, or after a restart where custprofile is in shared_preload_libraries."));
            }
            return Ok(rt.environment.clone());
        }
        if let Err(e) = std::fs::File::open(&wanted) {
            return Err(files::missing_file_error(&wanted, &e));
        }
        // ONNX Runtime 1.29+ reads this when it sets up its POSIX telemetry (an event queue under
        // the server user's home, sent to a Microsoft collector): set before the library loads,
        // whatever the server's own environment says; DisableTelemetryEvents below comes only
        // after the environment (and its telemetry provider) exists. The process (a backend, or
        // the postmaster preloading) has no other threads yet: ONNX Runtime starts its own after.
        std::env::set_var("ORT_DISABLE_TELEMETRY", "1");
        let environment = ort::init_from(&wanted)
            .map_err(|e| {
                Error::new(
                    PgSqlErrorCode::ERRCODE_EXTERNAL_ROUTINE_EXCEPTION,
                    format!("could not load the ONNX Runtime library: {e}"),
                )
                .hint(format!("Run {} to install onnxruntime 1.31.1.", files::SETUP_COMMAND))
            })?
            .with_name("custprofile")
            // DisableTelemetryEvents on the new environment: the C API's own switch
            .with_telemetry(false)
            .build()?;
        *cell.borrow_mut() = Some(Runtime { library: wanted, environment: environment.clone() });
        Ok(environment)
    })
}

/// The backend's resident set in bytes (0 where /proc cannot tell).
fn resident_bytes() -> usize {
    let pages = std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1).and_then(|p| p.parse::<usize>().ok()))
        .unwrap_or(0);
    // SAFETY: sysconf has no preconditions
    pages * unsafe { libc::sysconf(libc::_SC_PAGESIZE) }.max(0) as usize
}

fn load_encoder(manifest: Rc<Manifest>, dir: &Path) -> Result<Encoder> {
    let before = resident_bytes();
    // Read and verify both files before handing either to native code.
    let model_bytes = files::read_verified(dir, &manifest.files.model)?;
    let tokenizer_bytes = files::read_verified(dir, &manifest.files.tokenizer)?;
    let environment = ensure_runtime()?;

    let mut tokenizer = Tokenizer::from_bytes(&tokenizer_bytes)
        .map_err(|e| Error::internal(format!("could not parse {}: {e}", manifest.files.tokenizer.name)))?;
    // The shipped tokenizer.json pads and truncates everything to 128: we pad per batch ourselves
    // and truncate to custprofile.max_tokens at each call.
    tokenizer.with_padding(None);
    tokenizer
        .with_truncation(None)
        .map_err(|e| Error::internal(format!("tokenizer: {e}")))?;

    let session = Session::builder(&environment)?
        .with_optimization_level(GraphOptimizationLevel::Level3)
        .map_err(ort::Error::from)?
        .with_intra_threads(settings::intra_threads())
        .map_err(ort::Error::from)?
        .with_inter_threads(1)
        .map_err(ort::Error::from)?
        // every batch has its own [rows, tokens] shape: a memory pattern cached per shape only
        // grows the backend and slows each run
        .with_memory_pattern(false)
        .map_err(ort::Error::from)?
        // SkipLayerNormalization (Add + LayerNormalization fused) computes its statistics with a
        // scalar loop: 17% of the encoder's time on this graph, against 3% for the plain
        // LayerNormalization plus a vectorised Add (ONNX Runtime's profiler; the same vectors)
        .with_config_entry("optimization.disable_specified_optimizers", "SkipLayerNormFusion")
        .map_err(ort::Error::from)?
        .commit_from_memory(&model_bytes)?;
    drop(model_bytes);
    drop(tokenizer_bytes);
    // Loading copies the graph and prepacks the weights, then frees the file's bytes and the
    // intermediates; hand the freed heap back to the system instead of keeping it in every backend.
    // SAFETY: malloc_trim only releases free memory of glibc's allocator
    unsafe { libc::malloc_trim(0) };
    let inputs: Vec<&str> = session.inputs().iter().map(|i| i.name()).collect();
    if inputs.contains(&"token_type_ids") != manifest.token_type_ids {
        return Err(Error::internal(format!(
            "encoder \"{}\": its graph's inputs do not match its manifest's token_type_ids",
            manifest.name
        )));
    }
    let earlier_layers = manifest.earlier_layer_outputs();
    let resident = resident_bytes().saturating_sub(before);
    Ok(Encoder { manifest, session, tokenizer, earlier_layers, resident_bytes: resident })
}

/// The manifest of the encoder `custprofile.encoder` names (read once per backend and
/// model directory).
pub fn current() -> Result<Rc<Manifest>> {
    let name = settings::encoder();
    let model_dir = settings::model_dir();
    cache::get_or_try_insert(Kind::Manifest, &name, &model_dir.display().to_string(), |_| 1024, || {
        Manifest::read(&model_dir, &name)
    })
}

/// Runs `f` with this backend's encoder, loading it first when needed or when
/// `custprofile.encoder` or `custprofile.model_dir` changed since it was loaded (the old one is
/// dropped first).
pub fn with_encoder<R>(f: impl FnOnce(&mut Encoder) -> Result<R>) -> Result<R> {
    let manifest = current()?;
    let dir = manifest.dir(&settings::model_dir());
    let version = encoder_version(&manifest, &dir);
    let encoder = match cache::get::<RefCell<Encoder>>(Kind::Encoder, ENCODER_SLOT, &version) {
        Some(e) => e,
        None => {
            cache::remove(Kind::Encoder, ENCODER_SLOT);
            let loaded = load_encoder(manifest, &dir)?;
            let bytes = loaded.resident_bytes;
            let e = Rc::new(RefCell::new(loaded));
            cache::put(Kind::Encoder, ENCODER_SLOT, &version, bytes, e.clone());
            e
        }
    };
    let mut encoder = encoder.borrow_mut();
    f(&mut encoder)
}

/// What a loaded encoder was made from: the encoder by content, its folder and the intra-op
/// threads its session runs (a backend asking for another count than the postmaster preloaded
/// with loads its own). The identity comes first, up to a space (names have none):
/// `loaded_encoder` reads it back.
fn encoder_version(manifest: &Manifest, dir: &Path) -> String {
    format!("{} {} threads={}", manifest.identity(), dir.display(), settings::intra_threads())
}

/// Keeps the encoder loaded now for the life of the process: it is never freed, even when the
/// cache drops it. The postmaster does this with the encoder it preloads, so a backend that
/// switches encoder does not free (and first copy) the pages it shares with every other backend.
pub fn keep_loaded_encoder() -> Result<()> {
    let manifest = current()?;
    let version = encoder_version(&manifest, &manifest.dir(&settings::model_dir()));
    if let Some(encoder) = cache::get::<RefCell<Encoder>>(Kind::Encoder, ENCODER_SLOT, &version) {
        std::mem::forget(encoder);
    }
    Ok(())
}

/// The sentence embedding (`embed_text`'s vector: mean pooling, unit length) of each text, in
/// order, from one batched pass.
pub fn embed(texts: &[&str]) -> Result<Vec<Vec<f32>>> {
    Ok(with_encoder(|e| e.encode(texts))?.into_iter().map(|f| f.mean).collect())
}

/// The identity (`Manifest::identity`) of the encoder this backend holds in memory and the
/// resident memory its load took, if one is loaded.
pub fn loaded_encoder() -> Option<(String, usize)> {
    let (version, bytes) = cache::peek(Kind::Encoder, ENCODER_SLOT)?;
    Some((version.split(' ').next().unwrap_or_default().to_string(), bytes))
}
