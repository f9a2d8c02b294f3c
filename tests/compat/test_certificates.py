"""Device certificates, CA certificates and the registration code through boto3 against a live
`ferrite serve`, on the embedded store and (when FERRITE_TEST_POSTGRES_URL is set) PostgreSQL.
Certificates, CSRs and CAs of the "user" are made with the `cryptography` package."""

import datetime
import hashlib

import pytest
from botocore.exceptions import ClientError
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from conftest import ACCOUNT_ID, REGION

NOW = datetime.datetime.now(datetime.timezone.utc)
# Certificates AWS IoT issues are valid until 2049-12-31T23:59:59Z.
AWS_NOT_AFTER = datetime.datetime(2049, 12, 31, 23, 59, 59, tzinfo=datetime.timezone.utc)


def error_of(excinfo):
    r = excinfo.value.response
    return r["Error"]["Code"], r["ResponseMetadata"]["HTTPStatusCode"]


def name(cn):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def pem(cert):
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def cert_id(cert):
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()


def make_ca(cn):
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name(cn))
        .issuer_name(name(cn))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - datetime.timedelta(days=1))
        .not_valid_after(NOW + datetime.timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def issue(ca, cn, not_before=None, not_after=None):
    ca_key, ca_cert = ca
    key = ec.generate_private_key(ec.SECP256R1())
    return (
        x509.CertificateBuilder()
        .subject_name(name(cn))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before or NOW - datetime.timedelta(days=1))
        .not_valid_after(not_after or NOW + datetime.timedelta(days=30))
        .sign(ca_key, hashes.SHA256())
    )


def register_ca(iot, ca, **kw):
    code = iot.get_registration_code()["registrationCode"]
    verification = issue(ca, code)
    return iot.register_ca_certificate(
        caCertificate=pem(ca[1]), verificationCertificate=pem(verification), setAsActive=True, **kw
    )


def csr(key, cn):
    return (
        x509.CertificateSigningRequestBuilder()
        .subject_name(name(cn))
        .sign(key, hashes.SHA256())
        .public_bytes(serialization.Encoding.PEM)
        .decode()
    )


def test_create_keys_and_certificate_is_signed_by_ferrites_ca(api_server, iot):
    out = iot.create_keys_and_certificate(setAsActive=True)
    cert = x509.load_pem_x509_certificate(out["certificatePem"].encode())
    assert out["certificateId"] == cert_id(cert)
    assert out["certificateArn"] == f"arn:aws:iot:{REGION}:{ACCOUNT_ID}:cert/{out['certificateId']}"
    with open(api_server.ca_file, "rb") as f:
        ferrite_ca = x509.load_pem_x509_certificate(f.read())
    cert.verify_directly_issued_by(ferrite_ca)
    assert cert.subject.rfc4514_string() == "CN=AWS IoT Certificate"
    assert cert.not_valid_after_utc == AWS_NOT_AFTER

    keys = out["keyPair"]
    assert set(keys) == {"PublicKey", "PrivateKey"}
    assert keys["PrivateKey"].startswith("-----BEGIN RSA PRIVATE KEY-----")
    private = serialization.load_pem_private_key(keys["PrivateKey"].encode(), password=None)
    assert isinstance(private, rsa.RSAPrivateKey) and private.key_size == 2048
    public = serialization.load_pem_public_key(keys["PublicKey"].encode())
    assert public.public_numbers() == cert.public_key().public_numbers() == private.public_key().public_numbers()

    d = iot.describe_certificate(certificateId=out["certificateId"])["certificateDescription"]
    assert d["certificateArn"] == out["certificateArn"]
    assert (d["status"], d["certificateMode"], d["ownedBy"]) == ("ACTIVE", "DEFAULT", ACCOUNT_ID)
    assert d["certificatePem"] == out["certificatePem"]
    assert d["customerVersion"] == 1 and d["generationId"]
    assert d["validity"]["notAfter"] == AWS_NOT_AFTER
    assert d["transferData"] == {}
    assert isinstance(d["creationDate"], datetime.datetime)

    # Registering it again finds the duplicate before looking for a registered CA.
    with pytest.raises(ClientError) as e:
        iot.register_certificate(certificatePem=out["certificatePem"])
    assert error_of(e) == ("ResourceAlreadyExistsException", 409)
    assert e.value.response["Error"]["Message"] == "The certificate is already provisioned or registered"

    # setAsActive defaults to false.
    inactive = iot.create_keys_and_certificate()
    d = iot.describe_certificate(certificateId=inactive["certificateId"])["certificateDescription"]
    assert d["status"] == "INACTIVE"


