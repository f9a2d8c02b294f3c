//! A compiled policy statement and how it applies to one request.

use crate::condition::Condition;
use crate::context::{Context, resolve_table};
use crate::pattern::{Pattern, Variable};

/// `Effect`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Effect {
    Allow,
    Deny,
}

/// `Action`/`NotAction` or `Resource`/`NotResource`: a list of patterns and whether the
/// element is negated.
#[derive(Debug, Clone)]
pub(crate) struct Element {
    negated: bool,
    /// A literal `*` is present, so the list matches everything without looking further.
    match_all: bool,
    patterns: Box<[Pattern]>,
    variables: Box<[Variable]>,
    /// Actions compare ASCII case-insensitively, as IAM does; resources are exact.
    fold_case: bool,
}

impl Element {
    pub(crate) fn new(
        negated: bool,
        patterns: Vec<Pattern>,
        variables: Vec<Variable>,
        fold_case: bool,
    ) -> Element {
        Element {
            negated,
            match_all: patterns.iter().any(Pattern::is_match_all),
            patterns: patterns.into(),
            variables: variables.into(),
            fold_case,
        }
    }

    pub(crate) fn variables(&self) -> &[Variable] {
        &self.variables
    }

    /// True if `input` is covered by the element (by none of its patterns, when negated).
    fn covers(
        &self,
        input: &str,
        ctx: &dyn Context,
        missing: &mut Option<&mut Vec<String>>,
    ) -> bool {
        if self.match_all {
            return !self.negated;
        }
        // Allocates only when the element uses variables.
        let values = resolve_table(ctx, &self.variables);
        let any = self
            .patterns
            .iter()
            .any(|p| p.matches(input, &values, self.fold_case));
        let covered = any != self.negated;
        // An unresolved variable only matters when it could have changed the outcome.
        if let Some(list) = missing
            && !any
        {
            for (var, value) in self.variables.iter().zip(&values) {
                if value.is_none() && !list.iter().any(|k| **k == *var.key) {
                    list.push(var.key.to_string());
                }
            }
        }
        covered
    }
}

/// One entry of `Statement`.
#[derive(Debug, Clone)]
pub(crate) struct Statement {
    pub(crate) effect: Effect,
    pub(crate) actions: Element,
    pub(crate) resources: Element,
    pub(crate) conditions: Box<[Condition]>,
}

impl Statement {
    /// True if the statement applies to `action` on `resource` in `ctx`. With `missing`, every
    /// condition is evaluated (to report all absent keys); without, evaluation stops early.
    pub(crate) fn applies(
        &self,
        action: &str,
        resource: &str,
        ctx: &dyn Context,
        missing: &mut Option<&mut Vec<String>>,
    ) -> bool {
        if !self.actions.covers(action, ctx, &mut None) {
            return false;
        }
        if !self.resources.covers(resource, ctx, missing) {
            return false;
        }
        if missing.is_some() {
            let mut all = true;
            for condition in self.conditions.iter() {
                all &= condition.holds(ctx, missing);
            }
            all
        } else {
            self.conditions.iter().all(|c| c.holds(ctx, &mut None))
        }
    }
}
