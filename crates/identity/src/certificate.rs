//! Policy variables read from a client certificate: `iot:Certificate.Subject.*`,
//! `iot:Certificate.Issuer.*`, their `AlternativeName.*`, `SerialNumber`, `NotBefore`,
//! `NotAfter` and `AvailableKeys`, with AWS's rules for multi-valued attributes (plain name =
//! first value, `.1` = second, …, `.List` = all, at most 5). Values that must stay
//! unresolved (longer than 1024 characters, or containing `* $ + ? #`) are the policy
//! crate's rule: it treats them as absent when evaluating.

use std::collections::HashMap;

use ferrite_policy::ContextValue;
use x509_parser::prelude::*;

/// Attribute names as AWS spells them, by OID.
const ATTRIBUTES: [(&str, &str); 13] = [
    ("2.5.4.3", "CommonName"),
    ("2.5.4.6", "Country"),
    ("2.5.4.10", "Organization"),
    ("2.5.4.11", "OrganizationalUnit"),
    ("2.5.4.8", "State"),
    ("2.5.4.5", "SerialNumber"),
    ("2.5.4.46", "DistinguishedNameQualifier"),
    ("2.5.4.12", "Title"),
    ("2.5.4.4", "Surname"),
    ("2.5.4.42", "GivenName"),
    ("2.5.4.43", "Initials"),
    ("2.5.4.65", "Pseudonym"),
    ("2.5.4.44", "GenerationQualifier"),
];

const MAX_VALUES: usize = 5;

/// Adds `prefix` (plain, `.1`…, `.List`) for a multi-valued attribute.
fn put_values(vars: &mut HashMap<String, ContextValue>, prefix: &str, values: &[String]) {
    let values: Vec<String> = values.iter().take(MAX_VALUES).cloned().collect();
    let Some(first) = values.first() else {
        return;
    };
    vars.insert(prefix.to_owned(), ContextValue::One(first.clone()));
    for (i, v) in values.iter().enumerate().skip(1) {
        vars.insert(format!("{prefix}.{i}"), ContextValue::One(v.clone()));
    }
    vars.insert(format!("{prefix}.List"), ContextValue::Many(values));
}

fn put_name(vars: &mut HashMap<String, ContextValue>, prefix: &str, name: &X509Name<'_>) {
    for (oid, attr) in ATTRIBUTES {
        let values: Vec<String> = name
            .iter_attributes()
            .filter(|a| a.attr_type().to_id_string() == oid)
            .filter_map(|a| a.as_str().ok().map(str::to_owned))
            .collect();
        put_values(vars, &format!("{prefix}.{attr}"), &values);
    }
}

fn put_alt_names(
    vars: &mut HashMap<String, ContextValue>,
    prefix: &str,
    names: Option<&SubjectAlternativeName<'_>>,
) {
    let Some(names) = names else { return };
    let mut by_kind: [(&str, Vec<String>); 5] = [
        ("RFC822Name", Vec::new()),
        ("DNSName", Vec::new()),
        ("DirectoryName", Vec::new()),
        ("UniformResourceIdentifier", Vec::new()),
        ("IPAddress", Vec::new()),
    ];
    for n in &names.general_names {
        let (slot, value) = match n {
            GeneralName::RFC822Name(v) => (0, v.to_string()),
            GeneralName::DNSName(v) => (1, v.to_string()),
            GeneralName::DirectoryName(v) => (2, v.to_string()),
            GeneralName::URI(v) => (3, v.to_string()),
            GeneralName::IPAddress(bytes) => match ip_text(bytes) {
                Some(ip) => (4, ip),
                None => continue,
            },
            _ => continue,
        };
        by_kind[slot].1.push(value);
    }
    for (kind, values) in &by_kind {
        put_values(vars, &format!("{prefix}.AlternativeName.{kind}"), values);
    }
}

fn ip_text(bytes: &[u8]) -> Option<String> {
    match bytes.len() {
        4 => {
            let a: [u8; 4] = bytes.try_into().ok()?;
            Some(std::net::Ipv4Addr::from(a).to_string())
        }
        16 => {
            let a: [u8; 16] = bytes.try_into().ok()?;
            Some(std::net::Ipv6Addr::from(a).to_string())
        }
        _ => None,
    }
}

