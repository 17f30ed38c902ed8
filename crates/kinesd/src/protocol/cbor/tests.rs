use proptest::prelude::*;

use super::*;

fn decode(bytes: &[u8]) -> Result<Value, CborError> {
    parse(&Bytes::copy_from_slice(bytes))
}

fn ok(bytes: &[u8]) -> Value {
    decode(bytes).unwrap_or_else(|e| panic!("{bytes:02x?}: {e:?}"))
}

fn err(bytes: &[u8]) -> String {
    match decode(bytes) {
        Err(CborError(m)) => m,
        Ok(v) => panic!("{bytes:02x?} decoded to {v:?}"),
    }
}

fn encode(f: impl FnOnce(&mut CborEncoder)) -> Vec<u8> {
    let mut e = CborEncoder::with_capacity(16);
    f(&mut e);
    e.finish()
}

fn text(s: &str) -> Value {
    Value::String(s.to_owned())
}

#[test]
fn integers_of_every_width() {
    assert_eq!(ok(&[0x00]), Value::Int(0));
    assert_eq!(ok(&[0x17]), Value::Int(23));
    assert_eq!(ok(&[0x18, 0x18]), Value::Int(24));
    assert_eq!(ok(&[0x19, 0x01, 0x00]), Value::Int(256));
    assert_eq!(ok(&[0x1a, 0x00, 0x01, 0x00, 0x00]), Value::Int(65536));
    assert_eq!(ok(&[0x1b, 0, 0, 0x01, 0xa0, 0x13, 0xac, 0xcc, 0x38]), Value::Int(1_787_036_486_712));
    assert_eq!(ok(&[0x1b, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]), Value::Int(i64::MAX));
    assert_eq!(ok(&[0x20]), Value::Int(-1));
    assert_eq!(ok(&[0x38, 0xff]), Value::Int(-256));
    assert_eq!(ok(&[0x3b, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]), Value::Int(i64::MIN));
    // Beyond i64: a Float, as the JSON decoder answers numbers beyond i64.
    assert_eq!(ok(&[0x1b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]), Value::Float(u64::MAX as f64));
    assert_eq!(ok(&[0x3b, 0x80, 0, 0, 0, 0, 0, 0, 0]), Value::Float(-1.0 - 9_223_372_036_854_775_808.0));
}

#[test]
fn floats_of_every_width_and_simple_values() {
    assert_eq!(ok(&[0xf9, 0x3c, 0x00]), Value::Float(1.0));
    assert_eq!(ok(&[0xf9, 0xc4, 0x00]), Value::Float(-4.0));
    assert_eq!(ok(&[0xf9, 0x00, 0x01]), Value::Float(5.960464477539063e-8));
    assert_eq!(ok(&[0xf9, 0x7c, 0x00]), Value::Float(f64::INFINITY));
    assert!(matches!(ok(&[0xf9, 0x7e, 0x00]), Value::Float(f) if f.is_nan()));
    assert_eq!(ok(&[0xfa, 0x47, 0xc3, 0x50, 0x00]), Value::Float(100000.0));
    assert_eq!(ok(&[0xfb, 0x3f, 0xf1, 0x99, 0x99, 0x99, 0x99, 0x99, 0x9a]), Value::Float(1.1));
    assert_eq!(ok(&[0xf4]), Value::Bool(false));
    assert_eq!(ok(&[0xf5]), Value::Bool(true));
    assert_eq!(ok(&[0xf6]), Value::Null);
    assert_eq!(ok(&[0xf7]), Value::Null);
    assert!(err(&[0xf0]).contains("unsupported simple value"));
    assert!(err(&[0xf8, 0x20]).contains("unsupported simple value"));
}

