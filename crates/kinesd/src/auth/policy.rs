//! IAM policy documents, as far as Kinesis uses them: resource policies (PutResourcePolicy)
//! and the identity policy a credential may carry (`policy` in the credentials file), parsed
//! once and evaluated with AWS's semantics:
//!
//! - a statement applies when its principal (resource policies only), action and resource
//!   match the request; `Action`/`NotAction`, `Resource`/`NotResource`, `Principal`/
//!   `NotPrincipal` take a string or a list; `*` and `?` are wildcards; action names compare
//!   case-insensitively, resources case-sensitively;
//! - an explicit Deny wins over any Allow; no matching statement is an implicit deny;
//! - a `Condition` kinesd cannot evaluate (it evaluates none) fails closed: an Allow with a
//!   condition never applies, a Deny with one always does.
//!
//! A client reaches this parser (PutResourcePolicy), so it is bounded: at most
//! [`MAX_POLICY_BYTES`] of text, [`MAX_STATEMENTS`] statements and [`MAX_VALUES`] values in
//! any element; wildcard matching is iterative (no recursion, no backtracking blow-up: at most
//! pattern × text steps). It never panics.

use serde_json::Value;

use crate::wildcard;

/// AWS's limit on a Kinesis resource policy (and IAM's on an inline user policy, 2,048
/// non-space characters, is smaller): 20 KiB.
pub const MAX_POLICY_BYTES: usize = 20_480;
/// Statements per document.
pub const MAX_STATEMENTS: usize = 100;
/// Values in one Action, Resource or Principal element.
pub const MAX_VALUES: usize = 200;

/// What a policy document is attached to, which decides the elements it must and must not have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Attached to a stream or consumer: statements name a Principal.
    Resource,
    /// Attached to a credential: statements have no Principal (the holder is the principal).
    Identity,
}

/// Why a document is not a policy; the text is the reason AWS gives, or kinesd's own close to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyError(pub String);

impl std::fmt::Display for PolicyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn error<T>(text: impl Into<String>) -> Result<T, PolicyError> {
    Err(PolicyError(text.into()))
}

/// The outcome of evaluating one document for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// A statement allows the request and none denies it.
    Allow,
    /// A statement denies the request explicitly.
    Deny,
    /// No statement speaks about the request.
    NotApplicable,
}

/// One request, as policies see it.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// The caller's account.
    pub account: &'a str,
    /// The caller's ARN: `arn:aws:iam::<account>:user/<name>` or `arn:aws:iam::<account>:root`.
    pub principal_arn: &'a str,
    /// `kinesis:<Operation>`.
    pub action: &'a str,
    /// The resource's ARN, or `*` for an action on no resource (ListStreams, DescribeLimits...).
    pub resource: &'a str,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Effect {
    Allow,
    Deny,
}

/// A list of patterns, matching when any matches (`Action`) or none does (`NotAction`).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Patterns {
    values: Vec<String>,
    negated: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Principals {
    /// `"*"` or `{"AWS": "*"}`.
    Anyone,
    /// Account ids, account root ARNs and user ARNs.
    Aws(Vec<String>),
    /// Only other kinds of principal (`Service`, `Federated`...): never a kinesd caller.
    Nobody,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Statement {
    effect: Effect,
    /// With `negated`, `NotPrincipal`. None in identity policies.
    principal: Option<(Principals, bool)>,
    action: Patterns,
    resource: Patterns,
    has_condition: bool,
}

/// A parsed policy document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    statements: Vec<Statement>,
}

