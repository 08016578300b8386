//! awsQuery / restXml response encoding: typed outputs (serde) into XML.
//!
//! One serde `Serializer` writes straight into a `String` (no DOM). What it writes:
//! struct fields become elements named by their (renamed) field names, nested structs
//! nest, `None` and `()` write nothing, bools are `true` / `false`, numbers are plain,
//! bytes are base64, strings are escaped, maps are
//! `<entry><key>..</key><value>..</value></entry>`. Lists are the one thing the two XML
//! protocols spell differently, so [`XmlOptions`] chooses: awsQuery wraps each item in
//! `<member>`; restXml (S3) usually repeats the element itself (flattened), and a wrapped
//! S3 list with a named item (`<Buckets><Bucket>..`) is a struct with one flattened field.
//!
//! Element names come from the service's types (trusted, `'static`); every value is
//! escaped. This module never fails on derived `Serialize` impls: every serde data-model
//! type has an encoding here; only a hand-written impl that returns an error can fail.

use std::fmt::{self, Write as _};

use serde::ser::{self, Serialize};

/// How lists are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListStyle {
    /// `<Field><member>a</member><member>b</member></Field>`, with `member` configurable.
    Wrapped { item: &'static str },
    /// `<Field>a</Field><Field>b</Field>`.
    Flattened,
}

/// Encoder options shared by the awsQuery and restXml encoders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct XmlOptions {
    pub lists: ListStyle,
}

impl XmlOptions {
    /// awsQuery (IAM, STS, SNS, CloudWatch): lists wrapped in `<member>`.
    pub const QUERY: XmlOptions = XmlOptions {
        lists: ListStyle::Wrapped { item: "member" },
    };
    /// restXml (S3): lists flattened.
    pub const REST_XML: XmlOptions = XmlOptions {
        lists: ListStyle::Flattened,
    };
}

/// A `Serialize` impl reported an error of its own.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot encode response as XML: {0}")]
pub struct XmlError(String);

impl ser::Error for XmlError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        XmlError(msg.to_string())
    }
}

/// An awsQuery success response:
/// `<{action}Response xmlns="{xmlns}"><{action}Result>..</{action}Result>
/// <ResponseMetadata><RequestId>..</RequestId></ResponseMetadata></{action}Response>`.
/// With `result: None` (operations without output) there is no `Result` element, as in AWS.
///
/// Infallible for derived `Serialize` impls; if a hand-written impl fails, the body is an
/// `InternalFailure` error document instead (use [`try_to_xml`] to handle that yourself).
pub fn to_xml<T: Serialize>(
    action: &str,
    xmlns: &str,
    result: Option<&T>,
    request_id: &str,
) -> String {
    try_to_xml(action, xmlns, result, request_id).unwrap_or_else(|_| {
        error_xml(
            "InternalFailure",
            "The request processing has failed because of an unknown error, exception or failure.",
            false,
            request_id,
            Some(xmlns),
        )
    })
}

/// [`to_xml`], reporting a failing `Serialize` impl instead of replacing the body.
pub fn try_to_xml<T: Serialize>(
    action: &str,
    xmlns: &str,
    result: Option<&T>,
    request_id: &str,
) -> Result<String, XmlError> {
    let mut out = String::with_capacity(512);
    out.push('<');
    push_name(&mut out, action);
    out.push_str("Response xmlns=\"");
    push_escaped(&mut out, xmlns);
    out.push_str("\">");
    if let Some(result) = result {
        let mut name = String::with_capacity(action.len() + 6);
        push_name(&mut name, action);
        name.push_str("Result");
        result.serialize(Element {
            out: &mut out,
            name: &name,
            xmlns: None,
            opts: &XmlOptions::QUERY,
        })?;
    }
    out.push_str("<ResponseMetadata><RequestId>");
    push_escaped(&mut out, request_id);
    out.push_str("</RequestId></ResponseMetadata></");
    push_name(&mut out, action);
    out.push_str("Response>");
    Ok(out)
}

