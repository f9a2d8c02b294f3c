//! Request routing: HTTP method, path and fixed query keys to an [`Operation`] and its URI labels.
//!
//! One segment trie per method is built on first use. At each segment a literal child is tried
//! before a `{label}` child, and a `{label+}` (greedy) match last, backtracking when a branch
//! dead-ends, so `/things/{thingName}/jobs/$next` beats `/things/{thingName}/jobs/{jobId}`.

use std::cmp::Reverse;
use std::sync::OnceLock;

use crate::error::RouteError;
use crate::generated::Operation;
use crate::operation::HttpMethod;
use crate::percent;
use crate::service::Service;

/// A resolved request: the operation and its URI labels, percent-decoded, keyed by the label
/// names of the `requestUri` template (the members' `location_name`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub op: Operation,
    pub labels: Vec<(&'static str, String)>,
}

/// Finds the operation a request addresses.
///
/// `raw_path` and `raw_query` are as received (still percent-encoded; the query without `?`).
/// With a `signing_service` (from the SigV4 credential scope), only that service's operations
/// are tried first; if none matches, all services are tried, so the caller can tell a request
/// signed for the wrong service (`route.op.service() != signing_service`) from an unknown path.
/// Operations of different services on the same method and path resolve to `iot` unless the
/// signing service picks another.
pub fn resolve(
    method: &str,
    raw_path: &str,
    raw_query: &str,
    signing_service: Option<Service>,
) -> Result<Route, RouteError> {
    static ROUTER: OnceLock<Router> = OnceLock::new();
    ROUTER
        .get_or_init(|| {
            Router::new(
                Operation::ALL
                    .iter()
                    .map(|&op| (op, op.method(), op.request_uri())),
            )
        })
        .resolve(method, raw_path, raw_query, signing_service)
}

#[derive(Debug)]
struct Endpoint {
    op: Operation,
    service: Service,
    /// Label names in path order; a greedy label is last.
    labels: Vec<&'static str>,
    /// Fixed query keys of the template (`?key` or `?key=value`) that a request must carry.
    query: Vec<(&'static str, Option<&'static str>)>,
}

