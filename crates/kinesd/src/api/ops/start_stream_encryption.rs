//! StartStreamEncryption: the stream goes UPDATING; once it is ACTIVE, the stream and the
//! records written to it are marked KMS-encrypted, as clients see it: EncryptionType KMS in
//! PutRecord(s) and GetRecords, EncryptionType KMS and the KeyId in the descriptions. kinesd does
//! not talk to KMS and encrypts nothing: records are stored as written, whatever the marking.

use crate::api::Context;
use crate::api::common::{kms_key, stream_key};
use crate::error::Result;
use crate::protocol::model::StartStreamEncryptionInput;

pub async fn handle(ctx: &Context, input: StartStreamEncryptionInput) -> Result<()> {
    let engine = &*ctx.engine;
    let name = stream_key(ctx, input.stream_name.as_deref(), input.stream_arn.as_deref()).await?;
    let key = kms_key(input.encryption_type.as_deref(), input.key_id.as_deref())?;
    engine.change_encryption(&name, Some(key)).await
}