/// An awsQuery error body, the shape IAM, STS, SNS and CloudWatch share:
/// `<ErrorResponse xmlns=".."><Error><Type>Sender|Receiver</Type><Code>..</Code>
/// <Message>..</Message></Error><RequestId>..</RequestId></ErrorResponse>`.
///
/// `xmlns` is the service's namespace (its `xmlNamespace` in the botocore model, e.g.
/// `https://iam.amazonaws.com/doc/2010-05-08/`, `https://sts.amazonaws.com/doc/2011-06-15/`);
/// `None` writes no namespace, for errors raised before the service is known.
pub fn error_xml(
    code: &str,
    message: &str,
    sender_fault: bool,
    request_id: &str,
    xmlns: Option<&str>,
) -> String {
    let mut out = String::with_capacity(256 + message.len());
    out.push_str("<ErrorResponse");
    if let Some(ns) = xmlns {
        out.push_str(" xmlns=\"");
        push_escaped(&mut out, ns);
        out.push('"');
    }
    out.push_str("><Error><Type>");
    out.push_str(if sender_fault { "Sender" } else { "Receiver" });
    out.push_str("</Type><Code>");
    push_escaped(&mut out, code);
    out.push_str("</Code><Message>");
    push_escaped(&mut out, message);
    out.push_str("</Message></Error><RequestId>");
    push_escaped(&mut out, request_id);
    out.push_str("</RequestId></ErrorResponse>");
    out
}

/// A restXml document: `<?xml ..?>` then `<{root} xmlns="..">` holding `value`'s fields.
pub fn to_rest_xml<T: Serialize>(
    root: &str,
    xmlns: Option<&str>,
    value: &T,
    opts: &XmlOptions,
) -> Result<String, XmlError> {
    let mut out = String::with_capacity(512);
    out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let mut name = String::with_capacity(root.len());
    push_name(&mut name, root);
    value.serialize(Element {
        out: &mut out,
        name: &name,
        xmlns,
        opts,
    })?;
    Ok(out)
}

/// Writes `value` as the element `name` (or nothing, for `None` / unit) onto `out`: the
/// core both encoders use, exposed for protocols that build their own envelope.
pub fn write_element<T: Serialize + ?Sized>(
    out: &mut String,
    name: &str,
    value: &T,
    opts: &XmlOptions,
) -> Result<(), XmlError> {
    value.serialize(Element {
        out,
        name,
        xmlns: None,
        opts,
    })
}

/// Appends `s` with `& < > " '` escaped (as quick-xml's `escape` does), `\r` as `&#xD;`
/// so it survives XML end-of-line normalisation, and characters XML 1.0 cannot carry at
/// all (C0 controls other than tab/newline, U+FFFE, U+FFFF) replaced by U+FFFD, so the
/// document always parses. One pass, no intermediate allocation.
pub fn push_escaped(out: &mut String, s: &str) {
    let mut last = 0;
    for (i, c) in s.char_indices() {
        let rep = match c {
            '&' => "&amp;",
            '<' => "&lt;",
            '>' => "&gt;",
            '"' => "&quot;",
            '\'' => "&apos;",
            '\r' => "&#xD;",
            '\t' | '\n' => continue,
            '\u{0}'..='\u{1f}' | '\u{fffe}' | '\u{ffff}' => "\u{fffd}",
            _ => continue,
        };
        out.push_str(s.get(last..i).unwrap_or_default());
        out.push_str(rep);
        last = i + c.len_utf8();
    }
    out.push_str(s.get(last..).unwrap_or_default());
}

/// Element names are the service's own identifiers; anything outside the XML name
/// characters is dropped so a caller's mistake cannot inject markup.
fn push_name(out: &mut String, name: &str) {
    if name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b':'))
    {
        out.push_str(name);
    } else {
        out.extend(
            name.chars()
                .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':')),
        );
    }
}

struct Element<'o, 'n> {
    out: &'o mut String,
    name: &'n str,
    xmlns: Option<&'n str>,
    opts: &'n XmlOptions,
}

impl Element<'_, '_> {
    fn open(&mut self) {
        self.out.push('<');
        self.out.push_str(self.name);
        if let Some(ns) = self.xmlns {
            self.out.push_str(" xmlns=\"");
            push_escaped(self.out, ns);
            self.out.push('"');
        }
        self.out.push('>');
    }

    fn close(&mut self) {
        self.out.push_str("</");
        self.out.push_str(self.name);
        self.out.push('>');
    }

    fn text(mut self, f: impl FnOnce(&mut String)) -> Result<(), XmlError> {
        self.open();
        f(self.out);
        self.close();
        Ok(())
    }

    fn display(self, v: impl fmt::Display) -> Result<(), XmlError> {
        self.text(|out| {
            let _ = write!(out, "{v}");
        })
    }