def test_create_certificate_from_csr(api_server, iot):
    with open(api_server.ca_file, "rb") as f:
        ferrite_ca = x509.load_pem_x509_certificate(f.read())
    for key in (ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP384R1()),
                rsa.generate_private_key(public_exponent=65537, key_size=2048)):
        out = iot.create_certificate_from_csr(certificateSigningRequest=csr(key, "sensor-9"), setAsActive=True)
        cert = x509.load_pem_x509_certificate(out["certificatePem"].encode())
        cert.verify_directly_issued_by(ferrite_ca)
        assert out["certificateId"] == cert_id(cert)
        assert cert.subject.rfc4514_string() == "CN=sensor-9"
        assert cert.public_key().public_numbers() == key.public_key().public_numbers()
        assert cert.not_valid_after_utc == AWS_NOT_AFTER
        assert iot.describe_certificate(certificateId=out["certificateId"])["certificateDescription"]["status"] == "ACTIVE"

    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    for bad in ("not a csr", csr(weak, "weak")):
        with pytest.raises(ClientError) as e:
            iot.create_certificate_from_csr(certificateSigningRequest=bad)
        assert error_of(e) == ("InvalidRequestException", 400)


def test_update_certificate_status_rules(iot):
    cid = iot.create_keys_and_certificate()["certificateId"]
    for status in ("PENDING_TRANSFER", "PENDING_ACTIVATION"):
        with pytest.raises(ClientError) as e:
            iot.update_certificate(certificateId=cid, newStatus=status)
        assert error_of(e) == ("InvalidRequestException", 400)
    with pytest.raises(ClientError) as e:
        iot.update_certificate(certificateId=cid, newStatus="SLEEPING")
    assert error_of(e) == ("InvalidRequestException", 400)

    iot.update_certificate(certificateId=cid, newStatus="ACTIVE")
    iot.update_certificate(certificateId=cid, newStatus="ACTIVE")  # idempotent
    d = iot.describe_certificate(certificateId=cid)["certificateDescription"]
    assert (d["status"], d["customerVersion"]) == ("ACTIVE", 2)
    iot.update_certificate(certificateId=cid, newStatus="INACTIVE")
    iot.update_certificate(certificateId=cid, newStatus="REVOKED")
    # AWS: once revoked, a certificate's status cannot change.
    for status in ("ACTIVE", "INACTIVE"):
        with pytest.raises(ClientError) as e:
            iot.update_certificate(certificateId=cid, newStatus=status)
        assert error_of(e) == ("CertificateStateException", 406)
    assert iot.describe_certificate(certificateId=cid)["certificateDescription"]["status"] == "REVOKED"

    missing = "0" * 64
    for call in (lambda: iot.update_certificate(certificateId=missing, newStatus="ACTIVE"),
                 lambda: iot.describe_certificate(certificateId=missing),
                 lambda: iot.delete_certificate(certificateId=missing)):
        with pytest.raises(ClientError) as e:
            call()
        assert error_of(e) == ("ResourceNotFoundException", 404)


