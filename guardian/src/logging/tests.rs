use super::*;

#[test]
fn each_level_has_its_syslog_priority() {
    let levels = [Level::ERROR, Level::WARN, Level::INFO, Level::DEBUG, Level::TRACE];
    let prefixes: Vec<&str> = levels.iter().map(priority_prefix).collect();
    assert_eq!(prefixes, ["<3>", "<4>", "<6>", "<7>", "<7>"]);
}

#[test]
fn every_line_of_an_event_is_prefixed() {
    assert_eq!(prefix_lines("<4>", b"WARN route reinstalled x=1\n"), b"<4>WARN route reinstalled x=1\n");
    assert_eq!(prefix_lines("<3>", b"one\ntwo\n"), b"<3>one\n<3>two\n");
    assert_eq!(prefix_lines("<6>", b"no newline"), b"<6>no newline");
}

#[test]
fn journal_stream_must_name_this_very_file() {
    assert!(journal_stream_names("8:123456", 8, 123456));
    assert!(journal_stream_names("8:123456\n", 8, 123456));
    assert!(!journal_stream_names("8:123457", 8, 123456), "another file: stderr was redirected");
    assert!(!journal_stream_names("9:123456", 8, 123456));
    assert!(!journal_stream_names("", 8, 123456));
    assert!(!journal_stream_names("8-123456", 8, 123456));
}
