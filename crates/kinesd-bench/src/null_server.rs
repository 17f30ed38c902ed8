//! `null-server`: the fastest possible "Kinesis". It reads each request body and throws it
//! away unparsed, and answers every PutRecords with one prebuilt, valid answer (every record
//! stored). Driving it with `put` measures the ceiling of the load generator plus loopback
//! HTTP on this machine — no real server can be measured above it.
//!
//! Just enough of the control plane for the workloads to start: CreateStream succeeds and
//! DescribeStream reports any stream ACTIVE with `--shards` shards. Dispatch looks only at the
//! `X-Amz-Target` header.

use std::convert::Infallible;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use crate::cli::NullServerArgs;

/// The prebuilt answers.
struct Answers {
    put_records: Bytes,
    describe_stream: Bytes,
}

pub async fn run(args: NullServerArgs) -> Result<(), String> {
    let listener =
        TcpListener::bind(&args.listen).await.map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    println!("kinesd-bench null-server listening on http://{addr}");
    let answers: &'static Answers = Box::leak(Box::new(Answers {
        put_records: put_records_answer(args.records),
        describe_stream: describe_stream_answer(args.shards),
    }));
    let serve = async move {
        loop {
            let (stream, _) = match listener.accept().await {
                Ok(conn) => conn,
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            };
            let _ = stream.set_nodelay(true);
            tokio::spawn(async move {
                let service = service_fn(move |req| answer(answers, req));
                let _ = hyper::server::conn::http1::Builder::new()
                    .keep_alive(true)
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    };
    let stop = async {
        if args.exit_after > 0 {
            tokio::time::sleep(Duration::from_secs(args.exit_after)).await;
        } else {
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        () = serve => {}
        () = stop => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    Ok(())
}

async fn answer(answers: &'static Answers, req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let target = req
        .headers()
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .and_then(|t| t.strip_prefix("Kinesis_20131202."))
        .unwrap_or_default()
        .to_owned();
    // Read the body to the end (the connection stays usable), keeping none of it.
    let mut body = req.into_body();
    while let Some(frame) = body.frame().await {
        if frame.is_err() {
            break;
        }
    }
    let (status, bytes) = match target.as_str() {
        "PutRecords" => (StatusCode::OK, answers.put_records.clone()),
        "DescribeStream" | "DescribeStreamSummary" => (StatusCode::OK, answers.describe_stream.clone()),
        "CreateStream" => (StatusCode::OK, Bytes::new()),
        _ => (
            StatusCode::BAD_REQUEST,
            Bytes::from_static(
                br#"{"__type":"UnknownOperationException","message":"the null server answers PutRecords only"}"#,
            ),
        ),
    };
    let mut response = Response::new(Full::new(bytes));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/x-amz-json-1.1"));
    headers.insert("x-amzn-requestid", HeaderValue::from_static("00000000-0000-4000-8000-000000000000"));
    Ok(response)
}

/// A PutRecords answer for `records` stored records, shaped as kinesd's.
fn put_records_answer(records: usize) -> Bytes {
    let entry = r#"{"SequenceNumber":"49590338271490256608559692538361571095921575989136588898","ShardId":"shardId-000000000000"}"#;
    let mut out = String::with_capacity(64 + records * (entry.len() + 1));
    out.push_str(r#"{"FailedRecordCount":0,"Records":["#);
    for i in 0..records {
        if i > 0 {
            out.push(',');
        }
        out.push_str(entry);
    }
    out.push_str(r#"],"EncryptionType":"NONE"}"#);
    Bytes::from(out)
}

/// A DescribeStream answer: ACTIVE, `shards` open shards tiling the hash-key space.
fn describe_stream_answer(shards: u32) -> Bytes {
    let n = u128::from(shards.max(1));
    let step = u128::MAX / n;
    let shards: Vec<serde_json::Value> = (0..n)
        .map(|i| {
            let end = if i + 1 == n { u128::MAX } else { step * (i + 1) - 1 };
            serde_json::json!({
                "ShardId": format!("shardId-{i:012}"),
                "HashKeyRange": {
                    "StartingHashKey": (step * i).to_string(),
                    "EndingHashKey": end.to_string(),
                },
                "SequenceNumberRange": {
                    "StartingSequenceNumber": "49590338271490256608559692538361571095921575989136588898"
                },
            })
        })
        .collect();
    let body = serde_json::json!({
        "StreamDescription": {
            "StreamName": "null",
            "StreamARN": "arn:aws:kinesis:us-east-1:000000000000:stream/null",
            "StreamStatus": "ACTIVE",
            "Shards": shards,
            "HasMoreShards": false,
            "RetentionPeriodHours": 24,
            "StreamCreationTimestamp": 1.7e9,
            "EnhancedMonitoring": [{ "ShardLevelMetrics": [] }],
            "EncryptionType": "NONE",
        }
    });
    Bytes::from(body.to_string())
}
