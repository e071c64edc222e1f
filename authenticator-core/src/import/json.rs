//! The JSON of Aegis and 2FAS exports: parsed into a document whose strings are wiped when it is
//! dropped (they hold the secrets), and read field by field with messages that name the field but
//! never quote its value.

use serde_json::Value;
use zeroize::Zeroize;

/// A parsed JSON document; every string in it is zeroized on drop.
pub(super) struct Document(Value);

impl Document {
    /// The top-level value.
    pub(super) fn value(&self) -> &Value {
        &self.0
    }

    /// A top-level field that is present and not null.
    pub(super) fn get(&self, key: &str) -> Option<&Value> {
        field(&self.0, key)
    }
}

impl Drop for Document {
    fn drop(&mut self) {
        wipe(&mut self.0);
    }
}

/// Recursion is bounded: serde_json refuses documents nested deeper than 128 levels.
fn wipe(value: &mut Value) {
    match value {
        Value::String(text) => text.zeroize(),
        Value::Array(items) => items.iter_mut().for_each(wipe),
        Value::Object(fields) => fields.values_mut().for_each(wipe),
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

/// Parses a document. serde_json's syntax errors give a position, never the text around it.
pub(super) fn parse(bytes: &[u8]) -> Result<Document, String> {
    serde_json::from_slice(bytes)
        .map(Document)
        .map_err(|e| format!("it is not valid JSON: {e}"))
}

/// A field of an object that is present and not null.
pub(super) fn field<'a>(object: &'a Value, key: &str) -> Option<&'a Value> {
    object.get(key).filter(|value| !value.is_null())
}

/// A text field; absent or null is `None`.
pub(super) fn text<'a>(object: &'a Value, key: &str) -> Result<Option<&'a str>, String> {
    match field(object, key) {
        None => Ok(None),
        Some(Value::String(text)) => Ok(Some(text)),
        Some(_) => Err(format!("`{key}` is not text")),
    }
}

/// A whole-number field; absent or null is `None`.
pub(super) fn whole_number(object: &Value, key: &str) -> Result<Option<u64>, String> {
    match field(object, key) {
        None => Ok(None),
        Some(value) => value
            .as_u64()
            .map(Some)
            .ok_or_else(|| format!("`{key}` is not a whole number")),
    }
}

/// A small whole number (digits, period); values beyond `u32` saturate, so the range check
/// that follows reports them as out of range.
pub(super) fn small_number(object: &Value, key: &str) -> Result<Option<u32>, String> {
    Ok(whole_number(object, key)?.map(|n| u32::try_from(n).unwrap_or(u32::MAX)))
}

/// A list field; absent or null is `None`.
pub(super) fn list<'a>(object: &'a Value, key: &str) -> Result<Option<&'a [Value]>, String> {
    match field(object, key) {
        None => Ok(None),
        Some(Value::Array(items)) => Ok(Some(items)),
        Some(_) => Err(format!("`{key}` is not a list")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_typed_and_errors_quote_no_value() {
        let doc = parse(br#"{"a":"x","n":7,"neg":-1,"big":1e3,"null":null,"l":[1],"s":"SECRET"}"#)
            .unwrap();
        let v = doc.value();
        assert_eq!(text(v, "a"), Ok(Some("x")));
        assert_eq!(text(v, "null"), Ok(None));
        assert_eq!(text(v, "missing"), Ok(None));
        assert_eq!(text(v, "n"), Err("`n` is not text".into()));
        assert_eq!(whole_number(v, "n"), Ok(Some(7)));
        assert!(whole_number(v, "neg").is_err());
        assert!(whole_number(v, "big").is_err());
        let err = whole_number(v, "s").unwrap_err();
        assert!(!err.contains("SECRET"), "{err}");
        assert_eq!(list(v, "l").unwrap().map(<[Value]>::len), Some(1));
        assert!(doc.get("null").is_none());
    }

    #[test]
    fn syntax_errors_give_a_position_only() {
        let err = parse(br#"{"secret":"HUNTER2HUNTER2"#).err().unwrap();
        assert!(!err.contains("HUNTER"), "{err}");
        assert!(err.contains("line 1"), "{err}");
    }

    #[test]
    fn small_numbers_saturate() {
        let doc = parse(br#"{"d":99999999999}"#).unwrap();
        assert_eq!(small_number(doc.value(), "d"), Ok(Some(u32::MAX)));
    }

    #[test]
    fn wiping_clears_nested_strings() {
        let mut value: Value = serde_json::from_str(r#"{"a":["xyz",{"b":"uvw"}]}"#).unwrap();
        wipe(&mut value);
        assert_eq!(value, serde_json::json!({"a":["",{"b":""}]}));
    }
}
