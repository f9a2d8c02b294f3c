//! The authorizer over a real registry (embedded store in a temporary directory, its reads
//! counted), driven in-process through the broker's `Authorizer` seam: connections that the
//! registry's changes reach, and what those changes cost.

mod fixture;
mod live_changes;
mod scale;