#[test]
fn strings_definite_and_indefinite() {
    assert_eq!(ok(b"\x63abc"), text("abc"));
    assert_eq!(ok(&[0x7f, 0x62, b'a', b'b', 0x61, b'c', 0xff]), text("abc"));
    assert_eq!(ok(&[0x7f, 0xff]), text(""));
    assert_eq!(ok(&[0x43, 1, 2, 3]), Value::Blob(Bytes::from_static(&[1, 2, 3])));
    assert_eq!(ok(&[0x5f, 0x42, 1, 2, 0x41, 3, 0xff]), Value::Blob(Bytes::from_static(&[1, 2, 3])));
    assert!(err(&[0x5f, 0x61, b'a', 0xff]).contains("chunk of another type"));
    assert!(err(&[0x7f, 0x7f, 0xff, 0xff]).contains("nested indefinite-length string"));
    assert!(err(&[0x62, 0xc3, 0x28]).contains("not valid UTF-8"));
    // A character split across chunks is invalid: each chunk must be UTF-8 on its own.
    assert!(err(&[0x7f, 0x61, 0xc3, 0x61, 0xa9, 0xff]).contains("not valid UTF-8"));
}

#[test]
fn definite_byte_strings_are_slices_of_the_body() {
    let body = Bytes::from_static(&[0xa1, 0x64, b'D', b'a', b't', b'a', 0x43, 7, 8, 9]);
    let Ok(Value::Map(members)) = parse(&body) else { panic!() };
    let Value::Blob(blob) = &members[0].1 else { panic!() };
    assert_eq!(blob.as_ptr(), body[7..].as_ptr(), "no copy");
}

#[test]
fn containers_definite_and_indefinite() {
    let want =
        Value::Map(vec![("a".into(), Value::List(vec![Value::Int(1), Value::Int(2)])), ("b".into(), Value::Null)]);
    assert_eq!(ok(&[0xa2, 0x61, b'a', 0x82, 1, 2, 0x61, b'b', 0xf6]), want);
    assert_eq!(ok(&[0xbf, 0x61, b'a', 0x9f, 1, 2, 0xff, 0x61, b'b', 0xf6, 0xff]), want);
    // An indefinite-length key, as a streaming encoder may write it.
    assert_eq!(ok(&[0xbf, 0x7f, 0x61, b'a', 0xff, 0x80, 0xff]), Value::Map(vec![("a".into(), Value::List(vec![]))]));
}

#[test]
fn tags() {
    // Tag 1 around integer milliseconds, as the Java SDKs write it.
    assert_eq!(ok(&[0xc1, 0x1b, 0, 0, 0x01, 0xa0, 0x13, 0xac, 0xcc, 0x38]), Value::Timestamp(1_787_036_486_712));
    // Around a float: milliseconds too, truncated as Jackson's getLongValue does.
    assert_eq!(ok(&[0xc1, 0xfb, 0x42, 0x78, 0xbc, 0xfe, 0x56, 0x87, 0xfe, 0x66]), Value::Timestamp(1_700_000_000_127));
    // Other tags are ignored: the content stands for itself.
    assert_eq!(ok(&[0xc2, 0x42, 1, 2]), Value::Blob(Bytes::from_static(&[1, 2])));
    assert_eq!(ok(&[0xd8, 0x20, 0x61, b'u']), text("u"));
    // Tag 1 around a string is left to the typed conversion to refuse.
    assert_eq!(ok(&[0xc1, 0x61, b'x']), text("x"));
}

#[test]
fn malformed_input_is_an_error_never_a_panic() {
    let cases: &[(&[u8], &str)] = &[
        (&[], "truncated"),
        (&[0xa1, 0x61], "truncated"),
        (&[0xa1, 0x61, b'a'], "truncated"),
        (&[0x19, 0x01], "truncated"),
        (&[0x5a, 0xff, 0xff, 0xff, 0xff, 1], "declares 4294967295 bytes but only 1 remain"),
        (&[0x9b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], "truncated"),
        (&[0xbf, 0x61, b'a', 1], "indefinite-length item"),
        (&[0x1c], "reserved additional information 28"),
        (&[0x5d], "reserved additional information 29"),
        (&[0xfe], "reserved additional information 30"),
        (&[0xff], "a break (0xff) outside"),
        (&[0x82, 1, 0xff], "a break (0xff) outside"),
        (&[0xa1, 0x01, 0x02], "map key at offset 1 is not a text string"),
        (&[0xa1, 0x41, b'a', 0x02], "is not a text string"),
        (&[0x1f], "integer or tag of indefinite length"),
        (&[0xdf, 0x01], "integer or tag of indefinite length"),
        (&[0xa0, 0x00], "unexpected bytes after the top-level item at offset 1"),
    ];
    for (bytes, want) in cases {
        let m = err(bytes);
        assert!(m.contains(want), "{bytes:02x?}: {m}");
    }
}

