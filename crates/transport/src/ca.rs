//! Ferrite's own certificate authority.
//!
//! AWS IoT Core presents a server certificate from a public CA and can issue device
//! certificates (`CreateKeysAndCertificate`). Ferrite runs locally, so it creates its own
//! root CA in the data directory at first start, signs the server certificate with it and
//! signs device certificates on request. Users trust `{data_dir}/ca/ca.pem` once.
//!
//! The certificates of CreateKeysAndCertificate and CreateCertificateFromCsr are issued in
//! [`crate::issue`].
//!
//! Files (all under `{data_dir}/ca/`, directory mode 0700):
//! - `ca.pem` / `ca.key`: the root CA (ECDSA P-256, 10 years).
//! - `server.pem` / `server.key`: server certificate (leaf then CA) and its key, regenerated
//!   when missing, unreadable, not signed by the current CA, close to expiry, or when the
//!   requested set of server names changed.
//!
//! Private keys are written with mode 0600, every file atomically (temp file + rename) so
//! a crash never leaves a half-written key behind.

use std::collections::BTreeSet;
use std::fmt;
use std::fs;
use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, PKCS_ECDSA_P256_SHA256, SanType, SerialNumber,
};
use ring::rand::{SecureRandom, SystemRandom};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use time::{Duration, OffsetDateTime};
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::GeneralName;

use crate::error::TransportError;

/// Common name of the root CA.
pub const CA_COMMON_NAME: &str = "Ferrite Root CA";
/// Common name of the server certificate.
pub const SERVER_COMMON_NAME: &str = "Ferrite MQTT Broker";
/// Organisation written into every certificate Ferrite issues.
const ORGANIZATION: &str = "Ferrite";

/// How long the root CA is valid.
const CA_VALIDITY: Duration = Duration::days(3650);
/// 397 days: the longest validity browsers and TLS stacks accept for a server certificate.
const SERVER_VALIDITY: Duration = Duration::days(397);
/// A server certificate closer than this to expiry is renewed at start.
const SERVER_RENEW_BEFORE: Duration = Duration::days(30);
/// Backdating absorbs clock skew between Ferrite and the devices that verify our certs.
pub(crate) const BACKDATE: Duration = Duration::hours(1);

/// Names every server certificate carries, so local clients work without configuration.
const DEFAULT_SERVER_NAMES: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

/// Where the CA and server files live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaPaths {
    /// The root certificate users and devices trust.
    pub ca_cert: PathBuf,
    /// The root's private key (mode 0600).
    pub ca_key: PathBuf,
    /// Server certificate chain: server certificate then the CA.
    pub server_cert: PathBuf,
    /// The server's private key (mode 0600).
    pub server_key: PathBuf,
}

impl CaPaths {
    /// The paths used for `data_dir`, all inside `{data_dir}/ca/`.
    pub fn new(data_dir: &Path) -> Self {
        let dir = data_dir.join("ca");
        CaPaths {
            ca_cert: dir.join("ca.pem"),
            ca_key: dir.join("ca.key"),
            server_cert: dir.join("server.pem"),
            server_key: dir.join("server.key"),
        }
    }

    /// The directory holding the files.
    pub fn dir(&self) -> &Path {
        self.ca_cert.parent().unwrap_or_else(|| Path::new("."))
    }
}

/// The loaded CA: what the TLS listeners need and what is needed to issue device
/// certificates.
pub struct CaMaterial {
    paths: CaPaths,
    ca_cert_pem: String,
    ca_cert_der: CertificateDer<'static>,
    pub(crate) issuer: Issuer<'static, KeyPair>,
    server_chain: Vec<CertificateDer<'static>>,
    server_key: PrivateKeyDer<'static>,
    server_names: Vec<String>,
}

// Hand-written so a stray `{:?}` can never print key material.
impl fmt::Debug for CaMaterial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CaMaterial")
            .field("paths", &self.paths)
            .field("server_names", &self.server_names)
            .finish_non_exhaustive()
    }
}