#[derive(Debug, Default)]
struct Node {
    /// Sorted by literal, for binary search.
    literals: Vec<(&'static str, Node)>,
    label: Option<Box<Node>>,
    /// Endpoints whose greedy label starts at this node's depth.
    greedy: Vec<Endpoint>,
    endpoints: Vec<Endpoint>,
}

pub(crate) struct Router {
    roots: Vec<Node>,
}

enum Segment {
    Literal(&'static str),
    Label(&'static str),
    Greedy(&'static str),
}

fn parse_template(uri: &'static str) -> (Vec<Segment>, Vec<(&'static str, Option<&'static str>)>) {
    let (path, query) = uri.split_once('?').unwrap_or((uri, ""));
    let query = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => (p, None),
        })
        .collect();
    let segments = split_path(path)
        .into_iter()
        .map(
            |seg| match seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Some(name) => match name.strip_suffix('+') {
                    Some(greedy) => Segment::Greedy(greedy),
                    None => Segment::Label(name),
                },
                None => Segment::Literal(seg),
            },
        )
        .collect();
    (segments, query)
}

/// Path segments without the leading slash; one trailing slash is ignored so that templates
/// such as `/authorizers/` also match without it.
fn split_path(path: &str) -> Vec<&str> {
    let path = path.strip_prefix('/').unwrap_or(path);
    let path = path.strip_suffix('/').unwrap_or(path);
    if path.is_empty() {
        Vec::new()
    } else {
        path.split('/').collect()
    }
}

fn method_index(method: HttpMethod) -> usize {
    method as usize
}

impl Router {
    pub(crate) fn new(
        routes: impl IntoIterator<Item = (Operation, HttpMethod, &'static str)>,
    ) -> Router {
        let mut roots: Vec<Node> = HttpMethod::ALL.iter().map(|_| Node::default()).collect();
        for (op, method, uri) in routes {
            let (segments, query) = parse_template(uri);
            let mut node = &mut roots[method_index(method)];
            let mut labels = Vec::new();
            let mut greedy = false;
            for segment in segments {
                assert!(!greedy, "{uri}: a greedy label must be the last segment");
                node = match segment {
                    Segment::Literal(lit) => {
                        let at = match node.literals.binary_search_by(|(l, _)| (*l).cmp(lit)) {
                            Ok(at) => at,
                            Err(at) => {
                                node.literals.insert(at, (lit, Node::default()));
                                at
                            }
                        };
                        &mut node.literals[at].1
                    }
                    Segment::Label(name) => {
                        labels.push(name);
                        node.label.get_or_insert_with(Box::default)
                    }
                    Segment::Greedy(name) => {
                        labels.push(name);
                        greedy = true;
                        node
                    }
                };
            }
            let endpoint = Endpoint {
                op,
                service: op.service(),
                labels,
                query,
            };
            if greedy {
                node.greedy.push(endpoint);
            } else {
                node.endpoints.push(endpoint);
            }
        }
        Router { roots }
    }

    pub(crate) fn resolve(
        &self,
        method: &str,
        raw_path: &str,
        raw_query: &str,
        signing_service: Option<Service>,
    ) -> Result<Route, RouteError> {
        let raw = split_path(raw_path);
        let decoded = raw
            .iter()
            .map(|s| percent::decode(s))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| RouteError::InvalidPercentEncoding)?;
        let search = |method: HttpMethod, filter: Option<Service>| {
            let search = Search {
                decoded: &decoded,
                raw_query,
                filter,
            };
            let mut captured = Vec::new();
            let found = search.find(&self.roots[method_index(method)], 0, &mut captured);
            found.map(|(endpoint, greedy_at)| (endpoint, captured, greedy_at))
        };
        if let Some(method) = HttpMethod::parse(method) {
            let found = signing_service
                .and_then(|s| search(method, Some(s)))
                .or_else(|| search(method, None));
            if let Some((endpoint, captured, greedy_at)) = found {
                let mut values: Vec<String> = captured
                    .iter()
                    .map(|&i| decoded[i].clone().into_owned())
                    .collect();
                if let Some(at) = greedy_at {
                    let rest = raw[at..].join("/");
                    let value = percent::decode(&rest)
                        .map_err(|_| RouteError::InvalidPercentEncoding)?
                        .into_owned();
                    values.push(value);
                }
                let labels = endpoint.labels.iter().copied().zip(values).collect();
                return Ok(Route {
                    op: endpoint.op,
                    labels,
                });
            }
        }
        let allowed: Vec<HttpMethod> = HttpMethod::ALL
            .into_iter()
            .filter(|&m| search(m, None).is_some())
            .collect();
        let (method, path) = (method.to_owned(), raw_path.to_owned());
        if allowed.is_empty() {
            Err(RouteError::NotFound { method, path })
        } else {
            Err(RouteError::MethodNotAllowed {
                method,
                path,
                allowed,
            })
        }
    }
}

struct Search<'a> {
    decoded: &'a [std::borrow::Cow<'a, str>],
    raw_query: &'a str,
    filter: Option<Service>,
}

