use sotto_swarm::{
    DECOMMISSIONED_REDISTRIBUTION_LOWER_PERCENTILE, EXCESS_BASE, FILL_SWARM_LOWER_PERCENTILE,
    IDEAL_SWARM_MARGIN, IDEAL_SWARM_SIZE, INVALID_SWARM_ID, MAX_ID, MAX_SWARM_SIZE, MIN_SWARM_SIZE,
    Mt19937_64, NEW_SWARM_SIZE, STEALING_SWARM_UPPER_PERCENTILE, SWARM_BUFFER, SwarmId, SwarmIds,
    UNASSIGNED_SWARM_ID, account_swarm_space,
};

use super::case::eq;
use super::{Case, CaseResult, Handler};

pub(super) fn handler(group: &str) -> Option<Handler> {
    Some(match group {
        "constants" => constants,
        "space" => space,
        "pick" => pick,
        "boundaries" => boundaries,
        "new_id" => new_id,
        "assignment_sim" => assignment_sim,
        _ => return None,
    })
}

fn constants(case: &Case<'_>) -> CaseResult {
    let ids = [
        ("expected_invalid_swarm_id_u64", INVALID_SWARM_ID),
        ("expected_unassigned_swarm_id_u64", UNASSIGNED_SWARM_ID),
        ("expected_max_id_u64", MAX_ID),
    ];
    for (key, got) in ids {
        eq(key, got.0, case.u64(key)?)?;
    }
    let sizes = [
        ("expected_min_swarm_size", MIN_SWARM_SIZE),
        ("expected_ideal_swarm_margin", IDEAL_SWARM_MARGIN),
        ("expected_ideal_swarm_size", IDEAL_SWARM_SIZE),
        ("expected_new_swarm_size", NEW_SWARM_SIZE),
        ("expected_excess_base", EXCESS_BASE),
        ("expected_max_swarm_size", MAX_SWARM_SIZE),
        ("expected_swarm_buffer", SWARM_BUFFER),
        (
            "expected_fill_swarm_lower_percentile",
            FILL_SWARM_LOWER_PERCENTILE,
        ),
        (
            "expected_stealing_swarm_upper_percentile",
            STEALING_SWARM_UPPER_PERCENTILE,
        ),
        (
            "expected_decommissioned_redistribution_lower_percentile",
            DECOMMISSIONED_REDISTRIBUTION_LOWER_PERCENTILE,
        ),
    ];
    for (key, got) in sizes {
        eq(key, got as u64, case.u64(key)?)?;
    }
    Ok(())
}

fn space_of(case: &Case<'_>) -> Result<u64, String> {
    account_swarm_space(&case.hex("pubkey_hex")?).map_err(|e| e.to_string())
}

fn swarm_ids(case: &Case<'_>, key: &str) -> Result<SwarmIds, String> {
    let ids = case
        .str_list(key)?
        .into_iter()
        .map(|s| {
            s.parse()
                .map(SwarmId)
                .map_err(|_| format!("{key}: {s:?} is not a u64"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let count = ids.len();
    let set: SwarmIds = ids.into_iter().collect();
    eq("distinct valid ids in the input", set.len(), count)?;
    Ok(set)
}

fn space(case: &Case<'_>) -> CaseResult {
    let got = space_of(case)?;
    eq("swarm space", got, case.u64("expected_space_u64")?)?;
    if let Some(be) = case.intermediate_str("space_be_hex")? {
        eq(
            "space as big-endian hex",
            format!("{got:016x}").as_str(),
            be,
        )?;
    }
    Ok(())
}

fn pick(case: &Case<'_>) -> CaseResult {
    let ids = swarm_ids(case, "swarm_ids_u64")?;
    let space = space_of(case)?;
    if let Some(want) = case.intermediate_str("space_u64")? {
        eq("swarm space", space.to_string().as_str(), want)?;
    }
    let got = ids.pick(space).map_err(|e| e.to_string())?;
    eq("swarm", got.0, case.u64("expected_swarm_id_u64")?)?;
    // The chosen swarm's range must hold the position.
    let range = ids.boundaries(got).map_err(|e| e.to_string())?;
    eq(
        "position inside the chosen swarm's range",
        range.contains(space),
        true,
    )
}

fn boundaries(case: &Case<'_>) -> CaseResult {
    let ids = swarm_ids(case, "swarm_ids_u64")?;
    let id = SwarmId(case.u64("swarm_id_u64")?);
    let range = ids.boundaries(id).map_err(|e| e.to_string())?;
    eq(
        "lower bound (exclusive)",
        range.lower_exclusive(),
        case.u64("expected_lower_exclusive_u64")?,
    )?;
    eq(
        "upper bound (inclusive)",
        range.upper_inclusive(),
        case.u64("expected_upper_inclusive_u64")?,
    )?;
    // The edges agree with pick: the range is exactly the positions that pick this swarm.
    let pick = |x: u64| ids.pick(x).map_err(|e| e.to_string());
    eq("pick(upper)", pick(range.upper_inclusive())?, id)?;
    if !range.is_whole_space() {
        eq(
            "pick(lower + 1)",
            pick(range.lower_exclusive().wrapping_add(1))?,
            id,
        )?;
        if pick(range.lower_exclusive())? == id
            || pick(range.upper_inclusive().wrapping_add(1))? == id
        {
            return Err("a position just outside the range picks the swarm".into());
        }
    }
    Ok(())
}

fn new_id(case: &Case<'_>) -> CaseResult {
    let ids = swarm_ids(case, "existing_ids_u64")?;
    let got = ids.new_swarm_id();
    eq("new swarm id", got.0, case.u64("expected_new_id_u64")?)?;
    eq("new id is not taken", ids.contains(got), false)
}

/// oxen-core's `deterministic_swarm_ids` test, run through the public API.
fn assignment_sim(case: &Case<'_>) -> CaseResult {
    let mut rng = Mt19937_64::new(case.u64("rng_seed")?);
    let steps = case.u64("steps")?;
    let remove_below = case.u64("remove_below_u64")?;
    let mut ids = SwarmIds::new();
    for step in 0..steps {
        let n = rng.next_u64();
        if n < remove_below {
            let len = ids.len() as u64;
            if len > 0 {
                let at = usize::try_from(n % len).map_err(|e| e.to_string())?;
                let victim = *ids.as_slice().get(at).ok_or("index out of range")?;
                ids.remove(victim);
            }
        } else {
            let id = ids.new_swarm_id();
            if !ids.insert(id) {
                return Err(format!("step {step}: new id {id} was already taken"));
            }
        }
    }
    eq(
        "final count",
        ids.len() as u64,
        case.u64("expected_final_count")?,
    )?;
    for (i, entry) in case.json_list("expected_ids_at_index")?.iter().enumerate() {
        let index = entry
            .get("index")
            .and_then(serde_json::Value::as_u64)
            .ok_or_else(|| format!("expected_ids_at_index[{i}].index is not a number"))?;
        let want: u64 = entry
            .get("id_u64")
            .and_then(serde_json::Value::as_str)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("expected_ids_at_index[{i}].id_u64 is not a u64 string"))?;
        let got = usize::try_from(index)
            .ok()
            .and_then(|at| ids.as_slice().get(at))
            .ok_or_else(|| format!("index {index} is past the end"))?;
        eq(&format!("id at index {index}"), got.0, want)?;
    }
    Ok(())
}