impl CaMaterial {
    /// File locations; `paths().ca_cert` is the file users should trust.
    pub fn paths(&self) -> &CaPaths {
        &self.paths
    }

    /// The root certificate in PEM form.
    pub fn ca_cert_pem(&self) -> &str {
        &self.ca_cert_pem
    }

    /// The root certificate in DER form.
    pub fn ca_cert_der(&self) -> &CertificateDer<'static> {
        &self.ca_cert_der
    }

    /// The server certificate followed by the CA certificate.
    pub fn server_cert_chain(&self) -> &[CertificateDer<'static>] {
        &self.server_chain
    }

    /// The server's private key (a copy: rustls takes ownership).
    pub fn server_key(&self) -> PrivateKeyDer<'static> {
        self.server_key.clone_key()
    }

    /// The names in the server certificate's SAN extension, normalised and sorted.
    pub fn server_names(&self) -> &[String] {
        &self.server_names
    }

    /// Creates a fresh ECDSA P-256 key and a client certificate for it, signed by the CA.
    /// Returns `(certificate PEM, private key PEM)`. Like AWS-issued device certificates,
    /// it is valid until the end of 2049.
    pub fn issue_client_cert(&self, common_name: &str) -> Result<(String, String), TransportError> {
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
        let mut params = CertificateParams::default();
        params.distinguished_name = distinguished_name(common_name);
        params.serial_number = Some(random_serial()?);
        params.not_before = OffsetDateTime::now_utc() - BACKDATE;
        params.not_after = rcgen::date_time_ymd(2050, 1, 1) - Duration::seconds(1);
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        params.use_authority_key_identifier_extension = true;
        let cert = params.signed_by(&key, &self.issuer)?;
        Ok((cert.pem(), key.serialize_pem()))
    }
}

/// Loads the CA from `{data_dir}/ca/`, creating it on first start, and makes sure the
/// server certificate is signed by it and covers `localhost`, `127.0.0.1`, `::1` and
/// `server_names`.
pub fn ensure_ca(data_dir: &Path, server_names: &[String]) -> Result<CaMaterial, TransportError> {
    let paths = CaPaths::new(data_dir);
    let wanted_names = normalise_server_names(server_names)?;
    ensure_private_dir(paths.dir())?;

    let (ca_cert_pem, ca_cert_der, ca_key) = load_or_create_ca(&paths)?;
    let issuer = Issuer::from_ca_cert_der(&ca_cert_der, ca_key)
        .map_err(|e| TransportError::invalid_file("ca certificate", &paths.ca_cert, e))?;

    let (server_leaf, server_key) = match load_server(&paths, &ca_cert_der, &wanted_names)? {
        Some(found) => found,
        None => create_server(&paths, &issuer, &ca_cert_pem, &wanted_names)?,
    };

    Ok(CaMaterial {
        server_chain: vec![server_leaf, ca_cert_der.clone()],
        paths,
        ca_cert_pem,
        ca_cert_der,
        issuer,
        server_key,
        server_names: wanted_names.iter().map(ServerName::to_string).collect(),
    })
}

/// A SAN entry, compared the way certificate verifiers compare them.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum ServerName {
    Dns(String),
    Ip(IpAddr),
}

impl fmt::Display for ServerName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServerName::Dns(name) => f.write_str(name),
            ServerName::Ip(ip) => write!(f, "{ip}"),
        }
    }
}

impl ServerName {
    fn parse(raw: &str) -> Result<Self, TransportError> {
        let trimmed = raw.trim();
        // "[::1]" is how people write IPv6 addresses in URLs.
        let unbracketed = trimmed
            .strip_prefix('[')
            .and_then(|s| s.strip_suffix(']'))
            .unwrap_or(trimmed);
        if let Ok(ip) = unbracketed.parse::<IpAddr>() {
            return Ok(ServerName::Ip(ip));
        }
        // DNS names are case-insensitive; a trailing dot is the same name.
        let name = trimmed.trim_end_matches('.').to_ascii_lowercase();
        if rustls_pki_types::DnsName::try_from(name.as_str()).is_err() {
            return Err(TransportError::InvalidServerName(raw.to_string()));
        }
        Ok(ServerName::Dns(name))
    }