impl Policy {
    /// Parses `text` as a policy of `kind`, refusing what AWS refuses.
    pub fn parse(text: &str, kind: Kind) -> Result<Policy, PolicyError> {
        if text.len() > MAX_POLICY_BYTES {
            return error(format!("Policy document exceeds the maximum size of {MAX_POLICY_BYTES} bytes."));
        }
        let doc: Value = match serde_json::from_str(text) {
            Ok(doc) => doc,
            Err(_) => return error("This policy contains invalid Json"),
        };
        let Value::Object(doc) = doc else {
            return error("This policy contains invalid Json");
        };
        for key in doc.keys() {
            if !matches!(key.as_str(), "Version" | "Id" | "Statement") {
                return error(format!("Policy document should not specify a field: {key}"));
            }
        }
        if let Some(version) = doc.get("Version")
            && !matches!(version.as_str(), Some("2012-10-17" | "2008-10-17"))
        {
            return error("The policy must contain a valid version string");
        }
        let statements = match doc.get("Statement") {
            None => return error("Missing required field Statement"),
            Some(Value::Object(_)) => std::slice::from_ref(&doc["Statement"]),
            Some(Value::Array(items)) if !items.is_empty() => items.as_slice(),
            Some(_) => return error("Statement must be an object or a non-empty list of objects"),
        };
        if statements.len() > MAX_STATEMENTS {
            return error(format!("Policy document has more than {MAX_STATEMENTS} statements"));
        }
        let statements = statements.iter().map(|s| statement(s, kind)).collect::<Result<_, _>>()?;
        Ok(Policy { statements })
    }

    /// Whether every statement's `Resource` can name `arn` (a `NotResource` is not checked):
    /// a resource policy speaks only about the resource it is attached to.
    pub fn names_resource(&self, arn: &str) -> bool {
        self.statements.iter().all(|s| s.resource.negated || s.resource.matches(arn, false))
    }

    /// Evaluates the document for `request`. For a resource policy, the Principal must match
    /// the caller; an identity policy's statements are about its holder.
    pub fn evaluate(&self, request: &Request<'_>) -> Decision {
        let mut allowed = false;
        for s in &self.statements {
            let applies = s.principal.as_ref().is_none_or(|(p, negated)| p.matches(request) != *negated)
                && s.action.matches(request.action, true)
                && s.resource.matches(request.resource, false);
            if !applies {
                continue;
            }
            match s.effect {
                // A condition kinesd cannot evaluate fails closed: the Deny applies.
                Effect::Deny => return Decision::Deny,
                // ... and the Allow does not.
                Effect::Allow if !s.has_condition => allowed = true,
                Effect::Allow => {}
            }
        }
        if allowed { Decision::Allow } else { Decision::NotApplicable }
    }
}

fn statement(value: &Value, kind: Kind) -> Result<Statement, PolicyError> {
    let Value::Object(s) = value else {
        return error("Statement must be an object or a non-empty list of objects");
    };
    for key in s.keys() {
        if !matches!(
            key.as_str(),
            "Sid"
                | "Effect"
                | "Principal"
                | "NotPrincipal"
                | "Action"
                | "NotAction"
                | "Resource"
                | "NotResource"
                | "Condition"
        ) {
            return error(format!("Statement should not specify a field: {key}"));
        }
    }
    if s.get("Sid").is_some_and(|sid| !sid.is_string()) {
        return error("Statement IDs (SID) must be strings");
    }
    let effect = match s.get("Effect").and_then(Value::as_str) {
        Some("Allow") => Effect::Allow,
        Some("Deny") => Effect::Deny,
        Some(other) => return error(format!("Invalid effect: {other}")),
        None => return error("Missing required field Effect"),
    };
    let principal = match (s.get("Principal"), s.get("NotPrincipal"), kind) {
        (Some(_), _, Kind::Identity) => return error("Has prohibited field Principal"),
        (_, Some(_), Kind::Identity) => return error("Has prohibited field NotPrincipal"),
        (None, None, Kind::Identity) => None,
        (Some(_), Some(_), Kind::Resource) => {
            return error("Statement can not have both Principal and NotPrincipal");
        }
        (Some(p), None, Kind::Resource) => Some((principals(p)?, false)),
        (None, Some(p), Kind::Resource) => Some((principals(p)?, true)),
        (None, None, Kind::Resource) => return error("Missing required field Principal"),
    };
    let action = either(s.get("Action"), s.get("NotAction"), "Action")?;
    for a in &action.values {
        if a != "*" && !a.split_once(':').is_some_and(|(service, name)| !service.is_empty() && !name.is_empty()) {
            return error(format!("Invalid Action: {a}"));
        }
    }
    let resource = either(s.get("Resource"), s.get("NotResource"), "Resource")?;
    let has_condition = match s.get("Condition") {
        None => false,
        Some(Value::Object(c)) => !c.is_empty(),
        Some(_) => return error("Syntax errors in policy: Condition must be an object"),
    };
    Ok(Statement { effect, principal, action, resource, has_condition })
}

