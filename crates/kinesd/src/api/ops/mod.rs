//! One module per operation: `handle(engine, validated input) -> output`.

pub mod create_stream;
pub mod delete_stream;
pub mod describe_stream;
pub mod describe_stream_summary;
pub mod get_records;
pub mod get_shard_iterator;
pub mod list_shards;
pub mod list_streams;
pub mod list_tags_for_stream;
pub mod put_record;
pub mod put_records;