    fn to_san(&self) -> Result<SanType, TransportError> {
        Ok(match self {
            ServerName::Ip(ip) => SanType::IpAddress(*ip),
            ServerName::Dns(name) => SanType::DnsName(
                name.as_str()
                    .try_into()
                    .map_err(|_| TransportError::InvalidServerName(name.clone()))?,
            ),
        })
    }
}

fn normalise_server_names(extra: &[String]) -> Result<BTreeSet<ServerName>, TransportError> {
    let mut names = BTreeSet::new();
    for name in DEFAULT_SERVER_NAMES.iter().copied() {
        names.insert(ServerName::parse(name)?);
    }
    for name in extra {
        if name.trim().is_empty() {
            continue;
        }
        names.insert(ServerName::parse(name)?);
    }
    Ok(names)
}

pub(crate) fn distinguished_name(common_name: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, ORGANIZATION);
    dn.push(DnType::CommonName, common_name);
    dn
}

/// 128 random bits, so serials never repeat even when keys (and thus rcgen's default,
/// key-derived serials) would.
pub(crate) fn random_serial() -> Result<SerialNumber, TransportError> {
    let mut bytes = [0u8; 16];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| TransportError::CertificateGeneration(rcgen::Error::RingUnspecified))?;
    // Keep it positive and without a leading zero octet, as RFC 5280 asks.
    bytes[0] = (bytes[0] & 0x7f) | 0x01;
    Ok(SerialNumber::from_slice(&bytes))
}

fn load_or_create_ca(
    paths: &CaPaths,
) -> Result<(String, CertificateDer<'static>, KeyPair), TransportError> {
    // ca.pem is written last when the CA is created, so it marks a complete CA. A key
    // without a certificate was never trusted by anyone and is simply replaced.
    if paths.ca_cert.exists() {
        if !paths.ca_key.exists() {
            return Err(TransportError::CaKeyMissing {
                cert: paths.ca_cert.clone(),
                key: paths.ca_key.clone(),
            });
        }
        return load_ca(paths);
    }
    create_ca(paths)
}

fn load_ca(paths: &CaPaths) -> Result<(String, CertificateDer<'static>, KeyPair), TransportError> {
    let pem = read_to_string(&paths.ca_cert)?;
    let der = CertificateDer::from_pem_slice(pem.as_bytes())
        .map_err(|e| TransportError::invalid_file("ca certificate", &paths.ca_cert, e))?;
    tighten_key_permissions(&paths.ca_key)?;
    let key_pem = read_to_string(&paths.ca_key)?;
    let key = KeyPair::from_pem(&key_pem)
        .map_err(|e| TransportError::invalid_file("ca key", &paths.ca_key, e))?;
    let cert = parse_cert(&der)
        .map_err(|e| TransportError::invalid_file("ca certificate", &paths.ca_cert, e))?;
    if !key_matches(&cert, &key) {
        return Err(TransportError::invalid_file(
            "ca key",
            &paths.ca_key,
            "the key does not belong to the ca certificate",
        ));
    }
    if !cert.is_ca() {
        return Err(TransportError::invalid_file(
            "ca certificate",
            &paths.ca_cert,
            "the certificate is not a ca (basic constraints)",
        ));
    }
    tracing::debug!(path = %paths.ca_cert.display(), "loaded ferrite ca");
    Ok((pem, der, key))
}

fn create_ca(
    paths: &CaPaths,
) -> Result<(String, CertificateDer<'static>, KeyPair), TransportError> {
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
    let now = OffsetDateTime::now_utc();
    let mut params = CertificateParams::default();
    params.distinguished_name = distinguished_name(CA_COMMON_NAME);
    params.serial_number = Some(random_serial()?);
    params.not_before = now - BACKDATE;
    params.not_after = now + CA_VALIDITY;
    // Path length 0: the CA signs leaf certificates only.
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let cert = params.self_signed(&key)?;
    let pem = cert.pem();

    // Key first: ca.pem is the marker of a complete CA (see load_or_create_ca).
    write_atomically(&paths.ca_key, key.serialize_pem().as_bytes(), true)?;
    write_atomically(&paths.ca_cert, pem.as_bytes(), false)?;
    tracing::info!(path = %paths.ca_cert.display(), "created ferrite root ca; trust this file on clients");
    Ok((pem, cert.der().clone(), key))
}

