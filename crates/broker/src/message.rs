//! The in-process message lives in `ferrite-types`; the broker reads wall time through the
//! broker's clock.

pub use ferrite_types::Message;

pub fn now_ms() -> i64 {
    ferrite_types::clock::system_now_ms()
}
