//! Typed configuration of the Switchboard gateway (SPEC section 2).
pub mod error_kind;
pub use error_kind::ErrorKind;
