// make_test_pki: an EC P-256 CA and a server certificate for 127.0.0.1, ::1 and localhost, via the OpenSSL 3
// C API.
#include "fake_ditio.hpp"
#include "temp_dir.hpp"

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

namespace ditio_sync::testing {
namespace {

template <auto Free> struct deleter {
    template <class T> void operator()(T* p) const { Free(p); }
};

using pkey_ptr = std::unique_ptr<EVP_PKEY, deleter<EVP_PKEY_free>>;
using x509_ptr = std::unique_ptr<X509, deleter<X509_free>>;
using bio_ptr = std::unique_ptr<BIO, deleter<BIO_free_all>>;
using ext_ptr = std::unique_ptr<X509_EXTENSION, deleter<X509_EXTENSION_free>>;
using bn_ptr = std::unique_ptr<BIGNUM, deleter<BN_free>>;

[[noreturn]] void fail(const char* what)
{
    unsigned long code = ERR_get_error();
    std::string detail = code != 0 ? ERR_error_string(code, nullptr) : "no OpenSSL error queued";
    ERR_clear_error();
    throw std::runtime_error(std::string("make_test_pki: ") + what + ": " + detail);
}

void check(int ok, const char* what)
{
    if (ok != 1)
        fail(what);
}

pkey_ptr make_key()
{
    pkey_ptr key{EVP_EC_gen("P-256")};
    if (!key)
        fail("EVP_EC_gen");
    return key;
}

void add_ext(X509* cert, X509* issuer, int nid, const char* value)
{
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
    ext_ptr ext{X509V3_EXT_conf_nid(nullptr, &ctx, nid, value)};
    if (!ext)
        fail(value);
    check(X509_add_ext(cert, ext.get(), -1), "X509_add_ext");
}

void set_name(X509_NAME* name, const char* common_name)
{
    auto add = [&](const char* field, const char* value) {
        check(
            X509_NAME_add_entry_by_txt(
                name, field, MBSTRING_UTF8, reinterpret_cast<const unsigned char*>(value), -1, -1, 0
            ),
            "X509_NAME_add_entry_by_txt"
        );
    };
    add("C", "NO");
    add("O", "ditio-sync tests");
    add("CN", common_name);
}

// A certificate for `key`, signed by `issuer_key` (self-signed when issuer is null).
x509_ptr make_cert(
    EVP_PKEY* key,
    const char* common_name,
    X509* issuer,
    EVP_PKEY* issuer_key,
    const char* subject_alt_names = "IP:127.0.0.1,IP:::1,DNS:localhost"
)
{
    x509_ptr cert{X509_new()};
    if (!cert)
        fail("X509_new");
    check(X509_set_version(cert.get(), X509_VERSION_3), "X509_set_version");

    // A random positive 64-bit serial: browsers and OpenSSL reject repeats from one issuer.
    bn_ptr serial{BN_new()};
    if (!serial || BN_rand(serial.get(), 63, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1 ||
        !BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert.get())))
        fail("serial number");

    // Valid from yesterday, so a clock a little behind does not make the chain "not yet valid".
    if (!X509_gmtime_adj(X509_getm_notBefore(cert.get()), -24L * 3600) ||
        !X509_time_adj_ex(X509_getm_notAfter(cert.get()), 3650, 0, nullptr))
        fail("validity");
    check(X509_set_pubkey(cert.get(), key), "X509_set_pubkey");
    set_name(X509_get_subject_name(cert.get()), common_name);
    X509* signer = issuer ? issuer : cert.get();
    check(X509_set_issuer_name(cert.get(), X509_get_subject_name(signer)), "X509_set_issuer_name");

    add_ext(cert.get(), signer, NID_subject_key_identifier, "hash");
    if (!issuer) {
        add_ext(cert.get(), signer, NID_basic_constraints, "critical,CA:TRUE,pathlen:0");
        add_ext(cert.get(), signer, NID_key_usage, "critical,keyCertSign,cRLSign");
    } else {
        add_ext(cert.get(), signer, NID_authority_key_identifier, "keyid:always");
        add_ext(cert.get(), signer, NID_basic_constraints, "critical,CA:FALSE");
        add_ext(cert.get(), signer, NID_key_usage, "critical,digitalSignature,keyAgreement");
        add_ext(cert.get(), signer, NID_ext_key_usage, "serverAuth");
        add_ext(cert.get(), signer, NID_subject_alt_name, subject_alt_names);
    }
    if (X509_sign(cert.get(), issuer_key, EVP_sha256()) <= 0)
        fail("X509_sign");
    return cert;
}

// Writes through a temporary file and a rename, so a concurrent reader never sees half a file.
template <class Write> void write_pem(const std::filesystem::path& path, bool secret, Write&& write)
{
    auto tmp = path;
    tmp += ".tmp." + std::to_string(::getpid());
    bio_ptr bio{BIO_new_file(tmp.c_str(), "w")};
    if (!bio)
        fail(("cannot create " + tmp.string()).c_str());
    if (secret)
        std::filesystem::permissions(
            tmp, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write
        );
    if (write(bio.get()) != 1)
        fail(("cannot write " + tmp.string()).c_str());
    bio.reset();
    std::filesystem::rename(tmp, path);
}

} // namespace

