//! The README's configuration table and the code name the same variables.

use std::collections::BTreeSet;

#[test]
fn readme_configuration_table_matches_the_code() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let section = readme
        .split("## Configuration")
        .nth(1)
        .expect("a Configuration section")
        .split("\n## ")
        .next()
        .unwrap();
    let rows: Vec<&str> = section
        .lines()
        .filter_map(|line| line.strip_prefix("| `"))
        .filter_map(|rest| rest.split('`').next())
        .collect();
    // A family of variables (`DOCKET_OIDC_<NAME>_ISSUER`) is read from the environment by
    // pattern: one row per setting of `docket::config::OIDC_SETTINGS`.
    let (families, documented): (Vec<&str>, Vec<&str>) =
        rows.into_iter().partition(|name| name.contains("<NAME>"));
    let documented: BTreeSet<&str> = documented.into_iter().collect();
    let in_code: BTreeSet<&str> = docket::config::VARIABLES.iter().copied().collect();
    assert_eq!(
        documented, in_code,
        "README table vs docket::config::VARIABLES"
    );
    let families: BTreeSet<String> = families.into_iter().map(str::to_owned).collect();
    let settings: BTreeSet<String> = docket::config::OIDC_SETTINGS
        .iter()
        .map(|setting| format!("DOCKET_OIDC_<NAME>_{setting}"))
        .collect();
    assert_eq!(
        families, settings,
        "README table vs docket::config::OIDC_SETTINGS"
    );
}

#[test]
fn every_variable_is_read_by_the_cli() {
    let config =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/src/config.rs")).unwrap();
    for variable in docket::config::VARIABLES {
        assert!(
            config.contains(&format!("env = \"{variable}\"")),
            "{variable} has no clap env binding"
        );
    }
}
