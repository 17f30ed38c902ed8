//! Self-checks of the test helpers against the constants in the wire reference, so that a
//! helper bug cannot make the server tests vacuous.

use crate::common::*;
use std::cmp::Ordering;

#[test]
fn md5_hash_key_matches_reference_examples() {
    // Reference 6.4: `pk-1` -> md5 ce1395afc30b98e6746a8236d6420049.
    assert_eq!(md5_hash_key("pk-1"), 0xce1395afc30b98e6746a8236d6420049);
    assert_eq!(md5_hash_key("pk-1").to_string(), "273922656776327812788301823748127981641");
    assert_eq!(md5_hash_key("a").to_string(), "16955237001963240173058271559858726497");
}

#[test]
fn expected_ranges_match_reference() {
    // Reference 6.5 (real AWS 3-shard stream and the N=4 table).
    let r3 = expected_ranges(3);
    assert_eq!(
        r3,
        vec![
            ("0".to_string(), "113427455640312821154458202477256070484".to_string()),
            (
                "113427455640312821154458202477256070485".to_string(),
                "226854911280625642308916404954512140969".to_string()
            ),
            ("226854911280625642308916404954512140970".to_string(), MAX_HASH_KEY.to_string()),
        ]
    );
    let r4 = expected_ranges(4);
    assert_eq!(r4[0], ("0".to_string(), "85070591730234615865843651857942052863".to_string()));
    assert_eq!(
        r4[1],
        ("85070591730234615865843651857942052864".to_string(), "170141183460469231731687303715884105727".to_string())
    );
    assert_eq!(
        r4[2],
        ("170141183460469231731687303715884105728".to_string(), "255211775190703847597530955573826158591".to_string())
    );
    assert_eq!(r4[3], ("255211775190703847597530955573826158592".to_string(), MAX_HASH_KEY.to_string()));
    // 2 shards: split exactly at 2^127.
    assert_eq!(expected_ranges(2)[1].0, "170141183460469231731687303715884105728");
    assert_eq!(expected_ranges(1), vec![("0".to_string(), MAX_HASH_KEY.to_string())]);
    assert_eq!(TWO_POW_128.len(), 39);
}

#[test]
fn seq_cmp_is_big_integer_order() {
    assert_eq!(seq_cmp("9", "10"), Ordering::Less);
    assert_eq!(seq_cmp("49600871682957036442365024926191073437251060580128653314", "9"), Ordering::Greater);
    assert_eq!(seq_cmp("123", "123"), Ordering::Equal);
    assert_eq!(seq_cmp("124", "123"), Ordering::Greater);
}

/// `GET /metrics` of the server at `port`, over a bounded plain HTTP/1.0 exchange.
fn metrics(port: u16) -> String {
    use std::io::{Read, Write};
    let mut conn = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    conn.set_read_timeout(Some(std::time::Duration::from_secs(5))).unwrap();
    write!(conn, "GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").unwrap();
    let mut out = String::new();
    conn.read_to_string(&mut out).unwrap();
    out
}

/// How many successful `operation` requests a node's metrics count.
fn served(metrics: &str, operation: &str) -> u64 {
    let label = format!("kinesd_requests_total{{operation=\"{operation}\",outcome=\"success\"}} ");
    metrics.lines().find_map(|l| l.strip_prefix(label.as_str())).map_or(0, |n| n.trim().parse().unwrap())
}

/// In cluster mode the client really sends its calls to both nodes in turn (else the cluster
/// run would test one node twice); in single-node mode every call reaches the one server.
#[tokio::test]
async fn the_client_alternates_between_the_nodes_in_cluster_mode() {
    let server = Server::start();
    let client = server.client();
    for _ in 0..6 {
        ok(client.list_streams().send().await);
    }
    let ports: Vec<u16> = std::iter::once(server.port).chain(server.peer.as_ref().map(|p| p.port)).collect();
    let counts: Vec<u64> = ports.iter().map(|&p| served(&metrics(p), "ListStreams")).collect();
    assert_eq!(counts, if cluster_mode() { vec![3, 3] } else { vec![6] }, "ListStreams served per node");
}
