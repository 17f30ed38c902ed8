//! Authorization: whether the caller may perform the request's action on its resource, decided
//! with AWS's rules from the caller's identity policy (its credential's `policy`) and the
//! resource's policy (PutResourcePolicy), both evaluated by `auth::policy`:
//!
//! - an explicit Deny in either wins;
//! - in the caller's own account, an Allow in either suffices (a credential without a policy
//!   acts as its account's administrator, allowed everything there);
//! - on another account's stream, the resource policy must allow the caller, and so must the
//!   identity policy if the credential has one.
//!
//! Without `--credentials` there is no principal, one account, and nothing to decide: every
//! request is allowed, as before accounts and policies existed.
//!
//! The action is `kinesis:<Operation>`; the resource is the stream's ARN (a GetRecords
//! authorizes against the stream its iterator reads), or, for operations on no stream,
//! `arn:aws:kinesis:<region>:<account>:stream/*` (ListStreams) or `*`.

use crate::api::Context;
use crate::auth::policy::{Decision, Kind, Policy, Request};
use crate::engine::catalog::StreamKey;
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
    check(ctx, &ctx.engine.stream_arn(key), Some(key)).await
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

async fn check(ctx: &Context, resource_arn: &str, key: Option<&StreamKey>) -> Result<()> {
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
    let resource = match key {
        Some(key) => resource_decision(ctx, key, &request).await,
        None => Decision::NotApplicable,
    };
    let foreign = key.is_some_and(|k| k.account != ctx.caller.account_id);
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

/// What the stream's resource policy says; a stream that does not exist (or whose stored
/// policy no longer parses) has no policy that allows anything.
async fn resource_decision(ctx: &Context, key: &StreamKey, request: &Request<'_>) -> Decision {
    let Ok(stream) = ctx.engine.stream(key).await else {
        return Decision::NotApplicable;
    };
    let Some(document) = stream.resource_policy.as_deref() else {
        return Decision::NotApplicable;
    };
    match Policy::parse(document, Kind::Resource) {
        Ok(policy) => policy.evaluate(request),
        Err(e) => {
            tracing::warn!(stream = %key.name, account = %key.account, error = %e, "stored resource policy does not parse; it allows nothing");
            Decision::NotApplicable
        }
    }
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
