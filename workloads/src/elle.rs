//! The bridge to the oracle's list-append checker: one function, so its report shape is
//! known in one place.

use braid_oracle::ElleTxn;

/// Checks a list-append history; an error describes the anomaly found.
pub(crate) fn check(history: &[ElleTxn]) -> Result<(), String> {
    // Stand-in until the oracle's `check_list_append` lands: only internal consistency of
    // unique elements (no element read twice in one list).
    for txn in history {
        for mop in &txn.mops {
            if let braid_oracle::Mop::Read {
                key,
                list: Some(list),
            } = mop
            {
                let distinct: std::collections::BTreeSet<_> = list.iter().collect();
                if distinct.len() != list.len() {
                    return Err(format!("key {key} read with a duplicate element: {list:?}"));
                }
            }
        }
    }
    Ok(())
}
