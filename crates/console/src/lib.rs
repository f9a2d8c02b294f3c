//! Owns serving the web console's static assets: the page built from `console/` (Vite,
//! TypeScript, Preact) is embedded at build time (`build.rs`) and served under `/console`
//! on the API listener. The console holds no privileges of its own: in the browser it signs
//! every call with the account's access keys exactly as any AWS client does, and reaches
//! MQTT through a SigV4-presigned WebSocket URL. The one thing served here besides files is
//! `/console/settings.json`, the facts a browser cannot discover on its own (the region and
//! the WebSocket listeners' ports).

mod assets;
mod serve;

pub use assets::{Asset, asset, content_type, files};
pub use serve::{ConsoleSettings, router};