/// Returns the existing server certificate and key when they are still good for
/// `wanted`; `None` means "make a new one" (with the reason logged).
fn load_server(
    paths: &CaPaths,
    ca_der: &CertificateDer<'static>,
    wanted: &BTreeSet<ServerName>,
) -> Result<Option<(CertificateDer<'static>, PrivateKeyDer<'static>)>, TransportError> {
    if !paths.server_cert.exists() || !paths.server_key.exists() {
        tracing::debug!("server certificate missing; creating one");
        return Ok(None);
    }
    tighten_key_permissions(&paths.server_key)?;
    let cert_pem = read_to_string(&paths.server_cert)?;
    let key_pem = read_to_string(&paths.server_key)?;
    match check_server(&cert_pem, &key_pem, ca_der, wanted) {
        Ok(found) => Ok(Some(found)),
        Err(reason) => {
            tracing::info!(%reason, "regenerating server certificate");
            Ok(None)
        }
    }
}

/// Why an existing server certificate cannot be reused, as a message for the log.
fn check_server(
    cert_pem: &str,
    key_pem: &str,
    ca_der: &CertificateDer<'static>,
    wanted: &BTreeSet<ServerName>,
) -> Result<(CertificateDer<'static>, PrivateKeyDer<'static>), String> {
    let leaf = CertificateDer::from_pem_slice(cert_pem.as_bytes())
        .map_err(|e| format!("unreadable certificate: {e}"))?;
    let key = KeyPair::from_pem(key_pem).map_err(|e| format!("unreadable key: {e}"))?;
    let key_der = PrivateKeyDer::from_pem_slice(key_pem.as_bytes())
        .map_err(|e| format!("unreadable key: {e}"))?;
    let cert = parse_cert(&leaf)?;
    let ca = parse_cert(ca_der)?;
    if cert.verify_signature(Some(ca.public_key())).is_err() {
        return Err("not signed by the current ca".into());
    }
    if !key_matches(&cert, &key) {
        return Err("key does not belong to the certificate".into());
    }
    let not_after = cert.validity().not_after.timestamp();
    if not_after - SERVER_RENEW_BEFORE.whole_seconds() < OffsetDateTime::now_utc().unix_timestamp()
    {
        return Err("expires soon".into());
    }
    let present = san_set(&cert)?;
    if &present != wanted {
        return Err("server names changed".into());
    }
    Ok((leaf, key_der))
}

fn create_server(
    paths: &CaPaths,
    issuer: &Issuer<'static, KeyPair>,
    ca_pem: &str,
    names: &BTreeSet<ServerName>,
) -> Result<(CertificateDer<'static>, PrivateKeyDer<'static>), TransportError> {
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
    let now = OffsetDateTime::now_utc();
    let mut params = CertificateParams::default();
    params.distinguished_name = distinguished_name(SERVER_COMMON_NAME);
    params.serial_number = Some(random_serial()?);
    params.not_before = now - BACKDATE;
    params.not_after = now + SERVER_VALIDITY;
    params.subject_alt_names = names
        .iter()
        .map(ServerName::to_san)
        .collect::<Result<_, _>>()?;
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.use_authority_key_identifier_extension = true;
    let cert = params.signed_by(&key, issuer)?;

    let key_pem = key.serialize_pem();
    let key_der = PrivateKeyDer::from_pem_slice(key_pem.as_bytes())
        .map_err(|e| TransportError::invalid_file("server key", &paths.server_key, e))?;
    // The chain file holds leaf then CA so other tools (and humans) can use it as is.
    let chain_pem = format!("{}{}", cert.pem(), ca_pem);
    write_atomically(&paths.server_key, key_pem.as_bytes(), true)?;
    write_atomically(&paths.server_cert, chain_pem.as_bytes(), false)?;
    let listed: Vec<String> = names.iter().map(ToString::to_string).collect();
    tracing::info!(path = %paths.server_cert.display(), names = ?listed, "created server certificate");
    Ok((cert.der().clone(), key_der))
}

