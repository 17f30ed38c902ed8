//! StopStreamEncryption: the stream goes UPDATING; once it is ACTIVE, the stream and new records
//! are no longer marked KMS-encrypted. Records written before keep their EncryptionType. (The
//! marking is all there is: kinesd stores every record as written.)

use crate::api::Context;
use crate::api::common::{kms_key, stream_key};
use crate::error::Result;
use crate::protocol::model::StopStreamEncryptionInput;

pub async fn handle(ctx: &Context, input: StopStreamEncryptionInput) -> Result<()> {
    let engine = &*ctx.engine;
    let name = stream_key(ctx, input.stream_name.as_deref(), input.stream_arn.as_deref()).await?;
    kms_key(input.encryption_type.as_deref(), input.key_id.as_deref())?;
    engine.change_encryption(&name, None).await
}