impl<'a> Search<'a> {
    /// Depth-first search from `node` at segment `i`; `captured` collects the segment indexes
    /// of label matches. Returns the endpoint and where its greedy label starts, if it has one.
    fn find<'n>(
        &self,
        node: &'n Node,
        i: usize,
        captured: &mut Vec<usize>,
    ) -> Option<(&'n Endpoint, Option<usize>)> {
        let Some(segment) = self.decoded.get(i) else {
            return self.pick(&node.endpoints).map(|e| (e, None));
        };
        if let Ok(at) = node
            .literals
            .binary_search_by(|(l, _)| (*l).cmp(segment.as_ref()))
            && let Some(found) = self.find(&node.literals[at].1, i + 1, captured)
        {
            return Some(found);
        }
        if let Some(child) = &node.label
            && !segment.is_empty()
        {
            captured.push(i);
            if let Some(found) = self.find(child, i + 1, captured) {
                return Some(found);
            }
            captured.pop();
        }
        if !node.greedy.is_empty() && self.decoded[i..].iter().any(|s| !s.is_empty()) {
            return self.pick(&node.greedy).map(|e| (e, Some(i)));
        }
        None
    }

    /// Among endpoints on the same path, those requiring more fixed query keys win, then `iot`.
    fn pick<'n>(&self, endpoints: &'n [Endpoint]) -> Option<&'n Endpoint> {
        endpoints
            .iter()
            .filter(|e| self.filter.is_none_or(|s| e.service == s))
            .filter(|e| {
                e.query
                    .iter()
                    .all(|(k, v)| percent::query_has(self.raw_query, k, *v))
            })
            .max_by_key(|e| (e.query.len(), Reverse(e.service)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn synthetic() -> Router {
        Router::new([
            (Operation::ListThings, HttpMethod::Get, "/things"),
            (
                Operation::DescribeThing,
                HttpMethod::Get,
                "/things/{thingName}",
            ),
            (Operation::ListThingTypes, HttpMethod::Get, "/things/types"),
            (
                Operation::DeprecateThingType,
                HttpMethod::Get,
                "/things/{thingName}?deprecate",
            ),
            (Operation::ListJobs, HttpMethod::Get, "/things?mode=jobs"),
            (
                Operation::GetTopicRuleDestination,
                HttpMethod::Get,
                "/d/{arn+}",
            ),
            (
                Operation::ListTopicRuleDestinations,
                HttpMethod::Get,
                "/d/{arn}/x",
            ),
        ])
    }

    fn route(router: &Router, path: &str, query: &str) -> Result<Route, RouteError> {
        router.resolve("GET", path, query, None)
    }

    #[test]
    fn fixed_query_keys_select_their_operation() {
        let r = synthetic();
        assert_eq!(
            route(&r, "/things/t1", "").unwrap().op,
            Operation::DescribeThing
        );
        let dep = route(&r, "/things/t1", "x=1&deprecate").unwrap();
        assert_eq!(dep.op, Operation::DeprecateThingType);
        assert_eq!(dep.labels, vec![("thingName", "t1".to_owned())]);
        assert_eq!(
            route(&r, "/things", "mode=jobs").unwrap().op,
            Operation::ListJobs
        );
        assert_eq!(
            route(&r, "/things", "mode=other").unwrap().op,
            Operation::ListThings
        );
    }

    #[test]
    fn literals_beat_labels_and_backtrack() {
        let r = synthetic();
        assert_eq!(
            route(&r, "/things/types", "").unwrap().op,
            Operation::ListThingTypes
        );
        assert_eq!(
            route(&r, "/things/typesx", "").unwrap().op,
            Operation::DescribeThing
        );
        let x = route(&r, "/d/a/x", "").unwrap();
        assert_eq!(x.op, Operation::ListTopicRuleDestinations);
        let greedy = route(&r, "/d/a/b/c", "").unwrap();
        assert_eq!(greedy.op, Operation::GetTopicRuleDestination);
        assert_eq!(greedy.labels, vec![("arn", "a/b/c".to_owned())]);
    }

    #[test]
    fn empty_labels_do_not_match() {
        let r = synthetic();
        assert!(matches!(
            route(&r, "/things//", ""),
            Err(RouteError::NotFound { .. })
        ));
        assert!(matches!(
            route(&r, "/d/", ""),
            Err(RouteError::NotFound { .. })
        ));
        assert!(matches!(
            route(&r, "/nothing", ""),
            Err(RouteError::NotFound { .. })
        ));
    }
}
