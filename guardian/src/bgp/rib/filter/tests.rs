use super::*;

fn p(s: &str) -> Prefix {
    let (a, l) = s.split_once('/').unwrap();
    Prefix::new(a.parse().unwrap(), l.parse().unwrap()).unwrap()
}

fn filter(rules: &[&str]) -> PrefixFilter {
    PrefixFilter::parse(rules).unwrap()
}

#[test]
fn no_import_accepts_every_prefix() {
    let f = PrefixFilter::accept_all();
    assert!(f.accepts(&p("0.0.0.0/0")) && f.accepts(&p("2001:db8::/32")));
}

#[test]
fn an_empty_list_accepts_nothing() {
    assert!(!filter(&[]).accepts(&p("10.0.0.0/8")));
}

#[test]
fn a_bare_prefix_matches_only_itself() {
    let f = filter(&["10.0.0.0/8"]);
    assert!(f.accepts(&p("10.0.0.0/8")));
    assert!(!f.accepts(&p("10.1.0.0/16")));
    assert!(!f.accepts(&p("11.0.0.0/8")));
}

#[test]
fn le_takes_the_prefix_and_longer_ones_up_to_n() {
    let f = filter(&["10.0.0.0/8 le 24"]);
    assert!(f.accepts(&p("10.0.0.0/8")));
    assert!(f.accepts(&p("10.9.9.0/24")));
    assert!(!f.accepts(&p("10.9.9.0/25")));
    assert!(!f.accepts(&p("0.0.0.0/0")));
    assert!(!f.accepts(&p("11.0.0.0/16")));
}

#[test]
fn ge_alone_runs_to_the_longest_length() {
    let f = filter(&["10.0.0.0/8 ge 30"]);
    assert!(!f.accepts(&p("10.0.0.0/29")));
    assert!(f.accepts(&p("10.0.0.4/30")) && f.accepts(&p("10.0.0.4/32")));
}

#[test]
fn ge_and_le_in_either_order_bound_both_ends() {
    for rule in ["10.0.0.0/8 ge 16 le 24", "10.0.0.0/8 le 24 ge 16"] {
        let f = filter(&[rule]);
        assert!(!f.accepts(&p("10.0.0.0/15")), "{rule}");
        assert!(f.accepts(&p("10.0.0.0/16")) && f.accepts(&p("10.0.0.0/24")), "{rule}");
        assert!(!f.accepts(&p("10.0.0.0/25")), "{rule}");
    }
}

#[test]
fn a_rule_of_one_family_never_matches_the_other() {
    let f = filter(&["0.0.0.0/0 le 32"]);
    assert!(!f.accepts(&p("::/0")));
    let f = filter(&["2001:db8::/32 le 64"]);
    assert!(f.accepts(&p("2001:db8:1::/48")) && !f.accepts(&p("2001:db9::/32")));
}

#[test]
fn any_matching_rule_accepts() {
    let f = filter(&["10.0.0.0/8", "192.0.2.0/24 le 32"]);
    assert!(f.accepts(&p("10.0.0.0/8")) && f.accepts(&p("192.0.2.7/32")));
    assert!(!f.accepts(&p("198.51.100.0/24")));
}

#[test]
fn bad_rules_say_what_is_wrong() {
    let e = |r: &str| PrefixFilter::parse(&[r]).unwrap_err().to_string();
    assert!(e("10.0.0.1/8").contains("host bits set; write 10.0.0.0/8"), "{}", e("10.0.0.1/8"));
    assert!(e("10.0.0.0/33").contains("too long"));
    assert!(e("10.0.0.0").contains("not a prefix"));
    assert!(e("10.0.0.0/8 le 33").contains("0 to 32"));
    assert!(e("10.0.0.0/16 ge 8").contains("shorter than the prefix's own length"));
    assert!(e("10.0.0.0/8 ge 24 le 16").contains("nothing would match"));
    assert!(e("10.0.0.0/8 le 16 le 24").contains("given twice"));
    assert!(e("10.0.0.0/8 lt 16").contains("neither `ge` nor `le`"));
    assert!(e("10.0.0.0/8 le").contains("needs a prefix length"));
    assert!(e(" ").contains("empty rule"));
}

#[test]
fn the_configuration_s_rules_filter_as_their_text_does() {
    let texts = ["10.0.0.0/8 le 24", "192.0.2.0/24", "2001:db8::/32 ge 48 le 64"];
    let config: Vec<crate::config::PrefixFilter> =
        texts.iter().map(|t| crate::config::PrefixFilter::parse(t).unwrap()).collect();
    assert_eq!(PrefixFilter::from_config(&config), PrefixFilter::parse(&texts).unwrap());
    assert_eq!(PrefixFilter::from_config(&[]), PrefixFilter::accept_all());
}
