//! Every setting of the extension, registered in `_PG_init`. Locations and resource limits are
//! superuser-only (whoever may choose a file path can make the server read it); token limits are
//! for any user.

use std::ffi::CString;
use std::path::PathBuf;

use pgrx::guc::{GucContext, GucFlags, GucRegistry, GucSetting, PostgresGucEnum};
use pgrx::pg_sys;

/// The language of the labels the extension writes: segment names, recommendation reasons,
/// churn reasons. PostgreSQL rejects any other value with ERROR 22023 listing these.
#[derive(PostgresGucEnum, Clone, Copy, PartialEq, Debug)]
pub enum LabelLanguage {
    #[name = c"en"]
    English,
    #[name = c"zh"]
    Chinese,
}

impl LabelLanguage {
    pub fn code(self) -> &'static str {
        match self {
            LabelLanguage::English => "en",
            LabelLanguage::Chinese => "zh",
        }
    }
}

static ENCODER: GucSetting<Option<CString>> =
    GucSetting::<Option<CString>>::new(Some(c"multilingual-e5-small"));
static MODEL_DIR: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(None);
static RUNTIME_LIBRARY: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(None);
static INTRA_THREADS: GucSetting<i32> = GucSetting::<i32>::new(1);
static BATCH_SIZE: GucSetting<i32> = GucSetting::<i32>::new(32);
static MAX_TOKENS: GucSetting<i32> = GucSetting::<i32>::new(256);
static MASK_PII: GucSetting<bool> = GucSetting::<bool>::new(false);
static PROGRESS_INTERVAL: GucSetting<i32> = GucSetting::<i32>::new(5);
static LANGUAGES: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(None);
static LABEL_LANGUAGE: GucSetting<LabelLanguage> =
    GucSetting::<LabelLanguage>::new(LabelLanguage::English);
static AS_OF: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(Some(c"latest_activity"));

/// The encoder when custprofile.encoder is empty.
pub const DEFAULT_ENCODER: &str = "multilingual-e5-small";
/// The largest token limit: no installed encoder has more than 512 position embeddings; the
/// encoder's manifest may lower it.
pub const MAX_TOKENS_LIMIT: i32 = 512;
/// Runtime library file name as shipped in the onnxruntime 1.31.1 wheel.
pub const RUNTIME_FILE: &str = "libonnxruntime.so.1.31.1";

