//! kinesd's own HTTP routes (not Kinesis operations): `GET/PUT/DELETE /_kinesd/faults` reads,
//! replaces and clears the fault rules while the server runs, in JSON of the `--faults`
//! file's shape (`{"fault": [...]}`), so a test can switch faults on and off around one step.
//!
//! Accepted only from loopback: kinesd has no credentials to check yet. When SigV4
//! verification lands, a request signed by a configured credential is the other way in
//! ([`allowed`] is the one place to change).

use serde_json::json;

use super::faults::{Faults, RuleSet};
use crate::protocol::ReplyBody;
use crate::protocol::wire::{AdminRequest, BodyError, Peer, WireResponse};

pub const FAULTS_PATH: &str = "/_kinesd/faults";

/// Whether the peer may use the admin routes.
fn allowed(peer: &Peer) -> bool {
    peer.addr.ip().to_canonical().is_loopback()
}

/// A JSON answer of kinesd's own routes.
pub(super) fn json_response(status: u16, body: serde_json::Value) -> WireResponse {
    WireResponse {
        status,
        content_type: Some("application/json"),
        error_type: None,
        body: ReplyBody::Encoded(body.to_string().into_bytes()),
    }
}

fn rules_body(faults: &Faults) -> serde_json::Value {
    json!({ "fault": faults.rules().fault, "seed": faults.seed() })
}

/// The answer to an admin request, or `None` for a path that is not an admin route.
pub fn handle(faults: &Faults, request: AdminRequest<'_>) -> Option<WireResponse> {
    if request.path != FAULTS_PATH {
        return None;
    }
    if !allowed(&request.peer) {
        return Some(json_response(403, json!({ "message": "the admin endpoint answers loopback clients only" })));
    }
    Some(match request.method {
        "GET" => json_response(200, rules_body(faults)),
        "PUT" => {
            let body = match request.body {
                Ok(body) => body,
                Err(BodyError::TooLarge(limit)) => {
                    return Some(json_response(413, json!({ "message": format!("body larger than {limit} bytes") })));
                }
                Err(BodyError::Unreadable(why)) => return Some(json_response(400, json!({ "message": why }))),
            };
            match RuleSet::from_json(body).and_then(|rules| faults.replace(rules)) {
                Ok(()) => json_response(200, rules_body(faults)),
                Err(why) => json_response(400, json!({ "message": why })),
            }
        }
        "DELETE" => {
            let _ = faults.replace(RuleSet::default());
            json_response(200, rules_body(faults))
        }
        _ => json_response(405, json!({ "message": "GET, PUT or DELETE" })),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request<'a>(method: &'a str, body: &'a Result<bytes::Bytes, BodyError>, ip: &str) -> AdminRequest<'a> {
        let addr = std::net::SocketAddr::new(ip.parse().unwrap(), 40000);
        AdminRequest { method, path: FAULTS_PATH, body, peer: Peer { addr, connection: 1 } }
    }

    #[test]
    fn only_loopback_clients_may_change_the_rules() {
        let faults = Faults::new(Some(1));
        let body = Ok(bytes::Bytes::from_static(br#"{"fault":[{"error":"InternalFailure"}]}"#));
        for ip in ["10.1.2.3", "192.168.0.7", "2001:db8::1"] {
            let refused = handle(&faults, request("PUT", &body, ip)).unwrap();
            assert_eq!(refused.status, 403, "{ip}");
        }
        assert!(faults.is_empty(), "nothing changed");
        for ip in ["127.0.0.1", "::1", "::ffff:127.0.0.1"] {
            assert_eq!(handle(&faults, request("PUT", &body, ip)).unwrap().status, 200, "{ip}");
        }
        assert!(!faults.is_empty());
    }

    #[test]
    fn other_paths_are_not_admin_routes() {
        let faults = Faults::new(None);
        let body = Ok(bytes::Bytes::new());
        let mut other = request("GET", &body, "127.0.0.1");
        other.path = "/_kinesd/other";
        assert!(handle(&faults, other).is_none());
    }
}
