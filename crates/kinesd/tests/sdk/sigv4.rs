//! The Rust SDK signing with configured credentials (`--credentials`): accepted with the right
//! secret (with and without a session token), refused with AWS's exact answers otherwise.

use aws_sdk_kinesis::config::Credentials;
use aws_sdk_kinesis::primitives::Blob;

use crate::common::*;

const FILE: &str = r#"
[[credential]]
access_key_id = "AKIAEXAMPLEAAAAAAAAA"
secret_access_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
account_id = "111111111111"

[[credential]]
access_key_id = "ASIAEXAMPLETTTTTTTTT"
secret_access_key = "token-secret"
account_id = "222222222222"
session_token = "IQoJb3JpZ2luX2VjEXAMPLE/+="
"#;

const MISMATCH: &str = "The request signature we calculated does not match the signature you provided. Check your \
                        AWS Secret Access Key and signing method. Consult the service documentation for details.";
const INVALID_TOKEN: &str = "The security token included in the request is invalid.";

fn server(dir: &tempfile::TempDir) -> Server {
    let path = dir.path().join("credentials.toml");
    std::fs::write(&path, FILE).unwrap();
    Server::start_with(ServerOpts {
        extra_args: vec!["--credentials".into(), path.display().to_string(), "--region".into(), REGION.into()],
        ..ServerOpts::default()
    })
}

fn signing(server: &Server, key: &str, secret: &str, token: Option<&str>, region: &str) -> aws_sdk_kinesis::Client {
    client_signing_as(&server.endpoint, region, Credentials::new(key, secret, token.map(str::to_owned), None, "test"))
}

#[tokio::test]
async fn the_sdk_signs_with_configured_keys() {
    let dir = tempfile::tempdir().unwrap();
    let server = server(&dir);
    let client = signing(&server, "AKIAEXAMPLEAAAAAAAAA", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", None, REGION);
    let name = unique_name("signed");
    create_active(&client, &name, 1).await;
    ok(client.put_record().stream_name(&name).partition_key("k").data(Blob::new("v")).send().await);
    let with_token =
        signing(&server, "ASIAEXAMPLETTTTTTTTT", "token-secret", Some("IQoJb3JpZ2luX2VjEXAMPLE/+="), REGION);
    // That key is account 222222222222's: it does not see account 111111111111's streams by name,
    // and naming one by ARN, with no resource policy allowing it, is AccessDeniedException.
    let names = ok(with_token.list_streams().send().await).stream_names;
    assert!(!names.contains(&name));
    let arn = format!("arn:aws:kinesis:{REGION}:111111111111:stream/{name}");
    api_err(with_token.describe_stream_summary().stream_arn(&arn).send().await).assert(
        "AccessDeniedException",
        &format!(
            "User: arn:aws:iam::222222222222:root is not authorized to perform: kinesis:DescribeStreamSummary on \
             resource: {arn} because no resource-based policy allows the kinesis:DescribeStreamSummary action"
        ),
    );
}

#[tokio::test]
async fn the_sdk_sees_aws_answers_to_wrong_signatures() {
    let dir = tempfile::tempdir().unwrap();
    let server = server(&dir);
    let wrong_secret = signing(&server, "AKIAEXAMPLEAAAAAAAAA", "not-the-secret", None, REGION);
    api_err(wrong_secret.list_streams().send().await).assert("InvalidSignatureException", MISMATCH);
    let unknown = signing(&server, "AKIAUNKNOWN000000000", "x", None, REGION);
    api_err(unknown.list_streams().send().await).assert("UnrecognizedClientException", INVALID_TOKEN);
    let no_token = signing(&server, "ASIAEXAMPLETTTTTTTTT", "token-secret", None, REGION);
    api_err(no_token.list_streams().send().await).assert("UnrecognizedClientException", INVALID_TOKEN);
    let other_region =
        signing(&server, "AKIAEXAMPLEAAAAAAAAA", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", None, "ap-south-1");
    api_err(other_region.list_streams().send().await)
        .assert("InvalidSignatureException", "Credential should be scoped to a valid region, not 'ap-south-1'. ");
    let name = unique_name("refused");
    api_err(wrong_secret.create_stream().stream_name(&name).shard_count(1).send().await)
        .assert("InvalidSignatureException", MISMATCH);
    let good = signing(&server, "AKIAEXAMPLEAAAAAAAAA", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", None, REGION);
    assert!(!ok(good.list_streams().send().await).stream_names.contains(&name), "nothing was created");
}