pub fn register() {
    GucRegistry::define_string_guc(
        c"custprofile.encoder",
        c"The sentence encoder every function embeds, scores and classifies with (superuser only).",
        c"The name of an encoder folder under custprofile.model_dir (the custprofile.models view lists them). Set it per database with ALTER DATABASE ... SET, then CALL custprofile.refresh_profiles() to rebuild what the old one made.",
        &ENCODER,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_string_guc(
        c"custprofile.model_dir",
        c"Directory holding the model folders (superuser only).",
        c"Empty means $sharedir/extension/custprofile/models, where scripts/setup.sh installs them.",
        &MODEL_DIR,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_string_guc(
        c"custprofile.runtime_library",
        c"Path of the ONNX Runtime shared library (superuser only).",
        c"Empty means $pkglibdir/custprofile/libonnxruntime.so.1.31.1. Read once per backend.",
        &RUNTIME_LIBRARY,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"custprofile.intra_threads",
        c"ONNX Runtime intra-op threads per backend (superuser only).",
        c"Many backends times many threads oversubscribe the CPU; 1 is right for most servers. Applies when a backend loads the model.",
        &INTRA_THREADS,
        1,
        64,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"custprofile.batch_size",
        c"Texts per encoder run in batched functions (superuser only).",
        c"Batched functions sort texts by length and run them this many at a time.",
        &BATCH_SIZE,
        1,
        1024,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"custprofile.max_tokens",
        c"Tokens kept per text; longer texts are truncated, never rejected.",
        c"256 matches sentence-transformers for all-MiniLM-L6-v2; an encoder's manifest may set a lower ceiling.",
        &MAX_TOKENS,
        8,
        MAX_TOKENS_LIMIT,
        GucContext::Userset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"custprofile.progress_interval",
        c"Seconds between the progress NOTICEs of long operations (train_classifier, refresh_profiles, refresh_catalogues); 0 reports every step.",
        c"Each operation also writes a row per run to custprofile.runs.",
        &PROGRESS_INTERVAL,
        0,
        3600,
        GucContext::Userset,
        GucFlags::UNIT_S,
    );
    GucRegistry::define_bool_guc(
        c"custprofile.mask_pii",
        c"Mask PII (as custprofile.mask_pii does) before any text is encoded, scored or shown by text_insights (superuser only).",
        c"Superuser only, so that an administrator can enforce it for everyone (ALTER SYSTEM or ALTER DATABASE).",
        &MASK_PII,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_string_guc(
        c"custprofile.languages",
        c"The languages detect_language chooses among, as ISO 639-1 codes separated by commas.",
        c"Empty means all 69 that the detector knows. Naming the languages your customers write in avoids most mistakes on short texts (an English one-liner taken for Turkish).",
        &LANGUAGES,
        GucContext::Userset,
        GucFlags::default(),
    );
    GucRegistry::define_enum_guc(
        c"custprofile.label_language",
        c"The language of segment names, recommendation reasons and churn reasons: en or zh.",
        c"Set it per database or per role for a shop whose analysts read Chinese (ALTER DATABASE ... SET custprofile.label_language = 'zh'). Topic names of the default topics are translated; your own category and topic names are shown as they are.",
        &LABEL_LANGUAGE,
        GucContext::Userset,
        GucFlags::default(),
    );
    // SAFETY: the check hook is a plain function over the new value that cannot panic
    unsafe {
        GucRegistry::define_string_guc_with_hooks(
            c"custprofile.as_of",
            c"The moment recency, RFM scores and churn risk are judged at: latest_activity, now or a timestamp.",
            c"latest_activity (the default) is the latest order or text in the registered sources, never later than now: historical data is judged as of its own end, live data as of its last event. now is the transaction's start; a timestamp such as 2018-06-30 fixes the moment.",
            &AS_OF,
            GucContext::Userset,
            GucFlags::default(),
            Some(check_as_of),
            None,
            None,
        );
    }
    reserve_prefix();
}

/// Accepts latest_activity, now, or a value that starts as an ISO date (YYYY-MM-DD), which
/// PostgreSQL reads under any DateStyle; the rest of a timestamp is PostgreSQL's to parse where it
/// is used.
pub fn as_of_is_valid(value: &str) -> bool {
    let v = value.trim();
    let b = v.as_bytes();
    v == "latest_activity"
        || v == "now"
        || (b.len() >= 10
            && b[..4].iter().all(u8::is_ascii_digit)
            && b[4] == b'-'
            && b[5..7].iter().all(u8::is_ascii_digit)
            && b[7] == b'-'
            && b[8..10].iter().all(u8::is_ascii_digit))
}

#[pgrx::pg_guard]
unsafe extern "C-unwind" fn check_as_of(
    newval: *mut *mut std::ffi::c_char,
    _extra: *mut *mut std::ffi::c_void,
    _source: pg_sys::GucSource::Type,
) -> bool {
    // SAFETY: PostgreSQL passes a pointer to the proposed value, NULL or a C string
    let value = unsafe {
        if newval.is_null() || (*newval).is_null() {
            return true;
        }
        std::ffi::CStr::from_ptr(*newval).to_string_lossy().into_owned()
    };
    if as_of_is_valid(&value) {
        return true;
    }
    // SAFETY: the GUC machinery reads and frees these after a rejected value
    unsafe {
        pg_sys::GUC_check_errdetail_string =
            pg_sys::pstrdup(c"custprofile.as_of is latest_activity, now or an ISO timestamp.".as_ptr());
        pg_sys::GUC_check_errhint_string =
            pg_sys::pstrdup(c"For example SET custprofile.as_of = '2018-06-30'; or = 'now';".as_ptr());
    }
    false
}

/// A mistyped setting (`custprofile.max_token`) is an ERROR once the library is loaded, not a
/// placeholder that silently does nothing; placeholders set before the load are removed with a
/// WARNING. PostgreSQL 13 and 14 can only warn about them.
fn reserve_prefix() {
    // SAFETY: called from _PG_init after the settings are defined, as PostgreSQL's own modules do
    #[cfg(not(any(feature = "pg13", feature = "pg14")))]
    unsafe {
        pg_sys::MarkGUCPrefixReserved(c"custprofile".as_ptr())
    };
    #[cfg(any(feature = "pg13", feature = "pg14"))]
    unsafe {
        pg_sys::EmitWarningsOnPlaceholders(c"custprofile".as_ptr())
    };
}

fn non_empty(setting: &GucSetting<Option<CString>>) -> Option<String> {
    setting
        .get()
        .map(|c| c.to_string_lossy().into_owned())
        .filter(|s| !s.trim().is_empty())
}

/// PostgreSQL's share directory (`pg_config --sharedir`), as the running server sees it.
fn share_dir() -> PathBuf {
    let mut buf = [0 as std::ffi::c_char; pg_sys::MAXPGPATH as usize];
    unsafe {
        pg_sys::get_share_path(
            std::ptr::addr_of!(pg_sys::my_exec_path).cast(),
            buf.as_mut_ptr(),
        )
    };
    c_path(&buf)
}

fn pkglib_dir() -> PathBuf {
    let mut buf = [0 as std::ffi::c_char; pg_sys::MAXPGPATH as usize];
    unsafe {
        pg_sys::get_pkglib_path(
            std::ptr::addr_of!(pg_sys::my_exec_path).cast(),
            buf.as_mut_ptr(),
        )
    };
    c_path(&buf)
}

fn c_path(buf: &[std::ffi::c_char]) -> PathBuf {
    // SAFETY: PostgreSQL wrote a NUL-terminated path into the buffer
    let s = unsafe { std::ffi::CStr::from_ptr(buf.as_ptr()) };
    PathBuf::from(s.to_string_lossy().into_owned())
}

/// PostgreSQL's maintenance_work_mem in bytes: what a training run may hold, as an index build.
pub fn maintenance_work_mem_bytes() -> usize {
    // SAFETY: a GUC variable of the server, read in the backend's own thread
    (unsafe { pg_sys::maintenance_work_mem }).max(0) as usize * 1024
}

pub fn encoder() -> String {
    non_empty(&ENCODER).unwrap_or_else(|| DEFAULT_ENCODER.to_string())
}

pub fn model_dir() -> PathBuf {
    non_empty(&MODEL_DIR)
        .map(PathBuf::from)
        .unwrap_or_else(|| share_dir().join("extension/custprofile/models"))
}

pub fn runtime_library() -> PathBuf {
    non_empty(&RUNTIME_LIBRARY)
        .map(PathBuf::from)
        .unwrap_or_else(|| pkglib_dir().join("custprofile").join(RUNTIME_FILE))
}

pub fn intra_threads() -> usize {
    INTRA_THREADS.get().max(1) as usize
}

pub fn batch_size() -> usize {
    BATCH_SIZE.get().max(1) as usize
}

/// Seconds between progress NOTICEs (0: every step).
pub fn progress_interval() -> std::time::Duration {
    std::time::Duration::from_secs(PROGRESS_INTERVAL.get().max(0) as u64)
}

pub fn max_tokens() -> usize {
    MAX_TOKENS.get().clamp(8, MAX_TOKENS_LIMIT) as usize
}

pub fn mask_pii() -> bool {
    MASK_PII.get()
}

/// custprofile.as_of as set (validated by its check hook).
pub fn as_of() -> String {
    non_empty(&AS_OF).map(|s| s.trim().to_string()).unwrap_or_else(|| "latest_activity".to_string())
}

pub fn label_language() -> LabelLanguage {
    LABEL_LANGUAGE.get()
}

/// custprofile.languages as written, or None for all languages.
pub fn languages() -> Option<String> {
    non_empty(&LANGUAGES)
}

#[cfg(test)]
mod unit {
    #[test]
    fn as_of_takes_its_two_words_or_an_iso_date() {
        for ok in ["latest_activity", "now", "2018-06-30", " 2018-06-30 12:00:00+02 ", "2018-06-30T12:00Z"] {
            assert!(super::as_of_is_valid(ok), "{ok}");
        }
        for bad in ["", "latest", "Now()", "30/06/2018", "yesterday", "2018-6-30"] {
            assert!(!super::as_of_is_valid(bad), "{bad}");
        }
    }
}
