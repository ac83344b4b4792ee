//! Client-side choices that are not protocol rules but that Session clients make the same way.

use crate::Namespace;

/// Desktop's polling priority of a namespace: 10 for messages (0 and legacy groups −10), 1 for
/// everything else (the user configs 2–5 among them).
#[must_use]
pub fn namespace_priority(namespace: Namespace) -> u8 {
    if namespace == Namespace::DEFAULT || namespace == Namespace::LEGACY_CLOSED {
        10
    } else {
        1
    }
}

/// Desktop's `max_size` for each `retrieve` of one polling batch, so that the batch's answers
/// share the node's maximum: group the namespaces by priority, highest first; walking the groups
/// with a running product `p = 1`, multiply `p` by the group's size plus one (plus nothing for the
/// lowest-priority group) and give each of its namespaces `max_size = −p` (a negative `max_size`
/// of −k asks for 1/k of the maximum). Output is in group order, namespaces in input order.
#[must_use]
pub fn retrieve_max_sizes(namespaces: &[Namespace]) -> Vec<(Namespace, i32)> {
    let mut groups: Vec<(u8, Vec<Namespace>)> = Vec::new();
    for &ns in namespaces {
        let priority = namespace_priority(ns);
        match groups.iter_mut().find(|(p, _)| *p == priority) {
            Some((_, members)) => members.push(ns),
            None => groups.push((priority, vec![ns])),
        }
    }
    groups.sort_by_key(|g| core::cmp::Reverse(g.0));
    let lowest = groups.last().map_or(1, |(p, _)| *p);
    let mut split: i32 = 1;
    let mut out = Vec::with_capacity(namespaces.len());
    for (priority, members) in groups {
        let padding = i32::from(priority != lowest);
        let count = i32::try_from(members.len()).unwrap_or(i32::MAX);
        split = split.saturating_mul(count.saturating_add(padding));
        out.extend(members.into_iter().map(|ns| (ns, -split)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ns(list: &[i16]) -> Vec<Namespace> {
        list.iter().copied().map(Namespace::new).collect()
    }

    #[test]
    fn groups_by_priority() {
        assert_eq!(retrieve_max_sizes(&[]), vec![]);
        let got = retrieve_max_sizes(&ns(&[2, 3, -10, 0]));
        let want: Vec<(Namespace, i32)> = [(-10, -3), (0, -3), (2, -6), (3, -6)]
            .into_iter()
            .map(|(n, s)| (Namespace::new(n), s))
            .collect();
        assert_eq!(got, want);
        assert_eq!(
            retrieve_max_sizes(&ns(&[2, 3])),
            vec![(Namespace::new(2), -2), (Namespace::new(3), -2)]
        );
    }
}
