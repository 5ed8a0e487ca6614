/**
 * Signs test JWTs with Web Crypto directly (written for the tests, independent of the
 * server's verifier), including deliberately bad ones.
 * @module
 */

const encoder = new TextEncoder();

/** base64url without padding. */
export function b64url(data: Uint8Array | string): string {
  const bytes = typeof data === "string" ? encoder.encode(data) : data;
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

/** A compact token from a header and payload, signed by `sign` over `header.payload`. */
export async function compact(
  header: Record<string, unknown>,
  payload: Record<string, unknown>,
  sign: (data: Uint8Array<ArrayBuffer>) => Promise<Uint8Array<ArrayBuffer> | ArrayBuffer>,
): Promise<string> {
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(payload))}`;
  const sig = new Uint8Array(await sign(encoder.encode(input)));
  return `${input}.${b64url(sig)}`;
}

/** An HS256 signer for `secret`. */
export async function hs256Signer(secret: string) {
  const key = await crypto.subtle.importKey(
    "raw",
    encoder.encode(secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  return (payload: Record<string, unknown>, header: Record<string, unknown> = {}) =>
    compact(
      { alg: "HS256", typ: "JWT", ...header },
      payload,
      (data) => crypto.subtle.sign("HMAC", key, data),
    );
}

/** A fresh P-256 key pair: an ES256 signer and the public key as PEM and JWK. */
export async function es256KeyPair() {
  const pair = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, [
    "sign",
    "verify",
  ]);
  const spki = new Uint8Array(await crypto.subtle.exportKey("spki", pair.publicKey));
  const b64 = btoa(String.fromCharCode(...spki)).replace(/(.{64})/g, "$1\n");
  const pem = `-----BEGIN PUBLIC KEY-----\n${b64}\n-----END PUBLIC KEY-----\n`;
  const jwk = await crypto.subtle.exportKey("jwk", pair.publicKey);
  const sign = (payload: Record<string, unknown>, header: Record<string, unknown> = {}) =>
    compact(
      { alg: "ES256", typ: "JWT", ...header },
      payload,
      (data) => crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, pair.privateKey, data),
    );
  return { sign, pem, jwk: JSON.stringify(jwk) };
}