def test_delete_certificate_rules(iot):
    out = iot.create_keys_and_certificate(setAsActive=True)
    cid, arn = out["certificateId"], out["certificateArn"]
    with pytest.raises(ClientError) as e:
        iot.delete_certificate(certificateId=cid, forceDelete=True)
    assert error_of(e) == ("CertificateStateException", 406)
    iot.update_certificate(certificateId=cid, newStatus="INACTIVE")

    iot.create_thing(thingName="cert-holder")
    iot.attach_thing_principal(thingName="cert-holder", principal=arn)
    for force in (False, True):
        with pytest.raises(ClientError) as e:
            iot.delete_certificate(certificateId=cid, forceDelete=force)
        assert error_of(e) == ("DeleteConflictException", 409)
    iot.detach_thing_principal(thingName="cert-holder", principal=arn)

    doc = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:Connect","Resource":"*"}]}'
    iot.create_policy(policyName="cert-policy", policyDocument=doc)
    iot.attach_policy(policyName="cert-policy", target=arn)
    with pytest.raises(ClientError) as e:
        iot.delete_certificate(certificateId=cid)
    assert error_of(e) == ("DeleteConflictException", 409)
    # forceDelete removes an inactive certificate with its policy attachments.
    iot.delete_certificate(certificateId=cid, forceDelete=True)
    with pytest.raises(ClientError) as e:
        iot.describe_certificate(certificateId=cid)
    assert error_of(e) == ("ResourceNotFoundException", 404)
    assert iot.list_targets_for_policy(policyName="cert-policy")["targets"] == []


def test_list_certificates_pages_by_creation_date(iot):
    created = [iot.create_keys_and_certificate()["certificateId"] for _ in range(5)]
    pages = list(iot.get_paginator("list_certificates").paginate(
        ascendingOrder=True, PaginationConfig={"PageSize": 2}))
    assert [len(p["certificates"]) for p in pages] == [2, 2, 1]
    listed = [c["certificateId"] for p in pages for c in p["certificates"]]
    dates = [c["creationDate"] for p in pages for c in p["certificates"]]
    # Creation order, also among certificates created in the same millisecond.
    assert listed == created
    assert dates == sorted(dates)
    first = pages[0]["certificates"][0]
    assert set(first) == {"certificateArn", "certificateId", "status", "certificateMode", "creationDate"}
    # Newest first unless ascendingOrder.
    newest_first = [c["certificateId"] for c in iot.list_certificates(pageSize=250)["certificates"]]
    assert newest_first == listed[::-1]
    with pytest.raises(ClientError) as e:
        iot.list_certificates(marker="Zm9vYmFy")
    assert error_of(e) == ("InvalidRequestException", 400)


def test_registration_code_is_stable_until_deleted(iot):
    code = iot.get_registration_code()["registrationCode"]
    assert len(code) == 64 and int(code, 16) >= 0
    assert iot.get_registration_code()["registrationCode"] == code
    iot.delete_registration_code()
    with pytest.raises(ClientError) as e:
        iot.delete_registration_code()
    assert error_of(e) == ("ResourceNotFoundException", 404)
    assert iot.get_registration_code()["registrationCode"] != code


