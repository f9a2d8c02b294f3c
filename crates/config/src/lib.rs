//! The versioned configuration model, defaults and validation
