//! The AWS IoT SQL function library: every function AWS documents, one module per family, and
//! the registry the binder resolves calls against once, at compile time.
//!
//! A function is a plain `fn(&[Value], &dyn FnContext) -> Result<Value, FnError>`. Bad argument
//! types give `Ok(Value::Undefined)`, as AWS documents; `Err` is for what makes AWS fail the
//! rule (an external call that failed, an unsupported function) and so triggers the error
//! action.

mod bitwise;
mod context;
mod encoding;
mod fncontext;
mod lookup;
mod math;
mod registry;
mod string;
mod time;
mod types;

pub(crate) use context::topic_index;
pub use context::topic_level;
pub use fncontext::{DynamoDbQuery, FnContext, FnError, MessageContext, RegistryApi, SecretValue};
pub use registry::{Family, FunctionDef, FunctionRef, ResolveError, all, lookup, resolve};
pub use types::{ENRICH_ARRAY_LIMIT, get_item, transform};

use crate::value::Value;

/// What every function is.
pub type FnImpl = fn(&[Value], &dyn FnContext) -> Result<Value, FnError>;

/// The `i`th argument, `Undefined` past the end (the registry's arity makes that unreachable
/// for resolved calls; direct callers get AWS's answer for a missing argument).
fn arg(args: &[Value], i: usize) -> &Value {
    const UNDEFINED: &Value = &Value::Undefined;
    args.get(i).unwrap_or(UNDEFINED)
}
