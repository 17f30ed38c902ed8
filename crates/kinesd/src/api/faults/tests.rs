use super::*;
use crate::wildcard;

fn rules(toml: &str) -> Result<Faults, String> {
    let faults = Faults::new(Some(7));
    faults.replace(RuleSet::from_toml(toml)?)?;
    Ok(faults)
}

#[test]
fn globs_match_runs_and_single_characters() {
    assert!(wildcard::matches("faulty-*", "faulty-orders", false));
    assert!(wildcard::matches("faulty-*", "faulty-", false));
    assert!(!wildcard::matches("faulty-*", "orders", false));
    assert!(wildcard::matches("*-?", "a-b", false));
    assert!(!wildcard::matches("*-?", "a-bc", false));
    assert!(wildcard::matches("*a*b*", "xxaxxbxx", false));
    assert!(wildcard::matches("exact", "exact", false));
    assert!(!wildcard::matches("exact", "exactly", false));
}

#[test]
fn the_issues_example_parses_and_applies_to_putrecords_on_matching_streams() {
    let faults = rules(
        r#"
        [[fault]]
        operations = ["PutRecords"]
        streams = "faulty-*"
        error = "InternalFailure"
        record_probability = 0.5
        "#,
    )
    .unwrap();
    assert!(faults.records("orders").is_none(), "other streams untouched");
    let decide = faults.records("faulty-1").expect("matches");
    let failed = (0..1000).filter(|_| decide.decide(0).is_some()).count();
    assert!((400..600).contains(&failed), "about half: {failed}");
    assert!(faults.on_call("PutRecords", Some("faulty-1"), None).error.is_none(), "per record, not per call");
}

#[test]
fn whole_call_errors_and_latency() {
    let faults = rules(
        r#"
        [[fault]]
        operations = ["DescribeStreamSummary"]
        error = "LimitExceededException"
        [[fault]]
        operations = ["GetRecords"]
        latency_ms = [100, 200]
        [[fault]]
        operations = ["GetShardIterator"]
        shards = ["shardId-000000000001"]
        error = "ProvisionedThroughputExceededException"
        "#,
    )
    .unwrap();
    assert_eq!(
        faults.on_call("DescribeStreamSummary", Some("s"), None).error.as_deref(),
        Some("LimitExceededException")
    );
    let latency = faults.on_call("GetRecords", Some("s"), Some(0)).latency.unwrap();
    assert!((100..=200).contains(&(latency.as_millis() as u64)));
    assert!(faults.on_call("GetShardIterator", Some("s"), Some(0)).error.is_none());
    assert!(faults.on_call("GetShardIterator", Some("s"), Some(1)).error.is_some());
    assert!(faults.on_call("ListStreams", None, None).error.is_none());
}

#[test]
fn a_rule_without_operations_applies_where_its_error_can_be_returned() {
    let faults = rules("[[fault]]\nerror = \"ExpiredIteratorException\"\n").unwrap();
    assert!(faults.on_call("GetRecords", None, None).error.is_some());
    assert!(faults.on_call("ListStreams", None, None).error.is_none());
}

#[test]
fn lenient_shapes_one_name_or_many_and_latency_with_an_error() {
    let faults = rules(
        r#"
        [[fault]]
        operations = "ListStreams"
        latency_ms = 5
        error = "ServiceUnavailable"
        probability = 1.0
        [[fault]]
        streams = ["a-*", "b-*"]
        latency_ms = 7
        "#,
    )
    .unwrap();
    let call = faults.on_call("ListStreams", None, None);
    assert_eq!((call.latency, call.error.as_deref()), (Some(Duration::from_millis(5)), Some("ServiceUnavailable")));
    assert_eq!(faults.on_call("GetRecords", Some("b-1"), None).latency, Some(Duration::from_millis(7)));
    assert_eq!(faults.on_call("GetRecords", Some("c-1"), None).latency, None);
    let text = serde_json::to_string(&faults.rules()).unwrap();
    assert!(text.contains(r#""operations":"ListStreams""#) && text.contains(r#""streams":["a-*","b-*"]"#), "{text}");
}

#[test]
fn seeded_draws_repeat() {
    let draws = || {
        let faults = rules("[[fault]]\nerror = \"InternalFailure\"\nrecord_probability = 0.3\n").unwrap();
        let decide = faults.records("s").unwrap();
        (0..64).map(|_| decide.decide(0).is_some()).collect::<Vec<_>>()
    };
    assert_eq!(draws(), draws());
}

#[test]
fn bad_rules_are_refused_with_a_reason_and_leave_the_rules_in_force() {
    for (toml, why) in [
        ("[[fault]]\noperations = [\"Nope\"]\nerror = \"InternalFailure\"", "unknown operation"),
        ("[[fault]]\nerror = \"NoSuchError\"", "not an error type"),
        ("[[fault]]\noperations = [\"ListStreams\"]\nerror = \"ResourceNotFoundException\"", "cannot return"),
        (
            "[[fault]]\noperations = [\"GetRecords\"]\nerror = \"InternalFailure\"\nrecord_probability = 0.5",
            "PutRecords only",
        ),
        ("[[fault]]\nerror = \"LimitExceededException\"\nrecord_probability = 0.5", "not LimitExceeded"),
        ("[[fault]]\nerror = \"InternalFailure\"\nprobability = 1.5", "between 0 and 1"),
        ("[[fault]]\nlatency_ms = [500, 100]", "low <= high"),
        ("[[fault]]\nlatency_ms = 10\nrecord_probability = 0.5", "needs an `error`"),
        ("[[fault]]\nstreams = \"x\"", "no effect"),
        ("[[fault]]\nbogus = 1", "unknown field"),
    ] {
        let e = rules(toml).err().unwrap_or_else(|| panic!("{toml} accepted"));
        assert!(e.contains(why), "{toml}: {e}");
    }
    let faults = rules("[[fault]]\nerror = \"InternalFailure\"").unwrap();
    assert!(faults.replace(RuleSet::from_toml("[[fault]]\nerror = \"Nope\"").unwrap()).is_err());
    assert!(!faults.is_empty(), "the old rules stay");
}

#[test]
fn rules_read_back_as_json_of_the_same_shape() {
    let text = r#"{"fault":[{"operations":["PutRecords"],"streams":"faulty-*","error":"InternalFailure","record_probability":0.5},{"latency_ms":[1,2]}]}"#;
    let set = RuleSet::from_json(text.as_bytes()).unwrap();
    assert_eq!(serde_json::to_string(&set).unwrap(), text);
}

/// The table of errors per operation is the service model's, operation by operation.
#[test]
fn each_operations_errors_are_the_models() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../model/kinesis-2013-12-02.json");
    let model: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let operations = model["operations"].as_object().unwrap();
    assert!(operations.len() > 30);
    for (name, op) in operations {
        let mut modeled: Vec<&str> =
            op["errors"].as_array().unwrap().iter().map(|e| e["shape"].as_str().unwrap()).collect();
        let (listed, kms) = modeled_errors(name);
        let mut ours: Vec<&str> = listed.to_vec();
        if kms {
            ours.extend_from_slice(KMS_ERRORS);
        }
        modeled.sort_unstable();
        ours.sort_unstable();
        assert_eq!(ours, modeled, "{name}");
        for error in modeled {
            assert!(KinesisError::injected(error, None, None, "000000000000").is_some(), "{error} can be injected");
        }
    }
}