/// Every certificate variable of `der`, keyed as policies write them (`iot:Certificate.…`).
/// A certificate that does not parse yields none (it was already parsed once by the TLS
/// layer, so this does not happen in practice).
pub fn variables(der: &[u8]) -> HashMap<String, ContextValue> {
    let mut vars = HashMap::new();
    let Ok((_, cert)) = X509Certificate::from_der(der) else {
        return vars;
    };
    put_name(&mut vars, "iot:Certificate.Subject", cert.subject());
    put_name(&mut vars, "iot:Certificate.Issuer", cert.issuer());
    let san = cert.subject_alternative_name().ok().flatten();
    put_alt_names(
        &mut vars,
        "iot:Certificate.Subject",
        san.as_ref().map(|e| e.value),
    );
    let issuer_alt = cert
        .extensions()
        .iter()
        .find_map(|e| match e.parsed_extension() {
            ParsedExtension::IssuerAlternativeName(n) => Some(n),
            _ => None,
        });
    if let Some(names) = issuer_alt {
        let as_san = SubjectAlternativeName {
            general_names: names.general_names.clone(),
        };
        put_alt_names(&mut vars, "iot:Certificate.Issuer", Some(&as_san));
    }
    vars.insert(
        "iot:Certificate.SerialNumber".into(),
        ContextValue::One(cert.tbs_certificate.serial.to_str_radix(10)),
    );
    vars.insert(
        "iot:Certificate.NotBefore".into(),
        ContextValue::One(cert.validity().not_before.to_string()),
    );
    vars.insert(
        "iot:Certificate.NotAfter".into(),
        ContextValue::One(cert.validity().not_after.to_string()),
    );
    let available: Vec<String> = vars.keys().cloned().collect();
    vars.insert(
        "iot:Certificate.AvailableKeys".into(),
        ContextValue::Many(available),
    );
    vars
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cert_der(params: rcgen::CertificateParams) -> Vec<u8> {
        let key = rcgen::KeyPair::generate().expect("key");
        params.self_signed(&key).expect("sign").der().to_vec()
    }

    fn one(vars: &HashMap<String, ContextValue>, key: &str) -> Option<String> {
        match vars.get(key) {
            Some(ContextValue::One(v)) => Some(v.clone()),
            _ => None,
        }
    }

    #[test]
    fn subject_issuer_and_alternative_names() {
        let mut params =
            rcgen::CertificateParams::new(vec!["device.example.com".into()]).expect("params");
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "thing-7");
        params
            .distinguished_name
            .push(rcgen::DnType::OrganizationName, "Acme");
        params
            .distinguished_name
            .push(rcgen::DnType::OrganizationalUnitName, "plant-a");
        let vars = variables(&cert_der(params));
        assert_eq!(
            one(&vars, "iot:Certificate.Subject.CommonName").as_deref(),
            Some("thing-7")
        );
        // Self-signed: the issuer is the subject.
        assert_eq!(
            one(&vars, "iot:Certificate.Issuer.Organization").as_deref(),
            Some("Acme")
        );
        assert_eq!(
            one(&vars, "iot:Certificate.Subject.OrganizationalUnit").as_deref(),
            Some("plant-a")
        );
        assert_eq!(
            vars.get("iot:Certificate.Subject.OrganizationalUnit.List"),
            Some(&ContextValue::Many(vec!["plant-a".into()]))
        );
        assert_eq!(
            one(&vars, "iot:Certificate.Subject.AlternativeName.DNSName").as_deref(),
            Some("device.example.com")
        );
        assert!(one(&vars, "iot:Certificate.SerialNumber").is_some());
        assert!(vars.contains_key("iot:Certificate.AvailableKeys"));
    }

    #[test]
    fn multi_valued_attributes_are_indexed_and_listed() {
        let mut vars = HashMap::new();
        let values: Vec<String> = (0..7).map(|i| format!("ou-{i}")).collect();
        put_values(
            &mut vars,
            "iot:Certificate.Subject.OrganizationalUnit",
            &values,
        );
        assert_eq!(
            one(&vars, "iot:Certificate.Subject.OrganizationalUnit").as_deref(),
            Some("ou-0")
        );
        assert_eq!(
            one(&vars, "iot:Certificate.Subject.OrganizationalUnit.1").as_deref(),
            Some("ou-1")
        );
        // At most five values, as AWS.
        assert!(!vars.contains_key("iot:Certificate.Subject.OrganizationalUnit.5"));
        assert_eq!(
            vars.get("iot:Certificate.Subject.OrganizationalUnit.List"),
            Some(&ContextValue::Many(values[..5].to_vec()))
        );
    }

    #[test]
    fn garbage_yields_no_variables() {
        assert!(variables(b"not a certificate").is_empty());
    }
}
