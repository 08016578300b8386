//! awsQuery request decoding: form parameters into typed inputs (serde).
