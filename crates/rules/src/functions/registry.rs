//! Name → function, resolved once when a rule is compiled.
//!
//! AWS documents that a call with the wrong number of arguments returns `Undefined` at run time
//! (AWS "Data types": "Functions called with invalid arguments (for example, wrong types, wrong
//! number of arguments, and so on) return Undefined"). [`resolve`] reports the mismatch as
//! [`ResolveError::Arity`] so the binder chooses: compile the call to a constant `Undefined`
//! (AWS's documented behaviour) or refuse it.

use std::collections::HashMap;
use std::fmt;
use std::sync::LazyLock;

use ferrite_rules_sql::SqlVersion;

use super::{
    FnContext, FnError, FnImpl, bitwise, context, encoding, lookup as lookups, math, string, time,
    types,
};
use crate::value::Value;

/// The documentation family a function belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    Math,
    Bitwise,
    String,
    /// `cast`, `get`, `get_or_default`, `isNull`, `isUndefined`, `transform`.
    Types,
    /// `encode`, `decode` and the hashes.
    Encoding,
    Time,
    /// The triggering message and the rule: `topic`, `clientid`, `newuuid`, …
    Context,
    /// Calls to other services: `get_thing_shadow`, `aws_lambda`, …
    Lookup,
}

/// One function as the registry knows it.
#[derive(Clone, Copy)]
pub struct FunctionDef {
    /// The name as AWS spells it (calls match it case-insensitively).
    pub name: &'static str,
    pub family: Family,
    pub min_args: usize,
    /// `None`: any number (`concat`).
    pub max_args: Option<usize>,
    /// The first SQL version that has the function.
    pub since: SqlVersion,
    /// Calls another service: billed as an action by AWS and not allowed in error-action
    /// templates.
    pub external: bool,
    /// `false` for a function Ferrite knows but cannot serve (`machinelearning_predict`):
    /// refuse it at CreateTopicRule.
    pub supported: bool,
    /// `get_or_default`: a failure (`Err`) while evaluating the first argument is caught and
    /// the argument passed as `Undefined`, so the default applies (AWS: "when the expression
    /// … returns null, undefined, or fails").
    pub catches_first_arg_errors: bool,
    /// `cast`: the parser's `cast(v AS T)`. The binder should resolve the type once with
    /// [`crate::CastType::parse`] and call [`crate::cast`]; calling through the registry takes
    /// the type keyword as a String second argument.
    pub special_syntax: bool,
    imp: FnImpl,
}

/// A resolved function: a static reference, free to copy into compiled rules.
pub type FunctionRef = &'static FunctionDef;

impl FunctionDef {
    /// Calls the function. The caller has checked arity through [`resolve`].
    #[inline]
    pub fn call(&self, args: &[Value], ctx: &dyn FnContext) -> Result<Value, FnError> {
        (self.imp)(args, ctx)
    }

    /// Whether the result depends on nothing but the arguments and the rule's SQL version, so a
    /// call with constant arguments can be folded when the rule is compiled. False for the
    /// message context, `timestamp()`, the random `rand()`/`newuuid()` and the lookups.
    pub fn depends_only_on_args(&self) -> bool {
        !matches!(self.family, Family::Context | Family::Lookup)
            && !matches!(self.name, "rand" | "timestamp")
    }

    /// Whether `argc` arguments fit.
    pub fn accepts(&self, argc: usize) -> bool {
        argc >= self.min_args && self.max_args.is_none_or(|max| argc <= max)
    }
}

impl fmt::Debug for FunctionDef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FunctionDef")
            .field("name", &self.name)
            .field("family", &self.family)
            .field("min_args", &self.min_args)
            .field("max_args", &self.max_args)
            .field("since", &self.since)
            .field("external", &self.external)
            .field("supported", &self.supported)
            .finish()
    }
}

/// Why a call does not resolve.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    #[error("unknown function {0}")]
    Unknown(String),
    #[error("function {name} takes {expected} arguments, not {given}")]
    Arity {
        name: &'static str,
        expected: String,
        given: usize,
    },
    #[error("function {name} needs SQL version {since} or later")]
    Version {
        name: &'static str,
        since: SqlVersion,
    },
    #[error("function {0} is not supported")]
    Unsupported(&'static str),
}

