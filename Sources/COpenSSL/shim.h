#ifndef COPENSSL_SHIM_H
#define COPENSSL_SHIM_H

/* Hide APIs deprecated in 3.0 (RSA_*, SHA1_Init, ...) so Swift never sees them. */
#define OPENSSL_API_COMPAT 30000
#define OPENSSL_NO_DEPRECATED 1

#include <limits.h>
#include <stdint.h>
#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/decoder.h>
#include <openssl/encoder.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/opensslv.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/pkcs7.h>
#include <openssl/provider.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

/*
 * OpenSSL implements stack accessors, OPENSSL_free, BIO_get_mem_data and a few constants as
 * function-like or composite macros, which Swift cannot import. They are re-exported here as
 * header-only static inline functions; no C target is needed.
 */

/* ---- STACK_OF(X509) ---- */
static inline int shim_sk_X509_num(const STACK_OF(X509) *sk) { return sk_X509_num(sk); }
static inline X509 *shim_sk_X509_value(const STACK_OF(X509) *sk, int i) { return sk_X509_value(sk, i); }
static inline STACK_OF(X509) *shim_sk_X509_new_null(void) { return sk_X509_new_null(); }
static inline int shim_sk_X509_push(STACK_OF(X509) *sk, X509 *x) { return sk_X509_push(sk, x); }
/* Frees the stack only; the elements stay alive. */
static inline void shim_sk_X509_free(STACK_OF(X509) *sk) { sk_X509_free(sk); }
/* Frees the stack and every element. */
static inline void shim_sk_X509_pop_free(STACK_OF(X509) *sk) { sk_X509_pop_free(sk, X509_free); }

/* ---- subjectAltName ---- */
static inline int shim_sk_GENERAL_NAME_num(const GENERAL_NAMES *sk) { return sk_GENERAL_NAME_num(sk); }
static inline GENERAL_NAME *shim_sk_GENERAL_NAME_value(const GENERAL_NAMES *sk, int i) { return sk_GENERAL_NAME_value(sk, i); }
static inline GENERAL_NAMES *shim_X509_get_SANs(const X509 *x, int *crit) {
    return (GENERAL_NAMES *)X509_get_ext_d2i(x, NID_subject_alt_name, crit, NULL);
}
static inline const ASN1_STRING *shim_GENERAL_NAME_string(const GENERAL_NAME *gen) {
    switch (gen->type) {
    case GEN_DNS:   return gen->d.dNSName;
    case GEN_EMAIL: return gen->d.rfc822Name;
    case GEN_URI:   return gen->d.uniformResourceIdentifier;
    case GEN_IPADD: return gen->d.iPAddress;
    default:        return NULL;
    }
}

/* ---- extendedKeyUsage: a STACK_OF(ASN1_OBJECT) ---- */
static inline EXTENDED_KEY_USAGE *shim_X509_get_EKU(const X509 *x, int *crit) {
    return (EXTENDED_KEY_USAGE *)X509_get_ext_d2i(x, NID_ext_key_usage, crit, NULL);
}
static inline int shim_sk_ASN1_OBJECT_num(const EXTENDED_KEY_USAGE *sk) { return sk_ASN1_OBJECT_num(sk); }
static inline const ASN1_OBJECT *shim_sk_ASN1_OBJECT_value(const EXTENDED_KEY_USAGE *sk, int i) { return sk_ASN1_OBJECT_value(sk, i); }

/* ---- memory / BIO ---- */
static inline void shim_OPENSSL_free(void *p) { OPENSSL_free(p); }
static inline long shim_BIO_get_mem_data(BIO *b, char **pp) { return BIO_get_mem_data(b, pp); }
static inline int shim_EVP_PKEY_KEYPAIR(void) { return EVP_PKEY_KEYPAIR; }
static inline int shim_EVP_PKEY_PUBLIC_KEY(void) { return EVP_PKEY_PUBLIC_KEY; }
/* The ASN.1 template of a certificate, for ASN1_item_d2i_ex in a chosen library context. */
static inline const ASN1_ITEM *shim_X509_item(void) { return ASN1_ITEM_rptr(X509); }

/* ---- PKCS#7 (certificate bundles, .p7b) ---- */
/* The certificates of a signed (or signed-and-enveloped) PKCS#7, borrowed from it. */
static inline STACK_OF(X509) *shim_PKCS7_certificates(PKCS7 *p7) {
    if (p7 == NULL || p7->d.ptr == NULL) return NULL;
    switch (OBJ_obj2nid(p7->type)) {
    case NID_pkcs7_signed: return p7->d.sign ? p7->d.sign->cert : NULL;
    case NID_pkcs7_signedAndEnveloped: return p7->d.signed_and_enveloped ? p7->d.signed_and_enveloped->cert : NULL;
    default: return NULL;
    }
}
static inline int shim_PKCS7_type_nid(const PKCS7 *p7) { return OBJ_obj2nid(p7->type); }