def test_register_ca_certificate_needs_proof_of_possession(iot):
    ca = make_ca("Fleet Root")
    code = iot.get_registration_code()["registrationCode"]

    def register(verification, **kw):
        return iot.register_ca_certificate(caCertificate=pem(ca[1]), verificationCertificate=pem(verification), **kw)

    with pytest.raises(ClientError) as e:
        iot.register_ca_certificate(caCertificate=pem(ca[1]))
    assert error_of(e) == ("InvalidRequestException", 400)
    with pytest.raises(ClientError) as e:
        register(issue(ca, "not-the-code"))
    assert error_of(e) == ("RegistrationCodeValidationException", 400)
    with pytest.raises(ClientError) as e:
        register(issue(make_ca("Impostor"), code))
    assert error_of(e) == ("CertificateValidationException", 400)
    with pytest.raises(ClientError) as e:
        iot.register_ca_certificate(caCertificate="garbage", verificationCertificate=pem(issue(ca, code)))
    assert error_of(e) == ("CertificateValidationException", 400)
    with pytest.raises(ClientError) as e:
        iot.register_ca_certificate(caCertificate=pem(issue(ca, "leaf")), verificationCertificate=pem(issue(ca, code)))
    assert error_of(e) == ("CertificateValidationException", 400)

    out = register(issue(ca, code), allowAutoRegistration=True,
                   registrationConfig={"templateBody": "{}", "roleArn": f"arn:aws:iam::{ACCOUNT_ID}:role/jitp"})
    ca_id = out["certificateId"]
    assert ca_id == cert_id(ca[1])
    assert out["certificateArn"] == f"arn:aws:iot:{REGION}:{ACCOUNT_ID}:cacert/{ca_id}"
    with pytest.raises(ClientError) as e:
        register(issue(ca, code))
    assert error_of(e) == ("ResourceAlreadyExistsException", 409)
    assert e.value.response["resourceId"] == ca_id

    d = iot.describe_ca_certificate(certificateId=ca_id)
    desc = d["certificateDescription"]
    assert (desc["status"], desc["autoRegistrationStatus"], desc["certificateMode"]) == ("INACTIVE", "ENABLE", "DEFAULT")
    assert desc["ownedBy"] == ACCOUNT_ID and desc["certificatePem"] == pem(ca[1])
    assert d["registrationConfig"]["templateBody"] == "{}"

    iot.update_ca_certificate(certificateId=ca_id, newStatus="ACTIVE", newAutoRegistrationStatus="DISABLE",
                              removeAutoRegistration=True)
    d = iot.describe_ca_certificate(certificateId=ca_id)
    desc = d["certificateDescription"]
    assert (desc["status"], desc["autoRegistrationStatus"], desc["customerVersion"]) == ("ACTIVE", "DISABLE", 2)
    assert "registrationConfig" not in d

    listed = iot.list_ca_certificates()["certificates"]
    assert [(c["certificateId"], c["status"]) for c in listed] == [(ca_id, "ACTIVE")]

    with pytest.raises(ClientError) as e:
        iot.delete_ca_certificate(certificateId=ca_id)
    assert error_of(e) == ("CertificateStateException", 406)
    iot.update_ca_certificate(certificateId=ca_id, newStatus="INACTIVE")
    iot.delete_ca_certificate(certificateId=ca_id)
    for call in (lambda: iot.describe_ca_certificate(certificateId=ca_id),
                 lambda: iot.delete_ca_certificate(certificateId=ca_id),
                 lambda: iot.update_ca_certificate(certificateId=ca_id, newStatus="ACTIVE")):
        with pytest.raises(ClientError) as e:
            call()
        assert error_of(e) == ("ResourceNotFoundException", 404)