/// Resolves a call of `name` with `argc` arguments under `version`. Checks, in order: the name
/// (case-insensitive), support, the version, the arity.
pub fn resolve(name: &str, argc: usize, version: SqlVersion) -> Result<FunctionRef, ResolveError> {
    let def = lookup(name).ok_or_else(|| ResolveError::Unknown(name.to_owned()))?;
    if !def.supported {
        return Err(ResolveError::Unsupported(def.name));
    }
    if version < def.since {
        return Err(ResolveError::Version {
            name: def.name,
            since: def.since,
        });
    }
    if !def.accepts(argc) {
        let expected = match def.max_args {
            Some(max) if max == def.min_args => max.to_string(),
            Some(max) => format!("{} to {max}", def.min_args),
            None => format!("at least {}", def.min_args),
        };
        return Err(ResolveError::Arity {
            name: def.name,
            expected,
            given: argc,
        });
    }
    Ok(def)
}

/// The function named `name` (case-insensitive), whatever its arity or version.
pub fn lookup(name: &str) -> Option<FunctionRef> {
    static BY_NAME: LazyLock<HashMap<String, FunctionRef>> = LazyLock::new(|| {
        FUNCTIONS
            .iter()
            .map(|f| (f.name.to_ascii_lowercase(), f))
            .collect()
    });
    BY_NAME.get(&name.to_ascii_lowercase()).copied()
}

/// Every function AWS documents.
pub fn all() -> &'static [FunctionDef] {
    FUNCTIONS
}

const V1: SqlVersion = SqlVersion::V2015_10_08;
const V2: SqlVersion = SqlVersion::V2016_03_23;

const fn f(
    name: &'static str,
    family: Family,
    min_args: usize,
    max_args: usize,
    since: SqlVersion,
    imp: FnImpl,
) -> FunctionDef {
    FunctionDef {
        name,
        family,
        min_args,
        max_args: Some(max_args),
        since,
        external: false,
        supported: true,
        catches_first_arg_errors: false,
        special_syntax: false,
        imp,
    }
}

const fn external(def: FunctionDef) -> FunctionDef {
    FunctionDef {
        external: true,
        ..def
    }
}

use Family as F;

