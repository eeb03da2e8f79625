//! The selector classifier of `docs/decision-procedure.md` §4 step 4, for classic and advanced selectors.
//!
//! A selector is classified by what it records of management events: which of read and
//! write, which event sources it excludes, and whether any other condition narrows it. An
//! advanced selector's `Name` is never consulted.

use std::collections::BTreeSet;

use serde::Serialize;

use super::model::{AdvancedSelector, ClassicSelector, ReadWriteType, Selectors};

/// What one selector records of management events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SelectorClass {
    /// Records management events at all.
    pub management: bool,
    pub read: bool,
    pub write: bool,
    /// Event sources excluded (`kms.amazonaws.com`, `rdsdata.amazonaws.com`, …).
    pub excluded_sources: BTreeSet<String>,
    /// Fields (or operators) that narrow it beyond read/write and source exclusion.
    pub narrowed_by: Vec<String>,
}

impl SelectorClass {
    fn none() -> Self {
        SelectorClass {
            management: false,
            read: false,
            write: false,
            excluded_sources: BTreeSet::new(),
            narrowed_by: Vec::new(),
        }
    }

    /// All read and write management events, nothing excluded, nothing narrowed.
    pub fn is_full(&self) -> bool {
        self.management
            && self.read
            && self.write
            && self.excluded_sources.is_empty()
            && self.narrowed_by.is_empty()
    }

    /// Full except for excluded sources (what `cis-literal` accepts with a warning).
    pub fn is_full_ignoring_exclusions(&self) -> bool {
        self.management && self.read && self.write && self.narrowed_by.is_empty()
    }
}

/// Classifies one classic selector. Absent fields take the API defaults
/// (`IncludeManagementEvents` true, `ReadWriteType` All, no exclusions).
pub fn classify_classic(s: &ClassicSelector) -> SelectorClass {
    if !s.include_management_events.unwrap_or(true) {
        return SelectorClass::none();
    }
    let mut class = SelectorClass {
        management: true,
        ..SelectorClass::none()
    };
    match s.read_write_type.as_ref().unwrap_or(&ReadWriteType::All) {
        ReadWriteType::All => (class.read, class.write) = (true, true),
        ReadWriteType::ReadOnly => class.read = true,
        ReadWriteType::WriteOnly => class.write = true,
        ReadWriteType::Other(v) => {
            (class.read, class.write) = (true, true);
            class.narrowed_by.push(format!("ReadWriteType={v}"));
        }
    }
    class.excluded_sources = s
        .exclude_management_event_sources
        .iter()
        .flatten()
        .cloned()
        .collect();
    class
}

/// Classifies one advanced selector.
pub fn classify_advanced(a: &AdvancedSelector) -> SelectorClass {
    let management = a
        .field_selectors
        .iter()
        .any(|fs| fs.field == "eventCategory" && fs.equals.iter().any(|v| v == "Management"));
    if !management {
        return SelectorClass::none();
    }
    let mut class = SelectorClass {
        management: true,
        read: true,
        write: true,
        ..SelectorClass::none()
    };
    for fs in &a.field_selectors {
        match fs.field.as_str() {
            "eventCategory" => {
                // Any operator other than `Equals [..., "Management", ...]` changes what is
                // selected (e.g. `NotEquals`), so it narrows.
                if fs.operators().any(|(op, _)| op != "Equals") {
                    class.narrowed_by.push("eventCategory".into());
                }
            }
            "readOnly" => {
                let ops: Vec<_> = fs.operators().collect();
                match ops.as_slice() {
                    [("Equals", v)] if v.len() == 1 && v[0] == "true" => class.write = false,
                    [("Equals", v)] if v.len() == 1 && v[0] == "false" => class.read = false,
                    _ => class.narrowed_by.push("readOnly".into()),
                }
            }
            "eventSource" => {
                let ops: Vec<_> = fs.operators().collect();
                match ops.as_slice() {
                    [("NotEquals", v)] => class.excluded_sources.extend(v.iter().cloned()),
                    _ => class.narrowed_by.push("eventSource".into()),
                }
            }
            other => class.narrowed_by.push(other.to_owned()),
        }
    }
    class
}

/// Classifies every selector of a trail.
pub fn classify(selectors: &Selectors) -> Vec<SelectorClass> {
    match selectors {
        Selectors::Classic(v) => v.iter().map(classify_classic).collect(),
        Selectors::Advanced(v) => v.iter().map(classify_advanced).collect(),
    }
}

