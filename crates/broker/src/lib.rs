//! The MQTT broker: sessions, QoS state machines, retained messages, wills, routing
