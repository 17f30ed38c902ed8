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
