//! Encoding replies and errors for each AWS protocol.

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::Response;
use palisade_protocol::{sigv4::ProtocolFamily, xml};
use palisade_services::{ApiError, Protocol, ServiceInfo};

pub type HttpResponse = Response<Full<Bytes>>;

pub fn family(protocol: Protocol) -> ProtocolFamily {
    match protocol {
        Protocol::Query => ProtocolFamily::Query,
        Protocol::Json10 | Protocol::Json11 => ProtocolFamily::Json,
        Protocol::RestXml => ProtocolFamily::RestXml,
        Protocol::RestJson => ProtocolFamily::RestJson,
    }
}

fn content_type(family: ProtocolFamily, protocol: Option<Protocol>) -> &'static str {
    match (family, protocol) {
        (_, Some(Protocol::Json10)) => "application/x-amz-json-1.0",
        (ProtocolFamily::Json, _) => "application/x-amz-json-1.1",
        (ProtocolFamily::RestJson, _) => "application/json",
        _ => "text/xml",
    }
}

fn response(status: u16, ctype: &'static str, request_id: &str, body: Vec<u8>) -> HttpResponse {
    let mut resp = Response::new(Full::new(Bytes::from(body)));
    *resp.status_mut() =
        hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
    let h = resp.headers_mut();
    h.insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static(ctype),
    );
    if let Ok(v) = hyper::header::HeaderValue::from_str(request_id) {
        h.insert("x-amzn-RequestId", v);
    }
    resp
}

/// An error in the body shape of `family`.
pub fn error(
    family: ProtocolFamily,
    protocol: Option<Protocol>,
    xmlns: Option<&str>,
    err: &ApiError,
    request_id: &str,
) -> HttpResponse {
    match family {
        ProtocolFamily::Query | ProtocolFamily::RestXml => {
            let body = xml::error_xml(&err.code, &err.message, err.sender_fault, request_id, xmlns);
            response(err.status, "text/xml", request_id, body.into_bytes())
        }
        ProtocolFamily::Json | ProtocolFamily::RestJson => {
            let mut body = serde_json::json!({"__type": err.code, "message": err.message});
            if let (Some(reason), Some(obj)) = (&err.reason, body.as_object_mut()) {
                obj.insert("Reason".into(), serde_json::Value::String(reason.clone()));
            }
            let mut resp = response(
                err.status,
                content_type(family, protocol),
                request_id,
                body.to_string().into_bytes(),
            );
            if let Ok(v) = hyper::header::HeaderValue::from_str(&err.code) {
                resp.headers_mut().insert("x-amzn-ErrorType", v);
            }
            resp
        }
    }
}

/// A successful reply.
pub fn reply(
    service: &ServiceInfo,
    action: &str,
    output: Option<&(dyn erased_serde::Serialize + Send)>,
    request_id: &str,
) -> Result<HttpResponse, ApiError> {
    match service.protocol {
        Protocol::Query => {
            let xmlns = service.xml_namespace.unwrap_or_default();
            let body = xml::to_xml(action, xmlns, output.map(Erased).as_ref(), request_id);
            Ok(response(200, "text/xml", request_id, body.into_bytes()))
        }
        Protocol::Json10 | Protocol::Json11 => {
            let body = match output {
                Some(o) => serde_json::to_vec(o).map_err(ApiError::internal)?,
                None => b"{}".to_vec(),
            };
            Ok(response(
                200,
                content_type(ProtocolFamily::Json, Some(service.protocol)),
                request_id,
                body,
            ))
        }
        Protocol::RestXml | Protocol::RestJson => Err(ApiError::internal(
            "rest protocols arrive with their first service",
        )),
    }
}

/// Lets a type-erased output go where a `Serialize` value is expected.
struct Erased<'a>(&'a (dyn erased_serde::Serialize + Send));

impl serde::Serialize for Erased<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        erased_serde::serialize(self.0, s)
    }
}

/// A JSON reply of the admin plane.
pub fn admin_json(status: u16, body: serde_json::Value, request_id: &str) -> HttpResponse {
    response(
        status,
        "application/json",
        request_id,
        body.to_string().into_bytes(),
    )
}
