//! Micro-benchmarks of the PutRecords/GetRecords hot paths, to run before and after a change:
//!
//!     cargo bench -p kinesd --bench hot_paths                       # full run, ~2 minutes
//!     cargo bench -p kinesd --bench hot_paths -- decode             # one group
//!     cargo bench -p kinesd --bench hot_paths -- --save-baseline before
//!     cargo bench -p kinesd --bench hot_paths -- --baseline before  # compare after a change
//!     cargo bench -p kinesd --bench hot_paths -- --test             # CI: each once, no timing
//!
//! Each group states its throughput in records (elements), so criterion reports records/s and
//! the per-record cost is the time divided by the group's record count. These isolate one
//! stage each; the end-to-end numbers come from `kinesd-bench` (see BENCHMARKS.md).

use std::hint::black_box;
use std::time::{Duration, Instant};

use base64::Engine as _;
use bytes::Bytes;
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};

use kinesd::engine::hash::HashKey;
use kinesd::engine::sequence::SequenceNumber;
use kinesd::protocol::Codec;
use kinesd::protocol::cbor::CborEncoder;
use kinesd::protocol::model::Operation;
use kinesd::protocol::model::{GetRecordsOutput, PutRecordsInput, PutRecordsOutput, PutRecordsResultEntry, Record};
use kinesd::protocol::request;
use kinesd::protocol::validate::{Path, Violations};
use kinesd::protocol::{FromValue, Timestamp, json};
use kinesd::store::memory::MemoryStore;
use kinesd::store::{NewRecord, Store};

/// The benchmark request of issue 5: 500 records of 100 bytes.
const RECORDS: usize = 500;
const RECORD_SIZE: usize = 100;

fn record_data(i: usize) -> Vec<u8> {
    (0..RECORD_SIZE).map(|j| (i * 31 + j * 7) as u8).collect()
}

