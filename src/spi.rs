//! The extension's own read-only queries through SPI. A read-only connection assigns no
//! transaction id, so these also work on a hot standby and in READ ONLY transactions
//! (pgrx's Spi::get_one opens a read-write one, which a standby refuses).

use pgrx::datum::DatumWithOid;
use pgrx::prelude::*;

use crate::errors::{Error, Result};

/// The first column of the first row of a read-only query; None when it returns no row or NULL.
pub fn read_one<T: FromDatum + IntoDatum>(query: &str, args: &[DatumWithOid<'_>]) -> Result<Option<T>> {
    Spi::connect(|client| {
        let table = client.select(query, Some(1), args)?;
        if table.is_empty() {
            return Ok(None);
        }
        table.first().get_one::<T>()
    })
    .map_err(Error::spi)
}
