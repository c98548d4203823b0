//! The node's key, certificate and fingerprint, and the TLS configurations built from them
//! (rustls with the `ring` provider).
//!
//! - **Identity.** `init` (and the first start of a data dir made before keys existed) makes an
//!   ECDSA P-256 key and a self-signed certificate with rcgen, kept as `node-key.pem` and
//!   `node-cert.pem` (mode 0600) in the data dir. The node's public identity, the **node id** an
//!   admin pins with `switchboard peers add --node-id`, is the [`Fingerprint`]: SHA-256 of the
//!   certificate's SubjectPublicKeyInfo, shown as 64 lowercase hex digits. The internal node UUID
//!   (automerge actors, checkpoints, system holds) stays as it was; a new node derives it from
//!   the fingerprint ([`node_uuid`]), an upgraded one keeps its own.
//! - **Node links** are TLS 1.3 with client certificates both ways. Each side accepts the other
//!   only by fingerprint: [`PinnedServer`] (this node dialing a peer: exactly the peer's
//!   fingerprint) and [`PeerClients`] (this node answering: any fingerprint an admin added). Both
//!   still verify the handshake signature (possession of the key) and ignore names, issuers and
//!   dates: nothing in peer authentication reads a clock. During a key rotation a node keeps its
//!   next key beside the current one (`node-next-key.pem`, [`NodeKey::make_next`]) and its peers
//!   pin both fingerprints ([`PinnedServer::any_of`]) until it switches ([`NodeKey::promote_next`]).
//! - **The agent API** over HTTPS off loopback: the node's certificate, or an operator's
//!   certificate and key (PEM paths in the configuration), re-read on SIGHUP ([`ApiCert`]).
//!
//! One reason to change: how this node proves who it is and checks who it talks to over TLS (its
//! key files, their rotation, and the rustls configurations and verifiers made from them).

use crate::error::NodeError;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::{ClientHello, ParsedCertificate, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::{CertificateError, DigitallySignedStruct, DistinguishedName, SignatureScheme};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use uuid::Uuid;

/// The node's private key (PEM, mode 0600): left out of backups unless `--include-keys`.
pub const KEY_FILE: &str = "node-key.pem";
/// The node's self-signed certificate (PEM, mode 0600).
pub const CERT_FILE: &str = "node-cert.pem";
/// The node's next private key during a rotation (`switchboard node rotate-key`), kept beside
/// the current one until the rotation is finished (PEM, mode 0600).
pub const NEXT_KEY_FILE: &str = "node-next-key.pem";
/// The next key's certificate, announced to peers in the hello (PEM, mode 0600).
pub const NEXT_CERT_FILE: &str = "node-next-cert.pem";

/// The namespace of node UUIDs derived from fingerprints ([`node_uuid`]).
const NODE_NAMESPACE: Uuid = Uuid::from_u128(0x5b1c_0a7e_4e0d_4c1a_9c57_7a1e_0d5e_f1a9);

/// The crypto provider of every TLS configuration of the node: *ring* (rustls 0.23.48 marks it
/// deprecated for lacking post-quantum key exchange; aws-lc-rs, which has it, needs cmake and
/// clang to build).
#[allow(deprecated)]
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// SHA-256 of a certificate's SubjectPublicKeyInfo: a node's public identity ("node id").
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Fingerprint(pub [u8; 32]);

/// Why a fingerprint did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a node id is 64 hex digits (the fingerprint `switchboard node` prints)")]
pub struct BadFingerprint;

impl Fingerprint {
    /// The fingerprint of a DER SubjectPublicKeyInfo.
    pub fn of_spki(spki_der: &[u8]) -> Fingerprint {
        Fingerprint(Sha256::digest(spki_der).into())
    }

    /// The fingerprint of a certificate's public key (the certificate must parse as X.509).
    pub fn of_cert(cert: &CertificateDer<'_>) -> Result<Fingerprint, rustls::Error> {
        let parsed = ParsedCertificate::try_from(cert)?;
        Ok(Fingerprint::of_spki(
            parsed.subject_public_key_info().as_ref(),
        ))
    }
}

impl std::fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl std::fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Fingerprint({self})")
    }
}

impl std::str::FromStr for Fingerprint {
    type Err = BadFingerprint;