/// A PutRecords body as SDKs send it: `{"StreamName":..,"Records":[{"Data":..,"PartitionKey":..}]}`.
fn put_records_body() -> Vec<u8> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let records: Vec<String> = (0..RECORDS)
        .map(|i| format!(r#"{{"Data":"{}","PartitionKey":"customer-{i}"}}"#, b64.encode(record_data(i))))
        .collect();
    format!(r#"{{"StreamName":"orders","Records":[{}]}}"#, records.join(",")).into_bytes()
}

/// The same request in CBOR, as the Java SDKs' Jackson generator writes it.
fn put_records_cbor_body() -> Bytes {
    use kinesd::protocol::Encoder;
    let mut e = CborEncoder::with_capacity(RECORDS * (RECORD_SIZE + 40));
    e.begin_struct();
    e.field("StreamName");
    e.string("orders");
    e.field("Records");
    e.begin_list(RECORDS);
    for i in 0..RECORDS {
        e.begin_struct();
        e.field("Data");
        e.blob(&record_data(i));
        e.field("PartitionKey");
        e.string(&format!("customer-{i}"));
        e.end_struct();
    }
    e.end_list();
    e.end_struct();
    Bytes::from(e.finish())
}

fn sequence_number(position: u64) -> SequenceNumber {
    SequenceNumber { shard_created_secs: 1_763_000_000, shard_index: 3, position, arrival_secs: 1_763_000_100 }
}

/// Request decoding: JSON text → `Value` tree → typed input → model validation (the generic
/// path, `all`, and its stages), and the PutRecords fast path the server tries first.
fn decode(c: &mut Criterion) {
    let body = put_records_body();
    let mut group = c.benchmark_group("decode");
    group.throughput(Throughput::Elements(RECORDS as u64));
    group.bench_function("put_records_500x100B/all", |b| {
        b.iter(|| {
            let value = json::parse(black_box(&body)).expect("valid JSON");
            let input = PutRecordsInput::from_value(value).expect("well-typed").expect("present");
            let mut violations = Violations::default();
            input.validate(Path::Root, &mut violations);
            assert!(violations.is_empty());
            input
        })
    });
    // The path the server takes for well-formed JSON PutRecords: straight into the typed input.
    group.bench_function("put_records_500x100B/fast_path_all", |b| {
        b.iter(|| {
            let input = kinesd::protocol::fast::put_records(black_box(&body)).expect("well-formed");
            let mut violations = Violations::default();
            input.validate(Path::Root, &mut violations);
            assert!(violations.is_empty());
            input
        })
    });
    // The server's whole decode step (`request::parse` + `request::input`) for the same request
    // in JSON (fast path) and in CBOR as the Java SDKs write it (indefinite maps, byte strings);
    // docs/decisions/0004-cbor.md compares the two.
    let cbor_body = put_records_cbor_body();
    let json_bytes = Bytes::from(body.clone());
    for (name, codec, bytes) in [("request_json", Codec::Json, &json_bytes), ("request_cbor", Codec::Cbor, &cbor_body)]
    {
        group.bench_function(format!("put_records_500x100B/{name}"), |b| {
            b.iter(|| {
                let parsed = request::parse(codec, Operation::PutRecords, black_box(bytes)).expect("well-formed");
                request::input::<PutRecordsInput>(parsed).expect("valid")
            })
        });
    }
    // A crate's CBOR decoder as a yardstick: ciborium into its own tree, before any typed
    // conversion, against kinesd's generic decoder into `Value`.
    group.bench_function("put_records_500x100B/cbor_tree_ciborium", |b| {
        b.iter(|| ciborium::from_reader::<ciborium::Value, _>(black_box(&cbor_body[..])).expect("valid CBOR"))
    });
    group.bench_function("put_records_500x100B/cbor_tree_kinesd", |b| {
        b.iter(|| kinesd::protocol::cbor::parse(black_box(&cbor_body)).expect("valid CBOR"))
    });
    group.bench_function("put_records_500x100B/json_parse", |b| {
        b.iter(|| json::parse(black_box(&body)).expect("valid JSON"))
    });
    let value = json::parse(&body).expect("valid JSON");
    group.bench_function("put_records_500x100B/from_value", |b| {
        b.iter_batched(
            || value.clone(),
            |value| PutRecordsInput::from_value(value).expect("well-typed"),
            BatchSize::SmallInput,
        )
    });
    let input = PutRecordsInput::from_value(value).expect("well-typed").expect("present");
    group.bench_function("put_records_500x100B/validate", |b| {
        b.iter(|| {
            let mut violations = Violations::default();
            black_box(&input).validate(Path::Root, &mut violations);
            violations.is_empty()
        })
    });
    group.finish();
}

/// Sequence numbers: formatting (every record of every PutRecords and GetRecords answer) and
/// parsing (every AT/AFTER_SEQUENCE_NUMBER iterator).
fn sequence(c: &mut Criterion) {
    let mut group = c.benchmark_group("sequence");
    group.throughput(Throughput::Elements(1));
    let mut out = String::with_capacity(64);
    let mut position = 0u64;
    group.bench_function("write_decimal", |b| {
        b.iter(|| {
            position += 1;
            out.clear();
            black_box(sequence_number(position)).write_decimal(&mut out);
            out.len()
        })
    });
    let text = sequence_number(123_456_789).to_string();
    group.bench_function("parse", |b| b.iter(|| SequenceNumber::parse(black_box(&text)).expect("valid")));
    group.finish();
}

/// Partition key → hash key (MD5), once per record.
fn hashing(c: &mut Criterion) {
    let mut group = c.benchmark_group("hash");
    group.throughput(Throughput::Elements(1));
    group.bench_function("from_partition_key/12B", |b| {
        b.iter(|| HashKey::from_partition_key(black_box("customer-123")))
    });
    let long = "k".repeat(256);
    group.bench_function("from_partition_key/256B", |b| b.iter(|| HashKey::from_partition_key(black_box(&long))));
    group.finish();
}

/// Response encoding: a full PutRecords answer and a GetRecords page.
fn encode(c: &mut Criterion) {
    let mut group = c.benchmark_group("encode");
    let put = PutRecordsOutput {
        failed_record_count: Some(0),
        records: (0..RECORDS as u64)
            .map(|i| PutRecordsResultEntry {
                sequence_number: Some(sequence_number(i).to_string()),
                shard_id: Some(format!("shardId-{:012}", i % 4)),
                error_code: None,
                error_message: None,
            })
            .collect(),
        encryption_type: Some("NONE".into()),
    };
    group.throughput(Throughput::Elements(RECORDS as u64));
    group.bench_function("put_records_output/500", |b| b.iter(|| Codec::Json.encode(black_box(&put), 512)));
    const PAGE: usize = 1_000;
    let get = GetRecordsOutput {
        records: (0..PAGE)
            .map(|i| Record {
                sequence_number: sequence_number(i as u64).to_string(),
                approximate_arrival_timestamp: Some(Timestamp { millis: 1_763_000_100_123 }),
                data: Bytes::from(record_data(i)),
                partition_key: format!("customer-{i}"),
                encryption_type: None,
            })
            .collect(),
        next_shard_iterator: Some("AAAAAAAAAAH".repeat(20)),
        millis_behind_latest: Some(0),
        child_shards: None,
    };
    group.throughput(Throughput::Elements(PAGE as u64));
    group.bench_function("get_records_output/1000x100B", |b| b.iter(|| Codec::Json.encode(black_box(&get), 512)));
    group.finish();
}

/// A PutRecords batch appended to the in-memory store (the trait call the engine makes).
fn store_append(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread().build().expect("a runtime");
    let store = MemoryStore::new();
    let log = runtime.block_on(store.create_log()).expect("log created");
    let batch: Vec<NewRecord> = (0..RECORDS)
        .map(|i| NewRecord {
            partition_key: Bytes::from(format!("customer-{i}")),
            data: Bytes::from(record_data(i)),
            flags: 0,
        })
        .collect();
    let mut group = c.benchmark_group("store");
    group.throughput(Throughput::Elements(RECORDS as u64));
    group.bench_function("memory_append/500x100B", |b| {
        // Timed appends in chunks, with an untimed trim between chunks so the log (and the
        // benchmark's memory) stays small however many iterations criterion asks for.
        b.iter_custom(|iterations| {
            let mut timed = Duration::ZERO;
            let mut done = 0;
            while done < iterations {
                let chunk = (iterations - done).min(256);
                let batches: Vec<Vec<NewRecord>> = (0..chunk).map(|_| batch.clone()).collect();
                let started = Instant::now();
                for (i, records) in batches.into_iter().enumerate() {
                    runtime.block_on(store.append(log, records, 1_000 + i as u64)).expect("appended");
                }
                timed += started.elapsed();
                runtime.block_on(store.trim(log, u64::MAX)).expect("trimmed");
                done += chunk;
            }
            timed
        })
    });
    group.finish();
}

criterion_group! {
    name = hot_paths;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = decode, sequence, hashing, encode, store_append
}
criterion_main!(hot_paths);
