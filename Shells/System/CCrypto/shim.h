// The parts of OpenSSL 3 libcrypto the platform uses for JWS signatures, plus one-line wrappers for the
// macros Swift cannot import (function-like or composite macros). Nothing here holds state.
#ifndef CCRYPTO_SHIM_H
#define CCRYPTO_SHIM_H

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>

/// EVP_PKEY_PUBLIC_KEY is a composite macro: the selection for EVP_PKEY_fromdata of a public key.
static inline int ccrypto_selection_public_key(void) { return EVP_PKEY_PUBLIC_KEY; }

/// BIO_get_mem_data is a macro over BIO_ctrl: the bytes written so far to a memory BIO.
static inline long ccrypto_bio_mem_data(BIO *bio, char **data) { return BIO_get_mem_data(bio, data); }

/// OPENSSL_free is a macro carrying the caller's file and line.
static inline void ccrypto_free(void *pointer) { OPENSSL_free(pointer); }

#endif
