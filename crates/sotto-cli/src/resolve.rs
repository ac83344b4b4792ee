//! Reading `<contact>` and `<msg>` arguments.
//!
//! A contact is named by a nickname, a profile display name, a Session ID, or a unique prefix of
//! one (names compare without case). A message is named by the local number `read` prints
//! (`#12` or `12`) or `last`.

use std::str::FromStr;

use anyhow::{anyhow, bail};
use sotto_client::{Contact, Engine, MessageId, MessageRecord, MessageState, SessionId};

/// How many candidates an "ambiguous" error lists.
const MAX_CANDIDATES: usize = 8;

fn describe(c: &Contact) -> String {
    match c.display_name() {
        Some(name) => format!("{name} ({})", c.session_id.short()),
        None => c.session_id.to_string(),
    }
}

/// The Session ID that `arg` names among `contacts`. A full Session ID is accepted even for
/// someone not known yet.
pub fn contact_in(contacts: &[Contact], arg: &str) -> anyhow::Result<SessionId> {
    let arg = arg.trim();
    if let Ok(id) = SessionId::from_str(arg) {
        return Ok(id);
    }
    if arg.is_empty() {
        bail!("the contact is empty: give a name or Session ID (see `sotto contacts list`)");
    }
    let lower = arg.to_lowercase();
    let names = |c: &Contact| {
        [c.nickname.as_deref(), c.profile_name.as_deref()]
            .into_iter()
            .flatten()
            .map(str::to_lowercase)
            .collect::<Vec<_>>()
    };
    let exact: Vec<&Contact> = contacts
        .iter()
        .filter(|c| names(c).contains(&lower))
        .collect();
    let candidates = if exact.is_empty() {
        contacts
            .iter()
            .filter(|c| {
                c.session_id.to_string().starts_with(&lower)
                    || names(c).iter().any(|n| n.starts_with(&lower))
            })
            .collect()
    } else {
        exact
    };
    match candidates.as_slice() {
        [one] => Ok(one.session_id),
        [] => Err(anyhow!(
            "no contact matches {arg:?}: see `sotto contacts list`, or give a full Session ID \
             (66 hex characters starting with 05)"
        )),
        many => {
            let mut list: Vec<String> = many
                .iter()
                .take(MAX_CANDIDATES)
                .map(|c| describe(c))
                .collect();
            if many.len() > MAX_CANDIDATES {
                list.push(format!("and {} more", many.len() - MAX_CANDIDATES));
            }
            Err(anyhow!(
                "{arg:?} matches {} contacts: {}; give more of the name or Session ID",
                many.len(),
                list.join(", ")
            ))
        }
    }
}

/// The Session ID that `arg` names (see [`contact_in`]).
pub fn contact(engine: &Engine, arg: &str) -> anyhow::Result<SessionId> {
    contact_in(&engine.contacts()?, arg)
}

/// Which message `last` means.
#[derive(Clone, Copy)]
pub enum Last {
    /// The newest message in the conversation that is not deleted.
    Any,
    /// The newest of one's own messages that is not deleted (for `unsend`).
    Own,
}

/// The message `arg` names in the conversation with `peer`.
pub fn message(
    engine: &Engine,
    peer: &SessionId,
    arg: &str,
    last: Last,
) -> anyhow::Result<MessageRecord> {
    let arg = arg.trim();
    if arg.eq_ignore_ascii_case("last") {
        let history = engine.messages(peer, 1000)?;
        return history
            .into_iter()
            .rev()
            .find(|m| m.state != MessageState::Deleted && (matches!(last, Last::Any) || m.outgoing))
            .ok_or_else(|| {
                anyhow!(
                    "there is no {}message in this conversation: see `sotto read {}`",
                    if matches!(last, Last::Own) {
                        "message of yours "
                    } else {
                        ""
                    },
                    peer
                )
            });
    }
    let number: i64 = arg
        .strip_prefix('#')
        .unwrap_or(arg)
        .parse()
        .map_err(|_| anyhow!("{arg:?} is not a message number: give #12, 12 or last"))?;
    let id = MessageId(number);
    let record = engine
        .message(id)?
        .filter(|m| m.peer == *peer)
        .ok_or_else(|| {
            anyhow!("no message {id} in this conversation: see `sotto read` for the numbers")
        })?;
    if record.state == MessageState::Deleted {
        bail!("message {id} was deleted");
    }
    Ok(record)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contact(id: &str, nickname: Option<&str>, profile: Option<&str>) -> Contact {
        Contact {
            session_id: SessionId::from_str(id).unwrap(),
            nickname: nickname.map(str::to_owned),
            profile_name: profile.map(str::to_owned),
            approved: true,
            approved_me: false,
            blocked: false,
        }
    }

    #[test]
    fn names_ids_and_prefixes() {
        let a = "05".to_owned() + &"ab".repeat(32);
        let b = "05".to_owned() + &"ac".repeat(32);
        let c = "05".to_owned() + &"cd".repeat(32);
        let all = [
            contact(&a, Some("Bob"), None),
            contact(&b, None, Some("Bobby")),
            contact(&c, Some("carol"), Some("Caroline")),
        ];
        let id = |s: &str| SessionId::from_str(s).unwrap();
        assert_eq!(contact_in(&all, "bob").unwrap(), id(&a));
        assert_eq!(contact_in(&all, "BOBBY").unwrap(), id(&b));
        assert_eq!(contact_in(&all, "caroline").unwrap(), id(&c));
        assert_eq!(contact_in(&all, "car").unwrap(), id(&c));
        assert_eq!(contact_in(&all, "05ac").unwrap(), id(&b));
        assert_eq!(contact_in(&all, &c).unwrap(), id(&c));
        let unknown = "05".to_owned() + &"ee".repeat(32);
        assert_eq!(contact_in(&all, &unknown).unwrap(), id(&unknown));

        let err = contact_in(&all, "05a").unwrap_err().to_string();
        assert!(
            err.contains("matches 2 contacts") && err.contains("Bobby"),
            "{err}"
        );
        let err = contact_in(&all, "dave").unwrap_err().to_string();
        assert!(err.contains("sotto contacts list"), "{err}");
    }
}
