//! The built-in parameters of a JITP template: the device certificate's id and the fields of
//! its subject. A field the subject lacks is simply absent: the template fails only if it
//! refers to it.

use ferrite_provisioning::Builtins;
use x509_parser::oid_registry::{
    OID_X509_COMMON_NAME, OID_X509_COUNTRY_NAME, OID_X509_DN_QUALIFIER, OID_X509_ORGANIZATION_NAME,
    OID_X509_ORGANIZATIONAL_UNIT, OID_X509_SERIALNUMBER, OID_X509_STATE_OR_PROVINCE_NAME,
};

/// `AWS::IoT::Certificate::*` for the certificate `pem` of id `certificate_id`.
pub(crate) fn builtins(certificate_id: &str, pem: &str) -> Builtins {
    let mut builtins = Builtins::new().with_certificate_id(certificate_id);
    let Ok((_, pem)) = x509_parser::pem::parse_x509_pem(pem.as_bytes()) else {
        return builtins;
    };
    let Ok(cert) = pem.parse_x509() else {
        return builtins;
    };
    let fields = [
        ("CommonName", &OID_X509_COMMON_NAME),
        ("Country", &OID_X509_COUNTRY_NAME),
        ("Organization", &OID_X509_ORGANIZATION_NAME),
        ("OrganizationalUnit", &OID_X509_ORGANIZATIONAL_UNIT),
        ("DistinguishedNameQualifier", &OID_X509_DN_QUALIFIER),
        ("StateName", &OID_X509_STATE_OR_PROVINCE_NAME),
        ("SerialNumber", &OID_X509_SERIALNUMBER),
    ];
    for (name, oid) in fields {
        if let Some(value) = cert
            .subject()
            .iter_by_oid(oid)
            .next()
            .and_then(|a| a.as_str().ok())
        {
            builtins = builtins.with(&format!("AWS::IoT::Certificate::{name}"), value);
        }
    }
    builtins
}

#[cfg(test)]
mod tests {
    use rcgen::{CertificateParams, DnType, KeyPair};

    use super::*;

    #[test]
    fn subject_fields_become_builtins_and_missing_ones_stay_absent() {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name.push(DnType::CommonName, "jitp-7");
        params
            .distinguished_name
            .push(DnType::OrganizationName, "Acme");
        params.distinguished_name.push(DnType::CountryName, "DE");
        params
            .distinguished_name
            .push(DnType::CustomDnType(vec![2, 5, 4, 5]), "SN-42");
        let pem = params
            .self_signed(&KeyPair::generate().unwrap())
            .unwrap()
            .pem();
        let b = builtins("c0ffee", &pem);
        assert_eq!(b.get("AWS::IoT::Certificate::Id"), Some("c0ffee"));
        assert_eq!(b.get("AWS::IoT::Certificate::CommonName"), Some("jitp-7"));
        assert_eq!(b.get("AWS::IoT::Certificate::Organization"), Some("Acme"));
        assert_eq!(b.get("AWS::IoT::Certificate::Country"), Some("DE"));
        assert_eq!(b.get("AWS::IoT::Certificate::SerialNumber"), Some("SN-42"));
        assert_eq!(b.get("AWS::IoT::Certificate::StateName"), None);
        // An unreadable certificate yields the id alone.
        assert_eq!(
            builtins("c0ffee", "garbage").get("AWS::IoT::Certificate::CommonName"),
            None
        );
    }
}