def test_register_device_certificates_under_a_ca(iot):
    ca = make_ca("Devices CA")
    device = issue(ca, "device-1")
    # The CA is not registered: the device certificate cannot be verified.
    for kw in ({}, {"caCertificatePem": pem(ca[1])}):
        with pytest.raises(ClientError) as e:
            iot.register_certificate(certificatePem=pem(device), **kw)
        assert error_of(e) == ("CertificateValidationException", 400)

    ca_id = register_ca(iot, ca)["certificateId"]
    other = make_ca("Other CA")
    register_ca(iot, other)
    with pytest.raises(ClientError) as e:
        iot.register_certificate(certificatePem=pem(device), caCertificatePem=pem(other[1]))
    assert error_of(e) == ("CertificateValidationException", 400)

    out = iot.register_certificate(certificatePem=pem(device), status="ACTIVE")
    assert out["certificateId"] == cert_id(device)
    d = iot.describe_certificate(certificateId=out["certificateId"])["certificateDescription"]
    assert (d["status"], d["caCertificateId"], d["certificateMode"]) == ("ACTIVE", ca_id, "DEFAULT")
    with pytest.raises(ClientError) as e:
        iot.register_certificate(certificatePem=pem(device), caCertificatePem=pem(ca[1]))
    assert error_of(e) == ("ResourceAlreadyExistsException", 409)
    assert e.value.response["resourceArn"] == out["certificateArn"]

    second = issue(ca, "device-2")
    second_id = iot.register_certificate(certificatePem=pem(second), caCertificatePem=pem(ca[1]))["certificateId"]
    assert iot.describe_certificate(certificateId=second_id)["certificateDescription"]["status"] == "INACTIVE"
    by_ca = iot.list_certificates_by_ca(caCertificateId=ca_id, ascendingOrder=True)["certificates"]
    assert [c["certificateId"] for c in by_ca] == [out["certificateId"], second_id]
    pages = list(iot.get_paginator("list_certificates_by_ca").paginate(
        caCertificateId=ca_id, PaginationConfig={"PageSize": 1}))
    assert [len(p["certificates"]) for p in pages] == [1, 1]

    # Device certificates registered under a CA keep it from being deleted.
    iot.update_ca_certificate(certificateId=ca_id, newStatus="INACTIVE")
    with pytest.raises(ClientError) as e:
        iot.delete_ca_certificate(certificateId=ca_id)
    assert error_of(e) == ("CertificateStateException", 406)
    iot.update_certificate(certificateId=out["certificateId"], newStatus="INACTIVE")
    iot.delete_certificate(certificateId=out["certificateId"])
    iot.delete_certificate(certificateId=second_id)
    iot.delete_ca_certificate(certificateId=ca_id)
    assert iot.list_certificates_by_ca(caCertificateId=ca_id)["certificates"] == []


def test_sni_only_ca_and_registration_without_ca(iot):
    ca = make_ca("SNI CA")
    code = iot.get_registration_code()["registrationCode"]
    with pytest.raises(ClientError) as e:
        iot.register_ca_certificate(caCertificate=pem(ca[1]), verificationCertificate=pem(issue(ca, code)),
                                    certificateMode="SNI_ONLY")
    assert error_of(e) == ("InvalidRequestException", 400)
    ca_id = iot.register_ca_certificate(caCertificate=pem(ca[1]), certificateMode="SNI_ONLY")["certificateId"]
    desc = iot.describe_ca_certificate(certificateId=ca_id)["certificateDescription"]
    assert desc["certificateMode"] == "SNI_ONLY"
    device = issue(ca, "sni-device")
    cid = iot.register_certificate(certificatePem=pem(device))["certificateId"]
    d = iot.describe_certificate(certificateId=cid)["certificateDescription"]
    assert (d["certificateMode"], d["caCertificateId"]) == ("SNI_ONLY", ca_id)

    loose = issue(make_ca("Unregistered"), "loose")
    out = iot.register_certificate_without_ca(certificatePem=pem(loose), status="ACTIVE")
    assert out["certificateId"] == cert_id(loose)
    d = iot.describe_certificate(certificateId=out["certificateId"])["certificateDescription"]
    assert (d["status"], d["certificateMode"]) == ("ACTIVE", "SNI_ONLY")
    assert "caCertificateId" not in d
    with pytest.raises(ClientError) as e:
        iot.register_certificate_without_ca(certificatePem=pem(loose))
    assert error_of(e) == ("ResourceAlreadyExistsException", 409)


def test_invalid_and_expired_certificates_are_refused(iot):
    ca = make_ca("Clock CA")
    expired = issue(ca, "old", not_before=NOW - datetime.timedelta(days=30), not_after=NOW - datetime.timedelta(days=1))
    future = issue(ca, "new", not_before=NOW + datetime.timedelta(days=1), not_after=NOW + datetime.timedelta(days=30))
    for bad in ("garbage", pem(expired), pem(future)):
        with pytest.raises(ClientError) as e:
            iot.register_certificate_without_ca(certificatePem=bad)
        assert error_of(e) == ("CertificateValidationException", 400)
    with pytest.raises(ClientError) as e:
        iot.register_certificate_without_ca(certificatePem=pem(issue(ca, "x")), status="PENDING_ACTIVATION")
    assert error_of(e) == ("InvalidRequestException", 400)
