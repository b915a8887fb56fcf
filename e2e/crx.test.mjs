// The self-hosted CRX (scripts/crx3.mjs, `make crx`): packed from the built dist/chromium with a
// throwaway key, then read back the way Chromium's crx_verifier.cc reads it, with a reader of
// its own: magic, version 3, the RSA signature over the signed data and the zip, crx_id as the
// hash of the embedded key, update.xml naming that id and the built version, and a zip holding
// dist/chromium without the manifest's `key`. Debian's Chromium packs the same zip with the same
// key into the same bytes (`chromium --pack-extension`). Bad keys and a missing CRX_URL are
// refused with the fix and nothing written. Runs in `make test-e2e`, after build-extension.
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { createHash, createPrivateKey, generateKeyPairSync, verify } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";

import { crx3 } from "../scripts/crx3.mjs";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const SCRIPT = path.join(ROOT, "scripts/crx3.mjs");
const BUILT = path.join(ROOT, "dist/chromium");
const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
const URL_ = "https://intranet.example/preview-switch.crx?team=a&b";

let tmp;
let keyFile;
before(() => {
  assert.ok(fs.existsSync(path.join(BUILT, "manifest.json")), "dist/chromium is missing: run make build-extension");
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "crx-test-"));
  keyFile = path.join(tmp, "key.pem");
  const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  fs.writeFileSync(keyFile, privateKey.export({ type: "pkcs8", format: "pem" }));
});
after(() => {
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

function pack(env, out) {
  return spawnSync(process.execPath, [SCRIPT, "--extension", BUILT, "--out", out], {
    env: { PATH: process.env.PATH, ...env },
    encoding: "utf8",
  });
}

/** Protocol-buffer fields of `buf`: [number, bytes] for length-delimited ones, others skipped. */
function fields(buf) {
  const out = [];
  let at = 0;
  const varint = () => {
    let n = 0;
    for (let shift = 1; ; shift *= 128) {
      const b = buf[at++];
      assert.ok(b !== undefined, "truncated varint");
      n += (b & 0x7f) * shift;
      if (b < 0x80) return n;
    }
  };
  while (at < buf.length) {
    const key = varint();
    const [number, wire] = [Math.floor(key / 8), key % 8];
    if (wire === 2) {
      const len = varint();
      out.push([number, buf.subarray(at, at + len)]);
      at += len;
    } else if (wire === 0) varint();
    else if (wire === 1) at += 8;
    else if (wire === 5) at += 4;
    else assert.fail(`wire type ${wire} in a CRX header`);
  }
  assert.equal(at, buf.length, "a field runs past the header");
  return out;
}
const only = (fs_, number) => {
  const hits = fs_.filter(([n]) => n === number);
  assert.equal(hits.length, 1, `field ${number} appears ${hits.length} times`);
  return hits[0][1];
};

const idOf = (spkiDer) =>
  [...createHash("sha256").update(spkiDer).digest().subarray(0, 16).toString("hex")]
    .map((c) => "abcdefghijklmnop"["0123456789abcdef".indexOf(c)])
    .join("");

function tree(dir, prefix = "") {
  return fs
    .readdirSync(path.join(dir, prefix), { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? tree(dir, path.join(prefix, e.name)) : [path.join(prefix, e.name)]))
    .sort();
}

test("the CRX is signed with the team's key, names its id, and holds dist/chromium without the manifest key", () => {
  const out = path.join(tmp, "out");
  const run = pack({ CRX_KEY: keyFile, CRX_URL: URL_ }, out);
  assert.equal(run.status, 0, run.stderr);

  const built = JSON.parse(fs.readFileSync(path.join(BUILT, "manifest.json"), "utf8"));
  const crx = fs.readFileSync(path.join(out, `preview-switch-chromium-${built.version}.crx`));
  assert.equal(crx.subarray(0, 4).toString("latin1"), "Cr24");
  assert.equal(crx.readUInt32LE(4), 3);
  const headerLen = crx.readUInt32LE(8);
  const header = crx.subarray(12, 12 + headerLen);
  const zip = crx.subarray(12 + headerLen);

  const top = fields(header);
  const proof = fields(only(top, 2)); // sha256_with_rsa
  const signedHeaderData = only(top, 10000);
  const publicKey = only(proof, 1);
  const signature = only(proof, 2);
  const crxId = only(fields(signedHeaderData), 1);

  const expectedSpki = execFileSync("openssl", ["pkey", "-in", keyFile, "-pubout", "-outform", "DER"]);
  assert.deepEqual(publicKey, expectedSpki, "the CRX carries the team key's public half");
  assert.deepEqual(crxId, createHash("sha256").update(publicKey).digest().subarray(0, 16));
  const signed = Buffer.concat([
    Buffer.from("CRX3 SignedData\0", "latin1"),
    Buffer.from(Uint32Array.of(signedHeaderData.length).buffer),
    signedHeaderData,
    zip,
  ]);
  assert.ok(
    verify("sha256", signed, { key: publicKey, format: "der", type: "spki" }, signature),
    "RSA-SHA256 signature over the signed data and the zip",
  );
  // A flipped byte in the zip breaks it: the check above is not vacuous.
  const tampered = Buffer.from(signed);
  tampered[tampered.length - 1] ^= 1;
  assert.ok(!verify("sha256", tampered, { key: publicKey, format: "der", type: "spki" }, signature));

  const id = idOf(publicKey);
  assert.match(id, /^[a-p]{32}$/);
  assert.match(run.stdout, new RegExp(`preview-switch install --browser chrome --extension-id ${id}\\b`));

  const xml = fs.readFileSync(path.join(out, "update.xml"), "utf8");
  assert.match(xml, /<gupdate xmlns="http:\/\/www\.google\.com\/update2\/response" protocol="2\.0">/);
  assert.deepEqual([...xml.matchAll(/appid="([^"]*)"/g)].map((m) => m[1]), [id]);
  assert.deepEqual([...xml.matchAll(/<updatecheck [^>]*\bversion="([^"]*)"/g)].map((m) => m[1]), [built.version]);
  const codebase = xml.match(/codebase="([^"]*)"/)[1].replaceAll("&#38;", "&");
  assert.equal(codebase, new URL(URL_).href);

  const zipFile = path.join(tmp, "packed.zip");
  const unpacked = path.join(tmp, "unpacked");
  fs.writeFileSync(zipFile, zip);
  execFileSync("unzip", ["-q", zipFile, "-d", unpacked]);
  assert.deepEqual(tree(unpacked), tree(BUILT));
  for (const f of tree(BUILT).filter((f) => f !== "manifest.json")) {
    assert.ok(fs.readFileSync(path.join(unpacked, f)).equals(fs.readFileSync(path.join(BUILT, f))), f);
  }
  assert.ok(built.key, "the built manifest carries the Web Store key");
  const { key: _key, ...withoutKey } = built;
  assert.deepEqual(JSON.parse(fs.readFileSync(path.join(unpacked, "manifest.json"), "utf8")), withoutKey);

  // The oracle: Chromium's own packer, given this zip's files and the same key, writes the
  // same bytes (RSA PKCS#1 v1.5 is deterministic, so only its zip differs; re-signing that zip
  // with scripts/crx3.mjs must give its CRX exactly).
  const profile = path.join(tmp, "profile");
  spawnSync(CHROMIUM, ["--headless", "--no-sandbox", `--user-data-dir=${profile}`, `--pack-extension=${unpacked}`, `--pack-extension-key=${keyFile}`], { encoding: "utf8", timeout: 60_000 });
  const theirs = fs.readFileSync(`${unpacked}.crx`);
  const theirZip = theirs.subarray(12 + theirs.readUInt32LE(8));
  const resigned = crx3(theirZip, createPrivateKey(fs.readFileSync(keyFile)));
  assert.equal(resigned.id, id);
  assert.ok(resigned.bytes.equals(theirs), "scripts/crx3.mjs and chromium --pack-extension disagree");
});

test("a bad key or a missing CRX_URL is refused with the fix, and nothing is written", () => {
  const notAKey = path.join(tmp, "not-a-key.pem");
  fs.writeFileSync(notAKey, "-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n");
  const ec = path.join(tmp, "ec.pem");
  fs.writeFileSync(
    ec,
    generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({ type: "pkcs8", format: "pem" }),
  );
  const cases = [
    [{ CRX_URL: URL_ }, /CRX_KEY is not set.*openssl genrsa -out key\.pem 2048/],
    [{ CRX_KEY: notAKey, CRX_URL: URL_ }, /not-a-key\.pem is not an unencrypted PEM private key: .*openssl genrsa -out key\.pem 2048/],
    [{ CRX_KEY: path.join(tmp, "missing.pem"), CRX_URL: URL_ }, /cannot read CRX_KEY .*missing\.pem \(ENOENT\): .*openssl genrsa/],
    [{ CRX_KEY: ec, CRX_URL: URL_ }, /is an ec key, and the CRX is signed with RSA: .*openssl genrsa/],
    [{ CRX_KEY: keyFile }, /CRX_URL is not set.*CRX_URL=https:\/\//],
    [{ CRX_KEY: keyFile, CRX_URL: "intranet/preview-switch.crx" }, /is not an absolute URL/],
  ];
  for (const [env, message] of cases) {
    const out = path.join(tmp, "refused");
    const run = pack(env, out);
    assert.equal(run.status, 1, `${JSON.stringify(env)}: ${run.stdout}${run.stderr}`);
    assert.match(run.stderr, message);
    assert.doesNotMatch(run.stderr, /\.\n?$/, "no trailing period");
    assert.ok(!fs.existsSync(out), `${JSON.stringify(env)} wrote ${out}`);
  }
});
