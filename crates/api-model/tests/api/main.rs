//! Black-box tests of the protocol layer over the real model tables, in one binary to keep
//! link time down.

mod decoding;
mod encoding;
mod model;
mod routing;
mod validation;