test_pki make_test_pki(const std::filesystem::path& dir)
{
    test_pki pki{dir / "ca.pem", dir / "server.pem", dir / "server-key.pem"};
    if (std::filesystem::exists(pki.ca_cert) && std::filesystem::exists(pki.server_cert) &&
        std::filesystem::exists(pki.server_key))
        return pki;
    std::filesystem::create_directories(dir);

    auto ca_key = make_key();
    auto ca = make_cert(ca_key.get(), "ditio-sync test CA", nullptr, ca_key.get());
    auto server_key = make_key();
    auto server = make_cert(server_key.get(), "localhost", ca.get(), ca_key.get());

    // The key first and the CA last: a reader checking for all three files then finds a complete set.
    write_pem(pki.server_key, true, [&](BIO* b) {
        return PEM_write_bio_PrivateKey(b, server_key.get(), nullptr, nullptr, 0, nullptr, nullptr);
    });
    write_pem(pki.server_cert, false, [&](BIO* b) { return PEM_write_bio_X509(b, server.get()); });
    write_pem(pki.ca_cert, false, [&](BIO* b) { return PEM_write_bio_X509(b, ca.get()); });
    return pki;
}

const test_pki& process_test_pki()
{
    // A static's destructor runs at exit; the directory is a member so that a failed make_test_pki
    // removes it too.
    struct holder {
        temp_dir dir{"ditio-test-pki-"};
        test_pki pki = make_test_pki(dir.path());
    };
    static const holder h;
    return h.pki;
}

test_ca make_test_ca(const std::filesystem::path& dir)
{
    test_ca ca{dir / "ca.pem", dir / "ca-key.pem"};
    if (std::filesystem::exists(ca.cert) && std::filesystem::exists(ca.key))
        return ca;
    std::filesystem::create_directories(dir);
    auto key = make_key();
    auto cert = make_cert(key.get(), "ditio-sync test CA", nullptr, key.get());
    write_pem(ca.key, true, [&](BIO* b) {
        return PEM_write_bio_PrivateKey(b, key.get(), nullptr, nullptr, 0, nullptr, nullptr);
    });
    write_pem(ca.cert, false, [&](BIO* b) { return PEM_write_bio_X509(b, cert.get()); });
    return ca;
}

test_pki
make_server_cert(const test_ca& ca, const std::filesystem::path& dir, const std::vector<std::string>& names)
{
    if (names.empty())
        throw std::invalid_argument("make_server_cert: no names");
    bio_ptr cert_in{BIO_new_file(ca.cert.c_str(), "r")};
    if (!cert_in)
        fail(("cannot read " + ca.cert.string()).c_str());
    x509_ptr ca_cert{PEM_read_bio_X509(cert_in.get(), nullptr, nullptr, nullptr)};
    if (!ca_cert)
        fail(("no certificate in " + ca.cert.string()).c_str());
    bio_ptr key_in{BIO_new_file(ca.key.c_str(), "r")};
    if (!key_in)
        fail(("cannot read " + ca.key.string()).c_str());
    pkey_ptr ca_key{PEM_read_bio_PrivateKey(key_in.get(), nullptr, nullptr, nullptr)};
    if (!ca_key)
        fail(("no private key in " + ca.key.string()).c_str());

    // IP literals become iPAddress entries, everything else dNSName entries.
    std::string san;
    for (const auto& n : names) {
        std::unique_ptr<ASN1_OCTET_STRING, deleter<ASN1_OCTET_STRING_free>> ip{a2i_IPADDRESS(n.c_str())};
        san += (san.empty() ? "" : ",") + std::string(ip ? "IP:" : "DNS:") + n;
    }
    std::filesystem::create_directories(dir);
    auto key = make_key();
    auto cert = make_cert(key.get(), names.front().c_str(), ca_cert.get(), ca_key.get(), san.c_str());
    test_pki pki{ca.cert, dir / "server.pem", dir / "server-key.pem"};
    write_pem(pki.server_key, true, [&](BIO* b) {
        return PEM_write_bio_PrivateKey(b, key.get(), nullptr, nullptr, 0, nullptr, nullptr);
    });
    write_pem(pki.server_cert, false, [&](BIO* b) { return PEM_write_bio_X509(b, cert.get()); });
    return pki;
}

} // namespace ditio_sync::testing
