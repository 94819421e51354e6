//! The backend's cache: one bounded LRU for everything a backend derives from content and keeps
//! between calls: the loaded encoder, the built-in sentiment head, parsed classifier heads and
//! zero-shot label vectors. Nothing else in the extension keeps such state.
//!
//! The rule: an entry sits in a *slot* (what it is: "the encoder", "classifier churn_reason",
//! "label vector of this hypothesis") under a *version* (what it was made from: the model
//! directory, the classifier row's ctid and xmin, the encoder's model sha256). A lookup finds an
//! entry only under the version asked for, and storing a new version replaces the slot's old
//! one, so an entry is never stale: a retrained head, a changed `custprofile.model_dir` or a new
//! encoder simply miss. Entries nobody asks for any more leave least recently used first once
//! the cache holds more than `MAX_ENTRIES` entries or `MAX_BYTES` (the entries' approximate
//! sizes). A value in use stays alive until its user is done (`Rc`), even when evicted.

use std::any::Any;
use std::cell::RefCell;
use std::mem::ManuallyDrop;
use std::rc::Rc;

use lru::LruCache;

/// Entries kept at most.
const MAX_ENTRIES: usize = 4096;
/// Approximate bytes kept at most: an encoder counts its model file, a head its weights.
const MAX_BYTES: usize = 512 << 20;

/// What an entry is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// An encoder's manifest, by encoder name.
    Manifest,
    /// The ONNX session and tokenizer (one per backend).
    Encoder,
    /// A built-in head (sentiment, intent), by name.
    BuiltInHead,
    /// A head of custprofile.classifiers, by name.
    Classifier,
    /// A zero-shot label's hypothesis embedding and calibration offset, by hypothesis.
    LabelVector,
}

type Slot = (Kind, String);

struct Entry {
    version: String,
    bytes: usize,
    value: Rc<dyn Any>,
}

struct Cache {
    entries: LruCache<Slot, Entry>,
    bytes: usize,
}

thread_local! {
    // Never dropped: at backend exit, freeing an encoder's millions of tokenizer allocations took
    // ~0.5 s of CPU per exiting backend, and for an encoder the postmaster preloaded it also copied
    // every shared page it touched first. The process is ending; the kernel takes the memory back.
    static CACHE: ManuallyDrop<RefCell<Cache>> =
        ManuallyDrop::new(RefCell::new(Cache { entries: LruCache::unbounded(), bytes: 0 }));
}

/// The value in `kind`/`name` made from `version`, if the cache holds it; marks it used.
pub fn get<T: 'static>(kind: Kind, name: &str, version: &str) -> Option<Rc<T>> {
    CACHE.with(|c| {
        let mut c = c.borrow_mut();
        let entry = c.entries.get(&(kind, name.to_string()))?;
        if entry.version != version {
            return None;
        }
        entry.value.clone().downcast::<T>().ok()
    })
}

/// Stores `value` in `kind`/`name` as made from `version`, replacing what the slot held, then
/// evicts the least recently used entries beyond the bounds (never the one just stored).
pub fn put<T: 'static>(kind: Kind, name: &str, version: &str, bytes: usize, value: Rc<T>) {
    // what leaves is dropped after the cache is released: dropping an encoder runs native code
    let _left: Vec<Entry> = CACHE.with(|c| {
        let mut c = c.borrow_mut();
        let mut left = Vec::new();
        let entry = Entry { version: version.to_string(), bytes, value };
        if let Some((_, old)) = c.entries.push((kind, name.to_string()), entry) {
            c.bytes -= old.bytes;
            left.push(old);
        }
        c.bytes += bytes;
        while c.entries.len() > 1 && (c.entries.len() > MAX_ENTRIES || c.bytes > MAX_BYTES) {
            let (_, old) = c.entries.pop_lru().expect("more than one entry");
            c.bytes -= old.bytes;
            left.push(old);
        }
        left
    });
}

/// The value in `kind`/`name` made from `version`: the cached one, or `make`'s, stored with the
/// size `bytes` gives it. A failed `make` stores nothing.
pub fn get_or_try_insert<T: 'static, E>(
    kind: Kind,
    name: &str,
    version: &str,
    bytes: impl FnOnce(&T) -> usize,
    make: impl FnOnce() -> Result<T, E>,
) -> Result<Rc<T>, E> {
    if let Some(v) = get::<T>(kind, name, version) {
        return Ok(v);
    }
    let value = Rc::new(make()?);
    put(kind, name, version, bytes(&value), value.clone());
    Ok(value)
}

/// Drops the entry of a slot, whatever its version (the encoder before another loads, so that
/// two never sit in memory together).
pub fn remove(kind: Kind, name: &str) {
    let _left: Option<Entry> = CACHE.with(|c| {
        let mut c = c.borrow_mut();
        let old = c.entries.pop(&(kind, name.to_string()))?;
        c.bytes -= old.bytes;
        Some(old)
    });
}

/// The version and size of the slot's entry, if any, without marking it used.
pub fn peek(kind: Kind, name: &str) -> Option<(String, usize)> {
    CACHE.with(|c| c.borrow().entries.peek(&(kind, name.to_string())).map(|e| (e.version.clone(), e.bytes)))
}

/// Whether the slot holds an entry of any version, without marking it used.
pub fn holds(kind: Kind, name: &str) -> bool {
    CACHE.with(|c| c.borrow().entries.contains(&(kind, name.to_string())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_version_replaces_the_old_and_misses_it() {
        put(Kind::Classifier, "t1", "v1", 10, Rc::new(1u32));
        assert_eq!(get::<u32>(Kind::Classifier, "t1", "v1").as_deref(), Some(&1));
        assert!(get::<u32>(Kind::Classifier, "t1", "v2").is_none());
        put(Kind::Classifier, "t1", "v2", 10, Rc::new(2u32));
        assert!(get::<u32>(Kind::Classifier, "t1", "v1").is_none());
        assert_eq!(get::<u32>(Kind::Classifier, "t1", "v2").as_deref(), Some(&2));
        // another kind under the same name is another slot
        assert!(get::<u32>(Kind::LabelVector, "t1", "v2").is_none());
    }

    #[test]
    fn least_recently_used_leave_first_beyond_the_bounds() {
        let big = MAX_BYTES / 2 - 1;
        put(Kind::LabelVector, "a", "", big, Rc::new(()));
        put(Kind::LabelVector, "b", "", big, Rc::new(()));
        assert!(get::<()>(Kind::LabelVector, "a", "").is_some(), "a is now the most recent");
        put(Kind::LabelVector, "c", "", big, Rc::new(()));
        assert!(holds(Kind::LabelVector, "a") && holds(Kind::LabelVector, "c"));
        assert!(!holds(Kind::LabelVector, "b"));
        // one entry larger than the bound is kept: it is in use
        put(Kind::LabelVector, "huge", "", MAX_BYTES * 2, Rc::new(()));
        assert!(holds(Kind::LabelVector, "huge") && !holds(Kind::LabelVector, "a"));
        remove(Kind::LabelVector, "huge");
        assert!(!holds(Kind::LabelVector, "huge"));
    }

    #[test]
    fn a_failed_make_stores_nothing() {
        let r: Result<Rc<u8>, &str> = get_or_try_insert(Kind::Classifier, "bad", "v", |_| 1, || Err("no"));
        assert!(r.is_err() && !holds(Kind::Classifier, "bad"));
    }
}