    /// 64 hex digits, either case; `:`, `-` and spaces between them are ignored (as other tools
    /// print fingerprints).
    fn from_str(s: &str) -> Result<Fingerprint, BadFingerprint> {
        if s.len() > 256 {
            return Err(BadFingerprint);
        }
        let digits: String = s
            .chars()
            .filter(|c| !matches!(c, ':' | '-' | ' '))
            .collect();
        let bytes = hex::decode(digits).map_err(|_| BadFingerprint)?;
        Ok(Fingerprint(bytes.try_into().map_err(|_| BadFingerprint)?))
    }
}

impl serde::Serialize for Fingerprint {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> serde::Deserialize<'de> for Fingerprint {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Fingerprint, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// The internal node UUID of a new node: derived from its fingerprint, so both are tied to the
/// key (an upgraded node keeps the UUID it had).
pub fn node_uuid(fp: &Fingerprint) -> Uuid {
    Uuid::new_v5(&NODE_NAMESPACE, &fp.0)
}

/// The node's key and certificate.
pub struct NodeKey {
    /// The certificate (DER).
    pub cert: CertificateDer<'static>,
    key: PrivateKeyDer<'static>,
    /// Its public-key fingerprint: the node id peers pin.
    pub fingerprint: Fingerprint,
}

impl std::fmt::Debug for NodeKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeKey")
            .field("fingerprint", &self.fingerprint)
            .finish_non_exhaustive()
    }
}

impl NodeKey {
    /// A fresh key and self-signed certificate, as PEM (certificate, key).
    pub fn generate_pem() -> Result<(String, String), NodeError> {
        let made = rcgen::generate_simple_self_signed(vec!["switchboard-node".to_string()])
            .map_err(|e| NodeError::Config(format!("cannot make a node key: {e}")))?;
        Ok((made.cert.pem(), made.signing_key.serialize_pem()))
    }

    fn from_parts(
        cert: CertificateDer<'static>,
        key: PrivateKeyDer<'static>,
    ) -> Result<NodeKey, NodeError> {
        let fingerprint = Fingerprint::of_cert(&cert)
            .map_err(|e| NodeError::Config(format!("the node certificate does not parse: {e}")))?;
        let k = NodeKey {
            cert,
            key,
            fingerprint,
        };
        // The key must match the certificate (a half-replaced pair fails here, not in a peer's
        // handshake).
        k.certified_key()?;
        Ok(k)
    }

    /// Reads the key and certificate of `dir`, if both are there.
    pub fn load(dir: &Path) -> Result<Option<NodeKey>, NodeError> {
        Self::load_pair(dir, KEY_FILE, CERT_FILE)
    }

    /// Reads the next key and certificate of `dir` (a rotation under way), if both are there.
    pub fn load_next(dir: &Path) -> Result<Option<NodeKey>, NodeError> {
        Self::load_pair(dir, NEXT_KEY_FILE, NEXT_CERT_FILE)
    }

    /// Starts a rotation: makes the next key and certificate beside the current ones (0600),
    /// or reads the ones already made. The node announces the next one to its peers in its
    /// hello from its next start on; answers whether it was made now.
    pub fn make_next(dir: &Path) -> Result<(NodeKey, bool), NodeError> {
        if let Some(k) = Self::load_next(dir)? {
            return Ok((k, false));
        }
        let (cert_pem, key_pem) = Self::generate_pem()?;
        crate::store::perms::write_private_file(&dir.join(NEXT_KEY_FILE), &key_pem)?;
        crate::store::perms::write_private_file(&dir.join(NEXT_CERT_FILE), &cert_pem)?;
        let k = Self::load_next(dir)?.ok_or_else(|| {
            NodeError::Config(format!(
                "the next node key just written to {} is gone",
                dir.display()
            ))
        })?;
        Ok((k, true))
    }

    /// Finishes a rotation (the node stopped): the next key and certificate become the current
    /// ones, the old ones are removed. `None` when no rotation is under way.
    pub fn promote_next(dir: &Path) -> Result<Option<NodeKey>, NodeError> {
        let Some(next) = Self::load_next(dir)? else {
            return Ok(None);
        };
        let io = |what: &str, e: std::io::Error| NodeError::io(what.to_string(), e);
        // The certificate first: a crash in between leaves a current pair that does not match,
        // which `load` refuses, and the next key still beside it to finish with.
        std::fs::rename(dir.join(NEXT_CERT_FILE), dir.join(CERT_FILE))
            .map_err(|e| io("renaming the next certificate", e))?;
        std::fs::rename(dir.join(NEXT_KEY_FILE), dir.join(KEY_FILE))
            .map_err(|e| io("renaming the next key", e))?;
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(Some(next))
    }