    fn child<T: Serialize + ?Sized>(&mut self, name: &str, value: &T) -> Result<(), XmlError> {
        value.serialize(Element {
            out: self.out,
            name,
            xmlns: None,
            opts: self.opts,
        })
    }
}

/// Container state: which closing tags are ours to write.
struct Compound<'o, 'n> {
    el: Element<'o, 'n>,
    /// Items of a flattened list take the container's own name, and there is no
    /// container element; otherwise items are `item` children of the opened container.
    item: Option<&'static str>,
    opened: bool,
    /// Outer element of a `*_variant` shape (`<Outer><Variant>..</Variant></Outer>`).
    outer: Option<&'n str>,
    pending_key: Option<String>,
}

impl<'o, 'n> Compound<'o, 'n> {
    fn list(mut el: Element<'o, 'n>, outer: Option<&'n str>) -> Self {
        let (item, opened) = match el.opts.lists {
            ListStyle::Wrapped { item } => {
                el.open();
                (Some(item), true)
            }
            ListStyle::Flattened => (None, false),
        };
        Compound {
            el,
            item,
            opened,
            outer,
            pending_key: None,
        }
    }

    fn container(mut el: Element<'o, 'n>, outer: Option<&'n str>) -> Self {
        el.open();
        Compound {
            el,
            item: None,
            opened: true,
            outer,
            pending_key: None,
        }
    }

    fn element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), XmlError> {
        let name = self.item.unwrap_or(self.el.name);
        self.el.child(name, value)
    }

    fn finish(mut self) -> Result<(), XmlError> {
        if self.opened {
            self.el.close();
        }
        if let Some(outer) = self.outer {
            self.el.out.push_str("</");
            self.el.out.push_str(outer);
            self.el.out.push('>');
        }
        Ok(())
    }
}

/// Opens the element for a `*_variant` shape and returns the variant's element inside it.
fn variant_element<'o, 'n>(
    mut el: Element<'o, 'n>,
    variant: &'static str,
) -> (Element<'o, 'n>, &'n str) {
    el.open();
    let outer = el.name;
    (
        Element {
            out: el.out,
            name: variant,
            xmlns: None,
            opts: el.opts,
        },
        outer,
    )
}

impl<'o, 'n> ser::Serializer for Element<'o, 'n> {
    type Ok = ();
    type Error = XmlError;
    type SerializeSeq = Compound<'o, 'n>;
    type SerializeTuple = Compound<'o, 'n>;
    type SerializeTupleStruct = Compound<'o, 'n>;
    type SerializeTupleVariant = Compound<'o, 'n>;
    type SerializeMap = Compound<'o, 'n>;
    type SerializeStruct = Compound<'o, 'n>;
    type SerializeStructVariant = Compound<'o, 'n>;