/// Semantic ("effective") coverage of a set of selectors, which are OR'ed: read (or write)
/// management events from every source are recorded iff the non-narrowed management
/// selectors that record them have exclusion sets with an empty intersection.
pub fn effective_complete<'a>(
    classes: impl IntoIterator<Item = &'a SelectorClass> + Clone,
) -> bool {
    let covers = |want_read: bool| {
        let mut excluded: Option<BTreeSet<String>> = None;
        for c in classes.clone() {
            let records = c.management
                && c.narrowed_by.is_empty()
                && if want_read { c.read } else { c.write };
            if records {
                excluded = Some(match excluded {
                    None => c.excluded_sources.clone(),
                    Some(acc) => acc.intersection(&c.excluded_sources).cloned().collect(),
                });
            }
        }
        excluded.is_some_and(|e| e.is_empty())
    };
    covers(true) && covers(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::model::FieldSelector;

    pub(crate) fn classic(
        rw: ReadWriteType,
        mgmt: bool,
        excl: Option<&[&str]>,
        data: usize,
    ) -> ClassicSelector {
        ClassicSelector {
            read_write_type: Some(rw),
            include_management_events: Some(mgmt),
            exclude_management_event_sources: excl
                .map(|v| v.iter().map(|s| s.to_string()).collect()),
            data_resources: data,
        }
    }

    pub(crate) fn field(name: &str, op: &str, values: &[&str]) -> FieldSelector {
        let v: Vec<String> = values.iter().map(|s| s.to_string()).collect();
        let mut fs = FieldSelector {
            field: name.into(),
            ..Default::default()
        };
        match op {
            "Equals" => fs.equals = v,
            "StartsWith" => fs.starts_with = v,
            "EndsWith" => fs.ends_with = v,
            "NotEquals" => fs.not_equals = v,
            "NotStartsWith" => fs.not_starts_with = v,
            "NotEndsWith" => fs.not_ends_with = v,
            _ => panic!("operator {op}"),
        }
        fs
    }

    pub(crate) fn adv(name: Option<&str>, fields: Vec<FieldSelector>) -> AdvancedSelector {
        AdvancedSelector {
            name: name.map(str::to_owned),
            field_selectors: fields,
        }
    }

    /// Summary of a trail's classification: (any full, effective complete).
    fn trail(sel: &Selectors) -> (bool, bool) {
        let classes = classify(sel);
        (
            classes.iter().any(SelectorClass::is_full),
            effective_complete(&classes),
        )
    }

    use ReadWriteType::*;

    #[test]
    #[allow(clippy::type_complexity)]
    fn classic_table() {
        // (case, selector, management, read, write, excluded, narrowed, full)
        let table: Vec<(
            &str,
            ClassicSelector,
            bool,
            bool,
            bool,
            Vec<&str>,
            bool,
            bool,
        )> = vec![
            (
                "S02 All,true",
                classic(All, true, Some(&[]), 0),
                true,
                true,
                true,
                vec![],
                false,
                true,
            ),
            (
                "S04 WriteOnly",
                classic(WriteOnly, true, None, 0),
                true,
                false,
                true,
                vec![],
                false,
                false,
            ),
            (
                "S05 ReadOnly",
                classic(ReadOnly, true, None, 0),
                true,
                true,
                false,
                vec![],
                false,
                false,
            ),
            (
                "S06 data only",
                classic(All, false, None, 1),
                false,
                false,
                false,
                vec![],
                false,
                false,
            ),
            (
                "S07 excl kms",
                classic(All, true, Some(&["kms.amazonaws.com"]), 0),
                true,
                true,
                true,
                vec!["kms.amazonaws.com"],
                false,
                false,
            ),
            (
                "S08 excl rdsdata",
                classic(All, true, Some(&["rdsdata.amazonaws.com"]), 0),
                true,
                true,
                true,
                vec!["rdsdata.amazonaws.com"],
                false,
                false,
            ),
            (
                "exclusions [] is empty",
                classic(All, true, Some(&[]), 0),
                true,
                true,
                true,
                vec![],
                false,
                true,
            ),
            (
                "exclusions absent is empty",
                classic(All, true, None, 0),
                true,
                true,
                true,
                vec![],
                false,
                true,
            ),
            (
                "unknown ReadWriteType narrows",
                classic(Other("Some".into()), true, None, 0),
                true,
                true,
                true,
                vec![],
                true,
                false,
            ),
        ];
        for (case, sel, m, r, w, excl, narrowed, full) in table {
            let c = classify_classic(&sel);
            let excl: BTreeSet<String> = excl.into_iter().map(str::to_owned).collect();
            assert_eq!(
                (c.management, c.read, c.write),
                (m, r, w),
                "{case}: {sel:?} -> {c:?}"
            );
            assert_eq!(c.excluded_sources, excl, "{case}: {sel:?}");
            assert_eq!(
                !c.narrowed_by.is_empty(),
                narrowed,
                "{case}: {sel:?} -> {c:?}"
            );
            assert_eq!(c.is_full(), full, "{case}: {sel:?} -> {c:?}");
        }
    }

    #[test]
    fn classic_absent_fields_take_api_defaults() {
        let sel = ClassicSelector {
            read_write_type: None,
            include_management_events: None,
            exclude_management_event_sources: None,
            data_resources: 0,
        };
        assert!(classify_classic(&sel).is_full());
    }

    #[test]
    #[allow(clippy::type_complexity)]
    fn advanced_table() {
        let mgmt = || field("eventCategory", "Equals", &["Management"]);
        // (case, selector, read, write, excluded, narrowed_by, full)
        let table: Vec<(
            &str,
            AdvancedSelector,
            bool,
            bool,
            Vec<&str>,
            Vec<&str>,
            bool,
        )> = vec![
            (
                "S11 console default",
                adv(Some("Management events selector"), vec![mgmt()]),
                true,
                true,
                vec![],
                vec![],
                true,
            ),
            (
                "S12 other name",
                adv(Some("all-mgmt"), vec![mgmt()]),
                true,
                true,
                vec![],
                vec![],
                true,
            ),
            (
                "S12 no name",
                adv(None, vec![mgmt()]),
                true,
                true,
                vec![],
                vec![],
                true,
            ),
            (
                "empty name",
                adv(Some(""), vec![mgmt()]),
                true,
                true,
                vec![],
                vec![],
                true,
            ),
            (
                "S13 readOnly true",
                adv(None, vec![mgmt(), field("readOnly", "Equals", &["true"])]),
                true,
                false,
                vec![],
                vec![],
                false,
            ),
            (
                "readOnly false",
                adv(None, vec![mgmt(), field("readOnly", "Equals", &["false"])]),
                false,
                true,
                vec![],
                vec![],
                false,
            ),
            (
                "S14 excl kms",
                adv(
                    None,
                    vec![
                        mgmt(),
                        field("eventSource", "NotEquals", &["kms.amazonaws.com"]),
                    ],
                ),
                true,
                true,
                vec!["kms.amazonaws.com"],
                vec![],
                false,
            ),
            (
                "excl both",
                adv(
                    None,
                    vec![
                        mgmt(),
                        field(
                            "eventSource",
                            "NotEquals",
                            &["kms.amazonaws.com", "rdsdata.amazonaws.com"],
                        ),
                    ],
                ),
                true,
                true,
                vec!["kms.amazonaws.com", "rdsdata.amazonaws.com"],
                vec![],
                false,
            ),
            (
                "readOnly NotEquals true narrows",
                adv(
                    None,
                    vec![mgmt(), field("readOnly", "NotEquals", &["true"])],
                ),
                true,
                true,
                vec![],
                vec!["readOnly"],
                false,
            ),
            (
                "readOnly Equals [true,false] narrows",
                adv(
                    None,
                    vec![mgmt(), field("readOnly", "Equals", &["true", "false"])],
                ),
                true,
                true,
                vec![],
                vec!["readOnly"],
                false,
            ),
            (
                "eventSource Equals narrows",
                adv(
                    None,
                    vec![
                        mgmt(),
                        field("eventSource", "Equals", &["ec2.amazonaws.com"]),
                    ],
                ),
                true,
                true,
                vec![],
                vec!["eventSource"],
                false,
            ),
            (
                "eventName narrows",
                adv(
                    None,
                    vec![mgmt(), field("eventName", "Equals", &["ConsoleLogin"])],
                ),
                true,
                true,
                vec![],
                vec!["eventName"],
                false,
            ),
            (
                "userIdentity.arn narrows",
                adv(
                    None,
                    vec![
                        mgmt(),
                        field(
                            "userIdentity.arn",
                            "NotStartsWith",
                            &["arn:aws:iam::1:role/x"],
                        ),
                    ],
                ),
                true,
                true,
                vec![],
                vec!["userIdentity.arn"],
                false,
            ),
            (
                "eventCategory extra operator narrows",
                adv(
                    None,
                    vec![mgmt(), field("eventCategory", "NotEquals", &["Data"])],
                ),
                true,
                true,
                vec![],
                vec!["eventCategory"],
                false,
            ),
        ];
        for (case, sel, r, w, excl, narrowed, full) in table {
            let c = classify_advanced(&sel);
            let excl: BTreeSet<String> = excl.into_iter().map(str::to_owned).collect();
            assert!(c.management, "{case}: {sel:?}");
            assert_eq!((c.read, c.write), (r, w), "{case}: {sel:?} -> {c:?}");
            assert_eq!(c.excluded_sources, excl, "{case}: {sel:?}");
            assert_eq!(c.narrowed_by, narrowed, "{case}: {sel:?}");
            assert_eq!(c.is_full(), full, "{case}: {sel:?} -> {c:?}");
        }
    }

    #[test]
    fn advanced_without_management_is_none() {
        for (case, sel) in [
            (
                "S15 data only",
                adv(
                    None,
                    vec![
                        field("eventCategory", "Equals", &["Data"]),
                        field("resources.type", "Equals", &["AWS::S3::Object"]),
                    ],
                ),
            ),
            (
                "typo Managment",
                adv(None, vec![field("eventCategory", "Equals", &["Managment"])]),
            ),
            (
                "case matters",
                adv(
                    None,
                    vec![field("eventCategory", "Equals", &["management"])],
                ),
            ),
            (
                "no eventCategory",
                adv(
                    Some("Management events selector"),
                    vec![field("readOnly", "Equals", &["true"])],
                ),
            ),
        ] {
            let c = classify_advanced(&sel);
            assert!(!c.management && !c.is_full(), "{case}: {sel:?} -> {c:?}");
        }
    }

    #[test]
    fn trail_level_cases() {
        let mgmt = || field("eventCategory", "Equals", &["Management"]);
        // (case, selectors, strict ok, effective complete)
        let table = vec![
            ("[] -> none", Selectors::Classic(vec![]), false, false),
            (
                "advanced [] -> none",
                Selectors::Advanced(vec![]),
                false,
                false,
            ),
            (
                "[{All,true}] -> full",
                Selectors::Classic(vec![classic(All, true, None, 0)]),
                true,
                true,
            ),
            (
                "[{ReadOnly,false},{All,true}] -> full",
                Selectors::Classic(vec![
                    classic(ReadOnly, false, None, 0),
                    classic(All, true, None, 0),
                ]),
                true,
                true,
            ),
            (
                "S09 split classic",
                Selectors::Classic(vec![
                    classic(ReadOnly, true, None, 0),
                    classic(WriteOnly, true, None, 0),
                ]),
                false,
                true,
            ),
            (
                "S10 data + all",
                Selectors::Classic(vec![
                    classic(All, false, None, 3),
                    classic(All, true, None, 0),
                ]),
                true,
                true,
            ),
            (
                "S16 readOnly + data",
                Selectors::Advanced(vec![
                    adv(None, vec![mgmt(), field("readOnly", "Equals", &["true"])]),
                    adv(
                        None,
                        vec![
                            field("eventCategory", "Equals", &["Data"]),
                            field("resources.type", "Equals", &["AWS::S3::Object"]),
                        ],
                    ),
                ]),
                false,
                false,
            ),
            (
                "S17 split advanced",
                Selectors::Advanced(vec![
                    adv(None, vec![mgmt(), field("readOnly", "Equals", &["true"])]),
                    adv(None, vec![mgmt(), field("readOnly", "Equals", &["false"])]),
                ]),
                false,
                true,
            ),
            (
                "excl kms + excl rdsdata covers every source",
                Selectors::Classic(vec![
                    classic(All, true, Some(&["kms.amazonaws.com"]), 0),
                    classic(All, true, Some(&["rdsdata.amazonaws.com"]), 0),
                ]),
                false,
                true,
            ),
            (
                "two selectors both excluding kms leave a hole",
                Selectors::Classic(vec![
                    classic(ReadOnly, true, Some(&["kms.amazonaws.com"]), 0),
                    classic(All, true, Some(&["kms.amazonaws.com"]), 0),
                ]),
                false,
                false,
            ),
            (
                "narrowed selectors never count",
                Selectors::Advanced(vec![adv(
                    None,
                    vec![mgmt(), field("eventName", "NotEquals", &["Decrypt"])],
                )]),
                false,
                false,
            ),
        ];
        for (case, sel, strict, effective) in table {
            assert_eq!(trail(&sel), (strict, effective), "{case}: {sel:?}");
        }
    }
}
