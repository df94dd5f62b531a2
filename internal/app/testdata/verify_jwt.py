#!/usr/bin/env python3
"""Independent verifier for oidcfed ID tokens, used by the Go e2e tests.

It shares no code with oidcfed: only the Python standard library and the
`cryptography` package. Given a JWKS file and a token file it

  * base64url-decodes every part strictly (URL alphabet, no padding, no
    non-canonical trailing bits),
  * parses JSON strictly (duplicate member names are an error),
  * checks the JWS header: alg is the expected one, typ is JWT, kid is set,
  * picks the JWK by kid, checks the kid is the key's RFC 7638 thumbprint,
    builds the public key from n/e (RSA) or crv/x/y (EC P-256),
  * verifies the signature over "header.payload" (RSASSA-PKCS1-v1_5 with
    SHA-256, or ECDSA P-256/SHA-256 with the JWS r||s form turned into DER),
  * checks iss, aud, nbf == iat - 5 and exp > iat,

and prints the claims as JSON on stdout. Any failure exits non-zero with the
reason on stderr.

Usage: verify_jwt.py --jwks FILE --token FILE --issuer URL --aud AUD [--alg RS256|ES256]
"""

import argparse
import base64
import binascii
import hashlib
import json
import re
import sys

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

B64URL = re.compile(r"^[A-Za-z0-9_-]*$")


class VerifyError(Exception):
    pass


def b64url_decode(s, what):
    """Strict base64url without padding (RFC 7515 section 2)."""
    if not isinstance(s, str) or not B64URL.match(s):
        raise VerifyError(f"{what}: not base64url (bad character or padding)")
    if len(s) % 4 == 1:
        raise VerifyError(f"{what}: impossible base64url length {len(s)}")
    try:
        raw = base64.b64decode(s + "=" * (-len(s) % 4), altchars=b"-_", validate=True)
    except binascii.Error as e:
        raise VerifyError(f"{what}: {e}") from None
    # Reject non-canonical encodings (non-zero unused trailing bits): the
    # same bytes must encode back to the same text.
    if base64.urlsafe_b64encode(raw).rstrip(b"=").decode() != s:
        raise VerifyError(f"{what}: non-canonical base64url")
    return raw


def b64url_encode(raw):
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def strict_json(raw, what):
    def no_dups(pairs):
        out = {}
        for k, v in pairs:
            if k in out:
                raise VerifyError(f"{what}: duplicate member {k!r}")
            out[k] = v
        return out

    try:
        text = raw.decode("utf-8", errors="strict")
        return json.loads(text, object_pairs_hook=no_dups)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise VerifyError(f"{what}: invalid JSON: {e}") from None


def b64url_uint(s, what):
    raw = b64url_decode(s, what)
    if not raw:
        raise VerifyError(f"{what}: empty integer")
    return int.from_bytes(raw, "big")


def thumbprint(jwk):
    """RFC 7638 JWK thumbprint (SHA-256, base64url)."""
    if jwk["kty"] == "RSA":
        members = {"e": jwk["e"], "kty": "RSA", "n": jwk["n"]}
    elif jwk["kty"] == "EC":
        members = {"crv": jwk["crv"], "kty": "EC", "x": jwk["x"], "y": jwk["y"]}
    else:
        raise VerifyError(f"unsupported kty {jwk['kty']!r}")
    canon = json.dumps(members, separators=(",", ":"), sort_keys=True)
    return b64url_encode(hashlib.sha256(canon.encode()).digest())


def public_key(jwk, alg):
    for private in ("d", "p", "q", "dp", "dq", "qi", "oth", "k"):
        if private in jwk:
            raise VerifyError(f"JWK {jwk.get('kid')!r} publishes private member {private!r}")
    if "alg" in jwk and jwk["alg"] != alg:
        raise VerifyError(f"JWK alg {jwk['alg']!r} does not match token alg {alg!r}")
    if "use" in jwk and jwk["use"] != "sig":
        raise VerifyError(f"JWK use {jwk['use']!r} is not sig")
    if alg == "RS256":
        if jwk.get("kty") != "RSA":
            raise VerifyError("RS256 needs an RSA key")
        n = b64url_uint(jwk["n"], "jwk.n")
        e = b64url_uint(jwk["e"], "jwk.e")
        if n.bit_length() < 2048:
            raise VerifyError(f"RSA modulus is only {n.bit_length()} bits")
        return rsa.RSAPublicNumbers(e, n).public_key()
    if alg == "ES256":
        if jwk.get("kty") != "EC" or jwk.get("crv") != "P-256":
            raise VerifyError("ES256 needs an EC P-256 key")
        x_raw = b64url_decode(jwk["x"], "jwk.x")
        y_raw = b64url_decode(jwk["y"], "jwk.y")
        if len(x_raw) != 32 or len(y_raw) != 32:
            raise VerifyError("P-256 coordinates must be 32 bytes each")
        nums = ec.EllipticCurvePublicNumbers(
            int.from_bytes(x_raw, "big"), int.from_bytes(y_raw, "big"), ec.SECP256R1()
        )
        return nums.public_key()  # raises ValueError for a point off the curve
    raise VerifyError(f"unsupported alg {alg!r}")


