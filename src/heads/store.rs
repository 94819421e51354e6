//! The classifiers table (custprofile.classifiers): who may store a head, storing it, and
//! loading a stored head by name, parsed once per backend and version of its row.

use std::rc::Rc;

use pgrx::prelude::*;
use pgrx::JsonB;
use serde_json::Value;

use crate::cache::{self, Kind};
use crate::errors::{Error, Result};
use crate::heads::Head;
use crate::spi::read_one;

/// Refuses, before any work, what the store at the end would refuse: a read-only transaction
/// (or a standby), a role without INSERT on custprofile.classifiers, or a head of that name that
/// belongs to another role (row-level security on the table enforces the same). Returns whether
/// heads have owners: a database still at 0.1.0 (the new library installed, ALTER EXTENSION
/// UPDATE not yet run) has no owner column.
pub fn check_may_store(name: &str) -> Result<bool> {
    // SAFETY: reads a backend-local flag
    if unsafe { pg_sys::XactReadOnly } {
        return Err(Error::new(
            PgSqlErrorCode::ERRCODE_READ_ONLY_SQL_TRANSACTION,
            "cannot train a classifier in a read-only transaction",
        )
        .hint("Train on the primary server, outside a READ ONLY transaction."));
    }
    let owned: bool = read_one(
        "SELECT EXISTS (SELECT FROM pg_catalog.pg_attribute WHERE attrelid OPERATOR(pg_catalog.=) 'custprofile.classifiers'::pg_catalog.regclass
                           AND attname OPERATOR(pg_catalog.=) 'owner' AND NOT attisdropped)",
        &[],
    )?
    .unwrap_or(false);
    if !owned {
        return Ok(false);
    }
    let (may_insert, owner, may_replace) = Spi::connect(|client| {
        let row = client
            .select(
                "SELECT pg_catalog.has_table_privilege('custprofile.classifiers', 'INSERT'),
                        (SELECT c.owner::text FROM custprofile.classifiers c WHERE c.name OPERATOR(pg_catalog.=) $1),
                        (SELECT pg_catalog.pg_has_role(c.owner, 'MEMBER') FROM custprofile.classifiers c
                          WHERE c.name OPERATOR(pg_catalog.=) $1)",
                Some(1),
                &[name.into()],
            )?
            .first();
        Ok::<_, pgrx::spi::SpiError>((row.get::<bool>(1)?, row.get::<String>(2)?, row.get::<bool>(3)?))
    })
    .map_err(Error::spi)?;
    if may_insert != Some(true) {
        return Err(Error::new(PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE, "permission denied to store classifiers")
            .hint("An administrator can allow it: GRANT INSERT, UPDATE, DELETE ON custprofile.classifiers TO your_role;"));
    }
    if let (Some(owner), false) = (owner, may_replace.unwrap_or(true) || is_superuser()) {
        return Err(Error::new(
            PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE,
            format!("classifier \"{name}\" belongs to role \"{owner}\""),
        )
        .hint("Choose another name; only its owner (or a member of that role) can replace it."));
    }
    Ok(true)
}

fn is_superuser() -> bool {
    // SAFETY: plain catalogue lookup of the current user
    unsafe { pg_sys::superuser() }
}

/// Stores (or replaces) the head and its training report under `name`; `owned` says whether
/// the table has the owner column (see `check_may_store`).
pub fn save(name: &str, head: &Head, report: &Value, owned: bool) -> Result<()> {
    // through a string, so that weights keep f32's shortest decimal form instead of widening to f64
    let head_json: Value = serde_json::to_string(head)
        .and_then(|s| serde_json::from_str(&s))
        .map_err(|e| Error::internal(e.to_string()))?;
    // a 0.1.0 schema (library updated, ALTER EXTENSION UPDATE not yet run) has no owner column
    let (owner_column, owner_value) = if owned { (", owner", ", CURRENT_USER") } else { ("", "") };
    Spi::run_with_args(
        &format!(
            "INSERT INTO custprofile.classifiers AS c (name, head, metrics, trained_at{owner_column})
             VALUES ($1, $2, $3, pg_catalog.now(){owner_value})
             ON CONFLICT (name) DO UPDATE SET head = excluded.head, metrics = excluded.metrics, trained_at = excluded.trained_at"
        ),
        &[name.into(), JsonB(head_json).into(), JsonB(report.clone()).into()],
    )
    .map_err(Error::spi)
}

/// The stored head of a classifier; an unknown name is an ERROR listing the known ones.
pub fn load(name: &str) -> Result<Rc<Head>> {
    // the row's physical version changes with every retraining, even within one transaction
    // read-only SPI throughout (Spi::get_one would take a transaction id, which a parallel
    // worker or a standby cannot); operators and functions qualified, whatever the search_path
    let version: Option<String> = read_one(
        "SELECT pg_catalog.concat_ws('/', ctid, xmin) FROM custprofile.classifiers WHERE name OPERATOR(pg_catalog.=) $1",
        &[name.into()],
    )?;
    let Some(version) = version else {
        let known: Option<String> =
            read_one("SELECT pg_catalog.string_agg(pg_catalog.quote_literal(name), ', ' ORDER BY name) FROM custprofile.classifiers WHERE $1 IS NOT NULL", &[name.into()])?;
        return Err(Error::new(PgSqlErrorCode::ERRCODE_UNDEFINED_OBJECT, format!("classifier \"{name}\" does not exist"))
            .hint(match known {
                Some(k) => format!("Available classifiers: {k}."),
                None => "No classifier has been trained yet; train one with custprofile.train_classifier.".into(),
            }));
    };
    // parsed once per backend and row version, not once per row (a large MLP head is megabytes of JSON)
    cache::get_or_try_insert(Kind::Classifier, name, &version, Head::approx_bytes, || {
        let json: Option<String> =
            read_one("SELECT head::text FROM custprofile.classifiers WHERE name OPERATOR(pg_catalog.=) $1", &[name.into()])?;
        Head::from_json(&json.unwrap_or_default())
    })
}