    fn load_pair(
        dir: &Path,
        key_file: &str,
        cert_file: &str,
    ) -> Result<Option<NodeKey>, NodeError> {
        let (kp, cp) = (dir.join(key_file), dir.join(cert_file));
        if !kp.exists() || !cp.exists() {
            return Ok(None);
        }
        let (cert, key) = read_pem_pair(&cp, &kp)?;
        let cert = cert
            .into_iter()
            .next()
            .ok_or_else(|| NodeError::Config(format!("{} holds no certificate", cp.display())))?;
        Self::from_parts(cert, key).map(Some)
    }

    /// Reads the key of `dir`, or makes one and writes it (0600) when there is none: at `init`,
    /// and at the first start of a data dir made before nodes had keys (or restored from a
    /// backup made without them). Answers whether it was made now.
    pub fn load_or_create(dir: &Path) -> Result<(NodeKey, bool), NodeError> {
        if let Some(k) = Self::load(dir)? {
            return Ok((k, false));
        }
        let (cert_pem, key_pem) = Self::generate_pem()?;
        // The certificate last: a dir with a key and no certificate makes a new pair next time.
        crate::store::perms::write_private_file(&dir.join(KEY_FILE), &key_pem)?;
        crate::store::perms::write_private_file(&dir.join(CERT_FILE), &cert_pem)?;
        let k = Self::load(dir)?.ok_or_else(|| {
            NodeError::Config(format!(
                "the node key just written to {} is gone",
                dir.display()
            ))
        })?;
        tracing::info!(node_id = %k.fingerprint, "made the node key and certificate");
        Ok((k, true))
    }

    /// The key and certificate as rustls signs with them.
    pub fn certified_key(&self) -> Result<Arc<CertifiedKey>, NodeError> {
        certified(vec![self.cert.clone()], self.key.clone_key())
    }
}

fn read_pem_pair(
    cert_path: &Path,
    key_path: &Path,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), NodeError> {
    let bad = |p: &Path, e: &dyn std::fmt::Display| {
        NodeError::Config(format!("cannot read {}: {e}", p.display()))
    };
    let certs = CertificateDer::pem_file_iter(cert_path)
        .map_err(|e| bad(cert_path, &e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(cert_path, &e))?;
    let key = PrivateKeyDer::from_pem_file(key_path).map_err(|e| bad(key_path, &e))?;
    Ok((certs, key))
}

fn certified(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<Arc<CertifiedKey>, NodeError> {
    let ck = CertifiedKey::from_der(chain, key, &provider())
        .map_err(|e| NodeError::Config(format!("certificate and key do not go together: {e}")))?;
    Ok(Arc::new(ck))
}

fn algorithms() -> WebPkiSupportedAlgorithms {
    provider().signature_verification_algorithms
}

fn not_pinned() -> rustls::Error {
    rustls::Error::InvalidCertificate(CertificateError::ApplicationVerificationFailure)
}

/// This node dialing a peer: accepts exactly the peer's fingerprint (and the handshake signature
/// of its key); names, issuers and dates are not looked at.
#[derive(Debug)]
pub struct PinnedServer {
    expected: Vec<Fingerprint>,
    algs: WebPkiSupportedAlgorithms,
}

impl PinnedServer {
    /// A verifier pinning `expected`.
    pub fn new(expected: Fingerprint) -> PinnedServer {
        Self::any_of(vec![expected])
    }

    /// A verifier accepting any of `expected`: a peer's node id, and the next one it announced
    /// during a rotation.
    pub fn any_of(expected: Vec<Fingerprint>) -> PinnedServer {
        PinnedServer {
            expected,
            algs: algorithms(),
        }
    }
}

impl ServerCertVerifier for PinnedServer {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if self.expected.contains(&Fingerprint::of_cert(end_entity)?) {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(not_pinned())
        }
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        // Node links are TLS 1.3 only.
        Err(rustls::Error::PeerIncompatible(
            rustls::PeerIncompatible::Tls12NotOffered,
        ))
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algs)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algs.supported_schemes()
    }
}