/// `Action`/`NotAction` (or `Resource`/`NotResource`): exactly one of the pair.
fn either(plain: Option<&Value>, not: Option<&Value>, name: &str) -> Result<Patterns, PolicyError> {
    match (plain, not) {
        (Some(_), Some(_)) => error(format!("Statement can not have both {name} and Not{name}")),
        (Some(v), None) => Ok(Patterns { values: strings(v, name)?, negated: false }),
        (None, Some(v)) => Ok(Patterns { values: strings(v, name)?, negated: true }),
        (None, None) => error(format!("Missing required field {name}")),
    }
}

/// A string or a non-empty list of strings, at most [`MAX_VALUES`].
fn strings(value: &Value, name: &str) -> Result<Vec<String>, PolicyError> {
    let values: Vec<String> = match value {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) if items.len() <= MAX_VALUES => items
            .iter()
            .map(|i| i.as_str().map(str::to_owned))
            .collect::<Option<_>>()
            .ok_or_else(|| PolicyError(format!("{name} must be a string or a list of strings")))?,
        Value::Array(_) => return error(format!("{name} has more than {MAX_VALUES} values")),
        _ => return error(format!("{name} must be a string or a list of strings")),
    };
    if values.is_empty() || values.iter().any(String::is_empty) {
        return error(format!("{name} must not be empty"));
    }
    Ok(values)
}

fn principals(value: &Value) -> Result<Principals, PolicyError> {
    match value {
        Value::String(s) if s == "*" => Ok(Principals::Anyone),
        Value::Object(map) if !map.is_empty() => {
            let mut aws = Vec::new();
            for (kind, v) in map {
                let values = strings(v, "Principal")?;
                if !matches!(kind.as_str(), "AWS" | "Service" | "Federated" | "CanonicalUser") {
                    return error(format!("Invalid principal in policy: \"{kind}\""));
                }
                if kind != "AWS" {
                    continue;
                }
                for p in values {
                    if p == "*" {
                        return Ok(Principals::Anyone);
                    }
                    if !is_account_id(&p) && !p.starts_with("arn:aws:iam::") && !p.starts_with("arn:aws:sts::") {
                        return error(format!("Invalid principal in policy: \"AWS\":\"{p}\""));
                    }
                    aws.push(p);
                }
            }
            Ok(if aws.is_empty() { Principals::Nobody } else { Principals::Aws(aws) })
        }
        _ => error("Invalid principal in policy"),
    }
}

fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

impl Principals {
    fn matches(&self, request: &Request<'_>) -> bool {
        match self {
            Principals::Anyone => true,
            Principals::Nobody => false,
            Principals::Aws(list) => list.iter().any(|p| {
                // An account id or its root ARN stands for every principal of the account.
                p == request.account
                    || p.strip_prefix("arn:aws:iam::").and_then(|r| r.strip_suffix(":root")) == Some(request.account)
                    || p == request.principal_arn
            }),
        }
    }
}

