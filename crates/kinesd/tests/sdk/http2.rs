//! The Rust SDK over HTTP/2: h2c with prior knowledge on the plain port, and h2 negotiated by
//! ALPN on the TLS port (`--tls-port`, generated certificate). Both carry the data plane, the
//! control plane and error answers, and concurrent calls share one connection.

use aws_sdk_kinesis::Client;
use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::{PutRecordsRequestEntry, ShardIteratorType};

use crate::common::h2::H2Connector;
use crate::common::*;

/// Creates a stream, writes with PutRecord (20 concurrent calls) and PutRecords, reads it all
/// back, and checks an error's type and message — everything over `connector`.
async fn exercise(client: &Client) {
    let name = unique_name("h2");
    create_active(client, &name, 2).await;

    let puts = (0..20).map(|i| {
        let client = client.clone();
        let name = name.clone();
        tokio::spawn(async move {
            let data = Blob::new(format!("single-{i}"));
            ok(client.put_record().stream_name(name).partition_key(format!("pk-{i}")).data(data).send().await)
        })
    });
    let mut per_shard = std::collections::HashMap::<String, usize>::new();
    for put in puts {
        *per_shard.entry(put.await.unwrap().shard_id).or_default() += 1;
    }
    let entries: Vec<_> = (0..100)
        .map(|i| {
            PutRecordsRequestEntry::builder()
                .partition_key(format!("batch-{i}"))
                .data(Blob::new(vec![i as u8; 1000]))
                .build()
                .unwrap()
        })
        .collect();
    let out = ok(client.put_records().stream_name(&name).set_records(Some(entries)).send().await);
    assert_eq!(out.failed_record_count(), Some(0));
    for record in out.records() {
        *per_shard.entry(record.shard_id().unwrap().to_owned()).or_default() += 1;
    }

    let mut read = 0;
    for shard in list_all_shards(client, &name).await {
        let it = iterator(client, &name, shard.shard_id(), ShardIteratorType::TrimHorizon, None).await;
        let expected = per_shard.get(shard.shard_id()).copied().unwrap_or(0);
        let (records, _) = drain(client, it, expected).await;
        read += records.len();
    }
    assert_eq!(read, 120, "every record written over h2 reads back over h2");

    let missing = unique_name("missing");
    api_err(client.describe_stream_summary().stream_name(&missing).send().await)
        .assert("ResourceNotFoundException", &not_found_msg(&missing));
}

#[tokio::test]
async fn the_sdk_speaks_h2c_with_prior_knowledge_on_the_plain_port() {
    let server = Server::start();
    let connector = H2Connector::new(&server.endpoint, None);
    exercise(&client_with(&server.endpoint, connector.http_client())).await;
    assert_eq!(connector.connections(), 1, "all calls, concurrent ones included, shared one h2c connection");
}

#[tokio::test]
async fn the_sdk_speaks_h2_negotiated_by_alpn_on_the_tls_port() {
    let server = Server::start_with(ServerOpts { tls: true, ..ServerOpts::default() });
    let (endpoint, cert) = server.tls.clone().expect("a TLS listener");
    assert!(endpoint.starts_with("https://127.0.0.1:"), "{endpoint}");
    let connector = H2Connector::new(&endpoint, Some(&cert));
    exercise(&client_with(&endpoint, connector.http_client())).await;
    assert_eq!(connector.connections(), 1, "all calls, concurrent ones included, shared one h2 connection");
}
