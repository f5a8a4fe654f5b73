use super::*;

#[derive(Deserialize)]
struct T {
    p: ProtocolText,
}

fn proto(toml_value: &str) -> Result<String, String> {
    toml::from_str::<T>(&format!("p = {toml_value}")).map(|t| t.p.0).map_err(|e| e.to_string())
}

#[test]
fn protocols_are_read_as_numbers_or_names() {
    assert_eq!(proto("201").unwrap(), "201");
    assert_eq!(proto("\"bird\"").unwrap(), "bird");
    assert!(proto("300").unwrap_err().contains("out of range"));
}