    fn serialize_bool(self, v: bool) -> Result<(), XmlError> {
        self.text(|out| out.push_str(if v { "true" } else { "false" }))
    }
    fn serialize_i8(self, v: i8) -> Result<(), XmlError> {
        self.display(v)
    }
    fn serialize_i16(self, v: i16) -> Result<(), XmlError> {
        self.display(v)
    }
    fn serialize_i32(self, v: i32) -> Result<(), XmlError> {
        self.display(v)
    }
    fn serialize_i64(self, v: i64) -> Result<(), XmlError> {
        self.display(v)
    }
    fn serialize_i128(self, v: i128) -> Result<(), XmlError> {
        self.display(v)
    }
    fn serialize_u8(self, v: u8) -> Result<(), XmlError> {
        self.display(v)
    }
    fn serialize_u16(self, v: u16) -> Result<(), XmlError> {
        self.display(v)
    }
    fn serialize_u32(self, v: u32) -> Result<(), XmlError> {
        self.display(v)
    }
    fn serialize_u64(self, v: u64) -> Result<(), XmlError> {
        self.display(v)
    }
    fn serialize_u128(self, v: u128) -> Result<(), XmlError> {
        self.display(v)
    }
    fn serialize_f32(self, v: f32) -> Result<(), XmlError> {
        self.display(v)
    }
    fn serialize_f64(self, v: f64) -> Result<(), XmlError> {
        self.display(v)
    }
    fn serialize_char(self, v: char) -> Result<(), XmlError> {
        let mut buf = [0u8; 4];
        self.serialize_str(v.encode_utf8(&mut buf))
    }
    fn serialize_str(self, v: &str) -> Result<(), XmlError> {
        self.text(|out| push_escaped(out, v))
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<(), XmlError> {
        use base64::Engine as _;
        self.text(|out| base64::engine::general_purpose::STANDARD.encode_string(v, out))
    }
    fn serialize_none(self) -> Result<(), XmlError> {
        Ok(())
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), XmlError> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<(), XmlError> {
        Ok(())
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result<(), XmlError> {
        Ok(())
    }
    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<(), XmlError> {
        self.serialize_str(variant)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<(), XmlError> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        mut self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), XmlError> {
        self.open();
        self.child(variant, value)?;
        self.close();
        Ok(())
    }
    fn serialize_seq(self, _len: Option<usize>) -> Result<Compound<'o, 'n>, XmlError> {
        Ok(Compound::list(self, None))
    }
    fn serialize_tuple(self, _len: usize) -> Result<Compound<'o, 'n>, XmlError> {
        Ok(Compound::list(self, None))
    }
    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Compound<'o, 'n>, XmlError> {
        Ok(Compound::list(self, None))
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Compound<'o, 'n>, XmlError> {
        let (el, outer) = variant_element(self, variant);
        Ok(Compound::list(el, Some(outer)))
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<Compound<'o, 'n>, XmlError> {
        Ok(Compound::container(self, None))
    }
    fn serialize_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Compound<'o, 'n>, XmlError> {
        Ok(Compound::container(self, None))
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Compound<'o, 'n>, XmlError> {
        let (el, outer) = variant_element(self, variant);
        Ok(Compound::container(el, Some(outer)))
    }
}

impl ser::SerializeSeq for Compound<'_, '_> {
    type Ok = ();
    type Error = XmlError;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), XmlError> {
        self.element(value)
    }
    fn end(self) -> Result<(), XmlError> {
        self.finish()
    }
}

impl ser::SerializeTuple for Compound<'_, '_> {
    type Ok = ();
    type Error = XmlError;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), XmlError> {
        self.element(value)
    }
    fn end(self) -> Result<(), XmlError> {
        self.finish()
    }
}

impl ser::SerializeTupleStruct for Compound<'_, '_> {
    type Ok = ();
    type Error = XmlError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), XmlError> {
        self.element(value)
    }
    fn end(self) -> Result<(), XmlError> {
        self.finish()
    }
}

impl ser::SerializeTupleVariant for Compound<'_, '_> {
    type Ok = ();
    type Error = XmlError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), XmlError> {
        self.element(value)
    }
    fn end(self) -> Result<(), XmlError> {
        self.finish()
    }
}

impl ser::SerializeMap for Compound<'_, '_> {
    type Ok = ();
    type Error = XmlError;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), XmlError> {
        let mut k = String::new();
        key.serialize(Element {
            out: &mut k,
            name: "key",
            xmlns: None,
            opts: self.el.opts,
        })?;
        self.pending_key = Some(k);
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), XmlError> {
        self.el.out.push_str("<entry>");
        if let Some(k) = self.pending_key.take() {
            self.el.out.push_str(&k);
        }
        self.el.child("value", value)?;
        self.el.out.push_str("</entry>");
        Ok(())
    }
    fn end(self) -> Result<(), XmlError> {
        self.finish()
    }
}

impl ser::SerializeStruct for Compound<'_, '_> {
    type Ok = ();
    type Error = XmlError;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), XmlError> {
        self.el.child(key, value)
    }
    fn end(self) -> Result<(), XmlError> {
        self.finish()
    }
}