pub(crate) fn parse_cert<'a>(der: &'a [u8]) -> Result<X509Certificate<'a>, String> {
    match x509_parser::parse_x509_certificate(der) {
        Ok((_, cert)) => Ok(cert),
        Err(e) => Err(format!("cannot parse certificate: {e}")),
    }
}

fn key_matches(cert: &X509Certificate<'_>, key: &KeyPair) -> bool {
    use rcgen::PublicKeyData;
    *cert.public_key().subject_public_key.data == *key.der_bytes()
}

fn san_set(cert: &X509Certificate<'_>) -> Result<BTreeSet<ServerName>, String> {
    let mut names = BTreeSet::new();
    let Some(ext) = cert
        .subject_alternative_name()
        .map_err(|e| format!("bad subject alternative names: {e}"))?
    else {
        return Ok(names);
    };
    for general in &ext.value.general_names {
        match general {
            GeneralName::DNSName(name) => {
                names.insert(ServerName::Dns(name.to_ascii_lowercase()));
            }
            GeneralName::IPAddress(bytes) => {
                let ip = match bytes.len() {
                    4 => <[u8; 4]>::try_from(*bytes).map(IpAddr::from).ok(),
                    16 => <[u8; 16]>::try_from(*bytes).map(IpAddr::from).ok(),
                    _ => None,
                };
                let ip = ip.ok_or("bad ip address in subject alternative names")?;
                names.insert(ServerName::Ip(ip));
            }
            // Anything else was not put there by us: a different set.
            _ => return Err("unexpected subject alternative name type".into()),
        }
    }
    Ok(names)
}

fn read_to_string(path: &Path) -> Result<String, TransportError> {
    fs::read_to_string(path).map_err(|e| TransportError::io("cannot read", path, e))
}

/// Creates the CA directory (0700) or tightens an existing one.
fn ensure_private_dir(dir: &Path) -> Result<(), TransportError> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder
        .create(dir)
        .map_err(|e| TransportError::io("cannot create directory", dir, e))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        // Only touch an existing directory when it is too open, so a correctly set up
        // directory owned by someone else (e.g. a packaged install) still works.
        let meta = fs::metadata(dir).map_err(|e| TransportError::io("cannot stat", dir, e))?;
        if meta.permissions().mode() & 0o077 != 0 {
            fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
                .map_err(|e| TransportError::io("cannot set permissions on", dir, e))?;
        }
    }
    Ok(())
}

