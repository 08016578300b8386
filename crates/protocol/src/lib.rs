//! AWS wire protocols: SigV4 verification, the awsQuery / awsJson / restXml / restJson
//! codecs and AWS's error bodies. Knows HTTP shapes (the `http` crate) but nothing of any
//! service's logic.

pub mod json;
pub mod query;
pub mod sigv4;
pub mod xml;