#[test]
fn nesting_is_bounded() {
    let nested = |levels: usize| {
        let mut v = vec![0x81; levels];
        v.push(0x00);
        v
    };
    assert!(decode(&nested(MAX_DEPTH)).is_ok());
    assert!(err(&nested(MAX_DEPTH + 1)).contains("deeper than 64 levels"));
    // Far beyond: refused before any stack trouble; tags count as levels too.
    assert!(err(&vec![0xc6; 100_000]).contains("deeper than"));
    assert!(err(&vec![0x9f; 100_000]).contains("deeper than"));
}

#[test]
fn encoder_bytes() {
    // Integers in the shortest form.
    assert_eq!(encode(|e| e.int(0)), [0x00]);
    assert_eq!(encode(|e| e.int(23)), [0x17]);
    assert_eq!(encode(|e| e.int(24)), [0x18, 24]);
    assert_eq!(encode(|e| e.int(500)), [0x19, 0x01, 0xf4]);
    assert_eq!(encode(|e| e.int(70_000)), [0x1a, 0, 1, 0x11, 0x70]);
    assert_eq!(encode(|e| e.int(-1)), [0x20]);
    assert_eq!(encode(|e| e.int(-25)), [0x38, 24]);
    assert_eq!(encode(|e| e.int(i64::MIN)), [0x3b, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
    // Timestamps: tag 1 + integer milliseconds, never a float.
    assert_eq!(encode(|e| e.timestamp(1_787_036_486_712)), [0xc1, 0x1b, 0, 0, 0x01, 0xa0, 0x13, 0xac, 0xcc, 0x38]);
    assert_eq!(encode(|e| e.timestamp(5)), [0xc1, 0x05]);
    // Blobs are byte strings, text is text.
    assert_eq!(encode(|e| e.blob(b"\x00hi")), [0x43, 0, b'h', b'i']);
    assert_eq!(encode(|e| e.blob(&[7; 24]))[..2], [0x58, 24]);
    assert_eq!(encode(|e| e.string("49")), [0x62, b'4', b'9']);
    assert_eq!(encode(|e| e.bool(true)), [0xf5]);
    assert_eq!(encode(|e| e.null()), [0xf6]);
    let doc = encode(|e| {
        e.begin_struct();
        e.field("A");
        e.begin_list(2);
        e.int(1);
        e.begin_struct();
        e.end_struct();
        e.end_list();
        e.end_struct();
    });
    assert_eq!(doc, [0xbf, 0x61, b'A', 0x82, 0x01, 0xbf, 0xff, 0xff]);
}

fn write(e: &mut CborEncoder, v: &Value) {
    match v {
        Value::Null => e.null(),
        Value::Bool(b) => e.bool(*b),
        Value::Int(i) => e.int(*i),
        Value::Float(_) => unreachable!("the encoder writes no floats"),
        Value::String(s) => e.string(s),
        Value::Blob(b) => e.blob(b),
        Value::Timestamp(ms) => e.timestamp(*ms),
        Value::List(items) => {
            e.begin_list(items.len());
            items.iter().for_each(|item| write(e, item));
            e.end_list();
        }
        Value::Map(members) => {
            e.begin_struct();
            for (k, item) in members {
                e.field(k);
                write(e, item);
            }
            e.end_struct();
        }
    }
}

fn values() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::Int),
        ".{0,30}".prop_map(Value::String),
        proptest::collection::vec(any::<u8>(), 0..300).prop_map(|b| Value::Blob(Bytes::from(b))),
        any::<i64>().prop_map(Value::Timestamp),
    ];
    leaf.prop_recursive(5, 64, 8, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..8).prop_map(Value::List),
            proptest::collection::vec((".{0,10}", inner), 0..8).prop_map(Value::Map),
        ]
    })
}