def verify_signature(key, alg, signing_input, sig):
    try:
        if alg == "RS256":
            key.verify(sig, signing_input, padding.PKCS1v15(), hashes.SHA256())
        else:
            if len(sig) != 64:
                raise VerifyError(f"ES256 signature must be 64 bytes (r||s), got {len(sig)}")
            r = int.from_bytes(sig[:32], "big")
            s = int.from_bytes(sig[32:], "big")
            key.verify(encode_dss_signature(r, s), signing_input, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise VerifyError("signature does not verify") from None


def verify(jwks, token, issuer, aud, alg):
    parts = token.split(".")
    if len(parts) != 3:
        raise VerifyError(f"token has {len(parts)} parts, want 3 (compact JWS)")
    header = strict_json(b64url_decode(parts[0], "header"), "header")
    claims = strict_json(b64url_decode(parts[1], "payload"), "payload")
    sig = b64url_decode(parts[2], "signature")
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise VerifyError("header and payload must be JSON objects")

    if header.get("alg") != alg:
        raise VerifyError(f"header alg {header.get('alg')!r}, want {alg!r}")
    if header.get("typ") != "JWT":
        raise VerifyError(f"header typ {header.get('typ')!r}, want 'JWT'")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise VerifyError("header has no kid")
    if "crit" in header:
        raise VerifyError("header has crit, which this verifier does not understand")

    matches = [k for k in jwks.get("keys", []) if k.get("kid") == kid]
    if len(matches) != 1:
        raise VerifyError(f"{len(matches)} JWKs with kid {kid!r}, want exactly 1")
    jwk = matches[0]
    if thumbprint(jwk) != kid:
        raise VerifyError(f"kid {kid!r} is not the RFC 7638 thumbprint of its key")
    key = public_key(jwk, alg)
    verify_signature(key, alg, (parts[0] + "." + parts[1]).encode("ascii"), sig)

    if claims.get("iss") != issuer:
        raise VerifyError(f"iss {claims.get('iss')!r}, want {issuer!r}")
    token_aud = claims.get("aud")
    auds = token_aud if isinstance(token_aud, list) else [token_aud]
    if aud not in auds:
        raise VerifyError(f"aud {token_aud!r} does not contain {aud!r}")
    for name in ("iat", "nbf", "exp"):
        v = claims.get(name)
        if not isinstance(v, int) or isinstance(v, bool):
            raise VerifyError(f"{name} must be an integer, got {v!r}")
    if claims["nbf"] != claims["iat"] - 5:
        raise VerifyError(f"nbf {claims['nbf']} != iat {claims['iat']} - 5")
    if not claims["exp"] > claims["iat"]:
        raise VerifyError(f"exp {claims['exp']} is not after iat {claims['iat']}")
    return claims


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--jwks", required=True)
    p.add_argument("--token", required=True)
    p.add_argument("--issuer", required=True)
    p.add_argument("--aud", required=True)
    p.add_argument("--alg", default="RS256", choices=["RS256", "ES256"])
    a = p.parse_args()
    try:
        with open(a.jwks, "rb") as f:
            jwks = strict_json(f.read(), "jwks")
        with open(a.token, "rb") as f:
            token = f.read().decode("ascii").strip()
        claims = verify(jwks, token, a.issuer, a.aud, a.alg)
    except (VerifyError, KeyError, ValueError, UnicodeDecodeError) as e:
        print(f"verify_jwt: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    json.dump(claims, sys.stdout, sort_keys=True)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
