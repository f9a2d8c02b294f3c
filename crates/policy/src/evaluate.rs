//! Policy evaluation: default deny, any matching `Deny` wins, otherwise allowed if an `Allow`
//! matched (action, resource and every condition).

use crate::Policy;
use crate::context::Context;
use crate::statement::Effect;

/// One authorization question: an action (e.g. `iot:Publish`) on a resource ARN
/// (e.g. `arn:aws:iot:us-east-1:000000000000:topic/a/b`).
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// The action, e.g. `iot:Publish`; compared case-insensitively, as IAM does.
    pub action: &'a str,
    /// The resource ARN, compared case-sensitively.
    pub resource: &'a str,
}

/// The outcome of an evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// An `Allow` statement matched and no `Deny` statement did.
    Allowed,
    /// A `Deny` statement matched.
    ExplicitDeny,
    /// Nothing matched (the default).
    ImplicitDeny,
}

/// A decision with the policies that produced it (what `TestAuthorization` reports).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evaluation {
    /// The decision.
    pub decision: Decision,
    /// Names of the policies with an Allow statement that matched, in the order given.
    pub allowed_by: Vec<String>,
    /// Names of the policies with a Deny statement that matched, in the order given.
    pub denied_by: Vec<String>,
    /// Context keys a statement needed but the context did not have (TestAuthorization's
    /// `missingContextValues`): condition keys, and variables of a Resource that then failed
    /// to match, for statements whose action matched.
    pub missing_context: Vec<String>,
}

/// Evaluates `request` against named policies: default deny, any matching Deny wins, else
/// Allowed if an Allow matched. A name given twice is reported once.
pub fn evaluate<'a>(
    policies: impl IntoIterator<Item = (&'a str, &'a Policy)>,
    request: &Request<'_>,
    ctx: &dyn Context,
) -> Evaluation {
    let mut allowed_by: Vec<String> = Vec::new();
    let mut denied_by: Vec<String> = Vec::new();
    let mut missing = Vec::new();
    for (name, policy) in policies {
        let (mut allows, mut denies) = (false, false);
        for statement in policy.statements() {
            if statement.applies(
                request.action,
                request.resource,
                ctx,
                &mut Some(&mut missing),
            ) {
                match statement.effect {
                    Effect::Allow => allows = true,
                    Effect::Deny => denies = true,
                }
            }
        }
        if allows && !allowed_by.iter().any(|n| n == name) {
            allowed_by.push(name.to_owned());
        }
        if denies && !denied_by.iter().any(|n| n == name) {
            denied_by.push(name.to_owned());
        }
    }
    let decision = if !denied_by.is_empty() {
        Decision::ExplicitDeny
    } else if !allowed_by.is_empty() {
        Decision::Allowed
    } else {
        Decision::ImplicitDeny
    };
    Evaluation {
        decision,
        allowed_by,
        denied_by,
        missing_context: missing,
    }
}

/// The fast path for the broker: the same decision as [`evaluate`] without collecting names.
/// Stops at the first matching Deny and skips Allow statements once one has matched. Does not
/// allocate unless a matched statement uses policy variables or conditions (which read the
/// context).
pub fn is_allowed<'a>(
    policies: impl IntoIterator<Item = &'a Policy>,
    request: &Request<'_>,
    ctx: &dyn Context,
) -> bool {
    let mut allowed = false;
    for policy in policies {
        for statement in policy.statements() {
            match statement.effect {
                Effect::Deny => {
                    if statement.applies(request.action, request.resource, ctx, &mut None) {
                        return false;
                    }
                }
                Effect::Allow => {
                    if !allowed
                        && statement.applies(request.action, request.resource, ctx, &mut None)
                    {
                        allowed = true;
                    }
                }
            }
        }
    }
    allowed
}
