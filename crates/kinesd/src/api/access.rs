//! Authorization: whether the caller may perform the request's action on its resource, decided
//! with AWS's rules from the caller's identity policy (its credential's `policy`) and the
//! resource's policy (PutResourcePolicy), both evaluated by `auth::policy`:
//!
//! - an explicit Deny in either wins;
//! - in the caller's own account, an Allow in either suffices (a credential without a policy
//!   acts as its account's administrator, allowed everything there);
//! - on another account's stream or consumer, the resource policy must allow the caller, and
//!   so must the identity policy if the credential has one.
//!
//! Without `--credentials` there is no principal, one account, and nothing to decide: every
//! request is allowed, as before accounts and policies existed.
//!
//! The action is `kinesis:<Operation>`; the resource is the stream's ARN (a GetRecords
//! authorizes against the stream its iterator reads), the consumer's ARN for operations on a
//! consumer (SubscribeToShard, DescribeStreamConsumer, ..., whose resource policy is the
//! consumer's own), or, for operations on no stream,
//! `arn:aws:kinesis:<region>:<account>:stream/*` (ListStreams) or `*`.

use crate::api::Context;
use crate::auth::policy::{Decision, Request};
use crate::engine::catalog::StreamKey;
use crate::engine::consumers::ConsumerRef;
use crate::error::{KinesisError, Result};

/// Why a request is refused, in the words of AWS's AccessDeniedException.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    NoIdentityPolicy,
    NoResourcePolicy,
    IdentityDeny,
    ResourceDeny,
}

/// Authorizes the request on stream `key`.
pub async fn stream(ctx: &Context, key: &StreamKey) -> Result<()> {
    if ctx.caller.principal.is_none() {
        return Ok(());
    }
    let stream = ctx.engine.stream(key).await.ok();
    let owner = Owner { account: &key.account, policy: stream.as_ref().and_then(|s| s.resource_policy.as_deref()) };
    check(ctx, &ctx.engine.stream_arn(key), Some(owner)).await
}

/// Authorizes the request on consumer `which`: against its ARN and its own resource policy.
pub async fn consumer(ctx: &Context, which: &ConsumerRef) -> Result<()> {
    if ctx.caller.principal.is_none() {
        return Ok(());
    }
    // A consumer that does not exist has no policy that allows anything; it is named as the
    // request names it.
    let consumer = ctx.engine.consumer(which).await.ok();
    let arn = match &consumer {
        Some(consumer) => ctx.engine.consumer_arn(consumer),
        None => ctx.engine.named_consumer_arn(which),
    };
    let owner =
        Owner { account: &which.stream.account, policy: consumer.as_ref().and_then(|c| c.resource_policy.as_deref()) };
    check(ctx, &arn, Some(owner)).await
}

/// The account that owns the resource a request is about, and the resource's policy document.
struct Owner<'a> {
    account: &'a str,
    policy: Option<&'a str>,
}

/// Authorizes an operation that names no stream, on `resource` (`*` or a wildcard ARN of the
/// caller's account).
pub async fn account(ctx: &Context, resource: &str) -> Result<()> {
    if ctx.caller.principal.is_none() {
        return Ok(());
    }
    check(ctx, resource, None).await
}

/// ListStreams' resource: every stream of the caller's account.
pub fn all_streams_arn(ctx: &Context) -> String {
    format!("arn:aws:kinesis:{}:{}:stream/*", ctx.engine.config.region, ctx.caller.account_id)
}

async fn check(ctx: &Context, resource_arn: &str, owner: Option<Owner<'_>>) -> Result<()> {
    let Some(principal) = &ctx.caller.principal else {
        return Ok(());
    };
    let action = format!("kinesis:{}", ctx.operation.name());
    let caller_arn = ctx.caller.arn();
    let request = Request {
        account: &ctx.caller.account_id,
        principal_arn: &caller_arn,
        action: &action,
        resource: resource_arn,
    };
    let identity = principal.policy.as_ref().map_or(Decision::Allow, |p| p.policy.evaluate(&request));
    let resource = match owner.as_ref().and_then(|o| o.policy) {
        // Parsed once per document (`policy_cache`); one that does not parse allows nothing.
        Some(document) => {
            ctx.policies.get(resource_arn, document).map_or(Decision::NotApplicable, |p| p.evaluate(&request))
        }
        None => Decision::NotApplicable,
    };
    let foreign = owner.is_some_and(|o| o.account != ctx.caller.account_id);
    let refusal = decide(identity, resource, foreign);
    match refusal {
        None => Ok(()),
        Some(refusal) => Err(KinesisError::access_denied(&caller_arn, &action, resource_arn, refusal.reason(&action))),
    }
}

/// AWS's evaluation logic for one request, given what each policy says about it.
pub fn decide(identity: Decision, resource: Decision, foreign: bool) -> Option<Refusal> {
    if identity == Decision::Deny {
        return Some(Refusal::IdentityDeny);
    }
    if resource == Decision::Deny {
        return Some(Refusal::ResourceDeny);
    }
    if foreign {
        if resource != Decision::Allow {
            return Some(Refusal::NoResourcePolicy);
        }
        if identity != Decision::Allow {
            return Some(Refusal::NoIdentityPolicy);
        }
        return None;
    }
    (identity != Decision::Allow && resource != Decision::Allow).then_some(Refusal::NoIdentityPolicy)
}

impl Refusal {
    fn reason(self, action: &str) -> String {
        match self {
            Refusal::NoIdentityPolicy => format!("because no identity-based policy allows the {action} action"),
            Refusal::NoResourcePolicy => format!("because no resource-based policy allows the {action} action"),
            Refusal::IdentityDeny => "with an explicit deny in an identity-based policy".to_owned(),
            Refusal::ResourceDeny => "with an explicit deny in a resource-based policy".to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Decision::*;

    #[test]
    fn aws_evaluation_logic() {
        // Own account: either policy's Allow suffices; an explicit Deny in either wins.
        assert_eq!(decide(Allow, NotApplicable, false), None);
        assert_eq!(decide(NotApplicable, Allow, false), None);
        assert_eq!(decide(NotApplicable, NotApplicable, false), Some(Refusal::NoIdentityPolicy));
        assert_eq!(decide(Allow, Deny, false), Some(Refusal::ResourceDeny));
        assert_eq!(decide(Deny, Allow, false), Some(Refusal::IdentityDeny));
        // Another account: both must allow.
        assert_eq!(decide(Allow, Allow, true), None);
        assert_eq!(decide(Allow, NotApplicable, true), Some(Refusal::NoResourcePolicy));
        assert_eq!(decide(NotApplicable, Allow, true), Some(Refusal::NoIdentityPolicy));
        assert_eq!(decide(Allow, Deny, true), Some(Refusal::ResourceDeny));
    }
}