impl ser::SerializeStructVariant for Compound<'_, '_> {
    type Ok = ();
    type Error = XmlError;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), XmlError> {
        self.el.child(key, value)
    }
    fn end(self) -> Result<(), XmlError> {
        self.finish()
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
mod tests {
    use super::*;
    use serde::Serialize;
    use std::collections::BTreeMap;

    const IAM: &str = "https://iam.amazonaws.com/doc/2010-05-08/";

    #[derive(Serialize)]
    #[serde(rename_all = "PascalCase")]
    struct Tag {
        key: String,
        value: String,
    }

    #[derive(Serialize)]
    #[serde(rename_all = "PascalCase")]
    struct User {
        path: String,
        user_name: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        permissions_boundary: Option<String>,
        password_last_used: Option<String>,
        tags: Vec<Tag>,
    }

    fn frag<T: Serialize + ?Sized>(name: &str, v: &T, opts: &XmlOptions) -> String {
        let mut out = String::new();
        write_element(&mut out, name, v, opts).unwrap();
        out
    }

    #[test]
    fn element_table() {
        #[derive(Serialize)]
        enum Status {
            Active,
        }
        #[derive(Serialize)]
        struct Unit;
        #[derive(Serialize)]
        struct Newtype(u32);
        let q = &XmlOptions::QUERY;
        let cases: Vec<(String, &str)> = vec![
            (frag("B", &true, q), "<B>true</B>"),
            (frag("B", &false, q), "<B>false</B>"),
            (frag("N", &-42i64, q), "<N>-42</N>"),
            (frag("N", &u64::MAX, q), "<N>18446744073709551615</N>"),
            (frag("F", &1.5f64, q), "<F>1.5</F>"),
            (
                frag("S", "a<b>&\"c'", q),
                "<S>a&lt;b&gt;&amp;&quot;c&apos;</S>",
            ),
            (frag("S", "x\r\ny\tz", q), "<S>x&#xD;\ny\tz</S>"),
            (
                frag("S", "nul\u{0}bell\u{7}\u{ffff}", q),
                "<S>nul\u{fffd}bell\u{fffd}\u{fffd}</S>",
            ),
            (frag("S", "żółw 🐢", q), "<S>żółw 🐢</S>"),
            (frag("S", "", q), "<S></S>"),
            (frag("O", &None::<String>, q), ""),
            (frag("O", &Some("v"), q), "<O>v</O>"),
            (frag("U", &(), q), ""),
            (frag("U", &Unit, q), ""),
            (frag("E", &Status::Active, q), "<E>Active</E>"),
            (frag("W", &Newtype(7), q), "<W>7</W>"),
            (frag("C", &'x', q), "<C>x</C>"),
            (frag("L", &Vec::<String>::new(), q), "<L></L>"),
            (
                frag("L", &["a", "b"], q),
                "<L><member>a</member><member>b</member></L>",
            ),
            (
                frag("L", &vec![vec![1, 2], vec![]], q),
                "<L><member><member>1</member><member>2</member></member><member></member></L>",
            ),
            (
                frag("L", &["a", "b"], &XmlOptions::REST_XML),
                "<L>a</L><L>b</L>",
            ),
            (frag("L", &Vec::<u8>::new(), &XmlOptions::REST_XML), ""),
            (
                frag("M", &BTreeMap::from([("Users", 3), ("<k>", 1)]), q),
                "<M><entry><key>&lt;k&gt;</key><value>1</value></entry>\
                 <entry><key>Users</key><value>3</value></entry></M>",
            ),
            (
                frag("M", &BTreeMap::from([(1u8, Some("x")), (2, None)]), q),
                "<M><entry><key>1</key><value>x</value></entry><entry><key>2</key></entry></M>",
            ),
        ];
        for (got, want) in cases {
            assert_eq!(got, want);
        }
    }

    #[test]
    fn bytes_are_base64() {
        struct B;
        impl Serialize for B {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_bytes(b"hi\0")
            }
        }
        assert_eq!(frag("Blob", &B, &XmlOptions::QUERY), "<Blob>aGkA</Blob>");
    }

    #[test]
    fn get_user_response() {
        #[derive(Serialize)]
        #[serde(rename_all = "PascalCase")]
        struct GetUserResult {
            user: User,
        }
        let got = to_xml(
            "GetUser",
            IAM,
            Some(&GetUserResult {
                user: User {
                    path: "/".into(),
                    user_name: "bob".into(),
                    permissions_boundary: None,
                    password_last_used: None,
                    tags: vec![Tag {
                        key: "team".into(),
                        value: "a&b".into(),
                    }],
                },
            }),
            "req-1",
        );
        assert_eq!(
            got,
            "<GetUserResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\">\
             <GetUserResult><User><Path>/</Path><UserName>bob</UserName>\
             <Tags><member><Key>team</Key><Value>a&amp;b</Value></member></Tags>\
             </User></GetUserResult>\
             <ResponseMetadata><RequestId>req-1</RequestId></ResponseMetadata>\
             </GetUserResponse>"
        );
    }

    #[test]
    fn no_output_has_no_result_element() {
        let got = to_xml::<()>("DeleteUser", IAM, None, "r");
        assert_eq!(
            got,
            "<DeleteUserResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\">\
             <ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></DeleteUserResponse>"
        );
    }

    #[test]
    fn names_cannot_inject_markup() {
        let got = to_xml::<()>("Get\"><x>User", "ns\"><y>", None, "<r>");
        assert_eq!(
            got,
            "<GetxUserResponse xmlns=\"ns&quot;&gt;&lt;y&gt;\">\
             <ResponseMetadata><RequestId>&lt;r&gt;</RequestId></ResponseMetadata>\
             </GetxUserResponse>"
        );
    }

    #[test]
    fn failing_serialize_becomes_internal_failure() {
        struct Bad;
        impl Serialize for Bad {
            fn serialize<S: serde::Serializer>(&self, _s: S) -> Result<S::Ok, S::Error> {
                Err(serde::ser::Error::custom("nope"))
            }
        }
        assert!(try_to_xml("GetUser", IAM, Some(&Bad), "r").is_err());
        let body = to_xml("GetUser", IAM, Some(&Bad), "r");
        assert!(
            body.starts_with("<ErrorResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\">")
        );
        assert!(body.contains("<Code>InternalFailure</Code>"));
        assert!(!body.contains("nope"));
    }

    #[test]
    fn error_xml_shapes() {
        assert_eq!(
            error_xml(
                "NoSuchEntity",
                "The user with name <x> cannot be found.",
                true,
                "id-1",
                Some(IAM)
            ),
            "<ErrorResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\"><Error>\
             <Type>Sender</Type><Code>NoSuchEntity</Code>\
             <Message>The user with name &lt;x&gt; cannot be found.</Message></Error>\
             <RequestId>id-1</RequestId></ErrorResponse>"
        );
        assert_eq!(
            error_xml("InternalFailure", "m", false, "id-2", None),
            "<ErrorResponse><Error><Type>Receiver</Type><Code>InternalFailure</Code>\
             <Message>m</Message></Error><RequestId>id-2</RequestId></ErrorResponse>"
        );
    }

    #[test]
    fn rest_xml_document() {
        #[derive(Serialize)]
        #[serde(rename_all = "PascalCase")]
        struct Bucket {
            name: String,
            creation_date: String,
        }
        #[derive(Serialize)]
        struct Buckets {
            #[serde(rename = "Bucket")]
            items: Vec<Bucket>,
        }
        #[derive(Serialize)]
        #[serde(rename_all = "PascalCase")]
        struct ListAllMyBucketsResult {
            buckets: Buckets,
            contents: Vec<String>,
        }
        let got = to_rest_xml(
            "ListAllMyBucketsResult",
            Some("http://s3.amazonaws.com/doc/2006-03-01/"),
            &ListAllMyBucketsResult {
                buckets: Buckets {
                    items: vec![Bucket {
                        name: "b1".into(),
                        creation_date: "2024-01-01T00:00:00.000Z".into(),
                    }],
                },
                contents: vec!["k1".into(), "k2".into()],
            },
            &XmlOptions::REST_XML,
        )
        .unwrap();
        assert_eq!(
            got,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
             <ListAllMyBucketsResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">\
             <Buckets><Bucket><Name>b1</Name><CreationDate>2024-01-01T00:00:00.000Z</CreationDate>\
             </Bucket></Buckets><Contents>k1</Contents><Contents>k2</Contents>\
             </ListAllMyBucketsResult>"
        );
    }

    #[test]
    fn variants_nest_and_close() {
        #[derive(Serialize)]
        enum V {
            Pair(u8, u8),
            Rec { a: u8 },
            Wrap(String),
        }
        let q = &XmlOptions::QUERY;
        assert_eq!(
            frag("X", &V::Pair(1, 2), q),
            "<X><Pair><member>1</member><member>2</member></Pair></X>"
        );
        assert_eq!(frag("X", &V::Rec { a: 1 }, q), "<X><Rec><a>1</a></Rec></X>");
        assert_eq!(frag("X", &V::Wrap("w".into()), q), "<X><Wrap>w</Wrap></X>");
    }

    #[test]
    fn parses_back_with_quick_xml() {
        // Any string at all must give a well-formed document.
        let nasty: String = (0u32..0x1_0000)
            .filter_map(char::from_u32)
            .step_by(7)
            .collect();
        let doc = to_xml(
            "GetUser",
            IAM,
            Some(&BTreeMap::from([("K", nasty.as_str())])),
            "r",
        );
        let mut reader = quick_xml::Reader::from_str(&doc);
        let mut text = String::new();
        loop {
            match reader.read_event().unwrap() {
                quick_xml::events::Event::Eof => break,
                quick_xml::events::Event::Text(t) => text.push_str(&t.unescape().unwrap()),
                _ => {}
            }
        }
        assert!(text.contains("K"));
    }
}
