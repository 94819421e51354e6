//! One error type for the whole extension. Internal code returns `Result<T, Error>`; the SQL
//! functions turn an `Error` into a PostgreSQL ERROR with its SQLSTATE and hint.
//! Messages never carry customer text: they name files, settings and sizes, never inputs.

use pgrx::pg_sys::panic::ErrorReport;
use pgrx::{PgLogLevel, PgSqlErrorCode};

#[derive(Debug)]
pub struct Error {
    pub code: PgSqlErrorCode,
    pub message: String,
    pub hint: Option<String>,
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub fn new(code: PgSqlErrorCode, message: impl Into<String>) -> Self {
        Error { code, message: message.into(), hint: None }
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub fn invalid_parameter(message: impl Into<String>) -> Self {
        Error::new(PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE, message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Error::new(PgSqlErrorCode::ERRCODE_INTERNAL_ERROR, message)
    }

    /// An SPI failure of the extension's own query (the user's queries fail with their own ERROR
    /// before SPI returns).
    pub fn spi(e: pgrx::spi::SpiError) -> Self {
        Error::internal(format!("SPI: {e}"))
    }

    /// Raises the error as a PostgreSQL ERROR. Does not return.
    pub fn raise(self) -> ! {
        let mut report = ErrorReport::new(self.code, self.message, "custprofile");
        if let Some(hint) = self.hint {
            report = report.set_hint(hint);
        }
        report.report(PgLogLevel::ERROR);
        unreachable!("ERROR does not return")
    }
}

impl From<ort::Error> for Error {
    fn from(e: ort::Error) -> Self {
        // ONNX Runtime messages describe shapes and nodes, never input text.
        Error::internal(format!("ONNX Runtime failed: {e}"))
    }
}

/// `result.or_raise()` turns an internal result into the value or a PostgreSQL ERROR.
pub trait OrRaise<T> {
    fn or_raise(self) -> T;
}

impl<T> OrRaise<T> for Result<T> {
    fn or_raise(self) -> T {
        match self {
            Ok(v) => v,
            Err(e) => e.raise(),
        }
    }
}