/// Which fingerprints may connect: the peers an admin added (read from the store at each
/// handshake, so an added or removed peer counts at once).
pub type Admits = Arc<dyn Fn(&Fingerprint) -> bool + Send + Sync>;

/// This node answering a peer: a client certificate is required, and accepted only when its
/// fingerprint is one an admin added (and the handshake signature verifies).
pub struct PeerClients {
    admits: Admits,
    algs: WebPkiSupportedAlgorithms,
}

impl std::fmt::Debug for PeerClients {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PeerClients")
    }
}

impl ClientCertVerifier for PeerClients {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        let fp = Fingerprint::of_cert(end_entity)?;
        if (self.admits)(&fp) {
            Ok(ClientCertVerified::assertion())
        } else {
            tracing::warn!(node_id = %fp, "refused a TLS client: not a peer added here");
            Err(not_pinned())
        }
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Err(rustls::Error::PeerIncompatible(
            rustls::PeerIncompatible::Tls12NotOffered,
        ))
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algs)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algs.supported_schemes()
    }
}

/// The server side of node links: TLS 1.3, this node's certificate, client certificates
/// required and pinned by `admits`.
pub fn peer_server_config(
    key: &NodeKey,
    admits: Admits,
) -> Result<Arc<rustls::ServerConfig>, NodeError> {
    let verifier = Arc::new(PeerClients {
        admits,
        algs: algorithms(),
    });
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| NodeError::Config(e.to_string()))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(vec![key.cert.clone()], key.key.clone_key())
        .map_err(|e| NodeError::Config(format!("node certificate: {e}")))?;
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    // Every connection is a full handshake, its certificates checked against the peers of now
    // (no resumption: tickets would skip the check, and carry ages measured by clocks).
    cfg.send_tls13_tickets = 0;
    cfg.session_storage = Arc::new(rustls::server::NoServerSessionStorage {});
    Ok(Arc::new(cfg))
}

/// The client side of a link to the peer `expected`: TLS 1.3, this node's certificate as the
/// client certificate, the peer pinned by its fingerprint.
pub fn peer_client_config(
    key: &NodeKey,
    expected: Fingerprint,
) -> Result<rustls::ClientConfig, NodeError> {
    peer_client_config_any(key, vec![expected])
}

/// [`peer_client_config`] accepting any of `expected` (a peer's node id and its announced next).
pub fn peer_client_config_any(
    key: &NodeKey,
    expected: Vec<Fingerprint>,
) -> Result<rustls::ClientConfig, NodeError> {
    let mut cfg = rustls::ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| NodeError::Config(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(PinnedServer::any_of(expected)))
        .with_client_auth_cert(vec![key.cert.clone()], key.key.clone_key())
        .map_err(|e| NodeError::Config(format!("node certificate: {e}")))?;
    // No ALPN here: hyper-rustls sets it for the protocols it enables.
    cfg.resumption = rustls::client::Resumption::disabled();
    Ok(cfg)
}

/// Where the agent API's certificate comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CertSource {
    /// The node's own self-signed certificate.
    Node,
    /// An operator's certificate chain and key (PEM files), re-read on SIGHUP.
    Operator {
        /// The certificate chain (PEM).
        cert: PathBuf,
        /// The private key (PEM).
        key: PathBuf,
    },
}

/// The agent API's certificate, swappable at run time (SIGHUP re-reads an operator's files).
pub struct ApiCert {
    source: CertSource,
    node: Arc<CertifiedKey>,
    current: RwLock<Arc<CertifiedKey>>,
}

impl std::fmt::Debug for ApiCert {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiCert")
            .field("source", &self.source)
            .finish()
    }
}

impl ApiCert {
    /// Loads the certificate of `source` (failing on unreadable or mismatched files).
    pub fn new(source: CertSource, node: &NodeKey) -> Result<Arc<ApiCert>, NodeError> {
        let node = node.certified_key()?;
        let current = Self::read(&source, &node)?;
        Ok(Arc::new(ApiCert {
            source,
            node,
            current: RwLock::new(current),
        }))
    }