/* ---- PKCS#12 bags ---- */
static inline int shim_sk_PKCS7_num(const STACK_OF(PKCS7) *sk) { return sk_PKCS7_num(sk); }
static inline PKCS7 *shim_sk_PKCS7_value(const STACK_OF(PKCS7) *sk, int i) { return sk_PKCS7_value(sk, i); }
static inline void shim_sk_PKCS7_pop_free(STACK_OF(PKCS7) *sk) { sk_PKCS7_pop_free(sk, PKCS7_free); }
static inline int shim_sk_PKCS12_SAFEBAG_num(const STACK_OF(PKCS12_SAFEBAG) *sk) { return sk_PKCS12_SAFEBAG_num(sk); }
static inline PKCS12_SAFEBAG *shim_sk_PKCS12_SAFEBAG_value(const STACK_OF(PKCS12_SAFEBAG) *sk, int i) { return sk_PKCS12_SAFEBAG_value(sk, i); }
static inline void shim_sk_PKCS12_SAFEBAG_pop_free(STACK_OF(PKCS12_SAFEBAG) *sk) { sk_PKCS12_SAFEBAG_pop_free(sk, PKCS12_SAFEBAG_free); }

/* An iteration count as a positive long; LONG_MAX (refused by every limit) for anything else. ASN1_INTEGER_get
 * answers -1 for a value that does not fit in a long (2^64, say) and for -1 itself, which callers took for "no
 * count" (a PKCS#12 MAC of 2^64 iterations was read as "no MAC"). */
static inline long shim_iteration_count(const ASN1_INTEGER *value) {
    int64_t count = 0;
    if (value == NULL || !ASN1_INTEGER_get_int64(&count, value) || count < 1) return LONG_MAX;
    return (long)count;
}

/*
 * Iteration count of a password-based encryption AlgorithmIdentifier (PKCS#5 v1.5/PKCS#12 PBE or
 * PBES2 with PBKDF2/scrypt-less). Returns -1 when the algorithm carries no readable count, so the
 * caller can refuse hostile files before OpenSSL spends minutes deriving a key.
 */
static inline long shim_pbe_iterations(const X509_ALGOR *alg) {
    const ASN1_OBJECT *aoid = NULL;
    int ptype = 0;
    const void *pval = NULL;
    long iter = -1;
    if (alg == NULL) return -1;
    X509_ALGOR_get0(&aoid, &ptype, &pval, alg);
    if (ptype != V_ASN1_SEQUENCE || pval == NULL) return -1;
    if (OBJ_obj2nid(aoid) == NID_pbes2) {
        PBE2PARAM *pbe2 = ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(PBE2PARAM), (const ASN1_TYPE *)alg->parameter);
        if (pbe2 == NULL) return LONG_MAX;  /* unreadable parameters: refuse rather than run */
        iter = LONG_MAX;                    /* an unknown key-derivation function: refuse rather than run */
        if (pbe2->keyfunc != NULL && OBJ_obj2nid(pbe2->keyfunc->algorithm) == NID_id_pbkdf2) {
            PBKDF2PARAM *kdf = ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(PBKDF2PARAM), pbe2->keyfunc->parameter);
            if (kdf != NULL) {
                iter = shim_iteration_count(kdf->iter);
                PBKDF2PARAM_free(kdf);
            }
        } else if (pbe2->keyfunc != NULL && OBJ_obj2nid(pbe2->keyfunc->algorithm) == NID_id_scrypt) {
            /* scrypt's cost is N·r·p block mixes: count it like PBKDF2 iterations (OpenSSL's default
               N=16384, r=8, p=1 gives 131,072). Saturates instead of overflowing. */
            SCRYPT_PARAMS *sp = ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(SCRYPT_PARAMS), pbe2->keyfunc->parameter);
            if (sp != NULL) {
                uint64_t n = 0, r = 0, p = 0;
                if (ASN1_INTEGER_get_uint64(&n, sp->costParameter) && ASN1_INTEGER_get_uint64(&r, sp->blockSize)
                    && ASN1_INTEGER_get_uint64(&p, sp->parallelizationParameter)) {
                    unsigned __int128 cost = (unsigned __int128)n * r * p;
                    iter = cost > (unsigned __int128)LONG_MAX ? LONG_MAX : (long)cost;
                }
                SCRYPT_PARAMS_free(sp);
            }
        }
        PBE2PARAM_free(pbe2);
        return iter;
    }
    PBEPARAM *pbe = ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(PBEPARAM), (const ASN1_TYPE *)alg->parameter);
    if (pbe == NULL) return -1;
    iter = shim_iteration_count(pbe->iter);
    PBEPARAM_free(pbe);
    return iter;
}

