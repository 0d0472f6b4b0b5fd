//! `BankChecker`: every audit of the bank workload must see each account exactly once
//! and a total equal to `accounts × initial_balance` — transfers move money, they never
//! create or destroy it. An audit reads all accounts in one transaction, so any torn
//! snapshot, lost write or transfer applied twice shows up as a wrong total.

use std::collections::BTreeMap;

use crate::violation::{Violation, ViolationKind};

/// Checks bank audits.
#[derive(Debug, Clone)]
pub struct BankChecker {
    accounts: u64,
    initial_balance: i64,
    audits: u64,
}

impl BankChecker {
    /// A bank of accounts `0..accounts`, each starting at `initial_balance`.
    pub fn new(accounts: u64, initial_balance: i64) -> Self {
        assert!(accounts > 0, "a bank has at least one account");
        BankChecker {
            accounts,
            initial_balance,
            audits: 0,
        }
    }

    /// The total every audit must see.
    pub fn expected_total(&self) -> i128 {
        i128::from(self.accounts) * i128::from(self.initial_balance)
    }

    /// How many audits passed.
    pub fn audits(&self) -> u64 {
        self.audits
    }

    /// Judges one audit: `(account, balance)` for every account, read in one transaction.
    pub fn observe_audit(&mut self, step: u64, balances: &[(u64, i64)]) -> Result<(), Violation> {
        let mut seen: BTreeMap<u64, i64> = BTreeMap::new();
        for (account, balance) in balances {
            let problem = if *account >= self.accounts {
                Some(format!("unknown account {account}"))
            } else if seen.insert(*account, *balance).is_some() {
                Some(format!("account {account} appears twice"))
            } else {
                None
            };
            if let Some(problem) = problem {
                return Err(self.accounts_violation(step, seen.len(), problem));
            }
        }
        if let Some(missing) = (0..self.accounts).find(|account| !seen.contains_key(account)) {
            let problem = format!("account {missing} is missing");
            return Err(self.accounts_violation(step, seen.len(), problem));
        }
        let total: i128 = seen.values().map(|balance| i128::from(*balance)).sum();
        if total != self.expected_total() {
            let shown: Vec<String> = seen.iter().map(|(a, b)| format!("{a}:{b}")).collect();
            return Err(Violation::new(
                ViolationKind::BankTotal,
                step,
                format!("a total of {}", self.expected_total()),
                format!("a total of {total}"),
            )
            .op("bank audit")
            .detail(format!(
                "{} accounts of {} each; balances {}",
                self.accounts,
                self.initial_balance,
                shown.join(" ")
            )));
        }
        self.audits += 1;
        Ok(())
    }

    fn accounts_violation(&self, step: u64, seen: usize, problem: String) -> Violation {
        Violation::new(
            ViolationKind::BankAccounts,
            step,
            format!("each of accounts 0..{} exactly once", self.accounts),
            problem,
        )
        .op("bank audit")
        .detail(format!("{seen} distinct accounts read before the problem"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_conserved_total_passes() {
        let mut bank = BankChecker::new(3, 100);
        bank.observe_audit(1, &[(0, 100), (1, 100), (2, 100)])
            .unwrap();
        bank.observe_audit(2, &[(2, 150), (0, 50), (1, 100)])
            .unwrap();
        bank.observe_audit(3, &[(0, -20), (1, 220), (2, 100)])
            .unwrap();
        assert_eq!(bank.audits(), 3);
    }

    #[test]
    fn a_transfer_applied_twice_is_caught() {
        let mut bank = BankChecker::new(3, 100);
        // 30 moved from account 0 to 1, but account 1 was credited twice.
        let v = bank
            .observe_audit(7, &[(0, 70), (1, 160), (2, 100)])
            .unwrap_err();
        assert_eq!(v.kind, ViolationKind::BankTotal);
        assert_eq!(v.step, 7);
        assert!(
            v.to_string()
                .contains("expected a total of 300, but got a total of 330"),
            "{v}"
        );
    }

    #[test]
    fn missing_duplicate_and_unknown_accounts_are_caught() {
        let mut bank = BankChecker::new(3, 100);
        let kind = |r: Result<(), Violation>| r.unwrap_err().kind;
        assert_eq!(
            kind(bank.observe_audit(1, &[(0, 200), (1, 100)])),
            ViolationKind::BankAccounts
        );
        let twice = [(0, 100), (1, 100), (1, 100)];
        assert_eq!(
            kind(bank.observe_audit(2, &twice)),
            ViolationKind::BankAccounts
        );
        let unknown = [(0, 100), (1, 100), (2, 100), (3, 0)];
        assert_eq!(
            kind(bank.observe_audit(3, &unknown)),
            ViolationKind::BankAccounts
        );
    }
}
