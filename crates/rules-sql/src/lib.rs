//! AWS IoT SQL as text: the lexer, the parser and the AST (with source spans and a `Display`
//! that prints SQL the parser reads back), bounded in depth, for each SQL version AWS offers.
//! Pure and synchronous; evaluation lives in the `rules` crate.

mod version;

pub use version::SqlVersion;
