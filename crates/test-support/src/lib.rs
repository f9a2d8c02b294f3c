//! Test helpers: in-process server on port 0, MQTT test client with timeouts
