//! `JsonArg`: a jsonb argument that reaches the function even when serde_json cannot hold it.
//! pgrx's `JsonB` parses the argument's text with serde_json and panics (ERROR XX000) on a
//! number beyond float8, such as 1e400, which jsonb itself accepts; this keeps the parse error so
//! that the function raises 22003 with a hint instead.

use pgrx::callconv::{Arg, ArgAbi};
use pgrx::prelude::*;
use pgrx::{pg_sys, FromDatum};
use serde_json::Value;

use crate::errors::Error;

pub struct JsonArg(std::result::Result<Value, String>);

impl JsonArg {
    /// The document, or the ERROR that says it cannot be read (no part of it is quoted).
    pub fn value(self) -> crate::errors::Result<Value> {
        self.0.map_err(|e| {
            Error::new(
                PgSqlErrorCode::ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE,
                format!("a jsonb argument cannot be read as JSON numbers of double precision: {e}"),
            )
            .hint("Keep numbers within ±1.7e308.")
        })
    }
}

impl FromDatum for JsonArg {
    unsafe fn from_polymorphic_datum(datum: pg_sys::Datum, is_null: bool, _: pg_sys::Oid) -> Option<Self> {
        if is_null {
            return None;
        }
        // SAFETY: the datum is a jsonb argument; jsonb_out detoasts it and returns a palloc'd C string
        let text = unsafe { pgrx::direct_function_call::<&core::ffi::CStr>(pg_sys::jsonb_out, &[Some(datum)]) }?;
        let parsed = serde_json::from_str(&text.to_string_lossy()).map_err(|e| e.to_string());
        Some(JsonArg(parsed))
    }
}

// SAFETY: unboxed exactly as pgrx unboxes its own JsonB
unsafe impl<'fcx> ArgAbi<'fcx> for JsonArg {
    unsafe fn unbox_arg_unchecked(arg: Arg<'_, 'fcx>) -> Self {
        let index = arg.index();
        unsafe { arg.unbox_arg_using_from_datum().unwrap_or_else(|| panic!("argument {index} must not be null")) }
    }
}

impl_sql_translatable!(JsonArg, arg_only = "jsonb");
