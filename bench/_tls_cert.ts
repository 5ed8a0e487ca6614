/**
 * A throwaway certificate authority and a server certificate it signed (for `localhost` and
 * `127.0.0.1`), made with the `openssl` command line, for local `wss://` servers in tests and
 * benchmarks (here because benchmarks do not import from the tests). Clients trust it through
 * `caCerts` (or `deno run --cert ca.pem`).
 * @module
 */

/** PEM texts of a test CA and of a server certificate and key it signed. */
export interface TestCertificate {
  /** The CA certificate (what a client trusts). */
  readonly caCert: string;
  /** The server's certificate chain (leaf, then CA). */
  readonly cert: string;
  /** The server's private key (PKCS#8). */
  readonly key: string;
  /** A file holding `caCert` (for `--cert`); removed by `remove()`. */
  readonly caFile: string;
  /** Deletes the temporary directory. */
  remove(): Promise<void>;
}

/** True when the `openssl` command can be run. */
export async function hasOpenssl(): Promise<boolean> {
  try {
    const { success } = await new Deno.Command("openssl", {
      args: ["version"],
      stdout: "null",
      stderr: "null",
    }).output();
    return success;
  } catch {
    return false;
  }
}

async function openssl(cwd: string, args: string[]): Promise<void> {
  const { success, stderr } = await new Deno.Command("openssl", {
    args,
    cwd,
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!success) {
    throw new Error(`openssl ${args[0]} failed: ${new TextDecoder().decode(stderr)}`);
  }
}

/** Makes a fresh CA and a server certificate for `localhost` / `127.0.0.1` (P-256 keys). */
export async function makeTestCertificate(): Promise<TestCertificate> {
  const dir = await Deno.makeTempDir({ prefix: "alphapulse-tls-" });
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
  await openssl(dir, [
    "req",
    "-x509",
    ...ec,
    "-keyout",
    "ca.key",
    "-out",
    "ca.pem",
    "-days",
    "2",
    "-subj",
    "/CN=alphapulse test CA",
  ]);
  await openssl(dir, [
    "req",
    ...ec,
    "-keyout",
    "server.key",
    "-out",
    "server.csr",
    "-subj",
    "/CN=localhost",
  ]);
  await Deno.writeTextFile(
    `${dir}/ext.cnf`,
    "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n" +
      "keyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n",
  );
  await openssl(dir, [
    "x509",
    "-req",
    "-in",
    "server.csr",
    "-CA",
    "ca.pem",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-days",
    "2",
    "-extfile",
    "ext.cnf",
    "-out",
    "server.pem",
  ]);
  const caCert = await Deno.readTextFile(`${dir}/ca.pem`);
  return {
    caCert,
    cert: (await Deno.readTextFile(`${dir}/server.pem`)) + caCert,
    key: await Deno.readTextFile(`${dir}/server.key`),
    caFile: `${dir}/ca.pem`,
    remove: () => Deno.remove(dir, { recursive: true }),
  };
}