/// Key files copied around by hand often end up world-readable; fix that on load.
fn tighten_key_permissions(path: &Path) -> Result<(), TransportError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let meta = fs::metadata(path).map_err(|e| TransportError::io("cannot stat", path, e))?;
        if meta.permissions().mode() & 0o077 != 0 {
            tracing::warn!(path = %path.display(), "private key was readable by others; setting mode 0600");
            fs::set_permissions(path, fs::Permissions::from_mode(0o600))
                .map_err(|e| TransportError::io("cannot set permissions on", path, e))?;
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// Writes `contents` to a temp file next to `path`, syncs it and renames it over `path`,
/// so readers see either the old or the new file, never a torn one. Secret files get
/// mode 0600 from creation, never briefly wider.
fn write_atomically(path: &Path, contents: &[u8], secret: bool) -> Result<(), TransportError> {
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{file_name}.tmp-{}", std::process::id()));

    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(if secret { 0o600 } else { 0o644 });
    }
    #[cfg(not(unix))]
    let _ = secret;

    let result = (|| {
        let mut file = options.open(&tmp)?;
        // A leftover temp file from a crashed run keeps its old mode; reset it.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            file.set_permissions(fs::Permissions::from_mode(if secret {
                0o600
            } else {
                0o644
            }))?;
        }
        file.write_all(contents)?;
        file.sync_all()?;
        drop(file);
        fs::rename(&tmp, path)?;
        // Make the rename itself durable.
        #[cfg(unix)]
        fs::File::open(dir)?.sync_all()?;
        Ok(())
    })();
    result.map_err(|e: std::io::Error| {
        let _ = fs::remove_file(&tmp);
        TransportError::io("cannot write", path, e)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn sans_of(ca: &CaMaterial) -> BTreeSet<ServerName> {
        let cert = parse_cert(&ca.server_cert_chain()[0]).expect("parse");
        san_set(&cert).expect("sans")
    }

    #[test]
    fn creates_then_reloads_the_same_ca() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first = ensure_ca(dir.path(), &[]).expect("create");
        assert!(first.paths().ca_cert.exists());
        assert!(first.paths().ca_key.exists());
        assert!(first.paths().server_cert.exists());
        assert!(first.paths().server_key.exists());
        let ca = parse_cert(first.ca_cert_der()).expect("parse ca");
        assert!(ca.is_ca());
        assert!(ca.subject().to_string().contains("CN=Ferrite Root CA"));

        let second = ensure_ca(dir.path(), &[]).expect("reload");
        assert_eq!(first.ca_cert_der(), second.ca_cert_der());
        assert_eq!(first.ca_cert_pem(), second.ca_cert_pem());
        // Same names: the server certificate is reused too.
        assert_eq!(first.server_cert_chain(), second.server_cert_chain());
        assert_eq!(second.server_cert_chain().len(), 2);
        assert_eq!(&second.server_cert_chain()[1], second.ca_cert_der());
    }

    #[test]
    fn server_cert_has_default_and_requested_names() {
        let dir = tempfile::tempdir().expect("tempdir");
        let ca = ensure_ca(
            dir.path(),
            &names(&["Broker.Example.com.", "10.1.2.3", "[fe80::1]"]),
        )
        .expect("create");
        let expected: BTreeSet<ServerName> = [
            "localhost",
            "127.0.0.1",
            "::1",
            "broker.example.com",
            "10.1.2.3",
            "fe80::1",
        ]
        .iter()
        .map(|n| ServerName::parse(n).expect("name"))
        .collect();
        assert_eq!(sans_of(&ca), expected);
        let cert = parse_cert(&ca.server_cert_chain()[0]).expect("parse");
        let ca_cert = parse_cert(ca.ca_cert_der()).expect("parse");
        assert!(cert.verify_signature(Some(ca_cert.public_key())).is_ok());
    }

    #[test]
    fn san_change_regenerates_server_cert_but_keeps_ca() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first = ensure_ca(dir.path(), &names(&["a.example"])).expect("create");
        // Same set in another spelling and order: kept.
        let same = ensure_ca(dir.path(), &names(&["A.EXAMPLE", "localhost"])).expect("same");
        assert_eq!(first.server_cert_chain(), same.server_cert_chain());

        let changed = ensure_ca(dir.path(), &names(&["b.example"])).expect("changed");
        assert_eq!(first.ca_cert_der(), changed.ca_cert_der());
        assert_ne!(first.server_cert_chain()[0], changed.server_cert_chain()[0]);
        assert!(sans_of(&changed).contains(&ServerName::Dns("b.example".into())));
        assert!(!sans_of(&changed).contains(&ServerName::Dns("a.example".into())));

        // And the file on disk is the new one.
        let reloaded = ensure_ca(dir.path(), &names(&["b.example"])).expect("reload");
        assert_eq!(changed.server_cert_chain(), reloaded.server_cert_chain());
    }

    #[test]
    fn missing_server_files_are_recreated() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first = ensure_ca(dir.path(), &[]).expect("create");
        fs::remove_file(&first.paths().server_key).expect("rm");
        let second = ensure_ca(dir.path(), &[]).expect("recreate");
        assert_ne!(first.server_cert_chain()[0], second.server_cert_chain()[0]);
    }

    #[test]
    fn server_cert_from_another_ca_is_replaced() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first = ensure_ca(dir.path(), &[]).expect("create");
        let paths = first.paths().clone();
        // A new CA appears (old one moved away) but the old server cert stays.
        fs::remove_file(&paths.ca_cert).expect("rm");
        fs::remove_file(&paths.ca_key).expect("rm");
        let second = ensure_ca(dir.path(), &[]).expect("new ca");
        assert_ne!(first.ca_cert_der(), second.ca_cert_der());
        let leaf = parse_cert(&second.server_cert_chain()[0]).expect("parse");
        let ca = parse_cert(second.ca_cert_der()).expect("parse");
        assert!(leaf.verify_signature(Some(ca.public_key())).is_ok());
    }

    #[test]
    fn ca_cert_without_key_is_an_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first = ensure_ca(dir.path(), &[]).expect("create");
        fs::remove_file(&first.paths().ca_key).expect("rm");
        let err = ensure_ca(dir.path(), &[]).expect_err("must refuse");
        assert!(matches!(err, TransportError::CaKeyMissing { .. }), "{err}");
    }

    #[test]
    fn invalid_server_name_is_rejected() {
        let dir = tempfile::tempdir().expect("tempdir");
        let err = ensure_ca(dir.path(), &names(&["not a name"])).expect_err("invalid");
        assert!(matches!(err, TransportError::InvalidServerName(_)), "{err}");
    }

    #[cfg(unix)]
    #[test]
    fn key_files_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let ca = ensure_ca(dir.path(), &[]).expect("create");
        let mode = |p: &Path| fs::metadata(p).expect("stat").permissions().mode() & 0o777;
        assert_eq!(mode(&ca.paths().ca_key), 0o600);
        assert_eq!(mode(&ca.paths().server_key), 0o600);
        assert_eq!(mode(ca.paths().dir()), 0o700);
        assert_eq!(mode(&ca.paths().ca_cert), 0o644);

        // A loosened key is tightened again on the next start.
        fs::set_permissions(&ca.paths().ca_key, fs::Permissions::from_mode(0o644)).expect("chmod");
        ensure_ca(dir.path(), &[]).expect("reload");
        assert_eq!(mode(&ca.paths().ca_key), 0o600);
        // No temp files left behind.
        let leftovers: Vec<_> = fs::read_dir(ca.paths().dir())
            .expect("ls")
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().starts_with('.'))
            .collect();
        assert!(leftovers.is_empty());
    }

    #[test]
    fn debug_output_has_no_key_material() {
        let dir = tempfile::tempdir().expect("tempdir");
        let ca = ensure_ca(dir.path(), &[]).expect("create");
        let printed = format!("{ca:?}");
        assert!(!printed.contains("PRIVATE KEY"));
        assert!(!printed.contains("Pkcs8"));
        assert!(!printed.contains("KeyPair"));
    }

    #[test]
    fn issued_client_cert_is_signed_by_the_ca() {
        let dir = tempfile::tempdir().expect("tempdir");
        let ca = ensure_ca(dir.path(), &[]).expect("create");
        let (cert_pem, key_pem) = ca.issue_client_cert("thing-1").expect("issue");
        assert!(key_pem.contains("PRIVATE KEY"));
        let der = CertificateDer::from_pem_slice(cert_pem.as_bytes()).expect("pem");
        let cert = parse_cert(&der).expect("parse");
        let ca_cert = parse_cert(ca.ca_cert_der()).expect("parse");
        assert!(cert.verify_signature(Some(ca_cert.public_key())).is_ok());
        assert!(!cert.is_ca());
        assert!(cert.subject().to_string().contains("CN=thing-1"));
        let key = KeyPair::from_pem(&key_pem).expect("key");
        assert!(key_matches(&cert, &key));
        // Two certificates never share a serial.
        let (other_pem, _) = ca.issue_client_cert("thing-1").expect("issue");
        let other_der = CertificateDer::from_pem_slice(other_pem.as_bytes()).expect("pem");
        let other = parse_cert(&other_der).expect("parse");
        assert_ne!(cert.raw_serial(), other.raw_serial());
    }
}
