//! The control-plane calls a workload needs before and around its hot loop: make sure the
//! stream exists and is ACTIVE, list its open shards, and open shard iterators. Off the hot
//! path, so plain `serde_json` values are fine here.

use std::time::{Duration, Instant};

use bytes::Bytes;
use serde_json::json;

use crate::client::{Connection, Endpoint, Op};

/// How long a stream may stay in CREATING before we give up (emulators default to 500 ms).
const ACTIVE_TIMEOUT: Duration = Duration::from_secs(60);

/// Creates the stream if it is missing, waits until it is ACTIVE, and returns its open shard
/// ids in order.
pub async fn ensure_stream(endpoint: &Endpoint, stream: &str, shards: u32) -> Result<Vec<String>, String> {
    let mut conn = Connection::new(endpoint);
    let body = json!({ "StreamName": stream, "ShardCount": shards }).to_string();
    let reply = conn.call_retrying(Op::CreateStream, Bytes::from(body)).await?;
    if !reply.ok() && reply.error_name() != "ResourceInUseException" {
        return Err(format!("CreateStream {stream}: {} {}", reply.error_name(), String::from_utf8_lossy(&reply.body)));
    }
    wait_active(&mut conn, stream).await
}

/// Waits until the stream is ACTIVE (after a creation or a reshard) and returns its open shard
/// ids in order.
pub async fn wait_active(conn: &mut Connection, stream: &str) -> Result<Vec<String>, String> {
    let started = Instant::now();
    loop {
        let description = describe(conn, stream, None).await?;
        let status = description["StreamStatus"].as_str().unwrap_or_default();
        if status == "ACTIVE" {
            return open_shards(conn, stream, description).await;
        }
        if started.elapsed() > ACTIVE_TIMEOUT {
            return Err(format!("stream {stream} still {status} after {ACTIVE_TIMEOUT:?}"));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn describe(conn: &mut Connection, stream: &str, after: Option<&str>) -> Result<serde_json::Value, String> {
    let mut request = json!({ "StreamName": stream });
    if let Some(after) = after {
        request["ExclusiveStartShardId"] = json!(after);
    }
    let reply = conn.call_retrying(Op::DescribeStream, Bytes::from(request.to_string())).await?;
    if !reply.ok() {
        return Err(format!("DescribeStream {stream}: {}", reply.error_name()));
    }
    let mut value = reply.json()?;
    Ok(value["StreamDescription"].take())
}

/// Open shards (no EndingSequenceNumber), following HasMoreShards.
async fn open_shards(conn: &mut Connection, stream: &str, mut page: serde_json::Value) -> Result<Vec<String>, String> {
    let mut ids = Vec::new();
    loop {
        let shards = page["Shards"].as_array().cloned().unwrap_or_default();
        for shard in &shards {
            let open = shard["SequenceNumberRange"].get("EndingSequenceNumber").is_none_or(|v| v.is_null());
            if let (true, Some(id)) = (open, shard["ShardId"].as_str()) {
                ids.push(id.to_owned());
            }
        }
        let more = page["HasMoreShards"].as_bool().unwrap_or(false);
        let last = shards.last().and_then(|s| s["ShardId"].as_str());
        match (more, last) {
            (true, Some(last)) => page = describe(conn, stream, Some(last)).await?,
            _ => break,
        }
    }
    if ids.is_empty() {
        return Err(format!("stream {stream} has no open shards"));
    }
    Ok(ids)
}

/// A TRIM_HORIZON iterator for one shard.
pub async fn trim_horizon_iterator(conn: &mut Connection, stream: &str, shard_id: &str) -> Result<String, String> {
    shard_iterator(conn, stream, shard_id, None).await
}

/// An iterator for one shard: after sequence number `after`, or at TRIM_HORIZON without one.
pub async fn shard_iterator(
    conn: &mut Connection,
    stream: &str,
    shard_id: &str,
    after: Option<&str>,
) -> Result<String, String> {
    let body = match after {
        None => json!({ "StreamName": stream, "ShardId": shard_id, "ShardIteratorType": "TRIM_HORIZON" }),
        Some(sequence) => json!({
            "StreamName": stream,
            "ShardId": shard_id,
            "ShardIteratorType": "AFTER_SEQUENCE_NUMBER",
            "StartingSequenceNumber": sequence,
        }),
    }
    .to_string();
    let reply = conn.call_retrying(Op::GetShardIterator, Bytes::from(body)).await?;
    if !reply.ok() {
        return Err(format!("GetShardIterator {stream}/{shard_id}: {}", reply.error_name()));
    }
    reply.json()?["ShardIterator"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("GetShardIterator {stream}/{shard_id}: no ShardIterator"))
}

/// Registers `count` consumers (`kinesd-bench-<i>`, or finds them registered) on `stream`,
/// waits until every one is ACTIVE, and returns their ARNs.
pub async fn register_consumers(endpoint: &Endpoint, stream: &str, count: usize) -> Result<Vec<String>, String> {
    let mut conn = Connection::new(endpoint);
    let stream_arn = describe(&mut conn, stream, None).await?["StreamARN"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("DescribeStream {stream}: no StreamARN"))?;
    let names: Vec<String> = (0..count).map(|i| format!("kinesd-bench-{i}")).collect();
    for name in &names {
        let body = json!({ "StreamARN": stream_arn, "ConsumerName": name }).to_string();
        let reply = conn.call_retrying(Op::RegisterStreamConsumer, Bytes::from(body)).await?;
        if !reply.ok() && reply.error_name() != "ResourceInUseException" {
            return Err(format!("RegisterStreamConsumer {name}: {}", reply.error_name()));
        }
    }
    let mut arns = Vec::with_capacity(count);
    let started = Instant::now();
    for name in &names {
        loop {
            let body = json!({ "StreamARN": stream_arn, "ConsumerName": name }).to_string();
            let reply = conn.call_retrying(Op::DescribeStreamConsumer, Bytes::from(body)).await?;
            let description = reply.json()?["ConsumerDescription"].take();
            if description["ConsumerStatus"] == "ACTIVE" {
                arns.push(description["ConsumerARN"].as_str().unwrap_or_default().to_owned());
                break;
            }
            if started.elapsed() > ACTIVE_TIMEOUT {
                return Err(format!("consumer {name} not ACTIVE after {ACTIVE_TIMEOUT:?}"));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    Ok(arns)
}