/* The encryption algorithm of an encrypted PKCS#7 authenticated safe (NULL for plain data). */
static inline const X509_ALGOR *shim_PKCS7_encdata_algorithm(const PKCS7 *p7) {
    if (OBJ_obj2nid(p7->type) != NID_pkcs7_encrypted || p7->d.encrypted == NULL || p7->d.encrypted->enc_data == NULL) return NULL;
    return p7->d.encrypted->enc_data->algorithm;
}

/* The encryption algorithm of a shrouded key bag. */
static inline const X509_ALGOR *shim_SAFEBAG_shrouded_algorithm(const PKCS12_SAFEBAG *bag) {
    const X509_SIG *sig = PKCS12_SAFEBAG_get0_pkcs8(bag);
    const X509_ALGOR *alg = NULL;
    if (sig == NULL) return NULL;
    X509_SIG_get0(sig, &alg, NULL);
    return alg;
}

/* MAC iteration count of a PKCS#12 (1 when absent, as the standard says); -1 when there is no MAC. */
static inline long shim_PKCS12_mac_iterations(const PKCS12 *p12) {
    const ASN1_INTEGER *iter = NULL;
    if (!PKCS12_mac_present(p12)) return -1;
    PKCS12_get0_mac(NULL, NULL, NULL, &iter, p12);
    return iter == NULL ? 1 : shim_iteration_count(iter);
}

/* The friendlyName attribute of a bag: the BMPString's raw UTF-16BE octets (owned by the bag) and their count,
   or NULL when there is none. Decoded in Swift: OpenSSL's UTF-8 conversion stops at U+0000 and drops a name
   with a lone surrogate. */
static inline const unsigned char *shim_SAFEBAG_friendly_name_bmp(const PKCS12_SAFEBAG *bag, int *length) {
    const ASN1_TYPE *t = PKCS12_SAFEBAG_get0_attr(bag, NID_friendlyName);
    if (t == NULL || t->type != V_ASN1_BMPSTRING || t->value.bmpstring == NULL) return NULL;
    *length = ASN1_STRING_length(t->value.bmpstring);
    return ASN1_STRING_get0_data(t->value.bmpstring);
}

/* The localKeyID attribute octets of a bag, or NULL. */
static inline const ASN1_OCTET_STRING *shim_SAFEBAG_local_key_id(const PKCS12_SAFEBAG *bag) {
    const ASN1_TYPE *t = PKCS12_SAFEBAG_get0_attr(bag, NID_localKeyID);
    if (t == NULL || t->type != V_ASN1_OCTET_STRING) return NULL;
    return t->value.octet_string;
}

/* ---- TLS client (probe) ---- */
/* SNI: SSL_set_tlsext_host_name is a macro over SSL_ctrl. */
static inline long shim_SSL_set_tlsext_host_name(SSL *ssl, const char *name) {
    return SSL_set_tlsext_host_name(ssl, name);
}

/* ---- TLS server check (usability) ---- */
/* SSL_CTX_add1_chain_cert is a macro over SSL_CTX_ctrl; it runs the same security checks a daemon's chain file gets. */
static inline long shim_SSL_CTX_add1_chain_cert(SSL_CTX *ctx, X509 *x) { return SSL_CTX_add1_chain_cert(ctx, x); }

/* ---- building requests and certificates (request, request --self-signed) ---- */
static inline GENERAL_NAMES *shim_sk_GENERAL_NAME_new_null(void) { return sk_GENERAL_NAME_new_null(); }
/* Takes ownership of gen on success. */
static inline int shim_sk_GENERAL_NAME_push(GENERAL_NAMES *sk, GENERAL_NAME *gen) { return sk_GENERAL_NAME_push(sk, gen); }
static inline STACK_OF(X509_EXTENSION) *shim_sk_X509_EXTENSION_new_null(void) { return sk_X509_EXTENSION_new_null(); }
/* Takes ownership of ext on success. */
static inline int shim_sk_X509_EXTENSION_push(STACK_OF(X509_EXTENSION) *sk, X509_EXTENSION *ext) { return sk_X509_EXTENSION_push(sk, ext); }
static inline void shim_sk_X509_EXTENSION_pop_free(STACK_OF(X509_EXTENSION) *sk) { sk_X509_EXTENSION_pop_free(sk, X509_EXTENSION_free); }
static inline int shim_sk_X509_EXTENSION_num(const STACK_OF(X509_EXTENSION) *sk) { return sk_X509_EXTENSION_num(sk); }
static inline X509_EXTENSION *shim_sk_X509_EXTENSION_value(const STACK_OF(X509_EXTENSION) *sk, int i) { return sk_X509_EXTENSION_value(sk, i); }

#endif /* COPENSSL_SHIM_H */