proptest! {
    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let _ = decode(&bytes);
    }

    #[test]
    fn random_bytes_after_a_map_header_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let mut body = vec![0xbf];
        body.extend_from_slice(&bytes);
        let _ = decode(&body);
    }

    #[test]
    fn encoding_then_decoding_round_trips(v in values()) {
        let mut e = CborEncoder::with_capacity(64);
        write(&mut e, &v);
        prop_assert_eq!(decode(&e.finish()), Ok(v));
    }
}

fn put_records_generic(body: &Bytes) -> crate::protocol::model::PutRecordsInput {
    use crate::protocol::FromValue;
    crate::protocol::model::PutRecordsInput::from_value(parse(body).unwrap()).unwrap().unwrap()
}

#[test]
fn the_put_records_fast_path_agrees_with_the_generic_path() {
    let bodies: &[&[u8]] = &[
        // {"StreamName":"s","Records":[{"Data":h'0001',"PartitionKey":"a"},{..,"ExplicitHashKey":"7"}]}
        b"\xbf\x6aStreamName\x61s\x67Records\x9f\xbf\x64Data\x42\x00\x01\x6cPartitionKey\x61a\xff\
          \xa3\x64Data\x40\x6cPartitionKey\x61b\x6fExplicitHashKey\x617\xff\xff",
        // Definite forms, an unknown member with nested content, a null member.
        b"\xa3\x69StreamARN\x61x\x67Records\x81\xa2\x64Data\x41\x09\x65Extra\xa1\x61y\x82\x01\xf6\x68StreamId\xf6",
        b"\xa1\x6aStreamName\xf6",
        b"\xa0",
    ];
    for body in bodies {
        let body = Bytes::copy_from_slice(body);
        assert_eq!(put_records(&body), Some(put_records_generic(&body)), "{body:02x?}");
    }
    // Data is a slice of the body.
    let body = Bytes::copy_from_slice(bodies[0]);
    let input = put_records(&body).unwrap();
    let data = input.records.unwrap()[0].data.clone().unwrap();
    assert!(body.as_ptr_range().contains(&data.as_ptr()));
}

#[test]
fn both_paths_bound_nesting_alike() {
    // An unknown member of a record nested to the bound exactly, then one level more.
    let body = |extra: usize| {
        let mut b = b"\xa1\x67Records\x81\xa1\x65Extra".to_vec();
        b.extend(std::iter::repeat_n(0x81, MAX_DEPTH - 3 + extra));
        b.push(0x00);
        Bytes::from(b)
    };
    assert!(parse(&body(0)).is_ok());
    assert!(put_records(&body(0)).is_some());
    assert!(parse(&body(1)).is_err());
    assert_eq!(put_records(&body(1)), None);
    // At the top level too.
    let top = |extra: usize| {
        let mut b = b"\xa1\x65Extra".to_vec();
        b.extend(std::iter::repeat_n(0x81, MAX_DEPTH - 1 + extra));
        b.push(0x00);
        Bytes::from(b)
    };
    assert!(parse(&top(0)).is_ok() && put_records(&top(0)).is_some());
    assert!(parse(&top(1)).is_err() && put_records(&top(1)).is_none());
}

#[test]
fn anything_unusual_leaves_put_records_to_the_generic_path() {
    let bodies: &[&[u8]] = &[
        b"\xa1\x67Records\x81\xf6",                         // a null record
        b"\xa1\x67Records\x81\xa1\x64Data\x64aGk=",         // base64 text for Data
        b"\xa1\x67Records\x81\xa1\x64Data\x5f\x41\x01\xff", // an indefinite byte string
        b"\xa2\x6aStreamName\x61a\x6aStreamName\x61b",      // a duplicate member
        b"\xa1\x67Records\x61x",                            // a wrong type
        b"\xa1\x6aStreamName\x61a\x00",                     // trailing bytes
        b"\xa1\x6aStreamName",                              // truncated
        b"\xa1\x01\x02",                                    // a key that is not text
        b"\x80",                                            // not a map
    ];
    for body in bodies {
        assert_eq!(put_records(&Bytes::copy_from_slice(body)), None, "{body:02x?}");
    }
}