// Versions: AWS's page says "Supported by SQL version 2016-03-23 and later" for the V2 entries
// below; functions whose page names no version are available in every version.
static FUNCTIONS: &[FunctionDef] = &[
    // Math (25).
    f("abs", F::Math, 1, 1, V1, math::abs),
    f("acos", F::Math, 1, 1, V1, math::acos),
    f("asin", F::Math, 1, 1, V1, math::asin),
    f("atan", F::Math, 1, 1, V1, math::atan),
    f("atan2", F::Math, 2, 2, V1, math::atan2),
    f("ceil", F::Math, 1, 1, V1, math::ceil),
    f("cos", F::Math, 1, 1, V1, math::cos),
    f("cosh", F::Math, 1, 1, V1, math::cosh),
    f("exp", F::Math, 1, 1, V1, math::exp),
    f("floor", F::Math, 1, 1, V1, math::floor),
    f("ln", F::Math, 1, 1, V1, math::ln),
    f("log", F::Math, 1, 1, V1, math::log),
    f("mod", F::Math, 2, 2, V1, math::modulo),
    f("nanvl", F::Math, 2, 2, V1, math::nanvl),
    f("power", F::Math, 2, 2, V1, math::power),
    f("rand", F::Math, 0, 0, V1, math::rand),
    f("remainder", F::Math, 2, 2, V1, math::modulo),
    f("round", F::Math, 1, 1, V1, math::round),
    f("sign", F::Math, 1, 1, V1, math::sign),
    f("sin", F::Math, 1, 1, V1, math::sin),
    f("sinh", F::Math, 1, 1, V1, math::sinh),
    f("sqrt", F::Math, 1, 1, V1, math::sqrt),
    f("tan", F::Math, 1, 1, V1, math::tan),
    f("tanh", F::Math, 1, 1, V1, math::tanh),
    f("trunc", F::Math, 2, 2, V1, math::trunc),
    // Bitwise (4).
    f("bitand", F::Bitwise, 2, 2, V1, bitwise::bitand),
    f("bitor", F::Bitwise, 2, 2, V1, bitwise::bitor),
    f("bitxor", F::Bitwise, 2, 2, V1, bitwise::bitxor),
    f("bitnot", F::Bitwise, 1, 1, V1, bitwise::bitnot),
    // String (19).
    f("chr", F::String, 1, 1, V1, string::chr),
    FunctionDef {
        max_args: None,
        ..f("concat", F::String, 0, 0, V1, string::concat)
    },
    f("endswith", F::String, 2, 2, V1, string::endswith),
    f("indexof", F::String, 2, 2, V2, string::indexof),
    f("length", F::String, 1, 1, V2, string::length),
    f("lower", F::String, 1, 1, V1, string::lower),
    f("lpad", F::String, 2, 2, V1, string::lpad),
    f("ltrim", F::String, 1, 1, V1, string::ltrim),
    f("numbytes", F::String, 1, 1, V2, string::numbytes),
    f(
        "regexp_matches",
        F::String,
        2,
        2,
        V1,
        string::regexp_matches,
    ),
    f(
        "regexp_replace",
        F::String,
        3,
        3,
        V1,
        string::regexp_replace,
    ),
    f("regexp_substr", F::String, 2, 2, V1, string::regexp_substr),
    f("replace", F::String, 3, 3, V1, string::replace),
    f("rpad", F::String, 2, 2, V1, string::rpad),
    f("rtrim", F::String, 1, 1, V1, string::rtrim),
    f("startswith", F::String, 2, 2, V1, string::startswith),
    f("substring", F::String, 2, 3, V1, string::substring),
    f("trim", F::String, 1, 1, V1, string::trim),
    f("upper", F::String, 1, 1, V1, string::upper),
    // Types and collections (6 with transform).
    FunctionDef {
        special_syntax: true,
        ..f("cast", F::Types, 2, 2, V1, types::cast_fn)
    },
    f("get", F::Types, 2, 2, V1, types::get),
    FunctionDef {
        catches_first_arg_errors: true,
        ..f("get_or_default", F::Types, 1, 2, V2, types::get_or_default)
    },
    f("isNull", F::Types, 1, 1, V1, types::is_null),
    f("isUndefined", F::Types, 1, 1, V2, types::is_undefined),
    f("transform", F::Types, 3, 3, V2, types::transform_fn),
    // Encoding and hashing (9). `decode` takes 6 arguments with the Protobuf scheme.
    f("encode", F::Encoding, 2, 2, V2, encoding::encode),
    f("decode", F::Encoding, 2, 6, V2, encoding::decode),
    f("md2", F::Encoding, 1, 1, V1, encoding::md2),
    f("md5", F::Encoding, 1, 1, V1, encoding::md5),
    f("sha1", F::Encoding, 1, 1, V1, encoding::sha1),
    f("sha224", F::Encoding, 1, 1, V1, encoding::sha224),
    f("sha256", F::Encoding, 1, 1, V1, encoding::sha256),
    f("sha384", F::Encoding, 1, 1, V1, encoding::sha384),
    f("sha512", F::Encoding, 1, 1, V1, encoding::sha512),
    // Time (3).
    f("parse_time", F::Time, 2, 3, V2, time::parse_time),
    f("time_to_epoch", F::Time, 2, 2, V2, time::time_to_epoch),
    f("timestamp", F::Time, 0, 0, V1, time::timestamp),
    // Message context (10).
    f("accountid", F::Context, 0, 0, V1, context::accountid),
    f("clientid", F::Context, 0, 0, V1, context::clientid),
    f(
        "get_mqtt_property",
        F::Context,
        1,
        1,
        V1,
        context::get_mqtt_property,
    ),
    f(
        "get_user_properties",
        F::Context,
        1,
        1,
        V1,
        context::get_user_properties,
    ),
    f("newuuid", F::Context, 0, 0, V1, context::newuuid),
    f("principal", F::Context, 0, 0, V1, context::principal),
    f("sourceip", F::Context, 0, 0, V2, context::sourceip),
    f("sql_version", F::Context, 0, 0, V1, context::sql_version),
    f("topic", F::Context, 0, 1, V1, context::topic),
    f("traceid", F::Context, 0, 0, V1, context::traceid),
    // External lookups (6).
    external(f("aws_lambda", F::Lookup, 2, 2, V1, lookups::aws_lambda)),
    external(f(
        "get_dynamodb",
        F::Lookup,
        4,
        6,
        V2,
        lookups::get_dynamodb,
    )),
    external(f(
        "get_registry_data",
        F::Lookup,
        3,
        3,
        V2,
        lookups::get_registry_data,
    )),
    external(f("get_secret", F::Lookup, 3, 4, V1, lookups::get_secret)),
    external(f(
        "get_thing_shadow",
        F::Lookup,
        2,
        3,
        V2,
        lookups::get_thing_shadow,
    )),
    FunctionDef {
        supported: false,
        ..external(f(
            "machinelearning_predict",
            F::Lookup,
            3,
            3,
            V1,
            lookups::machinelearning_predict,
        ))
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_82_documented_functions_are_registered_once() {
        assert_eq!(FUNCTIONS.len(), 82);
        let mut names: Vec<_> = FUNCTIONS.iter().map(|f| f.name.to_lowercase()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), 82);
        let count = |family| FUNCTIONS.iter().filter(|f| f.family == family).count();
        assert_eq!(
            [
                count(F::Math),
                count(F::Bitwise),
                count(F::String),
                count(F::Types),
                count(F::Encoding),
                count(F::Time),
                count(F::Context),
                count(F::Lookup)
            ],
            [25, 4, 19, 6, 9, 3, 10, 6]
        );
    }

    #[test]
    fn names_resolve_case_insensitively() {
        assert_eq!(resolve("Round", 1, V1).unwrap().name, "round");
        assert_eq!(resolve("ISNULL", 1, V1).unwrap().name, "isNull");
        assert_eq!(resolve("nanvl", 2, V1).unwrap().name, "nanvl");
    }

    #[test]
    fn resolve_checks_name_support_version_and_arity() {
        assert_eq!(
            resolve("nope", 1, V2).unwrap_err(),
            ResolveError::Unknown("nope".into())
        );
        assert_eq!(
            resolve("machinelearning_predict", 3, V2).unwrap_err(),
            ResolveError::Unsupported("machinelearning_predict")
        );
        assert_eq!(
            resolve("length", 1, V1).unwrap_err(),
            ResolveError::Version {
                name: "length",
                since: V2
            }
        );
        assert!(resolve("length", 1, SqlVersion::Beta).is_ok());
        let err = resolve("substring", 1, V1).unwrap_err();
        assert_eq!(
            err.to_string(),
            "function substring takes 2 to 3 arguments, not 1"
        );
        assert_eq!(
            resolve("abs", 2, V1).unwrap_err().to_string(),
            "function abs takes 1 arguments, not 2"
        );
        assert!(resolve("concat", 0, V1).is_ok());
        assert!(resolve("concat", 9, V1).is_ok());
    }

    #[test]
    fn foldable_functions_exclude_context_time_and_randomness() {
        let foldable = |n: &str| lookup(n).unwrap().depends_only_on_args();
        assert!(foldable("upper") && foldable("parse_time") && foldable("cast"));
        for n in [
            "rand",
            "newuuid",
            "timestamp",
            "topic",
            "clientid",
            "get_thing_shadow",
        ] {
            assert!(!foldable(n), "{n}");
        }
    }

    #[test]
    fn external_calls_are_marked() {
        let external: Vec<_> = FUNCTIONS
            .iter()
            .filter(|f| f.external)
            .map(|f| f.name)
            .collect();
        assert_eq!(
            external,
            [
                "aws_lambda",
                "get_dynamodb",
                "get_registry_data",
                "get_secret",
                "get_thing_shadow",
                "machinelearning_predict"
            ]
        );
    }
}