impl Patterns {
    fn matches(&self, text: &str, ignore_case: bool) -> bool {
        self.values.iter().any(|p| wildcard::matches(p, text, ignore_case)) != self.negated
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const STREAM: &str = "arn:aws:kinesis:us-east-1:222222222222:stream/s";

    fn request<'a>(account: &'a str, principal_arn: &'a str, action: &'a str) -> Request<'a> {
        Request { account, principal_arn, action, resource: STREAM }
    }

    fn resource_policy(statements: &str) -> Policy {
        Policy::parse(&format!(r#"{{"Version":"2012-10-17","Statement":{statements}}}"#), Kind::Resource).unwrap()
    }

    #[test]
    fn principals_accounts_roots_users_and_anyone() {
        let p = resource_policy(
            r#"[{"Effect":"Allow","Principal":{"AWS":["111111111111","arn:aws:iam::333333333333:root","arn:aws:iam::444444444444:user/reader"]},"Action":"kinesis:Get*","Resource":"*"}]"#,
        );
        let get = "kinesis:GetRecords";
        assert_eq!(p.evaluate(&request("111111111111", "arn:aws:iam::111111111111:user/x", get)), Decision::Allow);
        assert_eq!(p.evaluate(&request("333333333333", "arn:aws:iam::333333333333:root", get)), Decision::Allow);
        assert_eq!(p.evaluate(&request("444444444444", "arn:aws:iam::444444444444:user/reader", get)), Decision::Allow);
        assert_eq!(
            p.evaluate(&request("444444444444", "arn:aws:iam::444444444444:user/other", get)),
            Decision::NotApplicable
        );
        assert_eq!(
            p.evaluate(&request("111111111111", "arn:aws:iam::111111111111:root", "kinesis:PutRecord")),
            Decision::NotApplicable
        );
        let anyone = resource_policy(r#"{"Effect":"Allow","Principal":"*","Action":"kinesis:*","Resource":"*"}"#);
        assert_eq!(anyone.evaluate(&request("999999999999", "arn:aws:iam::999999999999:root", get)), Decision::Allow);
        let service = resource_policy(
            r#"{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"kinesis:*","Resource":"*"}"#,
        );
        assert_eq!(service.evaluate(&request("1", "x", get)), Decision::NotApplicable);
    }

    #[test]
    fn explicit_deny_wins_and_conditions_fail_closed() {
        let p = resource_policy(
            r#"[{"Effect":"Allow","Principal":"*","Action":"kinesis:*","Resource":"*"},
                {"Effect":"Deny","Principal":{"AWS":"111111111111"},"Action":"kinesis:PutRecord*","Resource":"*"}]"#,
        );
        let caller = "arn:aws:iam::111111111111:root";
        assert_eq!(p.evaluate(&request("111111111111", caller, "kinesis:PutRecords")), Decision::Deny);
        assert_eq!(p.evaluate(&request("111111111111", caller, "kinesis:GetRecords")), Decision::Allow);
        let conditional = resource_policy(
            r#"[{"Effect":"Allow","Principal":"*","Action":"kinesis:*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"true"}}}]"#,
        );
        assert_eq!(conditional.evaluate(&request("1", caller, "kinesis:GetRecords")), Decision::NotApplicable);
        let conditional_deny = resource_policy(
            r#"[{"Effect":"Allow","Principal":"*","Action":"kinesis:*","Resource":"*"},
                {"Effect":"Deny","Principal":"*","Action":"kinesis:*","Resource":"*","Condition":{"StringEquals":{"aws:x":"y"}}}]"#,
        );
        assert_eq!(conditional_deny.evaluate(&request("1", caller, "kinesis:GetRecords")), Decision::Deny);
    }

    #[test]
    fn not_action_not_resource_not_principal() {
        let p = resource_policy(
            r#"[{"Effect":"Allow","NotPrincipal":{"AWS":"111111111111"},"NotAction":"kinesis:Put*","NotResource":"arn:aws:kinesis:*:*:stream/other"}]"#,
        );
        assert_eq!(p.evaluate(&request("333333333333", "r", "kinesis:GetRecords")), Decision::Allow);
        assert_eq!(p.evaluate(&request("333333333333", "r", "kinesis:PutRecords")), Decision::NotApplicable);
        assert_eq!(p.evaluate(&request("111111111111", "r", "kinesis:GetRecords")), Decision::NotApplicable);
        let other =
            Request { resource: "arn:aws:kinesis:us-east-1:1:stream/other", ..request("3", "r", "kinesis:GetRecords") };
        assert_eq!(p.evaluate(&other), Decision::NotApplicable);
    }

    #[test]
    fn identity_policies_have_no_principal() {
        let id = Policy::parse(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["kinesis:PutRecords"],"Resource":"arn:aws:kinesis:us-east-1:111111111111:stream/in"}]}"#,
            Kind::Identity,
        )
        .unwrap();
        let put = Request {
            account: "111111111111",
            principal_arn: "arn:aws:iam::111111111111:user/p",
            action: "kinesis:PutRecords",
            resource: "arn:aws:kinesis:us-east-1:111111111111:stream/in",
        };
        assert_eq!(id.evaluate(&put), Decision::Allow);
        assert_eq!(id.evaluate(&Request { action: "kinesis:PutRecord", ..put }), Decision::NotApplicable);
        assert_eq!(id.evaluate(&Request { resource: "*", ..put }), Decision::NotApplicable);
        let with_principal = r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}}"#;
        assert!(Policy::parse(with_principal, Kind::Identity).is_err());
        assert!(Policy::parse(with_principal, Kind::Resource).is_ok());
    }

    #[test]
    fn malformed_documents_are_refused() {
        for bad in [
            "",
            "nope",
            "[]",
            "{}",
            r#"{"Statement":[]}"#,
            r#"{"Statement":"x"}"#,
            r#"{"Statement":{"Principal":"*","Action":"*","Resource":"*"}}"#,
            r#"{"Statement":{"Effect":"Maybe","Principal":"*","Action":"*","Resource":"*"}}"#,
            r#"{"Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#,
            r#"{"Statement":{"Effect":"Allow","Principal":"*","Resource":"*"}}"#,
            r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"*"}}"#,
            r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"GetRecords","Resource":"*"}}"#,
            r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"*","NotAction":"*","Resource":"*"}}"#,
            r#"{"Statement":{"Effect":"Allow","Principal":{"AWS":"bob"},"Action":"*","Resource":"*"}}"#,
            r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*","Condition":"x"}}"#,
            r#"{"Version":"2020-01-01","Statement":{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}}"#,
            r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*","Extra":1}}"#,
        ] {
            assert!(Policy::parse(bad, Kind::Resource).is_err(), "{bad}");
        }
        let huge = format!(
            r#"{{"Statement":{{"Effect":"Allow","Principal":"*","Action":"*","Resource":"{}"}}}}"#,
            "a".repeat(MAX_POLICY_BYTES)
        );
        assert!(Policy::parse(&huge, Kind::Resource).is_err());
    }

    proptest! {
        #[test]
        fn parsing_never_panics(text in ".{0,400}") {
            let _ = Policy::parse(&text, Kind::Resource);
            let _ = Policy::parse(&text, Kind::Identity);
        }

        #[test]
        fn documents_built_from_pieces_parse_or_fail_cleanly(
            effect in prop::sample::select(vec!["Allow", "Deny", "allow", ""]),
            action in prop::collection::vec("[a-zA-Z:*?]{0,12}", 0..4),
            resource in prop::collection::vec("[a-z0-9:/*?-]{0,30}", 0..4),
            principal in prop::sample::select(vec![r#""*""#, r#"{"AWS":"111111111111"}"#, r#"{"AWS":[]}"#, "1", r#"{"Service":"x"}"#]),
            caller_action in "kinesis:[A-Za-z]{0,12}",
        ) {
            let text = format!(
                r#"{{"Statement":[{{"Effect":"{effect}","Principal":{principal},"Action":{},"Resource":{}}}]}}"#,
                serde_json::to_string(&action).unwrap(),
                serde_json::to_string(&resource).unwrap(),
            );
            if let Ok(p) = Policy::parse(&text, Kind::Resource) {
                let r = Request { account: "111111111111", principal_arn: "arn:aws:iam::111111111111:root", action: &caller_action, resource: STREAM };
                let d = p.evaluate(&r);
                // A document with only Allow statements never denies; with only Deny, never allows.
                if effect == "Allow" { prop_assert_ne!(d, Decision::Deny); }
                if effect == "Deny" { prop_assert_ne!(d, Decision::Allow); }
            }
        }
    }
}
