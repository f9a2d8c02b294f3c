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