    fn read(source: &CertSource, node: &Arc<CertifiedKey>) -> Result<Arc<CertifiedKey>, NodeError> {
        match source {
            CertSource::Node => Ok(node.clone()),
            CertSource::Operator { cert, key } => {
                let (chain, key) = read_pem_pair(cert, key)?;
                if chain.is_empty() {
                    return Err(NodeError::Config(format!(
                        "{} holds no certificate",
                        cert.display()
                    )));
                }
                certified(chain, key)
            }
        }
    }

    /// Re-reads an operator's files; on failure the certificate in use stays.
    pub fn reload(&self) -> Result<(), NodeError> {
        let fresh = Self::read(&self.source, &self.node)?;
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = fresh;
        Ok(())
    }

    /// The certificate chain served now (leaf first).
    pub fn chain(&self) -> Vec<CertificateDer<'static>> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .cert
            .clone()
    }

    /// A server configuration over this certificate (TLS 1.2 and 1.3, no client certificates).
    pub fn server_config(self: &Arc<Self>) -> Result<Arc<rustls::ServerConfig>, NodeError> {
        let mut cfg = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| NodeError::Config(e.to_string()))?
            .with_no_client_auth()
            .with_cert_resolver(self.clone());
        cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(cfg))
    }
}

impl ResolvesServerCert for ApiCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(
            self.current
                .read()
                .unwrap_or_else(|p| p.into_inner())
                .clone(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_made_key_reloads_with_the_same_fingerprint_and_private_modes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (k, made) = NodeKey::load_or_create(dir.path()).expect("make");
        assert!(made);
        let (again, made) = NodeKey::load_or_create(dir.path()).expect("load");
        assert!(!made);
        assert_eq!(k.fingerprint, again.fingerprint);
        assert_eq!(k.cert, again.cert);
        #[cfg(unix)]
        for f in [KEY_FILE, CERT_FILE] {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(f))
                .expect("meta")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{f}");
        }
        let other = tempfile::tempdir().expect("tempdir");
        let (other, _) = NodeKey::load_or_create(other.path()).expect("other");
        assert_ne!(other.fingerprint, k.fingerprint);
    }

    #[test]
    fn fingerprints_print_and_parse() {
        let fp = Fingerprint([0xab; 32]);
        let s = fp.to_string();
        assert_eq!(s.len(), 64);
        assert_eq!(s.parse::<Fingerprint>(), Ok(fp));
        assert_eq!(s.to_uppercase().parse::<Fingerprint>(), Ok(fp));
        let colons =
            fp.0.iter()
                .map(|b| format!("{b:02X}"))
                .collect::<Vec<_>>()
                .join(":");
        assert_eq!(colons.parse::<Fingerprint>(), Ok(fp));
        for bad in ["", "abc", &s[..62], &format!("{s}00"), &s.replace('a', "g")] {
            assert_eq!(bad.parse::<Fingerprint>(), Err(BadFingerprint), "{bad}");
        }
        assert_eq!(
            serde_json::to_value(fp).expect("json"),
            serde_json::json!(s)
        );
        assert_ne!(node_uuid(&fp), node_uuid(&Fingerprint([0xac; 32])));
    }

    #[test]
    fn an_operator_pair_that_does_not_match_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (a_cert, a_key) = NodeKey::generate_pem().expect("a");
        let (_, b_key) = NodeKey::generate_pem().expect("b");
        let node_dir = tempfile::tempdir().expect("tempdir");
        let (node, _) = NodeKey::load_or_create(node_dir.path()).expect("node key");
        let cert = dir.path().join("cert.pem");
        let key = dir.path().join("key.pem");
        std::fs::write(&cert, &a_cert).expect("write");
        std::fs::write(&key, &b_key).expect("write");
        let src = CertSource::Operator {
            cert: cert.clone(),
            key: key.clone(),
        };
        assert!(ApiCert::new(src.clone(), &node).is_err());
        std::fs::write(&key, &a_key).expect("write");
        let api = ApiCert::new(src, &node).expect("matching pair");
        let served = api.chain();
        assert_eq!(served.len(), 1);
        assert_ne!(served[0], node.cert);
        // A reload that finds broken files keeps the certificate in use.
        std::fs::write(&key, "not a key").expect("write");
        assert!(api.reload().is_err());
        assert_eq!(api.chain(), served);
    }
}
